//! At start, before any shard serves: copy into the log what the previous process left in the
//! rings (records published but not yet written when it died), then open one ring per shard.
//!
//! A record the previous drain wrote but had not yet released is recognised by its ring
//! position (`seq`) in the newest segment and not copied twice. A ring whose bytes cannot be
//! read back (a power loss mid-store) is recorded as a `recovery` record with the bytes lost,
//! never skipped silently; a ring file that is not a ring at all is kept aside as evidence.

use std::path::Path;
use std::sync::Arc;

use warden_shared::audit::{Kind, Record};

use super::now_us;
use super::ring::{Corrupt, Ring};
use super::writer::Writer;

/// What recovery found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Records copied from the rings into the log.
    pub records: u64,
    /// Records already in the log (written just before the crash).
    pub duplicates: u64,
    /// Ring bytes that could not be read back.
    pub lost_bytes: u64,
}

/// Copy every ring in `dir` into the log (written and fdatasync'ed when this returns), then open
/// `shards` rings of `capacity` bytes for serving. Rings of shards that no longer exist, or of
/// another size, are replaced once empty; positions keep rising across the replacement.
pub fn recover_and_open(
    writer: &mut Writer,
    dir: &Path,
    shards: u32,
    capacity: u64,
) -> std::io::Result<(Vec<Arc<Ring>>, Recovered)> {
    let mut found = Recovered::default();
    let mut next_start = std::collections::BTreeMap::new();
    for (shard, path) in Ring::existing(dir)? {
        let ring = match Ring::open(dir, shard, capacity, 0) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("audit ring {}: {e}; kept aside", path.display());
                let lost = std::fs::metadata(&path).map_or(0, |m| m.len());
                std::fs::rename(&path, path.with_extension("map.damaged"))?;
                lost_bytes(writer, &mut found, lost);
                continue;
            }
        };
        copy(writer, &ring, &mut found);
        writer.flush()?;
        writer.sync()?;
        ring.release(ring.head());
        let start = ring
            .head()
            .max(writer.last_seqs.get(&shard).map_or(0, |s| s + 8));
        next_start.insert(shard, start);
        if shard >= shards || ring.capacity() != capacity.next_power_of_two().max(64) {
            drop(ring);
            std::fs::remove_file(&path)?;
        }
    }
    let rings = (0..shards)
        .map(|shard| {
            let start = next_start
                .get(&shard)
                .copied()
                .unwrap_or_else(|| writer.last_seqs.get(&shard).map_or(0, |s| s + 8));
            Ring::open(dir, shard, capacity, start).map(Arc::new)
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    if found != Recovered::default() {
        tracing::warn!(
            records = found.records,
            duplicates = found.duplicates,
            lost_bytes = found.lost_bytes,
            "audit: copied what the last run left in its rings into the log"
        );
    }
    Ok((rings, found))
}

fn copy(writer: &mut Writer, ring: &Ring, found: &mut Recovered) {
    let last = writer.last_seqs.get(&ring.shard).copied();
    let (mut pos, head) = (ring.tail(), ring.head());
    loop {
        match ring.entry(pos, head) {
            Ok(Some(slot)) => {
                if last.is_some_and(|l| slot.seq <= l) {
                    found.duplicates += 1;
                } else {
                    writer.append_ring(slot.payload, ring.shard, slot.seq);
                    writer.last_seqs.insert(ring.shard, slot.seq);
                    found.records += 1;
                }
                pos = slot.next;
            }
            Ok(None) => return,
            Err(Corrupt(why)) => {
                tracing::error!(shard = ring.shard, "audit ring: {why}");
                lost_bytes(writer, found, head - pos);
                return;
            }
        }
    }
}

fn lost_bytes(writer: &mut Writer, found: &mut Recovered, bytes: u64) {
    found.lost_bytes += bytes;
    writer.append(&Record {
        kind: Kind::Recovery,
        at_us: now_us(),
        count: Some(bytes),
        ..Record::default()
    });
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::audit::{AuditConfig, Entry};
    use warden_shared::audit::{read_segment, segments};

    fn records(dir: &Path) -> Vec<Record> {
        let mut out = Vec::new();
        for (_, path) in segments(dir).unwrap_or_default() {
            if let Ok(seg) = read_segment(&path, None) {
                out.extend(seg.records.iter().filter_map(|r| Record::decode(&r.2).ok()));
            }
        }
        out
    }

    fn put(ring: &Ring, id: &str) -> u64 {
        let mut bytes = Vec::new();
        Entry {
            request_id: Some(id.into()),
            ..Entry::default()
        }
        .encode(1, &mut bytes);
        ring.put(&bytes, &Cell::new(ring.tail()))
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn ids(dir: &Path) -> Vec<String> {
        records(dir)
            .into_iter()
            .filter_map(|r| r.request_id)
            .collect()
    }

    #[test]
    fn a_crash_leaves_records_in_the_rings_and_the_next_start_logs_each_once() {
        let dir = std::env::temp_dir().join(format!("warden-recover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = AuditConfig::default();
        let open = || Writer::open(&dir, &config, None).unwrap_or_else(|e| panic!("{e}"));
        let mut w = open();
        let (rings, _) = recover_and_open(&mut w, &dir, 2, 4096).unwrap_or_else(|e| panic!("{e}"));
        put(&rings[0], "a");
        put(&rings[1], "b");
        // The drain wrote "a" but died before releasing it; "b" was never written.
        let head = rings[0].head();
        let slot = rings[0]
            .entry(rings[0].tail(), head)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("a record"));
        let seq = slot.seq;
        w.append_ring(slot.payload, 0, seq);
        assert!(w.flush().is_ok());
        drop((w, rings));

        // One shard fewer this time: shard 1's ring is emptied into the log and removed.
        let mut w = open();
        let (rings, found) =
            recover_and_open(&mut w, &dir, 1, 4096).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            found,
            Recovered {
                records: 1,
                duplicates: 1,
                lost_bytes: 0
            }
        );
        assert_eq!(ids(&dir), ["a", "b"]);
        assert_eq!(rings.len(), 1);
        assert!(!Ring::path(&dir, 1).exists());
        assert!(rings[0].head() > seq, "positions keep rising");
        put(&rings[0], "c");
        drop((w, rings));
        let mut w = open();
        let (_, found) = recover_and_open(&mut w, &dir, 2, 8192).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.records, 1);
        assert_eq!(ids(&dir), ["a", "b", "c"]);
        assert!(warden_shared::audit::verify(&dir, None).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
