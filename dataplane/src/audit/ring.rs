//! The shard's side of the audit path: a bounded lock-free ring (crossbeam `ArrayQueue`, one
//! producer — this shard — and one consumer — the drain thread), and the two ways to put an
//! entry in it: queue it, or commit it and wait until it is in the file.
//!
//! A full ring is waited on briefly (the drain thread may be mid-write), then refused: the
//! caller answers 503 and the rejection is counted. A failing disk is refused up front.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use futures_channel::oneshot;

use super::Entry;
use crate::error::{Error, Kind};

/// What travels through the ring.
pub struct Item {
    pub entry: Entry,
    /// Told whether the entry reached the file.
    pub done: Option<oneshot::Sender<bool>>,
}

/// State shared by the drain thread (its only writer) and the shards (readers).
#[derive(Default)]
pub struct Health {
    /// False while writing fails; shards refuse new requests meanwhile.
    pub healthy: AtomicBool,
    pub written: AtomicU64,
    pub failed: AtomicU64,
    pub syncs: AtomicU64,
}

pub struct Producer {
    ring: Arc<ArrayQueue<Item>>,
    drain: std::thread::Thread,
    health: Arc<Health>,
    full_wait: Duration,
}

impl Producer {
    pub fn new(
        ring: Arc<ArrayQueue<Item>>,
        drain: std::thread::Thread,
        health: Arc<Health>,
        full_wait: Duration,
    ) -> Producer {
        Producer {
            ring,
            drain,
            health,
            full_wait,
        }
    }

    pub fn healthy(&self) -> bool {
        self.health.healthy.load(Relaxed)
    }

    /// Queue an entry without waiting for the write.
    pub async fn push(&self, entry: Entry) -> Result<(), Error> {
        if !self.healthy() {
            return Err(unavailable());
        }
        self.enqueue(Item { entry, done: None }).await
    }

    /// Queue an entry and wait until it has been written to the segment file.
    pub async fn commit(&self, entry: Entry) -> Result<(), Error> {
        if !self.healthy() {
            return Err(unavailable());
        }
        let (tx, rx) = oneshot::channel();
        self.enqueue(Item {
            entry,
            done: Some(tx),
        })
        .await?;
        match rx.await {
            Ok(true) => Ok(()),
            _ => Err(unavailable()),
        }
    }

    async fn enqueue(&self, item: Item) -> Result<(), Error> {
        let mut item = item;
        let deadline = Instant::now() + self.full_wait;
        loop {
            match self.ring.push(item) {
                Ok(()) => {
                    self.drain.unpark();
                    return Ok(());
                }
                Err(back) if Instant::now() < deadline => {
                    item = back;
                    self.drain.unpark();
                    monoio::time::sleep(Duration::from_micros(100)).await;
                }
                Err(_) => {
                    return Err(Error::new(
                        Kind::AuditFull,
                        "the audit log is falling behind; retry shortly",
                    ))
                }
            }
        }
    }
}

fn unavailable() -> Error {
    Error::new(
        Kind::AuditUnavailable,
        "the audit log cannot be written; requests are refused until it can",
    )
}
