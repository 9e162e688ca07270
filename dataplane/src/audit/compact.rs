//! The compactor thread: compresses each closed segment with zstd (about 5-6x on this log's
//! records), off the drain thread so that a shard's ring never waits on compression. The chain
//! is over the plain bytes, so a compressed segment verifies exactly as before.
//!
//! Bounded: closed segments wait in a queue of `QUEUE` paths; one that does not fit stays plain
//! until the next start, which queues every closed plain segment again.
//!
//! The thread runs under `SCHED_IDLE`: it only gets a core no shard wants, so compression never
//! takes throughput from requests (on a saturated host, segments stay plain until a lull).

#![allow(unsafe_code)]

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, SyncSender};

const QUEUE: usize = 64;

/// Start the compactor; send it the paths of closed segments.
pub fn spawn(level: i32) -> std::io::Result<(SyncSender<PathBuf>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = sync_channel::<PathBuf>(QUEUE);
    let handle = std::thread::Builder::new()
        .name("warden-audit-zstd".into())
        .spawn(move || {
            idle_priority();
            for path in rx {
                match warden_shared::audit::compress_segment(&path, level) {
                    Ok(Some(done)) => tracing::debug!("audit: compressed {}", done.display()),
                    Ok(None) => {}
                    Err(e) => tracing::warn!("audit: compressing {}: {e}", path.display()),
                }
            }
        })?;
    Ok((tx, handle))
}

/// Put the calling thread in the `SCHED_IDLE` class.
fn idle_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 names the calling thread; `param` is a valid sched_param for SCHED_IDLE.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if rc != 0 {
        tracing::debug!(
            "audit compactor stays at normal priority: {}",
            std::io::Error::last_os_error()
        );
    }
}
