//! The data plane's end of the control-plane link: snapshots pushed to `PUT /v1/snapshot` on
//! the admin listener are validated, turned into per-shard serving state off the shards, swapped
//! in by each shard between requests, written as the last good snapshot, and acknowledged; a
//! background thread registers this data plane with the control plane and keeps doing so, so a
//! control plane that restarts, or a data plane that was away, catches up.
//!
//! Invariants: bytes are validated (bytecheck) before anything reads them; a snapshot that fails
//! validation, or names a master key this data plane does not have, is refused and the old one
//! keeps serving; a request finishes on the snapshot it started with; the last good snapshot is
//! replaced atomically (temp file, fsync, rename).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_channel::{mpsc, oneshot};
use warden_shared::signing::PublicKey;
use warden_shared::snapshot::{self, Snapshot};
use warden_shared::vault::{Keyring, MasterKey};
use zeroize::Zeroizing;

use crate::shard::StateUpdate;
use crate::state::ServingState;

/// Name of the last good snapshot in `state_dir`.
pub const LAST_GOOD: &str = "snapshot.rkyv";
/// Largest snapshot accepted.
pub const MAX_SNAPSHOT: usize = 256 * 1024 * 1024;
/// The most a pushed version may move past the one served: versions count changes, so a far
/// larger jump is not one the control plane made (it would pin the data plane on that version).
pub const MAX_VERSION_STEP: u64 = 1 << 20;

/// Why pushed snapshots were refused, in metric order (`warden_snapshot_rejected_total`).
pub const REJECTIONS: [&str; 4] = ["signature", "version", "invalid", "keys"];

pub struct Control {
    /// The data-plane token the control plane authenticates pushes with.
    pub token: Zeroizing<String>,
    senders: Vec<mpsc::UnboundedSender<StateUpdate>>,
    keyring: Mutex<Arc<Keyring>>,
    key_file: PathBuf,
    state_dir: PathBuf,
    /// The version being served (shared with the admin view and the registration thread).
    pub version: Arc<AtomicU64>,
    applying: AtomicBool,
    /// The control plane's signing key: nothing else's snapshots are served.
    public_key: PublicKey,
    /// Refusals by reason (`REJECTIONS` order).
    pub rejected: [AtomicU64; REJECTIONS.len()],
}

/// Why a pushed snapshot was refused: an HTTP status and a message.
pub type Refusal = (u16, String);

impl Control {
    pub fn new(
        token: Zeroizing<String>,
        senders: Vec<mpsc::UnboundedSender<StateUpdate>>,
        keyring: Arc<Keyring>,
        key_file: PathBuf,
        state_dir: PathBuf,
        version: Arc<AtomicU64>,
        public_key: PublicKey,
    ) -> Control {
        Control {
            token,
            senders,
            keyring: Mutex::new(keyring),
            key_file,
            state_dir,
            version,
            applying: AtomicBool::new(false),
            public_key,
            rejected: Default::default(),
        }
    }

    /// Constant-time comparison with the data-plane token.
    pub fn authorized(&self, presented: &[u8]) -> bool {
        constant_time_eq(self.token.as_bytes(), presented)
    }

    /// Validate, build, swap into every shard, persist. Returns the version now served.
    pub async fn apply(&self, bytes: &[u8]) -> Result<u64, Refusal> {
        if self.applying.swap(true, Relaxed) {
            return Err((409, "another snapshot is being applied; retry".into()));
        }
        let result = self.apply_exclusive(bytes).await;
        self.applying.store(false, Relaxed);
        if let Err((status, why)) = &result {
            tracing::warn!(status, "refused a pushed snapshot: {why}");
        }
        result
    }

    fn reject(&self, reason: usize, status: u16, why: String) -> Refusal {
        if let Some(c) = self.rejected.get(reason) {
            c.fetch_add(1, Relaxed);
        }
        (status, why)
    }

    async fn apply_exclusive(&self, bytes: &[u8]) -> Result<u64, Refusal> {
        let payload = self
            .public_key
            .open(bytes)
            .map_err(|e| self.reject(0, 403, e.to_string()))?;
        let snapshot = snapshot::decode(payload).map_err(|e| self.reject(2, 400, e.to_string()))?;
        let current = self.version.load(Relaxed);
        if snapshot.version < current {
            return Err(self.reject(
                1,
                409,
                format!(
                    "version {} is older than the {current} being served",
                    snapshot.version
                ),
            ));
        }
        if current > 0 && snapshot.version - current > MAX_VERSION_STEP {
            return Err(self.reject(
                1,
                409,
                format!(
                    "version {} jumps more than {MAX_VERSION_STEP} past the {current} being served",
                    snapshot.version
                ),
            ));
        }
        if snapshot.version == current {
            return Ok(current);
        }
        let keyring = self
            .keyring_for(&snapshot)
            .map_err(|(status, why)| self.reject(3, status, why))?;
        let mut acks = Vec::with_capacity(self.senders.len());
        let custom =
            crate::guard::custom::compile_all(&snapshot).map_err(|e| self.reject(2, 422, e))?;
        for sender in &self.senders {
            let state = ServingState::build_with(&snapshot, Arc::clone(&keyring), &custom)
                .map_err(|e| (422, e))?;
            let (swapped, ack) = oneshot::channel();
            sender
                .unbounded_send(StateUpdate { state, swapped })
                .map_err(|_| (503, "a shard is gone".to_owned()))?;
            acks.push(ack);
        }
        for ack in acks {
            match monoio::time::timeout(Duration::from_secs(10), ack).await {
                Ok(Ok(_)) => {}
                _ => return Err((503, "a shard did not take the snapshot in time".into())),
            }
        }
        write_atomically(&self.state_dir.join(LAST_GOOD), bytes)
            .map_err(|e| (500, format!("persisting: {e}")))?;
        self.version.store(snapshot.version, Relaxed);
        tracing::info!(version = snapshot.version, "serving a new snapshot");
        Ok(snapshot.version)
    }

    /// The keyring, reloaded from the key files if the snapshot needs a key it lacks (after a
    /// master-key rotation).
    fn keyring_for(&self, snapshot: &Snapshot) -> Result<Arc<Keyring>, Refusal> {
        let mut ring = self
            .keyring
            .lock()
            .map_err(|_| (500, "keyring lock poisoned".to_owned()))?;
        let needed = snapshot.master_key_ids();
        if !needed.iter().all(|id| ring.has(*id)) {
            let reloaded = load_keyring(&self.key_file).map_err(|e| (500, e))?;
            *ring = Arc::new(reloaded);
        }
        if !needed.iter().all(|id| ring.has(*id)) {
            return Err((
                422,
                "the snapshot's keys are sealed under a master key this data plane does not have"
                    .into(),
            ));
        }
        Ok(Arc::clone(&ring))
    }
}

/// The master key in `path` and, during a rotation, the previous one in `path.previous`.
pub fn load_keyring(path: &Path) -> Result<Keyring, String> {
    let mut keys = Vec::new();
    for p in [path.to_path_buf(), previous(path)] {
        match std::fs::read(&p) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                keys.push(
                    MasterKey::from_key_file_bytes(&bytes)
                        .map_err(|e| format!("{}: {e}", p.display()))?,
                );
            }
            Err(e) if p != path && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", p.display())),
        }
    }
    Ok(Keyring::new(keys))
}

/// Where a rotated-out master key is kept while data planes catch up.
pub fn previous(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".previous");
    PathBuf::from(name)
}

/// The last good snapshot in `state_dir`, if one is there, signed by the pinned key and valid.
/// A file that fails either check is not served from, and the log says why.
pub fn last_good(state_dir: &Path, key: &PublicKey) -> Option<Snapshot> {
    let path = state_dir.join(LAST_GOOD);
    let bytes = std::fs::read(&path).ok()?;
    let decoded = key
        .open(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|payload| snapshot::decode(payload).map_err(|e| e.to_string()));
    match decoded {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(
                "refusing the last good snapshot {}: {e}; serving nothing until the control plane pushes",
                path.display()
            );
            None
        }
    }
}

/// The pinned public key in `path`.
pub fn load_public_key(path: &Path) -> Result<PublicKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    PublicKey::from_file_text(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Temp file, fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    // Owner only: a snapshot holds key digests and sealed provider keys.
    let mut f = warden_shared::create_private(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Register with the control plane every few seconds (every second while it is unreachable).
pub fn spawn_registration(
    control_plane: String,
    token: Zeroizing<String>,
    id: String,
    push_url: String,
    version: Arc<AtomicU64>,
) -> std::io::Result<()> {
    std::thread::Builder::new().name("warden-register".into()).spawn(move || loop {
        let body = serde_json::json!({"id": id, "push_url": push_url, "version": version.load(Relaxed)}).to_string();
        let url = format!("{}/dataplane/v1/register", control_plane.trim_end_matches('/'));
        let wait = match post_json(&url, &token, &body) {
            Ok(200..=299) => Duration::from_secs(3),
            Ok(status) => {
                tracing::warn!(status, "the control plane refused the registration");
                Duration::from_secs(1)
            }
            Err(e) => {
                tracing::debug!("control plane unreachable: {e}");
                Duration::from_secs(1)
            }
        };
        std::thread::sleep(wait);
    })?;
    Ok(())
}

/// A blocking `POST` over plain HTTP/1.1 (the control-plane link is operator-internal; put it
/// behind TLS termination if it crosses networks). Returns the status.
pub(crate) fn post_json(url: &str, token: &str, body: &str) -> std::io::Result<u16> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| std::io::Error::other("control_plane must be an http:// URL"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let mut request = Zeroizing::new(head.into_bytes());
    request.extend_from_slice(body.as_bytes());
    s.write_all(&request)?;
    let mut response = [0u8; 64];
    let n = s.read(&mut response)?;
    let line = std::str::from_utf8(&response[..n]).unwrap_or("");
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad response"))
}
