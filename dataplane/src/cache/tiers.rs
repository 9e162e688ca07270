//! The tiers behind a shard's own entries: the shared tier (Redis), asked after a local miss and
//! written in the background after a fill, and the semantic tier, asked after both missed.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{redis, Cache, Entry, Fill, Key, Plan, REMOTE_WRITES};

impl Cache {
    /// A local miss asked of the shared tier: its entry (kept here too) or still a miss. Redis
    /// being away or slow is a miss, counted.
    pub async fn remote_lookup(&self, plan: Plan) -> Plan {
        let Plan::Fill(fill) = &plan else {
            return plan;
        };
        if self.remote.is_none() || fill.refresh {
            return plan;
        }
        let entry = self.remote_entry(&fill.key, fill).await;
        match entry.and_then(|e| self.shaped(e, fill.shape)) {
            Some(entry) => Plan::Hit(entry),
            None => plan,
        }
    }

    /// `key`'s entry from the shared tier, if it is there, alive and the project's of `fill`;
    /// kept here too.
    async fn remote_entry(&self, key: &Key, fill: &Fill) -> Option<Arc<Entry>> {
        let remote = self.remote.as_ref()?;
        let found = match remote.get(key).await {
            Ok(found) => found,
            Err(_) => {
                self.metrics.remote_errors.inc();
                None
            }
        };
        let f = found.filter(|f| f.project == *fill.project)?;
        // Served until the earlier of its expiry and its fill plus the project's TTL as it is
        // now (by the filling data plane's clock; one a little ahead reads as age 0).
        let now_ms = redis::now_ms();
        let until = f
            .expires_ms
            .min(f.filled_ms.saturating_add(fill.ttl.as_millis() as u64));
        let left = Duration::from_millis(until.checked_sub(now_ms).filter(|ms| *ms > 0)?);
        let age = Duration::from_millis(now_ms.saturating_sub(f.filled_ms));
        let now = Instant::now();
        let entry = Arc::new(Entry {
            key: *key,
            project: Arc::clone(&fill.project),
            generation: fill.generation,
            event_stream: f.event_stream,
            body: f.body.into(),
            filled: now.checked_sub(age).unwrap_or(now),
            expires: now + left,
        });
        self.keep(
            &mut self.store.borrow_mut(),
            Arc::clone(&entry),
            fill.project_cap,
        );
        self.metrics.remote_hits.inc();
        Some(entry)
    }

    /// A miss in the exact tiers asked of the semantic tier: the answer to the closest question
    /// that means the same, from this shard or the shared tier, or still a miss.
    pub async fn semantic_lookup(&self, plan: Plan) -> Plan {
        let (Some(engine), Plan::Fill(fill)) = (&self.semantic, &plan) else {
            return plan;
        };
        let Some(ask) = fill.semantic.clone().filter(|_| !fill.refresh) else {
            return plan;
        };
        let Some(found) = engine.lookup(ask).await else {
            return plan;
        };
        let entry = match self.get(&found.key, &fill.project, fill.ttl) {
            Some(entry) => Some(entry),
            None => self.remote_entry(&found.key, fill).await,
        };
        match entry.and_then(|e| self.shaped(e, fill.shape)) {
            Some(entry) => Plan::Semantic(entry),
            None => plan,
        }
    }

    /// Keep `entry` in the shared tier too, in the background: the answer does not wait on it.
    pub(super) fn write_remote(
        &self,
        remote: &Rc<redis::Redis>,
        entry: &Arc<Entry>,
        ttl: Duration,
    ) {
        let inflight = &self.remote_writes;
        if inflight.get() >= REMOTE_WRITES {
            self.metrics.remote_errors.inc();
            return;
        }
        inflight.set(inflight.get() + 1);
        let (remote, entry, inflight) = (Rc::clone(remote), Arc::clone(entry), Rc::clone(inflight));
        let metrics = Arc::clone(&self.metrics);
        let filled_ms = redis::now_ms().saturating_sub(entry.filled.elapsed().as_millis() as u64);
        let expires_ms = filled_ms + ttl.as_millis() as u64;
        monoio::spawn(async move {
            let head = (entry.event_stream, filled_ms, expires_ms, &*entry.project);
            // The store's replies are network input: a panic ends this write, not the shard.
            let written = crate::isolate::caught(async {
                match remote.set(&entry.key, head, &entry.body).await {
                    Ok(()) => metrics.remote_fills.inc(),
                    Err(_) => metrics.remote_errors.inc(),
                }
            })
            .await;
            if written.is_err() {
                metrics.remote_errors.inc();
                tracing::error!("a write to the shared answer cache panicked: it was dropped");
            }
            inflight.set(inflight.get() - 1);
        });
    }
}
