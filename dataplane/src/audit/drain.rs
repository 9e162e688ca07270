//! The drain thread: one for all shards. Every `group_commit_ms` (sooner when a shard finds its
//! ring a quarter full, or waits for `durability = "always"`) it copies what the rings published into
//! the writer, writes the batch with one `write`, and only then releases the rings' bytes, so a
//! crash at any point leaves every record either in the log or still in its ring.
//!
//! `batch` durability fdatasyncs every `group_commit_ms`; `always` fdatasyncs each batch and then
//! tells the shards waiting on it. When writing fails, nothing is released — the records stay in
//! their rings —, waiting shards are told (their clients get 503), the log is marked unhealthy
//! (shards refuse new requests), and the thread probes every half second by writing an `outage`
//! record followed by what the rings held; when that succeeds the log is healthy again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use warden_shared::audit::{Kind, Record};

use super::producer::Health;
use super::ring::{Corrupt, Ring};
use super::writer::Writer;
use super::{now_us, AuditConfig, Durability};

/// Most records copied in one pass.
const MAX_BATCH: usize = 4096;
const PROBE_EVERY: Duration = Duration::from_millis(500);
/// How often the drain looks at the filesystem's free space.
const DISK_EVERY: Duration = Duration::from_secs(1);

pub struct Drain {
    pub rings: Vec<Arc<Ring>>,
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
        .spawn(move || Pass::new(&drain).run(&mut writer, &config, &drain))
}

/// The drain's own bookkeeping between passes.
struct Pass {
    /// Per ring: copied into the writer up to here (ahead of the ring's tail until written).
    read: Vec<u64>,
    /// Per ring: shards waiting for an fdatasync, by the position their record ends at.
    waiting: Vec<VecDeque<(u64, oneshot::Sender<bool>)>>,
    last_sync: Instant,
    last_probe: Instant,
    last_disk: Option<Instant>,
}

impl Pass {
    fn new(d: &Drain) -> Pass {
        Pass {
            read: d.rings.iter().map(|r| r.tail()).collect(),
            waiting: d.rings.iter().map(|_| VecDeque::new()).collect(),
            last_sync: Instant::now(),
            last_probe: Instant::now(),
            last_disk: None,
        }
    }

    fn run(mut self, writer: &mut Writer, config: &AuditConfig, d: &Drain) {
        // How often the drain comes round when no shard wakes it: each round is a context switch
        // on a core a shard may be using, so it comes as seldom as the fdatasync schedule allows.
        let group_commit = Duration::from_millis(config.group_commit_ms.max(1));
        let always = config.durability == Durability::Always;
        loop {
            let healthy = d.health.healthy.load(Relaxed);
            let probing = !healthy && self.last_probe.elapsed() >= PROBE_EVERY;
            if probing {
                self.last_probe = Instant::now();
                writer.append(&Record {
                    kind: Kind::Outage,
                    at_us: now_us(),
                    count: Some(self.held(d)),
                    ..Record::default()
                });
            }
            let taken = if healthy || probing {
                self.copy(writer, d)
            } else {
                0
            };
            for (ring, waiting) in d.rings.iter().zip(&mut self.waiting) {
                while let Some(w) = ring.waiters.pop() {
                    waiting.push_back(w);
                }
            }
            if writer.pending() {
                let mut ok = writer.flush().is_ok();
                if ok && (always || probing) {
                    ok = writer.sync().is_ok();
                    d.health.syncs.fetch_add(1, Relaxed);
                    self.last_sync = Instant::now();
                }
                if ok {
                    for (ring, read) in d.rings.iter().zip(&self.read) {
                        ring.release(*read);
                    }
                    d.health.written.fetch_add(taken, Relaxed);
                    if probing {
                        tracing::info!("audit log writable again");
                        d.health.healthy.store(true, Relaxed);
                    }
                } else {
                    // Nothing was released: the records are still in their rings.
                    for (ring, read) in d.rings.iter().zip(&mut self.read) {
                        *read = ring.tail();
                    }
                    d.health.failed.fetch_add(taken, Relaxed);
                    self.unhealthy(d);
                }
            }
            self.answer_waiters(d);
            if writer.dirty() && self.last_sync.elapsed() >= group_commit {
                if writer.sync().is_err() {
                    self.unhealthy(d);
                }
                d.health.syncs.fetch_add(1, Relaxed);
                self.last_sync = Instant::now();
            }
            if writer.rotate_if_due().is_err() {
                self.unhealthy(d);
            }
            self.watch_disk(writer, d);
            if taken == 0 {
                if d.stop.load(Relaxed) && d.rings.iter().all(|r| r.pending() == 0) {
                    let _ = writer.sync();
                    return;
                }
                let wait = if writer.dirty() {
                    group_commit.saturating_sub(self.last_sync.elapsed())
                } else {
                    group_commit
                };
                std::thread::park_timeout(wait.clamp(Duration::from_micros(100), group_commit));
            }
        }
    }

    /// Copy what the rings published since the last pass into the writer.
    /// Each ring gets an equal share of a pass first, so a busy shard cannot starve the others;
    /// what a share leaves unused goes to whoever still has records.
    fn copy(&mut self, writer: &mut Writer, d: &Drain) -> u64 {
        let share = (MAX_BATCH / d.rings.len().max(1)).max(1) as u64;
        let mut taken = 0;
        for limit in [share, MAX_BATCH as u64] {
            for (ring, read) in d.rings.iter().zip(&mut self.read) {
                taken +=
                    Self::copy_ring(writer, d, ring, read, limit.min(MAX_BATCH as u64 - taken));
            }
        }
        taken
    }

    /// Copy up to `limit` records of one ring into the writer.
    fn copy_ring(writer: &mut Writer, d: &Drain, ring: &Ring, read: &mut u64, limit: u64) -> u64 {
        let head = ring.head();
        let mut taken = 0;
        while taken < limit {
            match ring.entry(*read, head) {
                Ok(Some(slot)) => {
                    writer.append_ring(slot.payload, ring.shard, slot.seq);
                    *read = slot.next;
                    taken += 1;
                }
                Ok(None) => break,
                Err(Corrupt(why)) => {
                    // Only memory corruption gets here: say so in the log and move on.
                    tracing::error!(shard = ring.shard, "audit ring unreadable: {why}");
                    writer.append(&Record {
                        kind: Kind::Recovery,
                        at_us: now_us(),
                        count: Some(head - *read),
                        ..Record::default()
                    });
                    d.health.failed.fetch_add(1, Relaxed);
                    *read = head;
                    break;
                }
            }
        }
        taken
    }

    /// Once a second: publish the filesystem's space and the log's size, and make room when
    /// free space is below `min_free_bytes` or `min_free_percent`.
    fn watch_disk(&mut self, writer: &mut Writer, d: &Drain) {
        if self.last_disk.is_some_and(|t| t.elapsed() < DISK_EVERY) {
            return;
        }
        self.last_disk = Some(Instant::now());
        let Ok(space) = super::disk::space(writer.dir()) else {
            return;
        };
        if writer.short_of_space(space) {
            if let Err(e) = writer.make_room() {
                tracing::error!("audit retention could not make room: {e}");
            }
        }
        let space = super::disk::space(writer.dir()).unwrap_or(space);
        d.health.disk_free.store(space.free, Relaxed);
        d.health.disk_total.store(space.total, Relaxed);
        let log: u64 = warden_shared::audit::segments(writer.dir())
            .unwrap_or_default()
            .iter()
            .map(|(_, p)| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum();
        d.health.log_bytes.store(log, Relaxed);
    }

    /// Records waiting in the rings (for the `outage` record).
    fn held(&self, d: &Drain) -> u64 {
        let mut n = 0;
        for (ring, read) in d.rings.iter().zip(&self.read) {
            let (mut pos, head) = (*read, ring.head());
            while let Ok(Some(slot)) = ring.entry(pos, head) {
                n += 1;
                pos = slot.next;
            }
        }
        n
    }

    fn unhealthy(&mut self, d: &Drain) {
        if d.health.healthy.swap(false, Relaxed) {
            tracing::error!("audit log write failed: refusing requests until it can be written");
            self.last_probe = Instant::now();
        }
    }

    /// `always`: records released (so written and fdatasync'ed) are durable; while the log is
    /// down, nobody waits.
    fn answer_waiters(&mut self, d: &Drain) {
        let healthy = d.health.healthy.load(Relaxed);
        for (ring, waiting) in d.rings.iter().zip(&mut self.waiting) {
            let durable = ring.tail();
            while let Some((end, _)) = waiting.front() {
                if healthy && *end > durable {
                    break;
                }
                if let Some((_, tx)) = waiting.pop_front() {
                    let _ = tx.send(healthy);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::audit::producer::Health;

    #[test]
    fn a_busy_shard_does_not_starve_the_others_in_a_pass() {
        let dir = std::env::temp_dir().join(format!("warden-drain-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = AuditConfig::default();
        let mut writer = Writer::open(&dir, &config, None).unwrap_or_else(|e| panic!("{e}"));
        let rings: Vec<Arc<Ring>> = (0..2)
            .map(|shard| Ring::open(&dir, shard, 4 << 20, 0).map(Arc::new))
            .collect::<std::io::Result<_>>()
            .unwrap_or_else(|e| panic!("{e}"));
        let put = |ring: &Ring, n: usize| {
            let seen = Cell::new(ring.tail());
            for _ in 0..n {
                assert!(ring.put(b"record", &seen).is_ok());
            }
        };
        put(&rings[0], MAX_BATCH + 500);
        put(&rings[1], 10);
        let d = Drain {
            health: Arc::new(Health::new(rings.clone(), 0)),
            rings,
            stop: Arc::new(AtomicBool::new(false)),
        };
        let mut pass = Pass::new(&d);
        assert_eq!(pass.copy(&mut writer, &d), MAX_BATCH as u64);
        let second = d.rings[1].head();
        assert_eq!(
            pass.read[1], second,
            "the quiet shard's records all went in"
        );
        assert_eq!(
            pass.copy(&mut writer, &d),
            510,
            "the rest of the busy one next"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
