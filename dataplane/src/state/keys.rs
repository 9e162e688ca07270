//! The Warden-key table: every key's digest in one flat array, grouped by the digest's leading
//! bits, with every key id in one string beside it.
//!
//! Sized for a million keys: no allocation per key (built with two linear passes, freed with
//! three frees), about 44 bytes per key plus its id's bytes plus a 4-byte bucket index, and a
//! lookup touches the index and one or two entries. The digests are SHA-256 (HMAC-SHA256 under
//! the snapshot's secret) of keys the control plane generated, so their bits are uniform and
//! the buckets stay about one entry deep; nobody on the network chooses what is in the table.

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
    /// Grouped by bucket (the digest's leading `bits` bits), in snapshot order within one.
    entries: Vec<Entry>,
    /// Bucket `b`'s entries are `entries[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    bits: u32,
    ids: String,
}

impl KeyTable {
    /// A table of `keys` (digest, id, project index). Refused: more than `u32::MAX` keys or id
    /// bytes.
    pub fn build<'a>(
        keys: impl ExactSizeIterator<Item = ([u8; 32], &'a str, u32)>,
    ) -> Result<KeyTable, String> {
        let n = keys.len();
        if u32::try_from(n).is_err() {
            return Err(format!("{n} API keys: more than this data plane indexes"));
        }
        // About one key per bucket: 2^bits >= n, between 16 and 16M buckets.
        let bits = (usize::BITS - n.max(1).leading_zeros()).clamp(4, 24);
        let mut raw = Vec::with_capacity(n);
        let mut ids = String::new();
        let mut counts = vec![0u32; (1usize << bits) + 1];
        for (digest, id, project) in keys {
            let (id_at, id_len) = (u32::try_from(ids.len()), u32::try_from(id.len()));
            let (Ok(id_at), Ok(id_len)) = (id_at, id_len) else {
                return Err("API key ids: more bytes than this data plane indexes".into());
            };
            ids.push_str(id);
            counts[bucket(&digest, bits) + 1] += 1;
            raw.push(Entry {
                digest,
                id_at,
                id_len,
                project,
            });
        }
        for b in 1..counts.len() {
            counts[b] += counts[b - 1];
        }
        let mut next = counts.clone();
        let empty = Entry {
            digest: [0; 32],
            id_at: 0,
            id_len: 0,
            project: 0,
        };
        let mut entries = vec![empty; n];
        for e in raw {
            let slot = &mut next[bucket(&e.digest, bits)];
            entries[*slot as usize] = e;
            *slot += 1;
        }
        ids.shrink_to_fit();
        Ok(KeyTable {
            entries,
            starts: counts,
            bits,
            ids,
        })
    }

    /// The key whose digest is `digest` (the first, should the snapshot name one twice).
    pub fn get(&self, digest: &[u8; 32]) -> Option<ApiKeyRef<'_>> {
        let b = bucket(digest, self.bits);
        let (start, end) = (*self.starts.get(b)?, *self.starts.get(b + 1)?);
        let e = self
            .entries
            .get(start as usize..end as usize)?
            .iter()
            .find(|e| e.digest == *digest)?;
        Some(ApiKeyRef {
            id: self
                .ids
                .get(e.id_at as usize..(e.id_at + e.id_len) as usize)?,
            project: e.project as usize,
        })
    }

    /// Heap bytes held (entries, bucket index, ids).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.starts.capacity() * std::mem::size_of::<u32>()
            + self.ids.capacity()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn bucket(digest: &[u8; 32], bits: u32) -> usize {
    let lead = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (lead >> (32 - bits)) as usize
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
    fn digests_that_share_a_bucket_are_told_apart() {
        let mut a = [7u8; 32];
        let mut b = a;
        b[31] = 8;
        a[4] = 1;
        let table = KeyTable::build([(a, "a", 0), (b, "b", 1)].into_iter())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(table.get(&a).map(|k| k.id), Some("a"));
        assert_eq!(table.get(&b).map(|k| k.id), Some("b"));
        let mut c = a;
        c[5] = 9;
        assert_eq!(table.get(&c), None);
    }
}
