//! Frees what the serving state lets go of on a thread of its own: the last holder of an old
//! snapshot's tables may be a shard, and a million keys' and a hundred thousand projects' worth
//! of frees there would stall its requests for tens of milliseconds.

use std::sync::{mpsc, OnceLock};

type Garbage = Box<dyn Send>;

/// The reaper's inbox (bounded: when it is full, a value is freed where it was dropped).
static INBOX: OnceLock<mpsc::SyncSender<Garbage>> = OnceLock::new();

/// Start the reaper thread, once (called where states are built, never on a shard).
pub fn start() {
    INBOX.get_or_init(|| {
        let (tx, rx) = mpsc::sync_channel::<Garbage>(8);
        let spawned = std::thread::Builder::new()
            .name("warden-reaper".into())
            .spawn(move || rx.into_iter().for_each(drop));
        if let Err(e) = spawned {
            tracing::warn!(
                "no reaper thread ({e}): old snapshots are freed where they are dropped"
            );
        }
        tx
    });
}

/// Free `value` on the reaper thread (here, if there is none or its inbox is full).
pub fn free<T: Send + 'static>(value: T) {
    if let Some(tx) = INBOX.get() {
        // Full or gone: the error hands the value back and it is freed here.
        let _ = tx.try_send(Box::new(value));
    }
}
