//! The answer cache: a provider's answer, kept for a project that opted in
//! (`[tenants.projects.cache] mode = "exact"`), served again to the same request.
//!
//! What is kept is what the provider sent (status 200, its body or its whole event stream),
//! before any of Warden's answer-side work: a hit goes through the same answer path as a live
//! answer — translation into the client's dialect, the response guardrails, the placeholders of
//! `restore` put back with *this* request's values, the audit record — only the provider is not
//! asked. So a guardrail policy or a client dialect can change and a hit still answers as a live
//! answer would.
//!
//! The key is a salted SHA-256 over the project, the provider, the upstream model and the exact
//! request Warden would send (after the request guardrails' redactions, without the key): two
//! projects never share an entry, and an entry never answers a request that would have been sent
//! differently. A different temperature, tool list or `user` is another entry. The stream flag
//! is not part of it where the provider's format lets an answer kept in one shape be served in
//! the other (`reshape.rs`: Chat Completions, Messages, Gemini; the Responses API one way): a
//! streamed request and an unstreamed one share their entry.
//!
//! Each shard keeps its own entries (`store.rs`, no lock on the request path). A filled entry is
//! also offered to every other shard through a bounded lock-free inbox, which each shard drains
//! before its next lookup, so a repeated request hits whichever shard it lands on. An inbox is
//! bounded in entries and in bytes (a quarter of a shard's share: a shard that sees no traffic
//! cannot pin more); a full one drops the offer (counted), and that shard misses once and fills
//! for itself. Entries are shared, not copied: each shard accounts for every entry it holds, so
//! the memory held is at most `memory_mb` plus the inboxes' bound.
//!
//! Never kept: errors, answers a guardrail blocked, streams that broke off, answers over
//! `[cache] max_entry_kb`, requests with `Cache-Control: no-store`. `no-cache` skips the lookup
//! and refreshes the entry.

mod recording;
pub mod redis;
pub mod reshape;
pub mod semantic;
pub mod store;
mod sweep;
mod tiers;

pub use recording::Recording;
pub use reshape::{Shape, Wire};

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use sha2::{Digest, Sha256};
use warden_shared::snapshot::{CacheMode, CachePolicy};

use crate::metrics::cache::CacheMetrics;
use store::Store;

/// Offers from other shards waiting to be applied, per shard.
const INBOX: usize = 1024;

/// A cache key: SHA-256 over the process's salt and everything that makes the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(pub [u8; 32]);

/// One kept answer.
pub struct Entry {
    pub key: Key,
    /// Checked on every hit, besides being part of the key.
    pub project: Arc<str>,
    /// The project's cache generation it was filled under (part of the key too): an entry of an
    /// older one is dropped when the shard sweeps the project (`Cache::sweep`).
    pub generation: u32,
    /// The provider answered with an event stream.
    pub event_stream: bool,
    /// The provider's decoded body.
    pub body: Box<[u8]>,
    /// When the provider gave it: a hit needs it younger than the project's `ttl_s` as it is
    /// now, so a shortened TTL applies to answers kept before too.
    pub filled: Instant,
    /// When it goes, whatever the policy says by then (its TTL at the fill).
    pub expires: Instant,
}

/// What the `x-warden-cache` header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Hit,
    Miss,
    Semantic,
    Bypass,
}

/// How an answer came from the cache (audit records, usage rows, billing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    Exact,
    Semantic,
}

/// The client's `Cache-Control` (and `Pragma: no-cache`) directives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Directives {
    /// Neither read nor write the cache.
    pub no_store: bool,
    /// Do not answer from the cache; keep the fresh answer.
    pub no_cache: bool,
}

/// What the request path does for one request.
pub enum Plan {
    /// The project does not cache: no header, nothing kept.
    Off,
    /// `no-store`: answered by the provider, nothing kept.
    Bypass,
    /// Answered from the cache.
    Hit(Arc<Entry>),
    /// Answered from the cache with the answer to a question that means the same.
    Semantic(Arc<Entry>),
    /// Asked the provider; the answer is kept under `key` if it qualifies.
    Fill(Fill),
}

/// Where a fresh answer goes once it is known to be whole and clean.
pub struct Fill {
    pub key: Key,
    pub project: Arc<str>,
    pub generation: u32,
    pub ttl: Duration,
    pub project_cap: usize,
    /// The answer was refreshed on the client's `no-cache`: the header says `bypass`.
    pub refresh: bool,
    /// The project caches by meaning and the request qualifies: what to look up and, once
    /// filled, to index.
    pub semantic: Option<semantic::Ask>,
    /// What the request expects back: an entry kept in the other shape is converted, or missed.
    pub shape: Shape,
}

/// One shard's cache: its entries, its inbox of other shards' fills, and their inboxes.
pub struct Cache {
    store: RefCell<Store>,
    inbox: Arc<Inbox>,
    peers: Vec<Arc<Inbox>>,
    salt: [u8; 32],
    pub max_entry: usize,
    pub metrics: Arc<CacheMetrics>,
    /// Bytes of streams being recorded for the cache on this shard, and their bound (a quarter
    /// of the shard's share): many long streams at once cannot each hold `max_entry`.
    recording: Cell<usize>,
    recording_limit: usize,
    /// The shared tier (`[cache] redis_url`), and the writes to it in flight on this shard.
    remote: Option<Rc<redis::Redis>>,
    remote_writes: Rc<Cell<usize>>,
    /// The semantic tier (`[cache] semantic_model`), shared by every shard.
    pub semantic: Option<Arc<semantic::Engine>>,
}

/// What every shard's cache is made from: the salt, the inboxes, the bounds.
#[derive(Clone)]
pub struct Shared {
    salt: [u8; 32],
    inboxes: Vec<Arc<Inbox>>,
    per_shard: usize,
    max_entry: usize,
    remote: Option<Remote>,
    semantic: Option<Arc<semantic::Engine>>,
}

/// The shared tier: where, each operation's deadline, and the key its values are signed with.
pub type Remote = (redis::Target, Duration, [u8; 32]);

/// Writes to the shared tier one shard may have in flight; past it a fill stays local (counted).
const REMOTE_WRITES: usize = 64;

/// Entries other shards filled, waiting for this shard's next lookup.
struct Inbox {
    queue: ArrayQueue<Arc<Entry>>,
    /// Body bytes waiting, kept under `limit` by the shards that offer.
    bytes: AtomicUsize,
    limit: usize,
}

impl Inbox {
    fn offer(&self, entry: &Arc<Entry>) -> bool {
        let size = entry.body.len();
        if self.bytes.fetch_add(size, Relaxed) + size > self.limit {
            self.bytes.fetch_sub(size, Relaxed);
            return false;
        }
        match self.queue.push(Arc::clone(entry)) {
            Ok(()) => true,
            Err(_) => {
                self.bytes.fetch_sub(size, Relaxed);
                false
            }
        }
    }

    fn take(&self) -> Option<Arc<Entry>> {
        let entry = self.queue.pop()?;
        self.bytes.fetch_sub(entry.body.len(), Relaxed);
        Some(entry)
    }
}

impl Status {
    pub fn header(self) -> &'static [u8] {
        match self {
            Status::Hit => b"hit",
            Status::Miss => b"miss",
            Status::Semantic => b"semantic",
            Status::Bypass => b"bypass",
        }
    }
}

impl Hit {
    pub fn name(self) -> &'static str {
        match self {
            Hit::Exact => "exact",
            Hit::Semantic => "semantic",
        }
    }
}

impl Directives {
    /// Read one `Cache-Control` or `Pragma` value (comma-separated, any case).
    pub fn observe(&mut self, value: &[u8]) {
        for d in value.split(|b| *b == b',') {
            let d = d.trim_ascii();
            if d.eq_ignore_ascii_case(b"no-store") {
                self.no_store = true;
            } else if d.eq_ignore_ascii_case(b"no-cache") {
                self.no_cache = true;
            }
        }
    }
}

impl Shared {
    /// `memory` bytes in all, split evenly across `shards`; keys salted with `salt` (random when
    /// `None`: the shared tier needs one every data plane of the deployment derives alike).
    pub fn new(
        shards: usize,
        memory: usize,
        max_entry: usize,
        salt: Option<[u8; 32]>,
        remote: Option<Remote>,
    ) -> Result<Shared, String> {
        let salt = match salt {
            Some(s) => s,
            None => {
                let mut s = [0u8; 32];
                getrandom::fill(&mut s).map_err(|e| format!("random source: {e}"))?;
                s
            }
        };
        let per_shard = memory / shards.max(1);
        Ok(Shared {
            salt,
            inboxes: (0..shards)
                .map(|_| {
                    Arc::new(Inbox {
                        queue: ArrayQueue::new(INBOX),
                        bytes: AtomicUsize::new(0),
                        limit: (per_shard / 4).max(max_entry),
                    })
                })
                .collect(),
            per_shard,
            max_entry,
            remote,
            semantic: None,
        })
    }

    /// With the semantic tier.
    pub fn with_semantic(mut self, engine: Option<Arc<semantic::Engine>>) -> Shared {
        self.semantic = engine;
        self
    }

    /// Shard `id`'s cache.
    pub fn shard(&self, id: usize, metrics: Arc<CacheMetrics>) -> Cache {
        if let Some(engine) = &self.semantic {
            let _ = metrics.semantic.set(Arc::clone(&engine.figures));
        }
        Cache {
            store: RefCell::new(Store::new(self.per_shard)),
            inbox: Arc::clone(&self.inboxes[id]),
            peers: self
                .inboxes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != id)
                .map(|(_, q)| Arc::clone(q))
                .collect(),
            salt: self.salt,
            max_entry: self.max_entry,
            metrics,
            recording: Cell::new(0),
            recording_limit: (self.per_shard / 4).max(self.max_entry),
            remote: self.remote.as_ref().map(|(target, timeout, mac_key)| {
                Rc::new(redis::Redis::new(
                    target.clone(),
                    *timeout,
                    *mac_key,
                    self.max_entry + 1024,
                ))
            }),
            remote_writes: Rc::new(Cell::new(0)),
            semantic: self.semantic.clone(),
        }
    }
}

impl Cache {
    /// A hasher for one request's key, seeded with the salt, the project and the project's
    /// cache generation (raised, it leaves every earlier entry unreachable, here, on the other
    /// data planes and in the shared tier).
    pub fn hasher(&self, project: &str, generation: u32) -> KeyHasher {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(b"warden-cache-v3\0");
        let mut k = KeyHasher(h);
        k.part(project.as_bytes());
        k.part(&generation.to_le_bytes());
        k
    }

    /// Decide what the cache does for a request of a project with `policy` that expects `shape`
    /// back; `key` makes the key only when it is needed.
    pub fn plan(
        &self,
        policy: &CachePolicy,
        directives: Directives,
        project: &Arc<str>,
        shape: Shape,
        key: impl FnOnce() -> Option<Key>,
    ) -> Plan {
        if policy.mode == CacheMode::Off {
            return Plan::Off;
        }
        if directives.no_store {
            return Plan::Bypass;
        }
        let Some(key) = key() else {
            return Plan::Bypass;
        };
        let fill = Fill {
            key,
            project: Arc::clone(project),
            generation: policy.generation,
            ttl: Duration::from_secs(u64::from(policy.ttl_s)),
            project_cap: policy.max_bytes as usize,
            refresh: directives.no_cache,
            semantic: None,
            shape,
        };
        if directives.no_cache {
            return Plan::Fill(fill);
        }
        match self
            .get(&key, project, fill.ttl)
            .and_then(|e| self.shaped(e, shape))
        {
            Some(entry) => Plan::Hit(entry),
            None => Plan::Fill(fill),
        }
    }

    /// Count a lookup once every tier has had its say, as `x-warden-cache` reports it.
    pub fn count(&self, plan: &Plan) {
        let l = &self.metrics.lookups;
        match plan {
            Plan::Off => {}
            Plan::Bypass => l.bypass.inc(),
            Plan::Fill(f) if f.refresh => l.bypass.inc(),
            Plan::Fill(_) => l.miss.inc(),
            Plan::Hit(_) => l.hit.inc(),
            Plan::Semantic(_) => l.semantic.inc(),
        }
    }

    /// The live entry for `key`, younger than `ttl`, after applying what other shards offered.
    fn get(&self, key: &Key, project: &str, ttl: Duration) -> Option<Arc<Entry>> {
        let mut store = self.store.borrow_mut();
        let now = Instant::now();
        self.take_offers(&mut store, now);
        let entry = store.get(key, now)?;
        // The key holds the project already; this is the isolation check that cannot be hashed
        // away.
        (*entry.project == *project && now < entry.filled + ttl).then_some(entry)
    }

    /// Keep what other shards offered. Bounded by the queue's capacity: other shards cannot keep
    /// this loop going.
    fn take_offers(&self, store: &mut Store, now: Instant) {
        for _ in 0..INBOX {
            let Some(offered) = self.inbox.take() else {
                break;
            };
            if offered.expires > now {
                self.keep(store, offered, 0);
            }
        }
    }

    /// Keep a fresh answer here and offer it to the other shards.
    pub fn fill(&self, fill: Fill, event_stream: bool, body: &[u8]) {
        if body.len() > self.max_entry {
            self.metrics.too_big.inc();
            return;
        }
        if let (Some(engine), Some(ask)) = (&self.semantic, &fill.semantic) {
            engine.insert(ask.clone(), fill.key, fill.ttl);
        }
        let now = Instant::now();
        let entry = Arc::new(Entry {
            key: fill.key,
            project: fill.project,
            generation: fill.generation,
            event_stream,
            body: body.into(),
            filled: now,
            expires: now + fill.ttl,
        });
        self.keep(
            &mut self.store.borrow_mut(),
            Arc::clone(&entry),
            fill.project_cap,
        );
        self.metrics.fills.inc();
        for peer in &self.peers {
            if !peer.offer(&entry) {
                self.metrics.offers_dropped.inc();
            }
        }
        if let Some(remote) = &self.remote {
            self.write_remote(remote, &entry, fill.ttl);
        }
    }

    /// Start recording a stream for `fill`.
    pub fn record(&self, fill: Fill) -> Recording<'_> {
        Recording::new(self, fill)
    }

    fn keep(&self, store: &mut Store, entry: Arc<Entry>, project_cap: usize) {
        let done = store.insert(entry, project_cap);
        self.metrics.evictions.add(done.evicted);
        self.metrics.bytes.set(store.bytes() as i64);
        self.metrics.entries.set(store.len() as i64);
    }
}

/// Builds a key from the parts of a request, each length-prefixed so no two different
/// sequences of parts hash alike.
#[derive(Clone)]
pub struct KeyHasher(Sha256);

impl KeyHasher {
    pub fn part(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// Feed one part in pieces: `len` is their total length.
    pub fn pieces(&mut self, len: usize) -> &mut Sha256 {
        self.0.update((len as u64).to_le_bytes());
        &mut self.0
    }

    pub fn finish(self) -> Key {
        Key(self.0.finalize().into())
    }
}

#[cfg(test)]
mod tests;
