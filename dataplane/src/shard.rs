//! A shard: one thread, pinned to one core, with its own monoio runtime (io_uring, or epoll when
//! io_uring is unavailable or `MONOIO_FORCE_LEGACY_DRIVER=1`), its own listening socket, and its
//! own state — serving state, upstream pool, DNS cache, TLS client, scratch buffers, counters.
//! Nothing a request touches is shared with another shard behind a lock: `Cell`/`RefCell` only.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use futures_channel::oneshot;

use crate::config::{ms, Config};
use crate::http::parse::Limits as HeadLimits;
use crate::metrics::ShardMetrics;
use crate::state::ServingState;
use crate::upstream::client::tls_connector;
use crate::upstream::dns::{Lookup, Resolver};
use crate::upstream::pool::Pool;
use crate::upstream::Upstream;

pub struct Shard {
    pub id: usize,
    state: RefCell<Rc<ServingState>>,
    pub limits: crate::config::Limits,
    pub head_limits: HeadLimits,
    pub timeouts: Timeouts,
    pub metrics: Arc<ShardMetrics>,
    /// The keep-alive pool, DNS cache and TLS client this shard reaches providers with.
    pub upstream: Upstream,
    /// Client TLS on `listen` (`[tls]`): this shard's acceptor, refreshed after a reload.
    pub server_tls: Option<crate::tls::ShardTls>,
    /// The guardrail detectors (shared, read-only) and this shard's Hyperscan scratch.
    pub guard: Arc<crate::guard::engine::Engine>,
    pub guard_scratch: crate::guard::engine::Scratch,
    /// Complexity routing's cue database (shared) and this shard's scratch for it.
    pub scorer: Arc<crate::complexity::Scorer>,
    pub scorer_scratch: hyperscan::Scratch,
    /// This shard's end of the audit log (`None` when auditing is off).
    pub audit: Option<crate::audit::producer::Producer>,
    /// simd-json parses in place: request bodies are copied here first, reusing the allocation.
    pub scratch: RefCell<Vec<u8>>,
    /// Set on SIGTERM: finish in-flight requests, then close connections.
    pub draining: Cell<bool>,
    /// One log line per answered request (`access_log`).
    pub access_log: bool,
    /// Trying the next key or provider (`[fallback]`), and this shard's view of failing keys.
    pub fallback: crate::config::Fallback,
    pub breakers: crate::upstream::breaker::Breakers,
    /// This shard's cached answers (`cache.rs`).
    pub cache: crate::cache::Cache,
    /// Traces (`[telemetry]`): the exporter's queue, and this shard's span and trace ids.
    pub telemetry: Option<Arc<warden_shared::telemetry::Telemetry>>,
    pub ids: warden_shared::telemetry::Ids,
    inflight: Cell<usize>,
    open: Cell<usize>,
    request_seq: Cell<u64>,
    /// Random per process and shard, so request ids are unique across restarts and shards.
    request_prefix: u64,
}

/// The config's timeouts as durations.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub head: Duration,
    pub idle: Duration,
    pub body: Duration,
    pub upstream_connect: Duration,
    pub upstream_first_byte: Duration,
    pub upstream_idle: Duration,
    pub drain: Duration,
}

/// Everything a shard thread needs to start.
pub struct ShardSpec {
    pub id: usize,
    pub core: Option<usize>,
    pub listener: std::net::TcpListener,
    pub config: Arc<Config>,
    /// The serving state it starts with (taken on the shard's thread).
    pub state: Option<ServingState>,
    pub metrics: Arc<ShardMetrics>,
    pub dns: mpsc::Sender<Lookup>,
    pub drain: oneshot::Receiver<()>,
    /// Told once the shard serves (or why it could not start).
    pub ready: mpsc::Sender<Result<usize, String>>,
    pub audit: Option<crate::audit::producer::Producer>,
    pub guard: Arc<crate::guard::engine::Engine>,
    pub scorer: Arc<crate::complexity::Scorer>,
    /// Client TLS on `listen`, shared by every shard (reloaded on SIGHUP).
    pub server_tls: Option<Arc<crate::tls::ServerTls>>,
    /// New serving states, built off the shard, to swap in between requests.
    pub updates: futures_channel::mpsc::UnboundedReceiver<StateUpdate>,
    /// Where finished requests' spans go (`[telemetry]`).
    pub telemetry: Option<Arc<warden_shared::telemetry::Telemetry>>,
    /// The answer cache's salt, bounds and every shard's inbox.
    pub cache: crate::cache::Shared,
}

/// A new serving state for one shard, the acknowledgement it sends once swapped in, and the
/// projects whose cached answers it then drops (`SharedState::cache_sweep`).
pub struct StateUpdate {
    pub state: ServingState,
    pub swapped: oneshot::Sender<u64>,
    pub sweep: Arc<[(Arc<str>, Option<u32>)]>,
}

/// Decrements the in-flight count when a request ends, however it ends.
pub struct InFlight<'a>(&'a Shard);

/// Decrements the open-connection count when a connection ends.
pub struct OpenConn(Rc<Shard>);

impl Shard {
    pub fn state(&self) -> Rc<ServingState> {
        Rc::clone(&self.state.borrow())
    }

    pub fn begin_request(&self) -> InFlight<'_> {
        self.inflight.set(self.inflight.get() + 1);
        InFlight(self)
    }

    pub fn inflight(&self) -> usize {
        self.inflight.get()
    }

    pub fn open_connections(&self) -> usize {
        self.open.get()
    }

    pub fn open_connection(self: &Rc<Self>) -> OpenConn {
        self.open.set(self.open.get() + 1);
        self.metrics.open_connections.add(1);
        OpenConn(Rc::clone(self))
    }

    /// `req_` + 16 hex digits of per-shard randomness + a 12-digit sequence number.
    pub fn next_request_id(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let n = self.request_seq.get().wrapping_add(1);
        self.request_seq.set(n);
        let _ = write!(
            out,
            "req_{:016x}{:012x}",
            self.request_prefix,
            n & 0xffff_ffff_ffff
        );
    }

    /// Whether a string the client sent may be repeated where Warden writes (an answer's head or
    /// error body, the audit record, logs): a short token — letters, digits and `-_.:/` — that no
    /// built-in detector reads a key or personal data in. A Warden or provider key, or a card
    /// number, is all token characters, so the shape alone does not say.
    pub fn may_repeat(&self, given: &[u8]) -> bool {
        let token = !given.is_empty()
            && given.len() <= 128
            && given.iter().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/')
            });
        token && !self.holds_a_value(given)
    }

    /// Whether a built-in detector finds a key or personal data in `text`.
    fn holds_a_value(&self, text: &[u8]) -> bool {
        let mut found = Vec::new();
        self.guard
            .scan_in(&self.guard_scratch, None, text, &mut found);
        found.iter().any(|f| {
            matches!(
                f.detector().category,
                crate::guard::Category::Pii | crate::guard::Category::Secrets
            )
        })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.inflight.set(self.0.inflight.get() - 1);
    }
}

impl Drop for OpenConn {
    fn drop(&mut self) {
        self.0.open.set(self.0.open.get() - 1);
        self.0.metrics.open_connections.add(-1);
    }
}

impl Timeouts {
    pub fn from_config(t: &crate::config::Timeouts) -> Timeouts {
        Timeouts {
            head: ms(t.head_ms),
            idle: ms(t.idle_ms),
            body: ms(t.body_ms),
            upstream_connect: ms(t.upstream_connect_ms),
            upstream_first_byte: ms(t.upstream_first_byte_ms),
            upstream_idle: ms(t.upstream_idle_ms),
            drain: ms(t.drain_ms),
        }
    }
}

/// Swap in each new serving state as it arrives. Requests in flight keep the `Rc` of the state
/// they started with; the next request sees the new one. Then drop the cached answers the new
/// state no longer serves (a few at a time, between requests).
pub async fn apply_updates(
    shard: Rc<Shard>,
    mut updates: futures_channel::mpsc::UnboundedReceiver<StateUpdate>,
) {
    use futures_core::Stream;
    use std::pin::Pin;
    while let Some(update) = std::future::poll_fn(|cx| Pin::new(&mut updates).poll_next(cx)).await {
        let version = update.state.version;
        *shard.state.borrow_mut() = Rc::new(update.state);
        let _ = update.swapped.send(version);
        // The semantic index is one per data plane: the first shard tells it.
        if let (0, Some(engine)) = (shard.id, &shard.cache.semantic) {
            for (project, _) in update.sweep.iter() {
                engine.forget(Arc::clone(project));
            }
        }
        shard.cache.sweep(&update.sweep).await;
    }
}

/// This shard's state, built on its own thread from what the process shares.
pub fn build(
    spec: &ShardSpec,
    audit: Option<crate::audit::producer::Producer>,
    state: ServingState,
) -> Result<Shard, String> {
    let config = &spec.config;
    let upstream = &config.upstream;
    let mut prefix = [0u8; 8];
    getrandom::fill(&mut prefix).map_err(|e| format!("random source: {e}"))?;
    Ok(Shard {
        id: spec.id,
        state: RefCell::new(Rc::new(state)),
        limits: config.limits,
        head_limits: HeadLimits {
            max_head: config.limits.max_head_bytes,
            max_headers: config.limits.max_headers,
        },
        timeouts: Timeouts::from_config(&config.timeouts),
        access_log: config.access_log,
        fallback: config.fallback,
        breakers: Default::default(),
        cache: spec.cache.shard(spec.id, Arc::clone(&spec.metrics.cache)),
        telemetry: spec.telemetry.clone(),
        ids: warden_shared::telemetry::Ids::new(),
        metrics: Arc::clone(&spec.metrics),
        upstream: Upstream {
            pool: Pool::new(upstream.pool_max_idle_per_origin, ms(upstream.pool_idle_ms)),
            resolver: Resolver::new(spec.dns.clone(), ms(upstream.dns_ttl_ms)),
            tls: tls_connector(upstream.ca_file.as_deref())?,
            connect_timeout: ms(config.timeouts.upstream_connect_ms),
            first_byte_timeout: ms(config.timeouts.upstream_first_byte_ms),
            metrics: Arc::clone(&spec.metrics),
        },
        server_tls: spec
            .server_tls
            .as_ref()
            .map(|t| crate::tls::ShardTls::new(Arc::clone(t))),
        guard: Arc::clone(&spec.guard),
        guard_scratch: spec.guard.scratch()?,
        scorer: Arc::clone(&spec.scorer),
        scorer_scratch: spec.scorer.scratch()?,
        audit,
        scratch: RefCell::new(Vec::with_capacity(64 * 1024)),
        draining: Cell::new(false),
        inflight: Cell::new(0),
        open: Cell::new(0),
        request_seq: Cell::new(0),
        request_prefix: u64::from_le_bytes(prefix),
    })
}
