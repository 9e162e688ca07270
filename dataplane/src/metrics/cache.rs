//! The answer cache's figures (see `cache.rs`): lookups by result, fills, evictions, and what
//! each shard holds. One writer per shard, summed when scraped.

use std::fmt::Write;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use super::{write_histogram, Counter, Gauge, Histogram};

#[derive(Default)]
pub struct CacheMetrics {
    pub lookups: Lookups,
    /// Answers kept after a miss (or a `no-cache` refresh).
    pub fills: Counter,
    /// Entries dropped to make room (the shard's budget or the project's cap).
    pub evictions: Counter,
    /// Entries dropped because their project's cache was turned off or purged, or the project
    /// is gone.
    pub purged: Counter,
    /// Answers over `[cache] max_entry_kb`, not kept.
    pub too_big: Counter,
    /// Fills not offered to another shard because its inbox was full.
    pub offers_dropped: Counter,
    /// Hits served in the other shape than they were kept in (a kept stream to a request for one
    /// body, or the reverse), counted in `lookups` too.
    pub reshaped: Counter,
    /// Entries that could not be served in the other shape: those requests were misses.
    pub reshape_failed: Counter,
    pub bytes: Gauge,
    pub entries: Gauge,
    /// Hits answered by the shared tier (Redis), counted in `lookups.hit` too.
    pub remote_hits: Counter,
    /// Answers written to the shared tier.
    pub remote_fills: Counter,
    /// Shared-tier reads and writes that failed, timed out or were skipped (too many in flight).
    pub remote_errors: Counter,
    /// The semantic tier's figures (one set per data plane, the same in every shard's).
    pub semantic: OnceLock<Arc<Figures>>,
}

/// Lookups, by what the `x-warden-cache` header said.
#[derive(Default)]
pub struct Lookups {
    pub hit: Counter,
    pub miss: Counter,
    pub bypass: Counter,
    pub semantic: Counter,
}

/// Every shard's cache figures, summed.
pub fn render(out: &mut String, shards: &[&CacheMetrics]) {
    let sum = |f: &dyn Fn(&CacheMetrics) -> u64| shards.iter().map(|s| f(s)).sum::<u64>();
    let _ = writeln!(
        out,
        "# HELP warden_cache_lookups_total Requests of projects that cache, by what x-warden-cache said.\n# TYPE warden_cache_lookups_total counter"
    );
    for (result, n) in [
        ("hit", sum(&|m| m.lookups.hit.get())),
        ("miss", sum(&|m| m.lookups.miss.get())),
        ("bypass", sum(&|m| m.lookups.bypass.get())),
        ("semantic", sum(&|m| m.lookups.semantic.get())),
    ] {
        let _ = writeln!(out, "warden_cache_lookups_total{{result=\"{result}\"}} {n}");
    }
    for (name, help, n) in [
        (
            "warden_cache_fills_total",
            "Provider answers kept in the cache.",
            sum(&|m| m.fills.get()),
        ),
        (
            "warden_cache_evictions_total",
            "Cached answers dropped to make room (a shard's share of memory_mb, or a project's max_mb).",
            sum(&|m| m.evictions.get()),
        ),
        (
            "warden_cache_purged_total",
            "Cached answers dropped because their project turned its cache off, purged it or is gone.",
            sum(&|m| m.purged.get()),
        ),
        (
            "warden_cache_too_big_total",
            "Answers larger than [cache] max_entry_kb, not kept.",
            sum(&|m| m.too_big.get()),
        ),
        (
            "warden_cache_remote_hits_total",
            "Hits answered by the shared tier ([cache] redis_url), counted as hits too.",
            sum(&|m| m.remote_hits.get()),
        ),
        (
            "warden_cache_remote_fills_total",
            "Answers written to the shared tier.",
            sum(&|m| m.remote_fills.get()),
        ),
        (
            "warden_cache_remote_errors_total",
            "Shared-tier reads and writes that failed, timed out or were skipped (64 writes in flight per shard); a failed read is a miss.",
            sum(&|m| m.remote_errors.get()),
        ),
        (
            "warden_cache_offers_dropped_total",
            "Cached answers not shared with another shard because its inbox was full.",
            sum(&|m| m.offers_dropped.get()),
        ),
        (
            "warden_cache_reshaped_total",
            "Hits served in the other shape than kept: a kept stream as one body, or a kept body as a stream.",
            sum(&|m| m.reshaped.get()),
        ),
        (
            "warden_cache_reshape_failed_total",
            "Kept answers that could not be served in the other shape; those requests were misses.",
            sum(&|m| m.reshape_failed.get()),
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {n}");
    }
    let gauge = |f: &dyn Fn(&CacheMetrics) -> i64| shards.iter().map(|s| f(s)).sum::<i64>();
    for (name, help, n) in [
        (
            "warden_cache_bytes",
            "Bytes of cached answers held, over all shards (each shard keeps its own copy's accounting).",
            gauge(&|m| m.bytes.get()),
        ),
        (
            "warden_cache_entries",
            "Cached answers held, over all shards.",
            gauge(&|m| m.entries.get()),
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {n}");
    }
    if let Some(figures) = shards.first().and_then(|s| s.semantic.get()) {
        render_semantic(out, figures);
    }
}

/// The semantic tier: its index, its queue, and how long embedding and search take.
fn render_semantic(out: &mut String, f: &Figures) {
    let s = &f.stats;
    for (name, kind, help, n) in [
        (
            "warden_cache_semantic_entries",
            "gauge",
            "Questions in the semantic index.",
            s.entries.load(Relaxed).max(0) as u64,
        ),
        (
            "warden_cache_semantic_partitions",
            "gauge",
            "Partitions of the semantic index (project, model and conversation up to its last user turn).",
            s.partitions.load(Relaxed).max(0) as u64,
        ),
        (
            "warden_cache_semantic_evictions_total",
            "counter",
            "Questions dropped from the semantic index (a generation rolled over, or [cache] semantic_max_entries).",
            s.evictions.load(Relaxed),
        ),
        (
            "warden_cache_semantic_queue_full_total",
            "counter",
            "Semantic lookups (a miss) and fills (not indexed) refused because the workers' queue was full.",
            s.queue_full.load(Relaxed),
        ),
        (
            "warden_cache_semantic_timeouts_total",
            "counter",
            "Semantic lookups that missed [cache] semantic_timeout_ms (a miss).",
            s.timeouts.load(Relaxed),
        ),
        (
            "warden_cache_semantic_stale_total",
            "counter",
            "Semantic lookups dropped by a worker because the request had stopped waiting.",
            f.workers.iter().map(|w| w.stale.get()).sum(),
        ),
        (
            "warden_cache_semantic_panics_total",
            "counter",
            "Semantic jobs that panicked on a worker (a bug): dropped, the lookup a miss, the worker serving on.",
            f.workers.iter().map(|w| w.panics.get()).sum(),
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {n}");
    }
    let lookups: Vec<&Histogram> = f.workers.iter().map(|w| &w.lookup).collect();
    write_histogram(
        out,
        "warden_cache_semantic_lookup_seconds",
        "Embedding and index search of one semantic lookup, on a worker.",
        &lookups,
    );
    let inserts: Vec<&Histogram> = f.workers.iter().map(|w| &w.insert).collect();
    write_histogram(
        out,
        "warden_cache_semantic_insert_seconds",
        "Embedding and indexing of one filled answer's question, on a worker.",
        &inserts,
    );
}

/// What the semantic tier's workers count (`cache/semantic.rs`; each worker writes its own,
/// `/metrics` sums them).
#[derive(Default)]
pub struct WorkerMetrics {
    /// Embedding plus search, per lookup.
    pub lookup: Histogram,
    /// Embedding plus insertion, per fill.
    pub insert: Histogram,
    /// Lookups abandoned before a worker took them (the request had stopped waiting).
    pub stale: Counter,
    /// Jobs that panicked (a bug, or a text the tokenizer could not take): dropped.
    pub panics: Counter,
}

/// Figures every worker and shard share (written with atomic adds: off the shards or rare).
#[derive(Default)]
pub struct Stats {
    pub entries: AtomicI64,
    pub partitions: AtomicI64,
    pub evictions: AtomicU64,
    /// Lookups and fills refused because the queue was full.
    pub queue_full: AtomicU64,
    /// Lookups whose answer came after the deadline.
    pub timeouts: AtomicU64,
}

/// Every figure of the semantic tier, for `/metrics`.
pub struct Figures {
    pub workers: Vec<Arc<WorkerMetrics>>,
    pub stats: Stats,
}
