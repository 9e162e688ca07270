//! The shard's end of its audit ring: encode the request's entry, put it in the ring, and — only
//! when the ring is full (up to `full_wait_us`) or `durability = "always"` — wait. Also the
//! health the drain thread publishes for the shards and the admin listener.
//!
//! Invariants: no record is dropped silently — a full ring is waited on for `full_wait_us`, then
//! refused (the caller answers 503 and counts it); a failing disk is refused up front. The shard
//! never blocks: the drain is woken only when the ring is a quarter full (otherwise it comes
//! round by itself every `group_commit_ms`).

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_channel::oneshot;

use super::ring::{PutError, Ring};
use super::{now_us, Durability, Entry};
use crate::error::{Error, Kind};

/// State shared by the drain thread (its writer) and the shards and admin listener (readers).
pub struct Health {
    /// False while writing fails; shards refuse new requests meanwhile.
    pub healthy: AtomicBool,
    pub written: AtomicU64,
    /// Records whose write failed (they stay in their ring and are written once the disk is back).
    pub failed: AtomicU64,
    pub syncs: AtomicU64,
    /// Every shard's ring, for the pending-bytes gauge.
    pub rings: Vec<Arc<Ring>>,
    /// The audit filesystem's free and total bytes, as the drain last looked (once a second).
    pub disk_free: AtomicU64,
    pub disk_total: AtomicU64,
    /// Bytes of all segment files.
    pub log_bytes: AtomicU64,
    /// `warn_free_percent` from the config.
    pub warn_free_percent: u64,
}

impl Health {
    pub fn new(rings: Vec<Arc<Ring>>, warn_free_percent: u64) -> Health {
        Health {
            healthy: AtomicBool::new(true),
            written: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            rings,
            disk_free: AtomicU64::new(0),
            disk_total: AtomicU64::new(0),
            log_bytes: AtomicU64::new(0),
            warn_free_percent,
        }
    }

    /// The filesystem as the drain last saw it.
    pub fn space(&self) -> super::disk::Space {
        super::disk::Space {
            free: self.disk_free.load(Ordering::Relaxed),
            total: self.disk_total.load(Ordering::Relaxed),
        }
    }

    /// Whether free space is below `warn_free_percent`.
    pub fn disk_low(&self) -> bool {
        let s = self.space();
        s.total > 0 && s.free_percent() < self.warn_free_percent
    }

    /// Bytes the shards have published that are not in the log yet.
    pub fn pending_bytes(&self) -> u64 {
        self.rings.iter().map(|r| r.pending()).sum()
    }
}

/// The outcome of [`Producer::put`], finished by [`Producer::settle`].
#[must_use]
pub enum Put {
    /// In the ring, ending at this position.
    Done(u64),
    /// The ring was full: these bytes still have to go in.
    Full(Vec<u8>),
    TooLarge,
    Unhealthy,
    /// Auditing is off.
    Off,
}

/// A shard's end of its ring.
pub struct Producer {
    ring: Arc<Ring>,
    drain: std::thread::Thread,
    health: Arc<Health>,
    full_wait: Duration,
    durability: Durability,
    /// The record being encoded; used only between two awaits, never across one.
    scratch: RefCell<Vec<u8>>,
    tail_seen: Cell<u64>,
}

impl Producer {
    pub fn new(
        ring: Arc<Ring>,
        drain: std::thread::Thread,
        health: Arc<Health>,
        full_wait: Duration,
        durability: Durability,
    ) -> Producer {
        let tail_seen = Cell::new(ring.tail());
        Producer {
            ring,
            drain,
            health,
            full_wait,
            durability,
            scratch: RefCell::new(Vec::with_capacity(1024)),
            tail_seen,
        }
    }

    pub fn healthy(&self) -> bool {
        self.health.healthy.load(Ordering::Relaxed)
    }

    /// Encode `entry` and put it in the ring, without waiting for anything.
    pub fn put(&self, entry: &Entry) -> Put {
        if !self.healthy() {
            return Put::Unhealthy;
        }
        let mut scratch = self.scratch.borrow_mut();
        scratch.clear();
        entry.encode(now_us(), &mut scratch);
        match self.ring.put(&scratch, &self.tail_seen) {
            Ok(end) => {
                self.wake_if_filling(end);
                Put::Done(end)
            }
            Err(PutError::Full) => Put::Full(scratch.clone()),
            Err(PutError::TooLarge) => Put::TooLarge,
        }
    }

    /// Finish a [`put`](Self::put): wait for room when the ring was full (up to `full_wait_us`),
    /// and, when `durable` and `durability = "always"`, until the record is fdatasync'ed.
    pub async fn settle(&self, put: Put, durable: bool) -> Result<(), Error> {
        let end = match put {
            Put::Off => return Ok(()),
            Put::Done(end) => end,
            // Boxed: its timer makes a large, 128-byte-aligned future that every request's own
            // future would otherwise carry; only a request that meets a full ring pays for it.
            Put::Full(bytes) => Box::pin(self.wait_for_room(&bytes)).await?,
            Put::TooLarge => return Err(full()),
            Put::Unhealthy => return Err(unavailable()),
        };
        if !durable || self.durability != Durability::Always {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        if self.ring.waiters.push((end, tx)).is_err() {
            return Err(full());
        }
        self.drain.unpark();
        match rx.await {
            Ok(true) => Ok(()),
            _ => Err(unavailable()),
        }
    }

    async fn wait_for_room(&self, bytes: &[u8]) -> Result<u64, Error> {
        let deadline = Instant::now() + self.full_wait;
        loop {
            self.drain.unpark();
            if Instant::now() >= deadline {
                return Err(full());
            }
            monoio::time::sleep(Duration::from_micros(100)).await;
            if !self.healthy() {
                return Err(unavailable());
            }
            match self.ring.put(bytes, &self.tail_seen) {
                Ok(end) => return Ok(end),
                Err(PutError::Full) => {}
                Err(PutError::TooLarge) => return Err(full()),
            }
        }
    }

    /// Wake the drain early when the ring is a quarter full; otherwise it comes round by itself.
    fn wake_if_filling(&self, end: u64) {
        let quarter = self.ring.capacity() / 4;
        if end - self.tail_seen.get() > quarter {
            self.tail_seen.set(self.ring.tail());
            if end - self.tail_seen.get() > quarter {
                self.drain.unpark();
            }
        }
        if self.durability == Durability::Always {
            self.drain.unpark();
        }
    }
}

fn full() -> Error {
    Error::new(
        Kind::AuditFull,
        "the audit log is falling behind; retry shortly",
    )
}

fn unavailable() -> Error {
    Error::new(
        Kind::AuditUnavailable,
        "the audit log cannot be written; requests are refused until it can",
    )
}
