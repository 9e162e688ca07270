//! The Warden-key table: every key in one flat array in snapshot order, found through an
//! open-addressing index of the digest's bits, with every key id in one string beside it.
//!
//! Sized for a million keys: no allocation per key (built in one pass that writes the entries in
//! order and a slot each into an index a quarter of their size; freed with three frees), 44 bytes
//! per key plus its id's bytes plus 16 to 32 bytes of index (two to four 8-byte slots per key,
//! the table at most half full), and a lookup touches one or two slots and the one entry whose
//! tag matches. The digests are SHA-256 (HMAC-SHA256 under the snapshot's secret) of keys the
//! control plane generated, so their bits are uniform and the probe runs stay short; nobody on the
//! network chooses what is in the table.

use std::collections::HashMap;

/// One key: its digest, where its id lies in `KeyTable::ids`, and its project's index.
#[derive(Clone, Copy)]
struct Entry {
    digest: [u8; 32],
    id_at: u32,
    id_len: u32,
    project: u32,
}

/// A key found by its digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiKeyRef<'s> {
    /// Safe to log and audit.
    pub id: &'s str,
    /// The index of its project in the serving state.
    pub project: usize,
}

#[derive(Default)]
pub struct KeyTable {
    /// In snapshot order.
    entries: Vec<Entry>,
    /// Open addressing, linear probing: 0 is empty, else the entry's index + 1 in the low 32
    /// bits and a tag (digest bytes 8..12) in the high 32, so that a probe reads an entry only
    /// when its tag matches.
    slots: Vec<u64>,
    ids: String,
    /// The snapshot's project ids to their indexes (what a delta names projects by).
    projects: ProjectIndex,
}

impl KeyTable {
    /// A table of `keys` (digest, id, project index). Refused: more than `u32::MAX - 1` keys or
    /// id bytes.
    pub fn build<'a>(
        keys: impl ExactSizeIterator<Item = ([u8; 32], &'a str, u32)>,
    ) -> Result<KeyTable, String> {
        let n = keys.len();
        if u32::try_from(n).map_or(true, |n| n == u32::MAX) {
            return Err(format!("{n} API keys: more than this data plane indexes"));
        }
        let mask = (2 * n).next_power_of_two().max(16) - 1;
        let mut slots = vec![0u64; mask + 1];
        let mut entries = Vec::with_capacity(n);
        let mut ids = String::new();
        for ((digest, id, project), at) in keys.zip(1u64..) {
            let (id_at, id_len) = (u32::try_from(ids.len()), u32::try_from(id.len()));
            let (Ok(id_at), Ok(id_len)) = (id_at, id_len) else {
                return Err("API key ids: more bytes than this data plane indexes".into());
            };
            ids.push_str(id);
            let (mut s, tag) = place(&digest, mask);
            while slots[s] != 0 {
                s = (s + 1) & mask;
            }
            slots[s] = tag | at;
            entries.push(Entry {
                digest,
                id_at,
                id_len,
                project,
            });
        }
        ids.shrink_to_fit();
        Ok(KeyTable {
            entries,
            slots,
            ids,
            projects: ProjectIndex::default(),
        })
    }

    /// The key whose digest is `digest` (the first, should the snapshot name one twice).
    pub fn get(&self, digest: &[u8; 32]) -> Option<ApiKeyRef<'_>> {
        let mask = self.slots.len().checked_sub(1)?;
        let (mut s, tag) = place(digest, mask);
        loop {
            let slot = *self.slots.get(s)?;
            if slot == 0 {
                return None;
            }
            if slot & !0xffff_ffff == tag {
                let e = self.entries.get((slot & 0xffff_ffff) as usize - 1)?;
                if e.digest == *digest {
                    return Some(ApiKeyRef {
                        id: self
                            .ids
                            .get(e.id_at as usize..(e.id_at + e.id_len) as usize)?,
                        project: e.project as usize,
                    });
                }
            }
            s = (s + 1) & mask;
        }
    }

    /// Heap bytes held (entries, index, ids, project index).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.slots.capacity() * std::mem::size_of::<u64>()
            + self.ids.capacity()
            + self.projects.heap_bytes()
    }

    /// The index of the snapshot's project whose id is `id`.
    pub fn project(&self, id: &str) -> Option<u32> {
        self.projects.get(id)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Hashes a key digest by its first eight bytes, for maps keyed by digest (a delta's added and
/// removed keys): the digests are SHA-256 or HMAC-SHA256 outputs, uniform, and nobody on the
/// network chooses them (as in [`KeyTable`]); SipHash over 32 bytes cost a lookup 50 ns.
#[derive(Default, Clone, Copy)]
pub struct DigestHash(u64);

impl std::hash::Hasher for DigestHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(head) = bytes.first_chunk::<8>() {
            self.0 ^= u64::from_le_bytes(*head);
        }
    }

    /// The array's length prefix: the same for every digest.
    fn write_usize(&mut self, _: usize) {}
}

/// Maps and sets keyed by a key digest.
pub type ByDigest = std::hash::BuildHasherDefault<DigestHash>;

/// Where a digest's probe starts, and its tag (in a slot's high 32 bits).
fn place(digest: &[u8; 32], mask: usize) -> (usize, u64) {
    let start = u64::from_le_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    let tag = u32::from_le_bytes([digest[8], digest[9], digest[10], digest[11]]);
    (start as usize & mask, u64::from(tag) << 32)
}

/// The key table of `keys` (digest, id, project id), each project named by its index in
/// `projects`.
pub(super) fn key_table<'a>(
    projects: &[warden_shared::snapshot::Project],
    keys: impl ExactSizeIterator<Item = ([u8; 32], &'a str, &'a str)>,
) -> Result<KeyTable, String> {
    let index = ProjectIndex::new(projects);
    // Keys of one project often come in a run: one lookup per run.
    let mut last: Option<(&str, u32)> = None;
    let mut failed = None;
    let table = KeyTable::build(keys.map(|(hash, id, project)| {
        let i = match last {
            Some((name, i)) if name == project => i,
            _ => match index.get(project) {
                Some(i) => {
                    last = Some((project, i));
                    i
                }
                None => {
                    failed.get_or_insert_with(|| {
                        format!("api key {id} names unknown project {project}")
                    });
                    0
                }
            },
        };
        (hash, id, i)
    }))?;
    match failed {
        Some(why) => Err(why),
        None => Ok(KeyTable {
            projects: index,
            ..table
        }),
    }
}

/// Project ids to their indexes, compact: a million lookups of ids held in the projects' own
/// strings, all over the heap, missed the cache on nearly every one. Here the ids lie back to
/// back and the map holds only their hashes.
#[derive(Default)]
struct ProjectIndex {
    names: String,
    /// Per project: where its id lies in `names`, and the next project whose id has the same
    /// 64-bit hash (`u32::MAX`: none).
    spans: Vec<(u32, u32, u32)>,
    first: HashMap<u64, u32>,
    hasher: std::collections::hash_map::RandomState,
}

impl ProjectIndex {
    fn new(projects: &[warden_shared::snapshot::Project]) -> ProjectIndex {
        use std::hash::BuildHasher;
        let hasher = std::collections::hash_map::RandomState::new();
        let mut index = ProjectIndex {
            names: String::with_capacity(projects.iter().map(|p| p.id.len()).sum()),
            spans: Vec::with_capacity(projects.len()),
            first: HashMap::with_capacity(projects.len()),
            hasher,
        };
        for (p, i) in projects.iter().zip(0u32..) {
            let at = index.names.len() as u32;
            index.names.push_str(&p.id);
            let next = index
                .first
                .insert(index.hasher.hash_one(p.id.as_str()), i)
                .unwrap_or(u32::MAX);
            index.spans.push((at, p.id.len() as u32, next));
        }
        index
    }

    fn heap_bytes(&self) -> usize {
        self.names.capacity()
            + self.spans.capacity() * std::mem::size_of::<(u32, u32, u32)>()
            + self.first.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
    }

    /// The index of the project whose id is `id` (the last, should two share it).
    fn get(&self, id: &str) -> Option<u32> {
        use std::hash::BuildHasher;
        let mut i = *self.first.get(&self.hasher.hash_one(id))?;
        while let Some(&(at, len, next)) = self.spans.get(i as usize) {
            if self.names.get(at as usize..(at + len) as usize) == Some(id) {
                return Some(i);
            }
            i = next;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(i: u32) -> [u8; 32] {
        warden_shared::api_key_hash(format!("wdn_{i}").as_bytes())
    }

    #[test]
    fn every_key_is_found_with_its_id_and_project_and_nothing_else_is() {
        for n in [0u32, 1, 2, 17, 5000] {
            let ids: Vec<String> = (0..n).map(|i| format!("key_{i}")).collect();
            let table =
                KeyTable::build((0..n).map(|i| (digest(i), ids[i as usize].as_str(), i % 7)))
                    .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(table.len(), n as usize);
            for i in 0..n {
                let found = table.get(&digest(i));
                assert_eq!(
                    found,
                    Some(ApiKeyRef {
                        id: &ids[i as usize],
                        project: (i % 7) as usize
                    })
                );
            }
            assert_eq!(table.get(&digest(n + 1)), None);
            assert_eq!(table.get(&[0; 32]), None);
            assert_eq!(table.get(&[0xff; 32]), None);
        }
    }

    #[test]
    fn digests_that_share_a_start_and_a_tag_are_told_apart() {
        let mut a = [7u8; 32];
        let mut b = a;
        b[31] = 8;
        a[20] = 1;
        let table = KeyTable::build([(a, "a", 0), (b, "b", 1)].into_iter())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(table.get(&a).map(|k| k.id), Some("a"));
        assert_eq!(table.get(&b).map(|k| k.id), Some("b"));
        let mut c = a;
        c[5] = 9;
        assert_eq!(table.get(&c), None);
    }
}
