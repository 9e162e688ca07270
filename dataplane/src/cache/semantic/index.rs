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
//! Bounds: at most `max_entries` vectors over all partitions; past it, whole partitions go, least
//! recently used first. Memory per entry: the vector (`dim` f32s, stored once more inside a
//! graph), its key, its salient tokens, and up to 2·[`M`] graph links per layer.

use std::collections::{BTreeMap, HashMap};
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
    current: Generation,
    previous: Option<Generation>,
    /// When it was last used, in the index's clock (the key of its `lru` slot).
    used: u64,
}

pub struct Index {
    dim: usize,
    max_entries: usize,
    /// Entries per generation: half the bound, so one busy partition can use all of it.
    generation_max: usize,
    partitions: HashMap<[u8; 32], Partition>,
    lru: BTreeMap<u64, [u8; 32]>,
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
            (item.expires > now && item.salient == *salient).then_some(Found {
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
            lru: BTreeMap::new(),
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

    /// Keep `key`'s question under `partition`; returns the entries dropped to stay in bounds.
    pub fn insert(
        &mut self,
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
                current: Generation::new(now),
                previous: None,
                used: 0,
            });
        self.lru.remove(&p.used);
        p.used = clock;
        self.lru.insert(clock, partition);
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
        self.entries = self.entries + 1 - dropped;
        // Whole partitions, least recently used first, until the bound holds again (never the
        // one just written).
        while self.entries > self.max_entries {
            let Some((&used, &oldest)) = self.lru.iter().next() else {
                break;
            };
            if oldest == partition {
                break;
            }
            self.lru.remove(&used);
            if let Some(gone) = self.partitions.remove(&oldest) {
                let n = gone.current.items.len() + gone.previous.map_or(0, |g| g.items.len());
                self.entries -= n;
                dropped += n;
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let v: Vec<f32> = (0..dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2000) as f32 / 1000.0 - 1.0
            })
            .collect();
        let n = dot(&v, &v).sqrt();
        v.into_iter().map(|a| a / n).collect()
    }

    fn key(i: u64) -> Key {
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&i.to_le_bytes());
        Key(k)
    }

    const TTL: Duration = Duration::from_secs(60);

    #[test]
    fn finds_the_same_vector_in_its_partition_only() {
        let now = Instant::now();
        let mut index = Index::new(32, 10_000);
        let s = Salient::of("x");
        for i in 0..1000 {
            index.insert([1; 32], &unit(i, 32), s.clone(), key(i), TTL, now);
        }
        for i in [0, 1, 255, 256, 700, 999] {
            let found = index.find(&[1; 32], &unit(i, 32), &s, 0.99, now).unwrap();
            assert_eq!(found.key, key(i), "entry {i}");
            assert!(found.similarity > 0.999);
        }
        assert_eq!(index.find(&[2; 32], &unit(5, 32), &s, 0.5, now), None);
        // A different salient sequence is not the same question, however close.
        let other = Salient::of("x 7");
        assert_eq!(index.find(&[1; 32], &unit(5, 32), &other, 0.5, now), None);
        // Below the threshold: nothing.
        assert_eq!(index.find(&[1; 32], &unit(5000, 32), &s, 0.95, now), None);
    }

    #[test]
    fn expired_entries_are_not_found_and_generations_roll() {
        let now = Instant::now();
        let mut index = Index::new(16, 100);
        let s = Salient::default();
        index.insert([1; 32], &unit(1, 16), s.clone(), key(1), TTL, now);
        let later = now + TTL + Duration::from_secs(1);
        assert_eq!(index.find(&[1; 32], &unit(1, 16), &s, 0.9, later), None);
        // The next insert after a TTL starts a generation; the one after that drops the first.
        index.insert([1; 32], &unit(2, 16), s.clone(), key(2), TTL, later);
        assert_eq!(index.len(), 2);
        let much_later = later + TTL + Duration::from_secs(1);
        index.insert([1; 32], &unit(3, 16), s.clone(), key(3), TTL, much_later);
        assert_eq!(index.len(), 2);
        assert_eq!(
            index
                .find(&[1; 32], &unit(3, 16), &s, 0.9, much_later)
                .map(|f| f.key),
            Some(key(3))
        );
    }

    #[test]
    fn the_entry_bound_drops_least_recently_used_partitions() {
        let now = Instant::now();
        let mut index = Index::new(16, 10);
        let s = Salient::default();
        for p in 0..6u8 {
            for i in 0..2 {
                index.insert(
                    [p; 32],
                    &unit(u64::from(p) * 10 + i, 16),
                    s.clone(),
                    key(i),
                    TTL,
                    now,
                );
            }
        }
        assert!(index.len() <= 10, "{} entries", index.len());
        assert!(index.find(&[0; 32], &unit(0, 16), &s, 0.9, now).is_none());
        assert!(index.find(&[5; 32], &unit(50, 16), &s, 0.9, now).is_some());
        // One partition alone stays within the bound too.
        for i in 0..100 {
            index.insert([9; 32], &unit(1000 + i, 16), s.clone(), key(i), TTL, now);
        }
        assert!(index.len() <= 10, "{} entries", index.len());
    }
}
