//! The drain thread: one for all shards. It empties every shard's ring into the writer, writes
//! each batch with one `write`, makes it durable per the durability mode, and then tells the
//! waiting shards.
//!
//! `batch` durability acknowledges once the batch is in the file (kill -9 safe) and fdatasyncs
//! every `group_commit_ms`; `always` fdatasyncs before acknowledging (power-loss safe).
//! When writing fails, every waiting shard is told (their clients get 503), the log is marked
//! unhealthy (shards refuse new requests), and the thread probes every half second by writing
//! an `outage` record; when that succeeds the log is healthy again and the outage is on record.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use futures_channel::oneshot;
use warden_shared::audit::{Kind, Record};

use super::ring::{Health, Item};
use super::writer::Writer;
use super::{now_us, AuditConfig, Durability};

/// Most records written in one batch.
const MAX_BATCH: usize = 4096;
const PROBE_EVERY: Duration = Duration::from_millis(500);

pub struct Drain {
    pub rings: Vec<Arc<ArrayQueue<Item>>>,
    pub health: Arc<Health>,
    /// Set at shutdown, after the shards have drained: write what is left and stop.
    pub stop: Arc<AtomicBool>,
}

pub fn spawn(
    mut writer: Writer,
    config: AuditConfig,
    drain: Drain,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    drain.health.healthy.store(true, Relaxed);
    std::thread::Builder::new()
        .name("warden-audit".into())
        .spawn(move || run(&mut writer, &config, &drain))
}

fn run(writer: &mut Writer, config: &AuditConfig, d: &Drain) {
    let group_commit = Duration::from_millis(config.group_commit_ms.max(1));
    let mut waiters: Vec<oneshot::Sender<bool>> = Vec::with_capacity(MAX_BATCH);
    let mut last_sync = Instant::now();
    let mut failed_since_outage: u64 = 0;
    let mut last_probe = Instant::now();
    loop {
        let mut taken = 0;
        let mut appended: u64 = 0;
        for ring in &d.rings {
            while taken < MAX_BATCH {
                let Some(item) = ring.pop() else { break };
                taken += 1;
                if d.health.healthy.load(Relaxed) {
                    let at = now_us();
                    writer.append_with(|json| item.entry.write_json(at, json));
                    appended += 1;
                    if let Some(done) = item.done {
                        waiters.push(done);
                    }
                } else {
                    // Queued before the outage was noticed: it cannot be written now.
                    failed_since_outage += 1;
                    d.health.failed.fetch_add(1, Relaxed);
                    if let Some(done) = item.done {
                        let _ = done.send(false);
                    }
                }
            }
        }
        if writer.pending() {
            let count = appended;
            let mut ok = writer.flush().is_ok();
            if ok && config.durability == Durability::Always {
                ok = writer.sync().is_ok();
                d.health.syncs.fetch_add(1, Relaxed);
                last_sync = Instant::now();
            }
            if ok {
                d.health.written.fetch_add(count, Relaxed);
            } else {
                tracing::error!(
                    "audit log write failed: refusing requests until it can be written again"
                );
                d.health.healthy.store(false, Relaxed);
                d.health.failed.fetch_add(count, Relaxed);
                failed_since_outage += count;
                last_probe = Instant::now();
            }
            for w in waiters.drain(..) {
                let _ = w.send(ok);
            }
        }
        if writer.dirty() && last_sync.elapsed() >= group_commit {
            if writer.sync().is_err() {
                d.health.healthy.store(false, Relaxed);
            }
            d.health.syncs.fetch_add(1, Relaxed);
            last_sync = Instant::now();
        }
        if !d.health.healthy.load(Relaxed) && last_probe.elapsed() >= PROBE_EVERY {
            last_probe = Instant::now();
            writer.append(&Record {
                kind: Kind::Outage,
                at_us: now_us(),
                count: Some(failed_since_outage),
                ..Record::default()
            });
            if writer.flush().is_ok() && writer.sync().is_ok() {
                tracing::info!(failed = failed_since_outage, "audit log writable again");
                failed_since_outage = 0;
                d.health.healthy.store(true, Relaxed);
            }
        }
        if taken == 0 {
            if d.stop.load(Relaxed) && d.rings.iter().all(|r| r.is_empty()) {
                let _ = writer.sync();
                return;
            }
            let wait = if writer.dirty() {
                group_commit.saturating_sub(last_sync.elapsed())
            } else {
                Duration::from_millis(50)
            };
            std::thread::park_timeout(wait.max(Duration::from_micros(100)));
        }
    }
}
