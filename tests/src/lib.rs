//! Test harness: start the real `warden-loadtest mock` and `warden-dataplane` binaries on
//! ephemeral ports (each announces its address on stdout), talk to them over plain TCP, and stop
//! them when the test ends. Binaries come from the same target directory as the test; build them
//! first (`cargo build --workspace --bins`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub mod browser;
pub mod http;

/// Which monoio driver a data plane runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    IoUring,
    Epoll,
}

pub const DRIVERS: [Driver; 2] = [Driver::IoUring, Driver::Epoll];

pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "warden-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let database = std::fs::read_to_string(self.0.join(POSTGRES_DATABASE)).ok();
        let scan = std::env::var_os("WARDEN_SCAN_DIR");
        if let Some(name) = database.as_deref().map(str::trim) {
            // A control plane's PostgreSQL database goes with its directory; under the secrets
            // scan it is dumped into the directory first, so the scan reads it as it reads a
            // SQLite file.
            if scan.is_some() {
                let _ = Command::new("pg_dump")
                    .arg("--dbname")
                    .arg(postgres_url(name))
                    .arg("--file")
                    .arg(self.0.join("postgres-dump.sql"))
                    .status();
            }
            let _ = psql(
                &postgres_url("postgres"),
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
        // Under `WARDEN_SCAN_DIR` (scripts/test.sh) every directory a test made is kept there, so
        // `scripts/scan_secrets.py` can look through every log, audit segment, snapshot and
        // store the suite produced for the keys it used.
        if let Some(scan) = scan {
            shrink_rings(&self.0.join("state").join("audit-rings"));
            let name = self.0.file_name().unwrap_or_default();
            if std::fs::rename(&self.0, std::path::Path::new(&scan).join(name)).is_ok() {
                return;
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a directory notes the PostgreSQL database its control plane uses.
const POSTGRES_DATABASE: &str = "postgres-database";

/// Whether control planes started by the tests keep their state in PostgreSQL
/// (`WARDEN_TEST_STORE=postgres`, as scripts/test.sh runs the control-plane tests a second time)
/// rather than in SQLite in their data directory.
pub fn store_is_postgres() -> bool {
    std::env::var("WARDEN_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// The URL of database `name` on the tests' PostgreSQL server (`WARDEN_TEST_POSTGRES`, default
/// `postgres://postgres@127.0.0.1:5432/postgres`).
pub fn postgres_url(name: &str) -> String {
    let admin = std::env::var("WARDEN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let (base, query) = admin
        .split_once('?')
        .map_or((admin.as_str(), None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// Run one SQL statement with `psql`; its output.
pub fn psql(url: &str, statement: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", statement])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Run one SQL statement on the store of the control plane that runs (or ran) in `dir`,
/// whichever database it is (the statement must read the same on SQLite and PostgreSQL); the
/// rows it returned, columns joined with `|`.
pub fn store_sql(dir: &TempDir, statement: &str) -> Vec<String> {
    let out = if let Ok(name) = std::fs::read_to_string(dir.0.join(POSTGRES_DATABASE)) {
        psql(&postgres_url(name.trim()), statement).unwrap()
    } else {
        let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n\
                      for r in c.execute(sys.argv[2]): print('|'.join(map(str, r)))\nc.commit()";
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(dir.0.join("data").join("warden.db"))
            .arg(statement)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{statement}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    out.lines().map(str::to_owned).collect()
}

/// A fresh PostgreSQL database for the control plane in `dir` (the same one again when it
/// restarts there); its URL.
fn postgres_database(dir: &TempDir) -> String {
    let file = dir.0.join(POSTGRES_DATABASE);
    if let Ok(name) = std::fs::read_to_string(&file) {
        return postgres_url(name.trim());
    }
    let name: String = dir
        .0
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let admin = postgres_url("postgres");
    psql(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .and_then(|_| psql(&admin, &format!("CREATE DATABASE {name}")))
    .unwrap_or_else(|e| {
        panic!("WARDEN_TEST_STORE=postgres needs PostgreSQL (bash scripts/deps.sh starts one): {e}")
    });
    std::fs::write(&file, &name).unwrap();
    postgres_url(&name)
}

/// Audit rings are 16 MiB files, mostly zeros: keep only their non-zero runs (where any text
/// would be) for the secrets scan, so the kept directories stay small.
fn shrink_rings(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "map") {
            if let Ok(bytes) = std::fs::read(&path) {
                let _ = std::fs::write(path.with_extension("nonzero"), nonzero_runs(&bytes));
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// Each run of non-zero bytes in `bytes`, followed by a newline. Blocks of zeros (nearly all of
/// a ring) are passed over by one comparison each, which is `memcmp` even in these unoptimised
/// test builds, where a byte-by-byte walk of 16 MiB per ring ran through closures on every test.
fn nonzero_runs(bytes: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 4096;
    static ZEROS: [u8; BLOCK] = [0; BLOCK];
    let mut kept = Vec::new();
    let mut in_run = false;
    for block in bytes.chunks(BLOCK) {
        if block == &ZEROS[..block.len()] {
            if std::mem::take(&mut in_run) {
                kept.push(b'\n');
            }
            continue;
        }
        for &b in block {
            if b != 0 {
                kept.push(b);
                in_run = true;
            } else if std::mem::take(&mut in_run) {
                kept.push(b'\n');
            }
        }
    }
    if in_run {
        kept.push(b'\n');
    }
    kept
}

/// `[audit]` settings every test gateway gets unless its config sets them: no retention and no
/// warning by free space, so what a test finds in its audit log does not depend on the machine's
/// disk (a shared one, at times nearly full: with a floor of 10 % free, the drain deleted the
/// audit tests' segments within a second and CI failed). The tests of those features set their
/// own values, which these never replace.
const AUDIT_DEFAULTS: [(&str, &str); 3] = [
    ("min_free_bytes", "0"),
    ("min_free_percent", "0"),
    ("warn_free_percent", "0"),
];

/// `text` with the [`AUDIT_DEFAULTS`] it does not set: put under its `[audit]` header, or in an
/// `[audit]` table added at the end (a new table may follow any other).
fn with_audit_defaults(text: &str) -> String {
    let sets = |key: &str| {
        text.lines().any(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
    };
    let missing: String = AUDIT_DEFAULTS
        .iter()
        .filter(|(key, _)| !sets(key))
        .map(|(key, value)| format!("{key} = {value}\n"))
        .collect();
    if missing.is_empty() {
        return text.to_owned();
    }
    let header = "\n[audit]\n";
    match text.find(header) {
        Some(at) => {
            let body = at + header.len();
            format!("{}{missing}{}", &text[..body], &text[body..])
        }
        None => format!("{text}{header}{missing}"),
    }
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub stderr_path: PathBuf,
}

impl Proc {
    /// Send SIGTERM and wait (bounded) for the exit status.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM failed");
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `cmd`, wait for its first stdout line, return the process and that line.
fn start(mut cmd: Command, stderr_path: PathBuf) -> (Proc, String) {
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    cmd.stdout(Stdio::piped())
        .stderr(stderr)
        .stdin(Stdio::null());
    let mut child = cmd.spawn().expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let proc = Proc { child, stderr_path };
    assert!(
        !line.is_empty(),
        "process exited before announcing its address: {}",
        proc.stderr()
    );
    (proc, line)
}

fn addr_after(line: &str, marker: &str) -> SocketAddr {
    let rest = &line[line
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {line:?}"))
        + marker.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].parse().unwrap()
}

pub struct Mock {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub capture: PathBuf,
    _dir: TempDir,
}

impl Mock {
    pub fn start(extra: &[&str]) -> Mock {
        let dir = TempDir::new("mock");
        let capture = dir.0.join("capture.jsonl");
        let mut cmd = Command::new(bin("warden-loadtest"));
        cmd.args(["mock", "--listen", "127.0.0.1:0", "--capture"])
            .arg(&capture)
            .args(extra);
        let (proc, line) = start(cmd, dir.0.join("stderr"));
        Mock {
            proc,
            addr: addr_after(&line, "://"),
            capture,
            _dir: dir,
        }
    }

    /// Every request the mock received, as captured.
    pub fn captured(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.capture)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub struct Gateway {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub dir: TempDir,
}

pub const KEY: &str = "wdn_test_key_0123456789";
pub const PROVIDER_KEY: &str = "sk-test-provider-abcd";

/// A standalone config pointing OpenAI-compatible providers at `upstream`; `extra` is appended
/// (top-level keys must come before it, so it may only add tables).
pub fn config(upstream: SocketAddr, shards: usize, extra: &str) -> String {
    format!(
        r#"listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
shards = {shards}
state_dir = "STATE_DIR"
audit_ring_dir = "STATE_DIR/audit-rings"
io_uring_entries = 256

[providers.openai]
base_url = "http://{upstream}/v1"
[providers.anthropic]
base_url = "http://{upstream}"
[providers.google]
base_url = "http://{upstream}"
[providers.groq]
base_url = "http://{upstream}/openai/v1"
[providers.deepseek]
base_url = "http://{upstream}"

[[models]]
alias = "fast"
provider = "openai"
upstream_model = "gpt-4o-mini-2024-07-18"

[[tenants]]
id = "acme"
plan = "team"

[[tenants.projects]]
id = "acme-prod"
api_keys = ["{KEY}"]
provider_keys = [
  {{ provider = "openai", key = "{PROVIDER_KEY}" }},
  {{ provider = "groq", key = "gsk-groq-key-9999" }},
  {{ provider = "anthropic", key = "sk-ant-key-7777" }},
  {{ provider = "google", key = "gm-key-5555" }},
]

[[tenants.projects]]
id = "acme-empty"
api_keys = ["wdn_no_provider_keys"]
{extra}
"#
    )
}

impl Gateway {
    pub fn start(driver: Driver, config_text: &str) -> Gateway {
        Gateway::start_env(driver, config_text, &[])
    }

    pub fn start_env(driver: Driver, config_text: &str, env: &[(&str, &str)]) -> Gateway {
        Gateway::start_in(TempDir::new("gateway"), driver, config_text, env)
    }

    /// Start in an existing directory (a restart keeps its state and audit log).
    pub fn start_in(
        dir: TempDir,
        driver: Driver,
        config_text: &str,
        env: &[(&str, &str)],
    ) -> Gateway {
        let text = config_text.replace("STATE_DIR", &dir.0.join("state").display().to_string());
        let path = dir.0.join("dataplane.toml");
        std::fs::write(&path, with_audit_defaults(&text)).unwrap();
        let mut cmd = Command::new(bin("warden-dataplane"));
        cmd.arg("--config")
            .arg(&path)
            .env("WARDEN_LOG", log_filter());
        if driver == Driver::Epoll {
            cmd.env("MONOIO_FORCE_LEGACY_DRIVER", "1");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (proc, line) = start(cmd, dir.0.join("stderr"));
        let gw = Gateway {
            // `listening on http://…` or, with `[tls]`, `https://…`.
            addr: addr_after(&line, "://"),
            admin: addr_after(&line, "admin http://"),
            proc,
            dir,
        };
        if config_text.contains("[admin_tls]") {
            // The admin listener speaks TLS: its metrics are for an https client.
            return gw;
        }
        let metrics = gw.metrics();
        let want = match driver {
            Driver::IoUring => "driver=\"io_uring\"",
            Driver::Epoll => "driver=\"epoll\"",
        };
        assert!(
            metrics.contains(want),
            "gateway is not on the {driver:?} driver:\n{metrics}"
        );
        gw
    }

    /// Run the data plane with a config it must refuse: returns its stderr once it has exited
    /// with a failure status (panics if it starts serving or exits cleanly).
    pub fn fails_to_start(driver: Driver, config_text: &str) -> String {
        let dir = TempDir::new("gateway");
        let text = config_text.replace("STATE_DIR", &dir.0.join("state").display().to_string());
        let path = dir.0.join("dataplane.toml");
        std::fs::write(&path, text).unwrap();
        let mut cmd = Command::new(bin("warden-dataplane"));
        cmd.arg("--config")
            .arg(&path)
            .env("WARDEN_LOG", log_filter());
        if driver == Driver::Epoll {
            cmd.env("MONOIO_FORCE_LEGACY_DRIVER", "1");
        }
        let out = cmd.stdin(Stdio::null()).output().expect("spawn");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success() && !stdout.contains("listening on"),
            "the data plane started: {stdout}"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// The gateway's audit directory (`state_dir/audit`).
    /// The audit directory, once every record the shards have put in their rings so far is in
    /// the segment files (the drain copies them within milliseconds; the metric says when).
    pub fn audit_dir(&self) -> PathBuf {
        let drained = eventually(Duration::from_secs(10), || {
            self.metric("warden_audit_pending_bytes")
                .is_none_or(|b| b == 0)
        });
        assert!(drained.is_some(), "the audit rings drain");
        self.dir.0.join("state").join("audit")
    }

    /// Stop with SIGKILL and hand back the directory, for inspection or a restart.
    pub fn kill(self) -> TempDir {
        let Gateway { proc, dir, .. } = self;
        drop(proc);
        dir
    }

    /// A counter or gauge value from /metrics.
    pub fn metric(&self, name: &str) -> Option<u64> {
        self.metrics()
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    pub fn metrics(&self) -> String {
        http::get(self.admin, "/metrics").text()
    }

    /// The status of a one-line chat request for `gpt-4o` made with Warden key `key`.
    pub fn answers(&self, key: &str) -> u16 {
        http::post_json(
            self.addr,
            "/v1/chat/completions",
            key,
            &chat_body("gpt-4o", "hello", false),
        )
        .status
    }

    pub fn chat(&self, body: &serde_json::Value) -> http::Response {
        http::post_json(self.addr, "/v1/chat/completions", KEY, body)
    }
}

/// A chat request body for `model` with one user message.
/// Whether `text` shows any part of the test card `4111 1111 1111 1111`, grouped or not. A bare
/// `4111` is not enough: hashes, ids and timestamps in records and answers hold it by chance.
pub fn shows_test_card(text: &str) -> bool {
    text.contains("4111 ") || text.contains("1111 1111") || text.contains("41111111")
}

pub fn chat_body(model: &str, text: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]})
}

/// Read exactly what a raw TCP exchange returns until the peer closes or `limit` passes.
pub fn read_until_close(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

pub fn send_raw(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(bytes).unwrap();
    s
}

/// Run `warden-dataplane audit ARGS`: (exit code, stdout, stderr).
pub fn audit_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin("warden-dataplane"))
        .arg("audit")
        .args(args)
        .output()
        .expect("audit command runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every record `audit export` prints for a directory.
pub fn audit_export(dir: &Path) -> Vec<serde_json::Value> {
    let (code, out, err) = audit_cli(&["export", &dir.display().to_string()]);
    assert_eq!(code, 0, "export failed: {err}");
    out.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A running `warden-controlplane` with its data directory.
pub struct ControlPlane {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub dir: TempDir,
    pub admin_token: String,
}

impl ControlPlane {
    /// Start with OpenAI-compatible providers pointed at `upstream`.
    pub fn start(upstream: SocketAddr) -> ControlPlane {
        ControlPlane::start_in(TempDir::new("controlplane"), upstream)
    }

    pub fn start_in(dir: TempDir, upstream: SocketAddr) -> ControlPlane {
        ControlPlane::start_with(dir, upstream, "")
    }

    /// Start with `extra` appended to the config (tables only). On PostgreSQL under
    /// `WARDEN_TEST_STORE=postgres`, or when this directory's control plane used it before.
    pub fn start_with(dir: TempDir, upstream: SocketAddr, extra: &str) -> ControlPlane {
        let database = (store_is_postgres() || dir.0.join(POSTGRES_DATABASE).exists())
            .then(|| postgres_database(&dir));
        ControlPlane::launch(dir, upstream, extra, database)
    }

    /// Start on a fresh PostgreSQL database of its own, whichever store the run tests.
    pub fn start_on_postgres(upstream: SocketAddr) -> ControlPlane {
        let dir = TempDir::new("controlplane");
        let database = postgres_database(&dir);
        ControlPlane::launch(dir, upstream, "", Some(database))
    }

    /// Start a second control plane of this one's cluster: on its PostgreSQL database, with a
    /// copy of its secrets (the database goes with this one's directory, not the new one's).
    pub fn join(&self, upstream: SocketAddr) -> ControlPlane {
        let name = std::fs::read_to_string(self.dir.0.join(POSTGRES_DATABASE))
            .expect("a cluster shares a PostgreSQL database");
        let dir = TempDir::new("controlplane");
        let data = dir.0.join("data");
        std::fs::create_dir_all(&data).unwrap();
        for secret in [
            "master.key",
            "snapshot-signing.key",
            "api-key-digest.key",
            "dataplane-credential.key",
            "admin-token",
            "dataplane-token",
        ] {
            std::fs::copy(self.data_dir().join(secret), data.join(secret)).unwrap();
        }
        ControlPlane::launch(dir, upstream, "", Some(postgres_url(name.trim())))
    }

    /// Start a control plane on this one's database with secrets of its own (a fresh
    /// `data_dir`): it must refuse to serve. Its stderr, once it has exited with a failure.
    pub fn fails_to_join(&self, upstream: SocketAddr) -> String {
        let name = std::fs::read_to_string(self.dir.0.join(POSTGRES_DATABASE))
            .expect("a cluster shares a PostgreSQL database");
        let dir = TempDir::new("controlplane");
        let text = ControlPlane::config_text(&dir, upstream, "", Some(&postgres_url(name.trim())));
        let path = dir.0.join("controlplane.toml");
        std::fs::write(&path, text).unwrap();
        let mut child = Command::new(bin("warden-controlplane"))
            .arg("--config")
            .arg(&path)
            .env("WARDEN_LOG", log_filter())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let exited = eventually(Duration::from_secs(30), || {
            child.try_wait().unwrap().is_some()
        });
        if exited.is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            exited.is_some() && !out.status.success() && !stdout.contains("listening on"),
            "a control plane with other secrets started: {stdout}"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// The config file's text: `database_url` when given, `extra` appended.
    fn config_text(
        dir: &TempDir,
        upstream: SocketAddr,
        extra: &str,
        database: Option<&str>,
    ) -> String {
        let data = dir.0.join("data");
        let database = database
            .map(|url| format!("database_url = \"{url}\"\n"))
            .unwrap_or_default();
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{database}[providers.openai]\nbase_url = \"http://{upstream}/v1\"\n[providers.anthropic]\nbase_url = \"http://{upstream}\"\n{extra}",
            data.display()
        )
    }

    fn launch(
        dir: TempDir,
        upstream: SocketAddr,
        extra: &str,
        database: Option<String>,
    ) -> ControlPlane {
        let data = dir.0.join("data");
        let text = ControlPlane::config_text(&dir, upstream, extra, database.as_deref());
        let path = dir.0.join("controlplane.toml");
        std::fs::write(&path, text).unwrap();
        let mut cmd = Command::new(bin("warden-controlplane"));
        cmd.arg("--config")
            .arg(&path)
            .env("WARDEN_LOG", log_filter());
        let (proc, line) = start(cmd, dir.0.join("cp-stderr"));
        let admin_token = std::fs::read_to_string(data.join("admin-token"))
            .unwrap()
            .trim()
            .to_owned();
        ControlPlane {
            // `listening on http://…`, or `https://…` with `[tls]`.
            addr: addr_after(&line, "://"),
            proc,
            dir,
            admin_token,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.0.join("data")
    }

    /// Where this control plane's store is, as scripts/fill_store.py takes it: `--postgres URL`
    /// or `--sqlite FILE`.
    pub fn store_args(&self) -> [String; 2] {
        match std::fs::read_to_string(self.dir.0.join(POSTGRES_DATABASE)) {
            Ok(name) => ["--postgres".into(), postgres_url(name.trim())],
            Err(_) => [
                "--sqlite".into(),
                self.data_dir().join("warden.db").display().to_string(),
            ],
        }
    }

    /// Run one SQL statement on this control plane's store (see `store_sql`).
    pub fn sql(&self, statement: &str) -> Vec<String> {
        store_sql(&self.dir, statement)
    }

    /// Under PostgreSQL, dump the store into the data directory, so a check that reads every
    /// file a control plane left finds what its database holds too (SQLite's is there already).
    pub fn dump_store(&self) {
        if let Ok(name) = std::fs::read_to_string(self.dir.0.join(POSTGRES_DATABASE)) {
            let ok = Command::new("pg_dump")
                .arg("--dbname")
                .arg(postgres_url(name.trim()))
                .arg("--file")
                .arg(self.data_dir().join("postgres-dump.sql"))
                .status()
                .unwrap()
                .success();
            assert!(ok, "pg_dump");
        }
    }

    /// An admin API call.
    pub fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> http::Response {
        http::call(self.addr, method, path, &self.admin_token, body)
    }

    /// The `cache` column of `project`'s request log (`/admin/v1/requests`), newest first:
    /// `"exact"`, `"semantic"` or `""`.
    pub fn request_log_caches(&self, project: &str) -> Vec<String> {
        let log = self
            .admin(
                "GET",
                &format!("/admin/v1/requests?project={project}"),
                None,
            )
            .json();
        log["requests"]
            .as_array()
            .unwrap_or_else(|| panic!("no request log: {log}"))
            .iter()
            .map(|r| r["cache"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// A data-plane config managed by this control plane (`STATE_DIR` is filled in at start).
    pub fn dataplane_config(&self, shards: usize) -> String {
        format!(
            "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nshards = {shards}\nstate_dir = \"STATE_DIR\"\naudit_ring_dir = \"STATE_DIR/audit-rings\"\nio_uring_entries = 256\nmaster_key_file = \"{}\"\ncontrol_plane = \"http://{}\"\ncontrol_plane_token_file = \"{}\"\nsnapshot_public_key_file = \"{}\"\n",
            self.data_dir().join("master.key").display(),
            self.addr,
            self.data_dir().join("dataplane-token").display(),
            self.data_dir().join("snapshot-signing.pub").display()
        )
    }

    /// Through the admin API: a team tenant with one production project that has its own
    /// OpenAI key `provider_key`, and a Warden key for it. Returns (project id, Warden key).
    pub fn project_with_keys(&self, provider_key: &str) -> (String, String) {
        let (_, project, key) = self.tenant_with_project();
        let r = self.admin(
            "POST",
            &format!("/admin/v1/projects/{project}/provider-keys"),
            Some(&serde_json::json!({"provider": "openai", "key": provider_key})),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        (project, key)
    }

    /// Through the admin API: a team tenant with one production project (no provider keys of
    /// its own) and a Warden key for it. Returns (tenant id, project id, Warden key).
    pub fn tenant_with_project(&self) -> (String, String, String) {
        let created = |r: http::Response| {
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()["id"].as_str().unwrap().to_owned()
        };
        let tenant = created(self.admin(
            "POST",
            "/admin/v1/tenants",
            Some(&serde_json::json!({"name": "acme", "plan": "team"})),
        ));
        let project = created(self.admin(
            "POST",
            &format!("/admin/v1/tenants/{tenant}/projects"),
            Some(&serde_json::json!({"name": "app", "environment": "production"})),
        ));
        let key = self.new_api_key(&project);
        (tenant, project, key)
    }

    /// Through the admin API: a new Warden key for `project`.
    pub fn new_api_key(&self, project: &str) -> String {
        let r = self.admin(
            "POST",
            &format!("/admin/v1/projects/{project}/api-keys"),
            Some(&serde_json::json!({"name": "app"})),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["key"].as_str().unwrap().to_owned()
    }

    /// `warden-controlplane rotate-master-key` against this control plane: what it printed.
    pub fn rotate_master_key(&self) -> serde_json::Value {
        let out = Command::new(bin("warden-controlplane"))
            .args(["rotate-master-key", "--config"])
            .arg(self.dir.0.join("controlplane.toml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Stop it, keeping its data directory.
    pub fn stop(self) -> TempDir {
        let ControlPlane { proc, dir, .. } = self;
        drop(proc);
        dir
    }
}

/// The log filter the binaries run with: `warn`, or `WARDEN_TEST_LOG` when a measurement run
/// wants their timings (`info`).
fn log_filter() -> String {
    std::env::var("WARDEN_TEST_LOG").unwrap_or_else(|_| "warn".to_owned())
}

/// Poll `f` every 20 ms until it returns true or `limit` passes; returns how long it took.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The semantic cache's embedding model, as `scripts/semantic-model.sh` makes it (`.ci/run` and
/// `scripts/test.sh` run it first), or where `WARDEN_SEMANTIC_MODEL` says.
pub fn semantic_model() -> PathBuf {
    let dir = std::env::var_os("WARDEN_SEMANTIC_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/models/semantic"));
    assert!(
        dir.join("model.safetensors").is_file(),
        "no semantic model in {}: run scripts/semantic-model.sh",
        dir.display()
    );
    dir
}

/// A Warden key of a second project of the standard config's tenant, made by
/// [`other_projects`].
pub const OTHER_KEY: &str = "wdn_other_project_key_0001";
/// A Warden key of a project of another tenant, made by [`other_projects`].
pub const OTHER_TENANT_KEY: &str = "wdn_other_tenant_key_00001";

/// Config text for two more projects with the standard OpenAI provider key and `cache` as their
/// `[tenants.projects.cache]`: one of the standard tenant (`OTHER_KEY`) and one of another
/// tenant (`OTHER_TENANT_KEY`). Append it to [`config`]'s text.
pub fn other_projects(cache: &str) -> String {
    format!(
        r#"
[[tenants.projects]]
id = "acme-dev"
api_keys = ["{OTHER_KEY}"]
provider_keys = [{{ provider = "openai", key = "sk-test-provider-abcd" }}]
[tenants.projects.cache]
{cache}

[[tenants]]
id = "globex"
plan = "team"
[[tenants.projects]]
id = "globex-prod"
api_keys = ["{OTHER_TENANT_KEY}"]
provider_keys = [{{ provider = "openai", key = "sk-test-provider-abcd" }}]
[tenants.projects.cache]
{cache}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::{nonzero_runs, with_audit_defaults};

    #[test]
    fn audit_defaults_fill_in_what_a_config_leaves_out() {
        assert_eq!(
            with_audit_defaults("shards = 1\n[[models]]\nalias = \"a\"\n"),
            "shards = 1\n[[models]]\nalias = \"a\"\n\n[audit]\nmin_free_bytes = 0\nmin_free_percent = 0\nwarn_free_percent = 0\n"
        );
        assert_eq!(
            with_audit_defaults("shards = 1\n[audit]\nmin_free_bytes = 100\n[limits]\n"),
            "shards = 1\n[audit]\nmin_free_percent = 0\nwarn_free_percent = 0\nmin_free_bytes = 100\n[limits]\n"
        );
        let both =
            "x = 1\n[audit]\nmin_free_bytes=5\nmin_free_percent = 6\nwarn_free_percent = 7\n";
        assert_eq!(with_audit_defaults(both), both);
    }

    #[test]
    fn nonzero_runs_keeps_every_run_across_block_edges() {
        let mut ring = vec![0u8; 3 * 4096 + 100];
        for (at, text) in [
            (0, &b"head"[..]),
            (4094, b"spans-a-block-edge"),
            (9000, b"x"),
        ] {
            ring[at..at + text.len()].copy_from_slice(text);
        }
        let last = ring.len() - 3;
        ring[last..].copy_from_slice(b"end");
        assert_eq!(
            nonzero_runs(&ring),
            b"head\nspans-a-block-edge\nx\nend\n".to_vec()
        );
        assert!(nonzero_runs(&[0; 5000]).is_empty());
    }
}
