//! The single-writer counter, gauge and histogram every shard (and the cache's workers) counts
//! with, and the Prometheus text form of a histogram summed over its writers.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// A counter with a single writer (its shard).
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A gauge with a single writer (its shard).
#[derive(Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    #[inline]
    pub fn add(&self, n: i64) {
        self.0.store(self.0.load(Relaxed) + n, Relaxed);
    }

    #[inline]
    pub fn set(&self, n: i64) {
        self.0.store(n, Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Relaxed)
    }
}

/// Upper bounds in microseconds; a last bucket catches the rest.
pub const BUCKETS_US: [u64; 21] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
    500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

#[derive(Default)]
pub struct Histogram {
    buckets: [Counter; BUCKETS_US.len() + 1],
    sum_us: Counter,
}

impl Histogram {
    #[inline]
    pub fn observe_us(&self, us: u64) {
        let i = BUCKETS_US
            .iter()
            .position(|b| us <= *b)
            .unwrap_or(BUCKETS_US.len());
        self.buckets[i].inc();
        self.sum_us.add(us);
    }
}

/// One histogram in Prometheus' text form: `parts` (one per writer) summed.
pub fn write_histogram(out: &mut String, name: &str, help: &str, parts: &[&Histogram]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    let mut cumulative = 0;
    for (i, bound) in BUCKETS_US.iter().map(Some).chain([None]).enumerate() {
        cumulative += parts.iter().map(|h| h.buckets[i].get()).sum::<u64>();
        match bound {
            Some(b) => {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{le=\"{}\"}} {cumulative}",
                    *b as f64 / 1e6
                );
            }
            None => {
                let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
            }
        }
    }
    let sum_us: u64 = parts.iter().map(|h| h.sum_us.get()).sum();
    let _ = writeln!(
        out,
        "{name}_sum {}\n{name}_count {cumulative}",
        sum_us as f64 / 1e6
    );
}
