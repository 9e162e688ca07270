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
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::load::Target;
use crate::open::{self, OpenConfig, OpenReport};

pub const ALL_TARGETS: [&str; 6] = [
    "direct",
    "warden",
    "warden-guarded",
    "nginx",
    "portkey",
    "litellm",
];
const KEY: &str = "wdn_compare_key";
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

/// A process the harness started; killed when dropped.
struct Proc {
    child: Child,
    name: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }
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

/// `taskset -c LIST` when the machine has room to pin, else nothing.
fn pinned(cmd: &str, cores: usize, list: &str) -> Command {
    if cores >= 4 && which("taskset") {
        let mut c = Command::new("taskset");
        c.args(["-c", list, cmd]);
        c
    } else {
        Command::new(cmd)
    }
}

fn which(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
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

/// A process and its descendants (nginx's workers, LiteLLM's): pid → parent, from /proc.
fn tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .and_then(|(_, r)| r.split_whitespace().nth(1).map(str::to_owned))
                })
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// CPU seconds (user + system) a process tree has used so far.
fn cpu_s(root: u32) -> f64 {
    tree(root)
        .into_iter()
        .map(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return 0.0;
            };
            let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let fields: Vec<&str> = after.split_whitespace().collect();
            let ticks = |i: usize| {
                fields
                    .get(i)
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            // utime and stime are fields 14 and 15; `after` starts at field 3.
            (ticks(11) + ticks(12)) / 100.0
        })
        .sum()
}

/// Peak resident memory of a process tree (the sum of each process's peak), in MB.
fn rss_mb(root: u32) -> f64 {
    tree(root)
        .into_iter()
        .filter_map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find(|l| l.starts_with("VmHWM:"))
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|kb| kb.parse::<f64>().ok())
                })
        })
        .sum::<f64>()
        / 1024.0
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

fn spawn(mut cmd: Command, name: &str, work: &Path) -> anyhow::Result<Proc> {
    let log = std::fs::File::create(work.join(format!("{name}.log")))?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    Ok(Proc {
        child,
        name: name.to_owned(),
    })
}

type Started = (Option<Proc>, String, String, Vec<(String, String)>);

/// Install (if needed) and start a target; its URL, key and extra headers.
fn start(
    name: &str,
    mock: &str,
    bin_dir: &Path,
    work: &Path,
    cores: usize,
) -> anyhow::Result<Started> {
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let target_cores = if cores >= 4 {
        format!("2-{}", cores - 1)
    } else {
        String::new()
    };
    match name {
        "direct" => Ok((
            None,
            format!("{mock}/v1/chat/completions"),
            "sk-mock".into(),
            vec![],
        )),
        "warden" | "warden-guarded" => {
            let dir = work.join(name);
            std::fs::create_dir_all(&dir)?;
            let guard = if name == "warden-guarded" {
                "[tenants.projects.guardrails]\npii = \"redact\"\nsecrets = \"block\"\ninjection = \"block\"\nresponse_pii = \"redact\"\n"
            } else {
                ""
            };
            let shards = if cores >= 4 { cores - 2 } else { 1 };
            let config = format!(
                "listen = \"127.0.0.1:{port}\"\nadmin_listen = \"127.0.0.1:0\"\nshards = {shards}\nstate_dir = \"{}\"\n\n[providers.openai]\nbase_url = \"{mock}/v1\"\n\n[[tenants]]\nid = \"bench\"\nplan = \"team\"\n\n[[tenants.projects]]\nid = \"bench\"\napi_keys = [\"{KEY}\"]\nprovider_keys = [{{ provider = \"openai\", key = \"sk-mock\" }}]\n{guard}",
                dir.join("state").display()
            );
            let path = dir.join("dataplane.toml");
            std::fs::write(&path, config)?;
            let exe = bin_dir.join("warden-dataplane");
            anyhow::ensure!(exe.exists(), "{} not built", exe.display());
            let mut cmd = pinned(&exe.to_string_lossy(), cores, &target_cores);
            cmd.arg("--config").arg(&path).env("WARDEN_LOG", "warn");
            Ok((Some(spawn(cmd, name, work)?), url, KEY.into(), vec![]))
        }
        "nginx" => {
            if !which("nginx") {
                install(&["apt-get", "install", "-y", "-q", "nginx-light"])
                    .or_else(|_| install(&["apt-get", "install", "-y", "-q", "nginx"]))
                    .context("installing nginx with apt")?;
            }
            let dir = work.join("nginx");
            std::fs::create_dir_all(dir.join("logs"))?;
            let upstream = mock.trim_start_matches("http://");
            let conf = format!(
                "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\nevents {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  upstream mock {{ server {upstream}; keepalive 64; }}\n  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://mock;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_buffering off;\n    }}\n  }}\n}}\n",
                d = dir.display()
            );
            std::fs::write(dir.join("nginx.conf"), conf)?;
            let mut cmd = pinned("nginx", cores, &target_cores);
            cmd.args(["-p", &dir.to_string_lossy(), "-c"])
                .arg(dir.join("nginx.conf"))
                .args(["-g", "daemon off;"]);
            Ok((Some(spawn(cmd, name, work)?), url, "sk-mock".into(), vec![]))
        }
        "portkey" => {
            let dir = work.join("portkey");
            let entry = dir.join("node_modules/@portkey-ai/gateway/build/start-server.js");
            if !entry.exists() {
                anyhow::ensure!(which("npm"), "npm is not installed");
                std::fs::create_dir_all(&dir)?;
                install(&[
                    "npm",
                    "install",
                    "--silent",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                    &dir.to_string_lossy(),
                    "@portkey-ai/gateway@1.15.2",
                ])
                .context("npm install @portkey-ai/gateway")?;
            }
            let mut cmd = pinned("node", cores, &target_cores);
            cmd.arg(&entry)
                .arg(format!("--port={port}"))
                .arg("--headless");
            let headers = vec![
                ("x-portkey-provider".into(), "openai".into()),
                ("x-portkey-custom-host".into(), format!("{mock}/v1")),
            ];
            Ok((
                Some(spawn(cmd, name, work)?),
                url,
                "sk-mock".into(),
                headers,
            ))
        }
        "litellm" => {
            let venv = work.join("litellm-venv");
            let exe = venv.join("bin/litellm");
            if !exe.exists() {
                install(&["python3", "-m", "venv", &venv.to_string_lossy()])
                    .context("a venv for LiteLLM")?;
                install(&[
                    &venv.join("bin/pip").to_string_lossy(),
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "litellm[proxy]==1.106.*",
                    "openai<3",
                ])
                .context("pip install litellm[proxy]==1.106.*")?;
            }
            // LiteLLM refuses to start without a master key; clients present it as their key.
            let master = format!("sk-compare-{port}-{}", std::process::id());
            let config = work.join("litellm.yaml");
            std::fs::write(
                &config,
                format!("model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      api_base: {mock}/v1\n      api_key: sk-mock\ngeneral_settings:\n  master_key: {master}\n"),
            )?;
            let mut cmd = pinned(&exe.to_string_lossy(), cores, &target_cores);
            cmd.arg("--config").arg(&config).args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--num_workers",
                "1",
            ]);
            Ok((Some(spawn(cmd, name, work)?), url, master, vec![]))
        }
        other => bail!(
            "unknown target {other:?} (one of {})",
            ALL_TARGETS.join(", ")
        ),
    }
}

/// Run an installer to completion; its output is only shown on failure.
fn install(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", args[0]))?;
    if !out.status.success() {
        let tail: String = String::from_utf8_lossy(&out.stderr)
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .join(" / ");
        bail!("{} exited with {}: {tail}", args.join(" "), out.status);
    }
    Ok(())
}

impl std::fmt::Debug for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (pid {})", self.name, self.child.id())
    }
}
