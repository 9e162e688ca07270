//! Dropping the entries a new serving state no longer serves (`SharedState::cache_sweep`): those
//! of a project whose cache was turned off or purged, or that is gone. A few hundred at a time,
//! between the shard's requests.

use std::sync::Arc;
use std::time::Instant;

use super::Cache;

impl Cache {
    /// Drop the entries of projects the serving state no longer caches for: `(project, None)`
    /// all of them (the project is gone or its cache turned off), `(project, Some(g))` those
    /// of generations but `g` (it was purged). A few hundred at a time, letting the shard's
    /// requests go between: a project's hundred thousand entries never stall it.
    pub async fn sweep(&self, projects: &[(Arc<str>, Option<u32>)]) {
        const AT_ONCE: usize = 256;
        if projects.is_empty() {
            return;
        }
        // What other shards filled before they swapped is swept with the rest.
        self.take_offers(&mut self.store.borrow_mut(), Instant::now());
        for (project, keep) in projects {
            // The entries there now; those filled while the sweep goes on are newer.
            let mut left = self.store.borrow().entries_of(project);
            while left > 0 {
                let (walked, dropped) = {
                    let mut store = self.store.borrow_mut();
                    let done =
                        store.sweep(project, left.min(AT_ONCE), |e| Some(e.generation) != *keep);
                    self.metrics.bytes.set(store.bytes() as i64);
                    self.metrics.entries.set(store.len() as i64);
                    done
                };
                self.metrics.purged.add(dropped as u64);
                if walked == 0 {
                    break;
                }
                left = left.saturating_sub(walked);
                yield_now().await;
            }
        }
    }
}

/// Let the shard's other tasks run before going on.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}
