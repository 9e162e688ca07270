//! The answer cache's figures (see `cache.rs`): lookups by result, fills, evictions, and what
//! each shard holds. One writer per shard, summed when scraped.

use std::fmt::Write;

use super::{Counter, Gauge};

#[derive(Default)]
pub struct CacheMetrics {
    pub lookups: Lookups,
    /// Answers kept after a miss (or a `no-cache` refresh).
    pub fills: Counter,
    /// Entries dropped to make room (the shard's budget or the project's cap).
    pub evictions: Counter,
    /// Answers over `[cache] max_entry_kb`, not kept.
    pub too_big: Counter,
    /// Fills not offered to another shard because its inbox was full.
    pub offers_dropped: Counter,
    pub bytes: Gauge,
    pub entries: Gauge,
}

/// Lookups, by what the `x-warden-cache` header said.
#[derive(Default)]
pub struct Lookups {
    pub hit: Counter,
    pub miss: Counter,
    pub bypass: Counter,
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
            "warden_cache_too_big_total",
            "Answers larger than [cache] max_entry_kb, not kept.",
            sum(&|m| m.too_big.get()),
        ),
        (
            "warden_cache_offers_dropped_total",
            "Cached answers not shared with another shard because its inbox was full.",
            sum(&|m| m.offers_dropped.get()),
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
}
