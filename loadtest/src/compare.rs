//! `warden-loadtest compare --duration-s D --out DIR`: the same scenarios, one target after
//! another, in one run on one machine, against one mock provider:
//!
//! - `direct` — the mock itself (the baseline),
//! - `warden` and `warden-guarded` (guardrails on: PII redaction both ways, secrets and injection
//!   blocked),
//! - `nginx` (`proxy_pass`, apt), `portkey` (npm `@portkey-ai/gateway`), `litellm` (pip,
//!   1.106.x in its own venv with `openai<3`).
//!
//! The harness installs and starts each peer itself and stops it by pid; a peer that cannot be
//! installed or started is reported as skipped, with the reason. Scenarios: `chat` (non-stream,
//! ~1 KB prompt) and `stream` (~200 events), each open loop at the same offered rate for every
//! target, so `added_*` — a target's latency minus the mock's at the same rate — compares like
//! with like. The target's CPU seconds and peak RSS come from /proc. Output in DIR:
//! `report.json`, `report.md` (tables and ratios) and `latency.svg`, `throughput.svg`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::load::Target;
use crate::open::{self, OpenConfig, OpenReport};
use crate::peers::{cpu_s, free_port, pinned, rss_mb, spawn, start, Proc};

pub const ALL_TARGETS: [&str; 6] = [
    "direct",
    "warden",
    "warden-guarded",
    "nginx",
    "portkey",
    "litellm",
];
pub const KEY: &str = "wdn_compare_key_0123456789";
/// Stream answers: 200 events, 0.25 ms apart (a 50 ms answer); chat answers wait as long.
const EVENTS: &str = "200";
const EVENTS_PER_S: &str = "4000";

pub struct CompareConfig {
    pub duration: Duration,
    pub out: PathBuf,
    pub targets: Vec<String>,
    pub chat_rps: f64,
    pub stream_rps: f64,
    pub connections: usize,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub kernel: String,
    pub placement: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Row {
    pub target: String,
    pub scenario: String,
    pub offered_rps: f64,
    pub achieved_rps: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub added_p50_us: i64,
    pub added_p99_us: i64,
    pub errors: u64,
    pub cpu_s: f64,
    pub rss_mb: f64,
    pub first_content_p50_us: u64,
    pub gap_p99_us: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Skipped {
    pub target: String,
    pub reason: String,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct Report {
    pub machine: Machine,
    pub date: String,
    pub duration_s: f64,
    pub runs: Vec<Row>,
    pub skipped: Vec<Skipped>,
}

pub fn machine(cores: usize) -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    let placement = if cores >= 4 {
        "generator on core 0, mock on core 1, the target on cores 2 and up (taskset)".to_owned()
    } else {
        format!("generator, mock and target share all {cores} cores: absolute figures understate each; compare ratios")
    };
    Machine {
        cores,
        cpu,
        kernel,
        placement,
    }
}

/// Wait until `url` answers a small chat request with 200 (or give up after `limit`).
fn ready(target: &Target, limit: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let probe = open::run(&OpenConfig {
            target: target.clone(),
            rate: 1.0,
            duration: Duration::from_millis(1),
            connections: 1,
            threads: 1,
        });
        if let Ok(r) = probe {
            if r.requests == 1 && r.errors == 0 {
                return Ok(());
            }
        }
        if started.elapsed() > limit {
            bail!("not answering after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn body(stream: bool) -> Vec<u8> {
    let prompt: String = "Summarise the following notes for the weekly report. "
        .repeat(20)
        .chars()
        .take(1000)
        .collect();
    serde_json::json!({"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": prompt}]})
        .to_string()
        .into_bytes()
}

pub fn run(config: &CompareConfig) -> anyhow::Result<Report> {
    std::fs::create_dir_all(&config.out)?;
    let work = config.out.join("work");
    std::fs::create_dir_all(&work)?;
    // Absolute: peers resolve relative paths against their own prefixes.
    let work = std::fs::canonicalize(&work)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let me = std::env::current_exe()?;
    let bin_dir = me.parent().context("binary directory")?.to_path_buf();
    let mock_port = free_port()?;
    let mut mock_cmd = pinned(&me.to_string_lossy(), cores, "1");
    mock_cmd.args([
        "mock",
        "--listen",
        &format!("127.0.0.1:{mock_port}"),
        "--events",
        EVENTS,
        "--events-per-s",
        EVENTS_PER_S,
    ]);
    let mock = spawn(mock_cmd, "mock", &work)?;
    let mock_url = format!("http://127.0.0.1:{mock_port}");
    ready(
        &Target::new(
            &format!("{mock_url}/v1/chat/completions"),
            "sk-mock",
            body(false),
        )?,
        Duration::from_secs(10),
    )?;
    let mut runs: Vec<Row> = Vec::new();
    let mut skipped = Vec::new();
    for name in &config.targets {
        eprintln!("compare: {name}");
        let started = match start(name, &mock_url, &bin_dir, &work, cores) {
            Ok(s) => s,
            Err(e) => {
                skipped.push(Skipped {
                    target: name.clone(),
                    reason: format!("{e:#}"),
                });
                continue;
            }
        };
        let (proc, url, key, headers) = started;
        let target = |stream: bool| Target::with_headers(&url, &key, body(stream), &headers);
        if let Err(e) = target(false).and_then(|t| ready(&t, Duration::from_secs(180))) {
            skipped.push(Skipped {
                target: name.clone(),
                reason: format!("started but did not answer: {e:#}"),
            });
            continue;
        }
        let pid = proc.as_ref().map_or(mock.pid(), Proc::pid);
        for (scenario, stream, rate) in [
            ("chat", false, config.chat_rps),
            ("stream", true, config.stream_rps),
        ] {
            let cpu_before = cpu_s(pid);
            let r = open::run(&OpenConfig {
                target: target(stream)?,
                rate,
                duration: config.duration,
                connections: config.connections,
                threads: 1,
            })?;
            let cpu = cpu_s(pid) - cpu_before;
            runs.push(row(name, scenario, &r, cpu, rss_mb(pid), &runs));
        }
        drop(proc);
    }
    drop(mock);
    let report = Report {
        machine: machine(cores),
        date: today(),
        duration_s: config.duration.as_secs_f64(),
        runs,
        skipped,
    };
    std::fs::write(
        config.out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    render(&config.out, &report)?;
    Ok(report)
}

/// Write `report.md` and the plots for a report.
pub fn render(out: &Path, report: &Report) -> anyhow::Result<()> {
    std::fs::write(out.join("report.md"), crate::report::markdown(report))?;
    std::fs::write(out.join("latency.svg"), crate::report::latency_svg(report))?;
    std::fs::write(
        out.join("throughput.svg"),
        crate::report::throughput_svg(report),
    )?;
    Ok(())
}

fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    warden_shared::date::format_day((secs / 86_400) as i64)
}

fn row(name: &str, scenario: &str, r: &OpenReport, cpu_s: f64, rss_mb: f64, so_far: &[Row]) -> Row {
    let base = so_far
        .iter()
        .find(|b| b.target == "direct" && b.scenario == scenario);
    let added = |v: u64, b: Option<u64>| b.map_or(0, |b| v as i64 - b as i64);
    Row {
        target: name.to_owned(),
        scenario: scenario.to_owned(),
        offered_rps: r.offered_rps,
        achieved_rps: r.achieved_rps,
        p50_us: r.total.p50_us,
        p90_us: r.total.p90_us,
        p99_us: r.total.p99_us,
        p999_us: r.total.p999_us,
        added_p50_us: added(r.total.p50_us, base.map(|b| b.p50_us)),
        added_p99_us: added(r.total.p99_us, base.map(|b| b.p99_us)),
        errors: r.errors + r.missed,
        cpu_s,
        rss_mb,
        first_content_p50_us: r.first_content.p50_us,
        gap_p99_us: r.gaps.p99_us,
    }
}
