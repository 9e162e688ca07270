//! Per-shard circuit breakers and retry-after cool-downs for provider keys: which keys a
//! request's attempts pass over for now (see `proxy/attempt.rs`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Per-shard circuit breakers and retry-after cool-downs, by provider key id. No lock: each
/// shard learns about a failing key on its own.
#[derive(Default)]
pub struct Breakers {
    keys: RefCell<HashMap<Arc<str>, Breaker>>,
}

#[derive(Default)]
struct Breaker {
    failures: u32,
    /// Passed over until then.
    open_until: Option<Instant>,
    /// A probe is in flight after the open period ended.
    probing: bool,
}

/// The most keys a shard tracks; closed breakers are forgotten first when it fills up.
const MAX_TRACKED: usize = 10_000;

impl Breakers {
    /// Whether a request may try `key` now (an open breaker whose time is up lets one probe
    /// through).
    pub fn allows(&self, key: &Arc<str>, now: Instant) -> bool {
        let mut keys = self.keys.borrow_mut();
        let Some(b) = keys.get_mut(key) else {
            return true;
        };
        match b.open_until {
            Some(t) if now < t => false,
            Some(_) if b.probing => false,
            Some(_) => {
                b.probing = true;
                true
            }
            None => true,
        }
    }

    pub fn success(&self, key: &Arc<str>) {
        self.keys.borrow_mut().remove(key);
    }

    /// A failed attempt; `cool_down` (a 429's retry-after) keeps the key aside at least that long.
    pub fn failure(
        &self,
        key: &Arc<str>,
        now: Instant,
        threshold: u32,
        open_for: Duration,
        cool_down: Option<Duration>,
    ) {
        let mut keys = self.keys.borrow_mut();
        if keys.len() >= MAX_TRACKED && !keys.contains_key(key) {
            keys.retain(|_, b| b.open_until.is_some());
            if keys.len() >= MAX_TRACKED {
                return;
            }
        }
        let b = keys.entry(Arc::clone(key)).or_default();
        b.failures += 1;
        let mut until = b.open_until.filter(|_| !b.probing);
        if b.probing || b.failures >= threshold {
            until = Some(now + open_for);
        }
        if let Some(d) = cool_down {
            until = Some(until.map_or(now + d, |u| u.max(now + d)));
        }
        b.open_until = until;
        b.probing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breaker_opens_after_the_threshold_and_lets_one_probe_through() {
        let b = Breakers::default();
        let key: Arc<str> = Arc::from("pk_1");
        let t0 = Instant::now();
        let open = Duration::from_secs(30);
        for _ in 0..2 {
            assert!(b.allows(&key, t0));
            b.failure(&key, t0, 3, open, None);
        }
        assert!(b.allows(&key, t0), "two failures of three: still closed");
        b.failure(&key, t0, 3, open, None);
        assert!(!b.allows(&key, t0 + Duration::from_secs(29)), "open");
        let later = t0 + Duration::from_secs(31);
        assert!(b.allows(&key, later), "one probe after the open period");
        assert!(!b.allows(&key, later), "only one");
        b.failure(&key, later, 3, open, None);
        assert!(
            !b.allows(&key, later + Duration::from_secs(1)),
            "a failed probe reopens"
        );
        let much_later = later + Duration::from_secs(31);
        assert!(b.allows(&key, much_later));
        b.success(&key);
        assert!(
            b.allows(&key, much_later) && b.allows(&key, much_later),
            "closed again"
        );
    }

    #[test]
    fn a_retry_after_cools_a_key_down_for_that_long() {
        let b = Breakers::default();
        let key: Arc<str> = Arc::from("pk_2");
        let t0 = Instant::now();
        b.failure(
            &key,
            t0,
            5,
            Duration::from_secs(30),
            Some(Duration::from_secs(2)),
        );
        assert!(!b.allows(&key, t0 + Duration::from_secs(1)));
        assert!(b.allows(&key, t0 + Duration::from_secs(3)));
    }
}
