//! The fleet's pace from the command line: time to first token, events per second and per
//! answer, jitter and an error rate, shared by every connection of the mock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A provider's timing, from the command line (`--ttft-ms`, `--events-per-s`, `--events`,
/// `--jitter-ms`, `--error-rate`), so the mock can stand in for a real provider's pace. A
/// request's `mock:` knobs override it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    /// Before the first event (streams) or the whole answer (non-stream, plus generation).
    pub ttft: Duration,
    /// Between events; a non-stream answer also waits `events` gaps (generation time).
    pub gap: Duration,
    /// Content events per answer (default 3).
    pub events: Option<usize>,
    /// Each wait is lengthened by a uniformly random amount up to this.
    pub jitter: Duration,
    /// Share of requests answered 503 (overloaded), in the request's dialect.
    pub error_rate: f64,
}

pub static TIMING: std::sync::OnceLock<Timing> = std::sync::OnceLock::new();

/// A uniform random number in [0, 1) (xorshift per thread; good enough for jitter and errors).
pub fn uniform() -> f64 {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1,
        );
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

pub fn jittered(base: Duration, jitter: Duration) -> Duration {
    base + jitter.mul_f64(uniform())
}
