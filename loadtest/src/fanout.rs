//! `warden-loadtest fanout`: how long one control plane takes to have a change acknowledged by
//! every data plane. It starts a control plane (SQLite in a scratch directory) and N real data
//! planes (one shard each, audit off, each enrolled with its own credential), waits until every
//! one serves the current snapshot, then round after round makes a change through the admin API
//! (a new Warden key) and times until the control plane's `GET /admin/v1/dataplanes` shows every
//! data plane at that version. An acknowledgement means the data plane checked the signature,
//! validated the bytes, built and swapped its shard state and wrote its last good file.
//!
//! `--keys K` first adds K Warden keys (one admin call each), so the snapshot pushed is larger.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;

use crate::peers::{free_port, spawn, Proc};

pub struct FanoutConfig {
    pub planes: usize,
    pub rounds: usize,
    pub keys: usize,
    /// `MONOIO_FORCE_LEGACY_DRIVER=1` for the data planes (epoll).
    pub epoll: bool,
}

#[derive(Serialize)]
pub struct FanoutReport {
    pub machine: crate::compare::Machine,
    pub planes: usize,
    pub keys: usize,
    pub driver: &'static str,
    /// The newest full snapshot's size.
    pub snapshot_bytes: u64,
    /// The newest delta of it, which is what each round's change shipped (0: the newest
    /// version is the full snapshot).
    pub delta_bytes: u64,
    /// Seconds from starting the data planes until every one served the first snapshot.
    pub enrolled_s: f64,
    /// Per round: from the admin call until the last acknowledgement, and how many data planes
    /// acknowledged.
    pub rounds: Vec<Round>,
    pub median_ms: f64,
    pub max_ms: f64,
}

#[derive(Serialize)]
pub struct Round {
    pub version: u64,
    pub ms: f64,
    pub acked: usize,
}

/// The control plane's admin address and token.
struct Admin {
    addr: String,
    token: String,
}

pub fn run(config: &FanoutConfig) -> anyhow::Result<FanoutReport> {
    anyhow::ensure!((1..=256).contains(&config.planes), "--planes: 1 to 256");
    let work = std::env::temp_dir().join(format!("warden-fanout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let result = run_in(config, &work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run_in(config: &FanoutConfig, work: &Path) -> anyhow::Result<FanoutReport> {
    let bin_dir = std::env::current_exe()?
        .parent()
        .context("binary directory")?
        .to_path_buf();
    let data = work.join("controlplane");
    let port = free_port()?;
    let cp_config = work.join("controlplane.toml");
    std::fs::write(
        &cp_config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\n",
            data.display()
        ),
    )?;
    let mut cmd = std::process::Command::new(bin_dir.join("warden-controlplane"));
    cmd.arg("--config")
        .arg(&cp_config)
        .env("WARDEN_LOG", "warn");
    let _cp = spawn(cmd, "controlplane", work)?;
    let addr = format!("127.0.0.1:{port}");
    wait(
        Duration::from_secs(30),
        "the control plane to start",
        || Ok(call(&addr, "GET", "/healthz", "", None).is_ok_and(|(s, _)| s == 200)),
    )?;
    let admin = Admin {
        token: std::fs::read_to_string(data.join("admin-token"))?
            .trim()
            .to_owned(),
        addr,
    };

    let started = Instant::now();
    let _planes = (0..config.planes)
        .map(|i| start_plane(i, config, &bin_dir, work, &admin.addr, &data))
        .collect::<anyhow::Result<Vec<Proc>>>()?;
    wait(
        Duration::from_secs(180),
        "every data plane to enrol",
        || {
            let (version, acked) = acked(&admin)?;
            Ok(version > 0 && acked == config.planes)
        },
    )?;
    let enrolled_s = started.elapsed().as_secs_f64();

    let project = project(&admin)?;
    for _ in 0..config.keys {
        new_key(&admin, &project)?;
    }
    let mut rounds = Vec::with_capacity(config.rounds);
    for _ in 0..config.rounds {
        // Every data plane current before the clock starts.
        wait(
            Duration::from_secs(60),
            "every data plane to catch up",
            || {
                let (_, acked) = acked(&admin)?;
                Ok(acked == config.planes)
            },
        )?;
        let start = Instant::now();
        new_key(&admin, &project)?;
        let mut version = 0;
        let mut count = 0;
        wait(Duration::from_secs(60), "every acknowledgement", || {
            (version, count) = acked(&admin)?;
            Ok(count == config.planes)
        })?;
        rounds.push(Round {
            version,
            ms: start.elapsed().as_secs_f64() * 1e3,
            acked: count,
        });
    }
    let (_, body) = call(&admin.addr, "GET", "/admin/v1/snapshot", &admin.token, None)?;
    let snapshot_bytes = body["bytes"].as_u64().unwrap_or(0);
    let delta_bytes = body["delta_bytes"].as_u64().unwrap_or(0);
    let mut ms: Vec<f64> = rounds.iter().map(|r| r.ms).collect();
    ms.sort_by(f64::total_cmp);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut machine = crate::compare::machine(cores);
    machine.placement = format!(
        "the control plane, {} data planes and this harness share all {cores} cores",
        config.planes
    );
    Ok(FanoutReport {
        machine,
        planes: config.planes,
        keys: config.keys,
        driver: if config.epoll { "epoll" } else { "io_uring" },
        snapshot_bytes,
        delta_bytes,
        enrolled_s,
        median_ms: ms.get(ms.len() / 2).copied().unwrap_or(0.0),
        max_ms: ms.last().copied().unwrap_or(0.0),
        rounds,
    })
}

fn start_plane(
    i: usize,
    config: &FanoutConfig,
    bin_dir: &Path,
    work: &Path,
    cp: &str,
    data: &Path,
) -> anyhow::Result<Proc> {
    let dir = work.join(format!("dataplane-{i}"));
    std::fs::create_dir_all(&dir)?;
    let text = format!(
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nshards = 1\nstate_dir = \"{}\"\nio_uring_entries = 64\ndataplane_id = \"fanout-{i}\"\nmaster_key_file = \"{}\"\ncontrol_plane = \"http://{cp}\"\ncontrol_plane_token_file = \"{}\"\nsnapshot_public_key_file = \"{}\"\n[audit]\nenabled = false\n",
        dir.join("state").display(),
        data.join("master.key").display(),
        data.join("dataplane-token").display(),
        data.join("snapshot-signing.pub").display()
    );
    let path: PathBuf = dir.join("dataplane.toml");
    std::fs::write(&path, text)?;
    let mut cmd = std::process::Command::new(bin_dir.join("warden-dataplane"));
    cmd.arg("--config").arg(&path).env("WARDEN_LOG", "warn");
    if config.epoll {
        cmd.env("MONOIO_FORCE_LEGACY_DRIVER", "1");
    }
    spawn(cmd, &format!("dataplane-{i}"), work)
}

/// The newest version and how many data planes acknowledged it.
fn acked(admin: &Admin) -> anyhow::Result<(u64, usize)> {
    let (status, body) = call(
        &admin.addr,
        "GET",
        "/admin/v1/dataplanes",
        &admin.token,
        None,
    )?;
    anyhow::ensure!(status == 200, "GET /admin/v1/dataplanes: {status}");
    let version = body["snapshot_version"].as_u64().unwrap_or(0);
    let count = body["dataplanes"].as_array().map_or(0, |planes| {
        planes
            .iter()
            .filter(|d| d["acked_version"].as_u64().is_some_and(|v| v >= version))
            .count()
    });
    Ok((version, count))
}

fn project(admin: &Admin) -> anyhow::Result<String> {
    let post = |path: &str, body: serde_json::Value| -> anyhow::Result<String> {
        let (status, reply) = call(&admin.addr, "POST", path, &admin.token, Some(&body))?;
        anyhow::ensure!(status == 201, "POST {path}: {status} {reply}");
        Ok(reply["id"].as_str().unwrap_or_default().to_owned())
    };
    let tenant = post(
        "/admin/v1/tenants",
        serde_json::json!({"name": "fanout", "plan": "team"}),
    )?;
    post(
        &format!("/admin/v1/tenants/{tenant}/projects"),
        serde_json::json!({"name": "fanout", "environment": "production"}),
    )
}

fn new_key(admin: &Admin, project: &str) -> anyhow::Result<()> {
    let path = format!("/admin/v1/projects/{project}/api-keys");
    let body = serde_json::json!({"name": "fanout"});
    let (status, _) = call(&admin.addr, "POST", &path, &admin.token, Some(&body))?;
    anyhow::ensure!(status == 201, "POST {path}: {status}");
    Ok(())
}

/// Poll `done` every 5 ms until it says so, or fail after `limit` naming `what`.
fn wait(
    limit: Duration,
    what: &str,
    mut done: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done().unwrap_or(false) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    bail!("gave up after {limit:?} waiting for {what}")
}

/// One HTTP/1.1 call (`connection: close`): the status and the body as JSON (null if not).
fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = if token.is_empty() {
        String::new()
    } else {
        format!("authorization: Bearer {token}\r\n")
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    let mut reply = Vec::new();
    s.take(16 << 20).read_to_end(&mut reply)?;
    let text = String::from_utf8_lossy(&reply);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status line")?;
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    Ok((status, json))
}
