//! A stream on its way into the cache: its bytes kept while they fit in an entry and in the
//! shard's bound for streams being recorded, given back however the stream ends.

use super::{Cache, Fill};

/// A stream's bytes on their way into the cache, counted against the shard's bound while they
/// last (released when dropped, however the stream ended).
pub struct Recording<'c> {
    cache: &'c Cache,
    fill: Option<Fill>,
    bytes: Vec<u8>,
}

impl<'c> Recording<'c> {
    pub(super) fn new(cache: &'c Cache, fill: Fill) -> Recording<'c> {
        Recording {
            cache,
            fill: Some(fill),
            bytes: Vec::new(),
        }
    }

    /// Add decoded stream bytes; past `max_entry` or the shard's bound for recordings, the
    /// recording is abandoned (the stream goes on, uncached).
    pub fn push(&mut self, data: &[u8]) {
        if self.fill.is_none() {
            return;
        }
        let c = self.cache;
        let total = c.recording.get() + data.len();
        if self.bytes.len() + data.len() > c.max_entry || total > c.recording_limit {
            c.metrics.too_big.inc();
            self.abandon();
            return;
        }
        c.recording.set(total);
        self.bytes.extend_from_slice(data);
    }

    /// Where it goes, while it is still being recorded.
    pub fn fill(&self) -> Option<&Fill> {
        self.fill.as_ref()
    }

    /// The stream ended cleanly: keep it.
    pub fn finish(mut self) {
        if let Some(fill) = self.fill.take() {
            self.cache.fill(fill, true, &self.bytes);
        }
    }

    fn abandon(&mut self) {
        self.fill = None;
        self.cache
            .recording
            .set(self.cache.recording.get() - self.bytes.len());
        self.bytes = Vec::new();
    }
}

impl Drop for Recording<'_> {
    fn drop(&mut self) {
        self.abandon();
    }
}
