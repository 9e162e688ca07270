//! The data plane's end of the control-plane link: snapshots pushed to `PUT /v1/snapshot` on
//! the admin listener are validated, turned into per-shard serving state off the shards, swapped
//! in by each shard between requests, written as the last good snapshot, and acknowledged; a
//! background thread registers this data plane with the control plane and keeps doing so, so a
//! control plane that restarts, or a data plane that was away, catches up.
//!
//! A push is a full snapshot or a delta of one (`snapshot::Delta`, signed under its own label):
//! a delta applies only to the full snapshot this data plane built its state on (its base), and
//! is refused with 412 otherwise — the control plane then sends the full one. The last good
//! state on disk is the base (`snapshot.rkyv`) and the newest delta of it (`snapshot.delta`).
//!
//! Invariants: bytes are validated (bytecheck) before anything reads them; a snapshot that fails
//! validation, or names a master key this data plane does not have, is refused and the old one
//! keeps serving; a request finishes on the snapshot it started with; the last good snapshot is
//! replaced atomically (temp file, fsync, rename).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_channel::{mpsc, oneshot};
use warden_shared::signing::PublicKey;
use warden_shared::snapshot::{self, Snapshot};
use warden_shared::vault::Keyring;
use zeroize::Zeroizing;

use crate::shard::StateUpdate;
use crate::state::{Built, SharedState};

mod files;
mod link;

pub use files::{
    last_delta, last_good, load_keyring, load_public_key, previous, write_atomically,
    write_last_good, LAST_DELTA, LAST_GOOD,
};
pub use link::{init_tls, post_json, post_json_reply, spawn_registration, CREDENTIAL};

/// Largest snapshot accepted.
pub const MAX_SNAPSHOT: usize = 256 * 1024 * 1024;
/// The most a pushed version may move past the one served: versions count changes, so a far
/// larger jump is not one the control plane made (it would pin the data plane on that version).
pub const MAX_VERSION_STEP: u64 = 1 << 20;

/// The steps of taking a snapshot, in metric order (`warden_snapshot_apply_seconds`): checking
/// the signature and validating and decoding the bytes; building the shared serving state (once,
/// on the `warden-snapshot` thread); writing it to `state_dir`; every shard swapping it in.
pub const APPLY_STEPS: [&str; 4] = ["decode", "build", "write", "swap"];

/// Why pushed snapshots were refused, in metric order (`warden_snapshot_rejected_total`); `base`:
/// a delta of a full snapshot this data plane does not hold; `persist`: a snapshot that could not
/// be written to `state_dir` (it is not served: what a restart would not find is never served).
pub const REJECTIONS: [&str; 7] = [
    "signature",
    "version",
    "invalid",
    "keys",
    "origin",
    "base",
    "persist",
];

/// The kinds of pushed snapshot taken, in metric order (`warden_snapshots_applied_total`).
pub const KINDS: [&str; 2] = ["full", "delta"];

pub struct Control {
    /// The enrolment token: used once, to enrol and get this data plane's own credential.
    pub token: Zeroizing<String>,
    /// This data plane's own credential and the id it was issued for
    /// (`state_dir/dataplane.credential`, 0600: the id, then the credential): it registers and
    /// ships usage with it, and the control plane pushes with it. `None` until enrolled.
    credential: std::sync::RwLock<Option<(String, Zeroizing<String>)>>,
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
    /// Provider origins this data plane's own config pins (`[providers.NAME] base_url`).
    pins: Vec<(warden_shared::catalog::Provider, String)>,
    /// How long each step of the last snapshot taken took, in microseconds (`APPLY_STEPS`).
    pub last_apply_us: [AtomicU64; APPLY_STEPS.len()],
    /// Snapshots taken, by kind (`KINDS`).
    pub applied: [AtomicU64; KINDS.len()],
    /// The state being served (what a delta is applied to).
    held: Mutex<Built>,
}

/// What a pushed snapshot must satisfy beyond its structure: the control plane's signature, and
/// the provider origins this data plane's own config pins.
pub struct Trust {
    pub public_key: PublicKey,
    pub pins: Vec<(warden_shared::catalog::Provider, String)>,
}

/// What a push carried.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Full,
    Delta,
    /// A full snapshot and a delta of it (`signing::split_bundle`).
    Both,
}

/// A pushed snapshot ready for the shards.
struct Prepared {
    version: u64,
    built: Built,
    kind: Kind,
    states: Vec<crate::state::ServingState>,
    keys: usize,
    /// Checking and decoding; building.
    took: [Duration; 2],
    /// The projects whose cached answers the shards drop once swapped.
    sweep: Arc<[(Arc<str>, Option<u32>)]>,
}

/// A state made from pushed bytes: its version, the state, and when decoding ended (building
/// took the rest).
type Stage = (u64, Built, Instant);

/// Why a pushed snapshot was refused: an HTTP status and a message.
pub type Refusal = (u16, String);

impl Control {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        token: Zeroizing<String>,
        senders: Vec<mpsc::UnboundedSender<StateUpdate>>,
        keyring: Arc<Keyring>,
        key_file: PathBuf,
        state_dir: PathBuf,
        version: Arc<AtomicU64>,
        trust: Trust,
        serving: &Built,
    ) -> Control {
        let credential = std::fs::read_to_string(state_dir.join(CREDENTIAL))
            .ok()
            .map(Zeroizing::new)
            .and_then(|text| {
                let (id, credential) = text.trim().split_once('\n')?;
                Some((id.to_owned(), Zeroizing::new(credential.trim().to_owned())))
            });
        Control {
            token,
            credential: std::sync::RwLock::new(credential),
            senders,
            keyring: Mutex::new(keyring),
            key_file,
            state_dir,
            version,
            applying: AtomicBool::new(false),
            public_key: trust.public_key,
            rejected: Default::default(),
            pins: trust.pins,
            last_apply_us: Default::default(),
            applied: Default::default(),
            held: Mutex::new(serving.clone()),
        }
    }

    /// Whether a push carries this data plane's own credential (constant time); nothing is
    /// accepted before it has enrolled.
    pub fn authorized(&self, presented: &[u8]) -> bool {
        self.held()
            .is_some_and(|(_, c)| constant_time_eq(c.as_bytes(), presented))
    }

    fn held(&self) -> Option<(String, Zeroizing<String>)> {
        match self.credential.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The credential for data-plane id `id`, once enrolled under that id (a credential issued
    /// for another id — the data plane was renamed — is not used: it enrols again).
    pub fn credential_for(&self, id: &str) -> Option<Zeroizing<String>> {
        self.held()
            .filter(|(for_id, _)| for_id == id)
            .map(|(_, c)| c)
    }

    /// Keep the credential the control plane issued at enrolment (file first, then memory).
    fn set_credential(&self, id: &str, credential: Zeroizing<String>) -> std::io::Result<()> {
        let text = Zeroizing::new(format!("{id}\n{}\n", credential.as_str()));
        write_atomically(&self.state_dir.join(CREDENTIAL), text.as_bytes())?;
        match self.credential.write() {
            Ok(mut c) => *c = Some((id.to_owned(), credential)),
            Err(poisoned) => *poisoned.into_inner() = Some((id.to_owned(), credential)),
        }
        Ok(())
    }

    /// Validate, build, persist, swap into every shard. Returns the version now served.
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
        // The checking and building take a core for a while at a million keys: on a thread of
        // their own at a lower CPU priority than the shards, so that where cores are short the
        // shards' requests go first. (This thread, the admin listener's, waits meanwhile, as it
        // did when it did the work itself.)
        let prepared = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("warden-snapshot".into())
                .spawn_scoped(s, || {
                    crate::runtime::lower_priority();
                    self.prepare(bytes)
                })
                .map_err(|e| (500, format!("starting the snapshot thread: {e}")))?
                .join()
                .map_err(|_| (500, "the snapshot thread panicked".to_owned()))?
        })?;
        let Prepared {
            version,
            built,
            kind,
            states,
            keys,
            took,
            sweep,
        } = match prepared {
            Some(p) => p,
            None => return Ok(self.version.load(Relaxed)),
        };
        // On disk before any shard serves it: a data plane killed after the swap restarts on
        // what it served, not on an older snapshot.
        let writing = Instant::now();
        self.persist(bytes, kind)
            .map_err(|e| self.reject(6, 500, format!("persisting: {e}")))?;
        let ready = Instant::now();
        let mut acks = Vec::with_capacity(self.senders.len());
        for (sender, state) in self.senders.iter().zip(states) {
            let (swapped, ack) = oneshot::channel();
            sender
                .unbounded_send(StateUpdate {
                    state,
                    swapped,
                    sweep: Arc::clone(&sweep),
                })
                .map_err(|_| (503, "a shard is gone".to_owned()))?;
            acks.push(ack);
        }
        for ack in acks {
            match monoio::time::timeout(Duration::from_secs(10), ack).await {
                Ok(Ok(_)) => {}
                _ => return Err((503, "a shard did not take the snapshot in time".into())),
            }
        }
        let took = [took[0], took[1], ready - writing, ready.elapsed()];
        for (slot, took) in self.last_apply_us.iter().zip(took) {
            slot.store(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
        }
        self.version.store(version, Relaxed);
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = built;
        if kind != Kind::Delta {
            self.applied[0].fetch_add(1, Relaxed);
        }
        if kind != Kind::Full {
            self.applied[1].fetch_add(1, Relaxed);
        }
        tracing::info!(
            version,
            delta = kind != Kind::Full,
            keys,
            decode_ms = took[0].as_millis(),
            build_ms = took[1].as_millis(),
            swap_ms = took[2].as_millis(),
            "serving a new snapshot"
        );
        Ok(version)
    }

    /// The last good state on disk (`files::write_last_good`, which orders the writes); a
    /// bundle is split into its full snapshot and its delta.
    fn persist(&self, bytes: &[u8], kind: Kind) -> std::io::Result<()> {
        let (full, delta) = match kind {
            Kind::Full => (Some(bytes), None),
            Kind::Delta => (None, Some(bytes)),
            Kind::Both => match warden_shared::signing::split_bundle(bytes) {
                Some((full, delta)) => (Some(full), Some(delta)),
                None => return Err(std::io::Error::other("not a bundle")),
            },
        };
        write_last_good(&self.state_dir, full, delta)
    }

    /// Check the signature, validate and decode, check pins, version and keys, and build the
    /// serving state once with a view of it for each shard. `None`: this version is served
    /// already.
    fn prepare(&self, bytes: &[u8]) -> Result<Option<Prepared>, Refusal> {
        let started = Instant::now();
        let done = |kind, (version, built, decoded): Stage| {
            let took = [decoded - started, decoded.elapsed()];
            Ok(Some(self.prepared(version, built, kind, took)))
        };
        if let Some((full, delta)) = warden_shared::signing::split_bundle(bytes) {
            // Only the delta's version must move forward: the full snapshot is its base.
            let Some((version, built, _)) = self.prepare_full(full, false)? else {
                return Ok(None);
            };
            return match self.prepare_delta(delta, Some((version, &built)))? {
                Some(stage) => done(Kind::Both, stage),
                None => Ok(None),
            };
        }
        if warden_shared::signing::is_delta(bytes) {
            let held = self.held.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let base = held.shared.base_version();
            let base = (base > 0).then_some((base, &held));
            return match self.prepare_delta(bytes, base)? {
                Some(stage) => done(Kind::Delta, stage),
                None => Ok(None),
            };
        }
        match self.prepare_full(bytes, true)? {
            Some(stage) => done(Kind::Full, stage),
            None => Ok(None),
        }
    }

    /// A full snapshot's state: signature, decoding, pins, version (when `forward`: past the
    /// one served, `None` when it is the one served), keys, custom patterns, and the shared
    /// state built once.
    fn prepare_full(&self, bytes: &[u8], forward: bool) -> Result<Option<Stage>, Refusal> {
        let payload = self
            .public_key
            .open(bytes)
            .map_err(|e| self.reject(0, 403, e.to_string()))?;
        let (snapshot, keys) = crate::state::decode(payload).map_err(|e| self.reject(2, 400, e))?;
        check_pins(&snapshot, &self.pins).map_err(|e| self.reject(4, 403, e))?;
        if forward && !self.moves_forward(snapshot.version)? {
            return Ok(None);
        }
        let keyring = self
            .keyring_for(&snapshot.master_key_ids())
            .map_err(|(status, why)| self.reject(3, status, why))?;
        let decoded = Instant::now();
        let custom =
            crate::guard::custom::compile_all(&snapshot).map_err(|e| self.reject(2, 422, e))?;
        let version = snapshot.version;
        // Once for every shard; each swaps in a pointer to it (and a scratch of its own).
        let built = SharedState::build_with_keys(snapshot, keys, Arc::clone(&keyring), &custom)
            .map_err(|e| (422, e))?;
        Ok(Some((version, built, decoded)))
    }

    /// A delta applied to `base` (its version and state; `None`: this data plane holds no full
    /// snapshot); `None` when its version is served already.
    fn prepare_delta(
        &self,
        bytes: &[u8],
        base: Option<(u64, &Built)>,
    ) -> Result<Option<Stage>, Refusal> {
        let payload = self
            .public_key
            .open_delta(bytes)
            .map_err(|e| self.reject(0, 403, e.to_string()))?;
        let delta =
            snapshot::decode_delta(payload).map_err(|e| self.reject(2, 400, e.to_string()))?;
        if !self.moves_forward(delta.version)? {
            return Ok(None);
        }
        let held = match base {
            Some((version, built)) if version == delta.base => built,
            _ => {
                // 412: the control plane sends the full snapshot.
                return Err(self.reject(
                    5,
                    412,
                    format!(
                        "a delta of version {}; this data plane's base is version {}: send the full snapshot",
                        delta.base,
                        base.map_or(0, |b| b.0)
                    ),
                ));
            }
        };
        let keyring = self
            .keyring_for(&delta.master_key_ids())
            .map_err(|(status, why)| self.reject(3, status, why))?;
        let decoded = Instant::now();
        let version = delta.version;
        let built =
            SharedState::apply_delta(held, delta, keyring).map_err(|e| self.reject(2, 422, e))?;
        Ok(Some((version, built, decoded)))
    }

    fn prepared(&self, version: u64, built: Built, kind: Kind, took: [Duration; 2]) -> Prepared {
        let served = Arc::clone(&self.held.lock().unwrap_or_else(|p| p.into_inner()).shared);
        Prepared {
            sweep: built.shared.cache_sweep(&served).into(),
            version,
            keys: built.shared.api_key_count(),
            states: (0..self.senders.len()).map(|_| built.for_shard()).collect(),
            built,
            kind,
            took,
        }
    }

    /// Whether `version` is past the one served (`false`: it is served already); refused when
    /// older, or further ahead than the control plane could have moved.
    fn moves_forward(&self, version: u64) -> Result<bool, Refusal> {
        let current = self.version.load(Relaxed);
        if version < current {
            return Err(self.reject(
                1,
                409,
                format!("version {version} is older than the {current} being served"),
            ));
        }
        if current > 0 && version - current > MAX_VERSION_STEP {
            return Err(self.reject(
                1,
                409,
                format!(
                    "version {version} jumps more than {MAX_VERSION_STEP} past the {current} being served"
                ),
            ));
        }
        Ok(version > current)
    }

    /// The keyring, reloaded from the key files if the snapshot needs a key it lacks (after a
    /// master-key rotation).
    fn keyring_for(&self, needed: &[u32]) -> Result<Arc<Keyring>, Refusal> {
        let mut ring = self
            .keyring
            .lock()
            .map_err(|_| (500, "keyring lock poisoned".to_owned()))?;
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

/// Refuse a snapshot that sends a pinned provider's requests — and its keys — to another origin.
pub fn check_pins(
    snapshot: &Snapshot,
    pins: &[(warden_shared::catalog::Provider, String)],
) -> Result<(), String> {
    for (provider, url) in pins {
        let named = snapshot
            .providers
            .iter()
            .find(|p| p.provider == *provider)
            .map(|p| p.base_url.trim_end_matches('/'));
        if named.is_some_and(|n| n != url) {
            return Err(format!(
                "the snapshot sends {} requests to another origin than this data plane's [providers.{}] pins",
                provider.name(),
                provider.name()
            ));
        }
    }
    Ok(())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
