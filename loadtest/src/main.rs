//! `warden-loadtest`: the mock providers and the load generator.
//!
//! ```text
//! warden-loadtest mock --listen ADDR [--threads N] [--capture FILE] [--key-status KEY=STATUS]...
//!                      [--max-requests-per-conn N] [--tls-cert PEM --tls-key PEM]
//!                      [--ttft-ms MS] [--events-per-s R] [--events N] [--jitter-ms MS]
//!                      [--error-rate P]
//! warden-loadtest run --url URL [--key KEY] [--connections N] [--threads N] [--duration-s S]
//!                     [--api chat|responses|embeddings] [--model M] [--prompt-bytes N] [--stream]
//!                     [--rate R [--ramp --p99-ms L]] [--json FILE] [--md FILE]
//! ```
//!
//! Without `--rate`, `run` is closed loop (capacity). With it, open loop at R requests a second
//! (latency from each request's due time, SSE-aware, HDR histograms); `--ramp` raises the rate
//! by half each step until p99 misses `--p99-ms` and reports the highest rate that met it.

// A command-line tool: its results go to stdout.
#![allow(clippy::print_stdout)]

mod compare;
mod fanout;
mod knobs;
mod load;
mod mock;
mod open;
mod peers;
mod report;
mod streams;

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
usage: warden-loadtest mock --listen ADDR [--threads N] [--capture FILE] [--key-status KEY=STATUS]...
                            [--max-requests-per-conn N] [--tls-cert PEM --tls-key PEM]
                            [--ttft-ms MS] [--events-per-s R] [--events N] [--jitter-ms MS] [--error-rate P]
       warden-loadtest run --url URL [--key KEY] [--connections N] [--threads N] [--duration-s S]
                           [--api chat|responses|embeddings] [--model M] [--prompt-bytes N] [--stream]
                           [--rate R [--ramp --p99-ms L]]
                           [--json FILE] [--md FILE]
       warden-loadtest streams --url URL [--key KEY] [--streams N] [--threads N] [--events N]
                               [--interval-ms MS] [--model M] [--pid PID] [--json FILE]
       warden-loadtest compare --duration-s D --out DIR [--targets direct,warden,...] [--chat-rps R]
                               [--stream-rps R] [--connections N]
       warden-loadtest compare --render DIR   (redraw report.md and the plots from DIR/report.json)
       warden-loadtest fanout [--planes N] [--rounds R] [--keys K] [--epoll]
       warden-loadtest plan --target-rps R --p99-ms L [--report DIR/report.json | --per-core-rps C]
                            [--cores-per-host N] [--headroom H]

Flags take `--flag value` or `--flag=value`; -h/--help prints this, -V/--version the version.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("warden-loadtest {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let result = match args.first().map(String::as_str) {
        Some("mock") => mock_command(&args[1..]),
        Some("run") => run_command(&args[1..]),
        Some("compare") => compare_command(&args[1..]),
        Some("streams") => streams_command(&args[1..]),
        Some("plan") => plan_command(&args[1..]),
        Some("fanout") => fanout_command(&args[1..]),
        other => {
            let what = other.map_or("a command is required".to_owned(), |c| {
                format!("unknown command {c:?}")
            });
            eprintln!("warden-loadtest: {what}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden-loadtest: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--flag value` (or `--flag=value`) pairs and bare `--switch`es, in order, parsed by lexopt.
fn flags(args: &[String], switches: &[&str]) -> anyhow::Result<Vec<(String, String)>> {
    use lexopt::prelude::*;
    let mut out = Vec::new();
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Long(name) => {
                let flag = format!("--{name}");
                if switches.contains(&flag.as_str()) {
                    out.push((flag, String::new()));
                    continue;
                }
                let value = parser
                    .value()
                    .with_context(|| format!("{flag} needs a value"))?
                    .into_string()
                    .map_err(|v| anyhow::anyhow!("{flag}: not UTF-8: {v:?}"))?;
                out.push((flag, value));
            }
            other => bail!("{}", other.unexpected()),
        }
    }
    Ok(out)
}

/// `fanout`: a control plane and N data planes; how long until every one acknowledges a change.
fn fanout_command(args: &[String]) -> anyhow::Result<()> {
    let mut config = fanout::FanoutConfig {
        planes: 64,
        rounds: 5,
        keys: 0,
        epoll: false,
    };
    for (flag, value) in flags(args, &["--epoll"])? {
        match flag.as_str() {
            "--planes" => config.planes = value.parse()?,
            "--rounds" => config.rounds = value.parse()?,
            "--keys" => config.keys = value.parse()?,
            "--epoll" => config.epoll = true,
            _ => bail!("unknown flag {flag}"),
        }
    }
    let report = fanout::run(&config)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn mock_command(args: &[String]) -> anyhow::Result<()> {
    let mut config = mock::MockConfig {
        listen: "127.0.0.1:9000".parse()?,
        threads: 1,
        capture: None,
        key_status: HashMap::new(),
        max_requests_per_conn: None,
        tls: None,
        timing: mock::Timing::default(),
    };
    let ms = |v: &str, flag: &str| -> anyhow::Result<Duration> {
        Ok(Duration::from_secs_f64(
            v.parse::<f64>().with_context(|| format!("{flag} {v}"))? / 1000.0,
        ))
    };
    let (mut tls_cert, mut tls_key) = (None, None);
    for (flag, value) in flags(args, &[])? {
        match flag.as_str() {
            "--listen" => {
                config.listen = value.parse().with_context(|| format!("--listen {value}"))?
            }
            "--threads" => config.threads = value.parse()?,
            "--capture" => config.capture = Some(value.into()),
            "--max-requests-per-conn" => config.max_requests_per_conn = Some(value.parse()?),
            "--tls-cert" => tls_cert = Some(value.into()),
            "--tls-key" => tls_key = Some(value.into()),
            "--ttft-ms" => config.timing.ttft = ms(&value, "--ttft-ms")?,
            "--events-per-s" => {
                let rate: f64 = value.parse().context("--events-per-s")?;
                anyhow::ensure!(rate > 0.0, "--events-per-s must be positive");
                config.timing.gap = Duration::from_secs_f64(1.0 / rate);
            }
            "--events" => config.timing.events = Some(value.parse::<usize>()?.max(1)),
            "--jitter-ms" => config.timing.jitter = ms(&value, "--jitter-ms")?,
            "--error-rate" => {
                let p: f64 = value.parse().context("--error-rate")?;
                anyhow::ensure!((0.0..=1.0).contains(&p), "--error-rate is a share, 0 to 1");
                config.timing.error_rate = p;
            }
            "--key-status" => {
                let (key, status) = value
                    .rsplit_once('=')
                    .context("--key-status wants KEY=STATUS")?;
                config.key_status.insert(
                    key.to_owned(),
                    status.parse().context("--key-status status")?,
                );
            }
            _ => bail!("unknown flag {flag}"),
        }
    }
    config.tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    mock::run(config)
}

fn run_command(args: &[String]) -> anyhow::Result<()> {
    let mut url = None;
    let mut key = "wdn_demo_key_0123456789abcdef".to_owned();
    let (mut connections, mut threads, mut duration_s) = (16usize, 1usize, 10f64);
    let (mut model, mut prompt_bytes, mut stream) = ("gpt-4o-mini".to_owned(), 1024usize, false);
    let (mut rate, mut ramp, mut p99_ms) = (None::<f64>, false, 100f64);
    let (mut json_out, mut md_out) = (None::<String>, None::<String>);
    let mut api = "chat".to_owned();
    for (flag, value) in flags(args, &["--stream", "--ramp"])? {
        match flag.as_str() {
            "--url" => url = Some(value),
            "--api" => api = value,
            "--key" => key = value,
            "--connections" => connections = value.parse()?,
            "--threads" => threads = value.parse()?,
            "--duration-s" => duration_s = value.parse()?,
            "--model" => model = value,
            "--prompt-bytes" => prompt_bytes = value.parse()?,
            "--stream" => stream = true,
            "--rate" => rate = Some(value.parse()?),
            "--ramp" => ramp = true,
            "--p99-ms" => p99_ms = value.parse()?,
            "--json" => json_out = Some(value),
            "--md" => md_out = Some(value),
            _ => bail!("unknown flag {flag}"),
        }
    }
    let url = url.context("--url is required")?;
    let prompt: String = "lorem ipsum "
        .repeat(prompt_bytes / 12 + 1)
        .chars()
        .take(prompt_bytes)
        .collect();
    // The body of the API the URL serves: the same prompt in each.
    let body = match api.as_str() {
        "chat" => serde_json::json!({
            "model": model, "stream": stream,
            "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": prompt}]
        }),
        "responses" => serde_json::json!({
            "model": model, "stream": stream, "instructions": "You are terse.", "input": prompt
        }),
        "embeddings" => serde_json::json!({"model": model, "input": prompt}),
        other => bail!("--api {other}: one of chat, responses, embeddings"),
    };
    let duration = Duration::from_secs_f64(duration_s);
    let Some(rate) = rate else {
        // Closed loop: capacity, not latency under a given arrival rate.
        let report = load::run(load::LoadConfig {
            url,
            connections,
            threads,
            duration,
            key,
            body: body.to_string().into_bytes(),
        })?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    };
    let target = load::Target::new(&url, &key, body.to_string().into_bytes())?;
    let config = |rate: f64| open::OpenConfig {
        target: target.clone(),
        rate,
        duration,
        connections,
        threads,
    };
    let runs = if ramp {
        // Raise the rate by half each step until p99 misses the objective (or errors appear).
        let mut runs = Vec::new();
        let mut r = rate;
        loop {
            progress(&format!("ramp: {r:.0} req/s for {duration_s} s"));
            let report = open::run(&config(r))?;
            let ok = report.errors == 0
                && report.missed == 0
                && report.total.p99_us as f64 <= p99_ms * 1000.0;
            runs.push(report);
            if !ok || runs.len() >= 20 {
                break;
            }
            r *= 1.5;
        }
        runs
    } else {
        progress(&format!("open loop: {rate:.0} req/s for {duration_s} s"));
        vec![open::run(&config(rate))?]
    };
    progress("");
    let best = runs
        .iter()
        .filter(|r| r.errors == 0 && r.missed == 0 && r.total.p99_us as f64 <= p99_ms * 1000.0)
        .map(|r| r.offered_rps)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let out =
        serde_json::json!({"runs": runs, "p99_objective_ms": p99_ms, "max_rps_meeting_p99": best});
    if let Some(path) = json_out {
        std::fs::write(&path, serde_json::to_string_pretty(&out)?).with_context(|| path.clone())?;
    }
    if let Some(path) = md_out {
        std::fs::write(&path, markdown(&runs, p99_ms, best)).with_context(|| path.clone())?;
    }
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

/// Hold many SSE streams open at once: memory per idle stream (with `--pid`) and each event's
/// delay (see `streams.rs`). Prints one JSON line.
fn streams_command(args: &[String]) -> anyhow::Result<()> {
    let mut config = streams::StreamsConfig {
        url: String::new(),
        key: "wdn_demo_key_0123456789abcdef".to_owned(),
        model: "gpt-4o-mini".to_owned(),
        streams: 1000,
        threads: 1,
        events: 10,
        interval: Duration::from_secs(2),
        pid: None,
    };
    let mut json_out = None::<String>;
    for (flag, value) in flags(args, &[])? {
        match flag.as_str() {
            "--url" => config.url = value,
            "--key" => config.key = value,
            "--model" => config.model = value,
            "--streams" => config.streams = value.parse()?,
            "--threads" => config.threads = value.parse()?,
            "--events" => config.events = value.parse()?,
            "--interval-ms" => config.interval = Duration::from_millis(value.parse()?),
            "--pid" => config.pid = Some(value.parse()?),
            "--json" => json_out = Some(value),
            _ => bail!("unknown flag {flag}"),
        }
    }
    anyhow::ensure!(!config.url.is_empty(), "--url is required");
    let report = serde_json::to_string(&streams::run(config)?)?;
    println!("{report}");
    if let Some(path) = json_out {
        std::fs::write(&path, format!("{report}\n")).with_context(|| path.clone())?;
    }
    Ok(())
}

fn compare_command(args: &[String]) -> anyhow::Result<()> {
    let mut config = compare::CompareConfig {
        duration: Duration::from_secs(10),
        out: "benches/results/latest".into(),
        targets: compare::ALL_TARGETS
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
        chat_rps: 200.0,
        stream_rps: 50.0,
        connections: 64,
    };
    let mut render = None::<String>;
    for (flag, value) in flags(args, &[])? {
        match flag.as_str() {
            "--render" => render = Some(value),
            "--duration-s" => config.duration = Duration::from_secs_f64(value.parse()?),
            "--out" => config.out = value.into(),
            "--targets" => config.targets = value.split(',').map(str::to_owned).collect(),
            "--chat-rps" => config.chat_rps = value.parse()?,
            "--stream-rps" => config.stream_rps = value.parse()?,
            "--connections" => config.connections = value.parse()?,
            _ => bail!("unknown flag {flag}"),
        }
    }
    if let Some(dir) = render {
        // Redraw report.md and the plots from an existing report.json.
        let dir = std::path::PathBuf::from(dir);
        let text = std::fs::read_to_string(dir.join("report.json"))?;
        let report: compare::Report = serde_json::from_str(&text)?;
        return compare::render(&dir, &report);
    }
    for t in &config.targets {
        anyhow::ensure!(
            compare::ALL_TARGETS.contains(&t.as_str()),
            "unknown target {t:?} (one of {})",
            compare::ALL_TARGETS.join(", ")
        );
    }
    if config.targets.first().map(String::as_str) != Some("direct") {
        config.targets.retain(|t| t != "direct");
        config.targets.insert(0, "direct".into());
    }
    let report = compare::run(&config)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn plan_command(args: &[String]) -> anyhow::Result<()> {
    let (mut target, mut p99_ms, mut per_core) = (None::<f64>, None::<f64>, None::<f64>);
    let (mut report_path, mut cores, mut headroom) = (None::<String>, 8usize, 0.3f64);
    for (flag, value) in flags(args, &[])? {
        match flag.as_str() {
            "--target-rps" => target = Some(value.parse()?),
            "--p99-ms" => p99_ms = Some(value.parse()?),
            "--per-core-rps" => per_core = Some(value.parse()?),
            "--report" => report_path = Some(value),
            "--cores-per-host" => cores = value.parse()?,
            "--headroom" => headroom = value.parse()?,
            _ => bail!("unknown flag {flag}"),
        }
    }
    let target = target.context("--target-rps is required")?;
    let p99_ms = p99_ms.context("--p99-ms is required")?;
    anyhow::ensure!(
        (0.0..1.0).contains(&headroom),
        "--headroom is a share below 1"
    );
    let mut note = None;
    let per_core = match (per_core, report_path) {
        (Some(c), _) => c,
        (None, Some(path)) => {
            // Warden's chat run: requests per second per CPU-second the gateway used.
            let text = std::fs::read_to_string(&path).with_context(|| path.clone())?;
            let r: serde_json::Value = serde_json::from_str(&text)?;
            let duration = r["duration_s"].as_f64().unwrap_or(1.0);
            let run = r["runs"]
                .as_array()
                .and_then(|runs| {
                    runs.iter()
                        .find(|x| x["target"] == "warden" && x["scenario"] == "chat")
                })
                .context("the report has no warden chat run")?;
            let cores_used = run["cpu_s"].as_f64().unwrap_or(0.0) / duration;
            anyhow::ensure!(cores_used > 0.0, "the warden run used no measurable CPU");
            if run["p99_us"].as_f64().unwrap_or(0.0) > p99_ms * 1000.0 {
                note = Some(
                    "the measured run itself missed the p99 objective: measure at a lower rate"
                        .to_owned(),
                );
            }
            run["achieved_rps"].as_f64().unwrap_or(0.0) / cores_used
        }
        (None, None) => bail!("give --report DIR/report.json (from compare) or --per-core-rps"),
    };
    let plan = report::plan(target, p99_ms, per_core, cores, headroom);
    println!(
        "{}",
        serde_json::to_string(&serde_json::json!({"plan": plan, "note": note}))?
    );
    Ok(())
}

/// One line of progress on a terminal (stderr), overwritten in place; nothing when piped.
fn progress(line: &str) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K{line}");
    }
}

fn markdown(runs: &[open::OpenReport], p99_ms: f64, best: Option<f64>) -> String {
    let ms = |us: u64| format!("{:.2}", us as f64 / 1000.0);
    let mut s = String::from(
        "| offered req/s | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | TTFB p50 ms | first content p50 ms | gap p99 ms | errors | missed |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in runs {
        s.push_str(&format!(
            "| {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.offered_rps,
            r.achieved_rps,
            ms(r.total.p50_us),
            ms(r.total.p90_us),
            ms(r.total.p99_us),
            ms(r.total.p999_us),
            ms(r.ttfb.p50_us),
            ms(r.first_content.p50_us),
            ms(r.gaps.p99_us),
            r.errors,
            r.missed
        ));
    }
    s.push_str(&match best {
        Some(b) => format!("\nHighest offered rate meeting p99 ≤ {p99_ms} ms: {b:.0} req/s.\n"),
        None => format!("\nNo rate met p99 ≤ {p99_ms} ms.\n"),
    });
    s
}
