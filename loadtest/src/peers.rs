//! The targets `compare` runs: installing and starting each peer (nginx, Portkey, LiteLLM) or
//! Warden, pinning it where the machine has room, and reading a process tree's CPU and memory
//! from /proc.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};

use crate::compare::{ALL_TARGETS, KEY};

/// A process the harness started; stopped when dropped: SIGTERM first, so that it cleans up
/// after itself (Warden removes its in-memory audit rings), SIGKILL after five seconds.
pub struct Proc {
    child: Child,
    name: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// `taskset -c LIST` when the machine has room to pin, else nothing.
pub fn pinned(cmd: &str, cores: usize, list: &str) -> Command {
    if cores >= 4 && which("taskset") {
        let mut c = Command::new("taskset");
        c.args(["-c", list, cmd]);
        c
    } else {
        Command::new(cmd)
    }
}

pub fn which(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
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
pub fn cpu_s(root: u32) -> f64 {
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
pub fn rss_mb(root: u32) -> f64 {
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

pub fn spawn(mut cmd: Command, name: &str, work: &Path) -> anyhow::Result<Proc> {
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

pub type Started = (Option<Proc>, String, String, Vec<(String, String)>);

/// Install (if needed) and start a target; its URL, key and extra headers.
pub fn start(
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
