//! The semantic index: for each partition (one project, one provider and model, one
//! conversation up to its last user turn — see `query.rs`), the embeddings of the last user turns
//! whose answers are in the cache, each pointing at its exact-cache key.
//!
//! A partition starts as a flat list (a few hundred vectors are searched exactly in
//! microseconds) and becomes an HNSW graph (`hnsw_rs`) past [`FLAT_MAX`] entries. Graphs do not
//! delete, so a partition keeps two generations: new entries go into the current one; when it
//! is full or older than the entries' time to live it becomes the previous one, and the previous
//! one is dropped whole. An entry past its expiry is never returned.
//!
//! Bounds: at most `max_entries` vectors over all partitions; past it, whole partitions go: the
//! least recently used one of the project that holds the most entries. A busy project evicts its
//! own entries before a quiet one loses any (max-min fair shares), so one tenant's flood cannot
//! empty another's semantic cache. Memory per entry: the vector (`dim` f32s, stored once more inside a
//! graph), its key, its salient tokens, and up to 2·[`M`] graph links per layer.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hnsw_rs::prelude::{Distance, Hnsw};

use super::salient::Salient;
use crate::cache::Key;

/// Entries kept as a flat list before a partition builds a graph.
pub const FLAT_MAX: usize = 256;
/// Graph links per node and layer (layer 0 has twice as many).
pub const M: usize = 12;
const EF_CONSTRUCTION: usize = 40;
const EF_SEARCH: usize = 48;
/// Nearest neighbours a graph search returns, checked in order.
const K: usize = 8;
const MAX_LAYER: usize = 16;

/// 1 − cosine, for unit vectors; never below zero (rounding cannot make it panic).
#[derive(Default, Clone, Copy)]
pub struct Angular;

impl Distance<f32> for Angular {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight lanes, so the compiler vectorises it.
    let mut acc = [0f32; 8];
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// What a found entry says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub key: Key,
    pub similarity: f32,
}

struct Item {
    key: Key,
    salient: Salient,
    expires: Instant,
}

/// One generation of a partition.
struct Generation {
    born: Instant,
    items: Vec<Item>,
    /// The vectors, `dim` each, while the generation is flat.
    flat: Vec<f32>,
    graph: Option<Hnsw<'static, f32, Angular>>,
}

struct Partition {
    /// The project it belongs to (its key is a salted hash of the project among other things,
    /// so it never changes hands).
    project: Arc<str>,
    current: Generation,
    previous: Option<Generation>,
    /// When it was last used, in the index's clock (the key of its project's `lru` slot).
    used: u64,
}

impl Partition {
    fn len(&self) -> usize {
        self.current.items.len() + self.previous.as_ref().map_or(0, |g| g.items.len())
    }
}

/// One project's part of the index.
#[derive(Default)]
struct Share {
    entries: usize,
    /// Its partitions by last use.
    lru: BTreeMap<u64, [u8; 32]>,
}

pub struct Index {
    dim: usize,
    max_entries: usize,
    /// Entries per generation: half the bound, so one busy partition can use all of it.
    generation_max: usize,
    partitions: HashMap<[u8; 32], Partition>,
    projects: HashMap<Arc<str>, Share>,
    clock: u64,
    entries: usize,
}

impl Generation {
    fn new(now: Instant) -> Generation {
        Generation {
            born: now,
            items: Vec::new(),
            flat: Vec::new(),
            graph: None,
        }
    }

    fn insert(&mut self, vector: &[f32], item: Item) {
        let id = self.items.len();
        self.items.push(item);
        match &self.graph {
            Some(g) => g.insert_slice((vector, id)),
            None if self.items.len() <= FLAT_MAX => self.flat.extend_from_slice(vector),
            None => {
                // The size is a hint for the first allocations; the graph grows past it.
                let g = Hnsw::new(M, FLAT_MAX * 4, MAX_LAYER, EF_CONSTRUCTION, Angular);
                let dim = vector.len();
                for (i, v) in self.flat.chunks_exact(dim).enumerate() {
                    g.insert_slice((v, i));
                }
                g.insert_slice((vector, id));
                self.flat = Vec::new();
                self.graph = Some(g);
            }
        }
    }

    /// Candidates at or above `threshold`, best first.
    fn candidates(&self, vector: &[f32], threshold: f32, out: &mut Vec<(f32, usize)>) {
        out.clear();
        match &self.graph {
            None => {
                for (i, v) in self.flat.chunks_exact(vector.len()).enumerate() {
                    let s = dot(vector, v);
                    if s >= threshold {
                        out.push((s, i));
                    }
                }
            }
            Some(g) => {
                for n in g.search(vector, K, EF_SEARCH) {
                    let s = 1.0 - n.distance;
                    if s >= threshold {
                        out.push((s, n.d_id));
                    }
                }
            }
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0));
    }

    fn find(
        &self,
        vector: &[f32],
        salient: &Salient,
        threshold: f32,
        now: Instant,
    ) -> Option<Found> {
        let mut candidates = Vec::new();
        self.candidates(vector, threshold, &mut candidates);
        candidates.into_iter().find_map(|(similarity, i)| {
            let item = self.items.get(i)?;
            (item.expires > now && item.salient.matches(salient)).then_some(Found {
                key: item.key,
                similarity,
            })
        })
    }
}

impl Index {
    pub fn new(dim: usize, max_entries: usize) -> Index {
        Index {
            dim,
            max_entries: max_entries.max(2),
            generation_max: (max_entries / 2).max(1),
            partitions: HashMap::new(),
            projects: HashMap::new(),
            clock: 0,
            entries: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub fn partitions(&self) -> usize {
        self.partitions.len()
    }

    /// The closest live entry of `partition` at or above `threshold` with the same salient
    /// tokens.
    pub fn find(
        &self,
        partition: &[u8; 32],
        vector: &[f32],
        salient: &Salient,
        threshold: f32,
        now: Instant,
    ) -> Option<Found> {
        debug_assert_eq!(vector.len(), self.dim);
        let p = self.partitions.get(partition)?;
        let a = p.current.find(vector, salient, threshold, now);
        let b = p
            .previous
            .as_ref()
            .and_then(|g| g.find(vector, salient, threshold, now));
        match (a, b) {
            (Some(a), Some(b)) if b.similarity > a.similarity => Some(b),
            (a, b) => a.or(b),
        }
    }

    /// Entries `project` holds.
    pub fn entries_of(&self, project: &str) -> usize {
        self.projects.get(project).map_or(0, |s| s.entries)
    }

    /// Drop every partition of `project` (its cache was turned off or purged, or it is gone);
    /// returns the entries dropped.
    pub fn forget(&mut self, project: &str) -> usize {
        let Some(share) = self.projects.remove(project) else {
            return 0;
        };
        for partition in share.lru.values() {
            self.partitions.remove(partition);
        }
        self.entries -= share.entries;
        share.entries
    }

    /// Keep `key`'s question under `project`'s `partition`; returns the entries dropped to stay
    /// in bounds.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        project: &Arc<str>,
        partition: [u8; 32],
        vector: &[f32],
        salient: Salient,
        key: Key,
        ttl: Duration,
        now: Instant,
    ) -> usize {
        debug_assert_eq!(vector.len(), self.dim);
        self.clock += 1;
        let clock = self.clock;
        let generation_max = self.generation_max;
        let p = self
            .partitions
            .entry(partition)
            .or_insert_with(|| Partition {
                project: Arc::clone(project),
                current: Generation::new(now),
                previous: None,
                used: 0,
            });
        let share = self.projects.entry(Arc::clone(&p.project)).or_default();
        share.lru.remove(&p.used);
        p.used = clock;
        share.lru.insert(clock, partition);
        let mut dropped = 0;
        if p.current.items.len() >= generation_max || now.duration_since(p.current.born) >= ttl {
            let old = std::mem::replace(&mut p.current, Generation::new(now));
            if let Some(gone) = p.previous.replace(old) {
                dropped += gone.items.len();
            }
        }
        p.current.insert(
            vector,
            Item {
                key,
                salient,
                expires: now + ttl,
            },
        );
        share.entries = share.entries + 1 - dropped;
        self.entries = self.entries + 1 - dropped;
        while self.entries > self.max_entries {
            match self.evict_one(&partition) {
                Some(n) => dropped += n,
                None => break,
            }
        }
        dropped
    }

    /// Make room: the least recently used partition of the project holding the most entries —
    /// never the partition being written (`written`); if that is all its project has, that
    /// partition's previous generation. Then the other projects, should the biggest have nothing
    /// to give. Returns the entries dropped; `None` when nothing can go.
    fn evict_one(&mut self, written: &[u8; 32]) -> Option<usize> {
        let biggest = self
            .projects
            .iter()
            .max_by_key(|(_, s)| s.entries)
            .map(|(p, _)| Arc::clone(p))?;
        if let Some(n) = self.evict_from(&biggest, written) {
            return Some(n);
        }
        let others: Vec<Arc<str>> = self
            .projects
            .keys()
            .filter(|p| **p != biggest)
            .cloned()
            .collect();
        others.iter().find_map(|p| self.evict_from(p, written))
    }

    fn evict_from(&mut self, project: &Arc<str>, written: &[u8; 32]) -> Option<usize> {
        let share = self.projects.get_mut(project)?;
        let oldest = share
            .lru
            .iter()
            .find(|(_, p)| *p != written)
            .map(|(&used, &p)| (used, p));
        let n = match oldest {
            Some((used, victim)) => {
                share.lru.remove(&used);
                self.partitions.remove(&victim).map_or(0, |gone| gone.len())
            }
            None => {
                let p = self
                    .partitions
                    .get_mut(written)
                    .filter(|p| p.project == *project)?;
                p.previous.take()?.items.len()
            }
        };
        share.entries -= n;
        self.entries -= n;
        if share.lru.is_empty() {
            self.projects.remove(project);
        }
        Some(n)
    }
}

#[cfg(test)]
mod tests;
