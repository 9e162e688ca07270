//! Per-shard keep-alive pool of provider connections, keyed by origin.
//!
//! Only connections whose last response was read completely go back in; a stream the client
//! abandoned, a response cut short, or an error never returns its connection. Bounded per origin;
//! connections idle past the timeout are closed when next looked at. Taking is LIFO so the
//! warmest connection is reused and the cold ones age out.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::io::UpstreamIo;
use crate::metrics::ShardMetrics;

/// A pooled connection and when it went idle.
type Idle = (UpstreamIo, Instant);

pub struct Pool {
    idle: RefCell<HashMap<Box<str>, Vec<Idle>>>,
    max_per_origin: usize,
    idle_timeout: Duration,
}

impl Pool {
    pub fn new(max_per_origin: usize, idle_timeout: Duration) -> Pool {
        Pool {
            idle: RefCell::new(HashMap::new()),
            max_per_origin,
            idle_timeout,
        }
    }

    pub fn take(&self, key: &str, metrics: &ShardMetrics) -> Option<UpstreamIo> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(key)?;
        while let Some((io, since)) = list.pop() {
            metrics.pool_idle.add(-1);
            if since.elapsed() < self.idle_timeout {
                return Some(io);
            }
        }
        None
    }

    pub fn put(&self, key: &str, io: UpstreamIo, metrics: &ShardMetrics) {
        let mut idle = self.idle.borrow_mut();
        if !idle.contains_key(key) {
            idle.insert(key.into(), Vec::with_capacity(self.max_per_origin.min(16)));
        }
        let Some(list) = idle.get_mut(key) else {
            return;
        };
        if list.len() >= self.max_per_origin {
            // Drop the oldest: it is the likeliest to be closed by the provider already.
            list.remove(0);
            metrics.pool_idle.add(-1);
        }
        list.push((io, Instant::now()));
        metrics.pool_idle.add(1);
    }
}
