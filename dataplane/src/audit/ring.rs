//! A shard's audit ring: a single-producer single-consumer byte ring in a memory-mapped file
//! (`audit_dir/ring-NNNN.map`). The shard (producer) encodes a record, copies it in and
//! publishes it by moving `head`; the drain thread (consumer) copies published records into the
//! segment files and releases their bytes by moving `tail` once they are written.
//!
//! Why a mapped file: a record the shard has published is in the kernel's page cache the moment
//! `head` moves, so a `kill -9` of the data plane loses nothing and the shard never waits for
//! another thread before the response's last bytes go out (`durability = "batch"`). The next
//! start copies what the rings still hold into the log before serving (`recover.rs`).
//! `durability = "always"` still waits for the drain's fdatasync, which only a disk can give.
//!
//! ```text
//! file    header 4096 B: "WDNRING1" | capacity u64 | shard u64 | … | head u64 @64 | tail u64 @128
//!         data   capacity B (a power of two)
//! entry   len u32 LE | crc32c u32 LE of the payload | payload | zero padding to 8 B
//!         len = u32::MAX: wrap marker, the next entry starts at the beginning of the data
//! ```
//! `head` and `tail` are byte positions that only grow (offset = position mod capacity), kept
//! across restarts; an entry's start position is its sequence number in the log (`seq`).
//!
//! Invariants: the producer never blocks (no lock, no syscall); a record the producer published is
//! never overwritten before the consumer released it; a damaged ring is reported, never followed.
//! The shard's side of the protocol — encoding, waiting for room, durability — is `producer.rs`.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crossbeam_queue::ArrayQueue;
use futures_channel::oneshot;

use super::mapped::Mapped;

/// Bytes before the data area.
pub const HEADER: usize = 4096;
const MAGIC: &[u8; 8] = b"WDNRING1";
const CAP_AT: usize = 8;
const SHARD_AT: usize = 16;
const HEAD_AT: usize = 64;
const TAIL_AT: usize = 128;
const WRAP: u32 = u32::MAX;
/// len + crc.
const ENTRY_HEADER: u64 = 8;
/// Ring bytes per record of `ring_capacity` (a typical record is 250-400 B).
pub const BYTES_PER_RECORD: u64 = 512;

/// One shard's ring, shared by its producer and the drain thread.
pub struct Ring {
    map: Mapped,
    cap: u64,
    pub shard: u32,
    /// `durability = "always"`: (end position, who waits for it to be fdatasync'ed).
    pub waiters: ArrayQueue<(u64, oneshot::Sender<bool>)>,
}

/// A published record read back by the consumer.
#[derive(Debug)]
pub struct Slot<'a> {
    /// Where the record starts in the ring: its sequence number in the log.
    pub seq: u64,
    pub payload: &'a [u8],
    /// Where the next record starts.
    pub next: u64,
}

/// Why a record could not go into the ring.
#[derive(Debug, PartialEq, Eq)]
pub enum PutError {
    Full,
    /// Larger than the whole ring: `ring_capacity` is set too small for this record.
    TooLarge,
}

/// A ring's contents could not be read back: what a crash mid-store or a damaged file leaves.
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

impl Ring {
    pub fn path(dir: &Path, shard: u32) -> PathBuf {
        dir.join(format!("ring-{shard:04}.map"))
    }

    /// The ring files in `dir`, by shard.
    pub fn existing(dir: &Path) -> std::io::Result<Vec<(u32, PathBuf)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let shard = name
                .to_str()
                .and_then(|n| n.strip_prefix("ring-")?.strip_suffix(".map")?.parse().ok());
            if let Some(shard) = shard {
                out.push((shard, entry.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Open shard `shard`'s ring in `dir`, or create it with `capacity` data bytes (a power of
    /// two) and positions starting at `start` (past every `seq` of this shard already in the log).
    pub fn open(dir: &Path, shard: u32, capacity: u64, start: u64) -> std::io::Result<Ring> {
        let path = Ring::path(dir, shard);
        let fresh = !path.exists();
        let cap = capacity.next_power_of_two().max(64);
        let map = Mapped::open(&path, HEADER + cap as usize)?;
        if fresh {
            map.write(0, MAGIC);
            map.write(CAP_AT, &cap.to_le_bytes());
            map.write(SHARD_AT, &u64::from(shard).to_le_bytes());
            let start = start.next_multiple_of(8);
            map.atomic(HEAD_AT).store(start, Ordering::Release);
            map.atomic(TAIL_AT).store(start, Ordering::Release);
        }
        Ring::check(map, shard).map_err(|Corrupt(why)| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {why}", path.display()),
            )
        })
    }

    fn check(map: Mapped, shard: u32) -> Result<Ring, Corrupt> {
        if map.len() < HEADER + 64 || map.read(0, 8) != MAGIC {
            return Err(Corrupt("not a ring file"));
        }
        let cap = u64_at(&map, CAP_AT);
        if !cap.is_power_of_two() || HEADER as u64 + cap != map.len() as u64 {
            return Err(Corrupt("the ring's capacity does not match its file"));
        }
        if u64_at(&map, SHARD_AT) != u64::from(shard) {
            return Err(Corrupt("the ring belongs to another shard"));
        }
        let ring = Ring {
            map,
            cap,
            shard,
            waiters: ArrayQueue::new((cap / 64).max(16) as usize),
        };
        let (head, tail) = (ring.head(), ring.tail());
        if head < tail || head - tail > cap || !head.is_multiple_of(8) || !tail.is_multiple_of(8) {
            return Err(Corrupt("the ring's positions are impossible"));
        }
        Ok(ring)
    }

    pub fn capacity(&self) -> u64 {
        self.cap
    }

    /// Published up to here.
    pub fn head(&self) -> u64 {
        self.map.atomic(HEAD_AT).load(Ordering::Acquire)
    }

    /// Written to the log up to here.
    pub fn tail(&self) -> u64 {
        self.map.atomic(TAIL_AT).load(Ordering::Acquire)
    }

    /// The consumer: everything before `pos` is in the log; the producer may reuse it.
    pub fn release(&self, pos: u64) {
        self.map.atomic(TAIL_AT).store(pos, Ordering::Release);
    }

    /// Bytes published and not yet in the log.
    pub fn pending(&self) -> u64 {
        self.head().saturating_sub(self.tail())
    }

    /// The producer: copy one record in and publish it; returns the position after it.
    /// `tail_seen` is the producer's last look at `tail` (read again only when room runs out).
    pub fn put(&self, payload: &[u8], tail_seen: &Cell<u64>) -> Result<u64, PutError> {
        let need = ENTRY_HEADER + (payload.len() as u64).next_multiple_of(8);
        if need > self.cap || payload.len() >= WRAP as usize {
            return Err(PutError::TooLarge);
        }
        // Only this producer moves head.
        let head = self.map.atomic(HEAD_AT).load(Ordering::Relaxed);
        let off = head & (self.cap - 1);
        let to_end = self.cap - off;
        let start = if to_end < need { head + to_end } else { head };
        let end = start + need;
        if end - tail_seen.get() > self.cap {
            tail_seen.set(self.tail());
            if end - tail_seen.get() > self.cap {
                return Err(PutError::Full);
            }
        }
        if start != head {
            self.map.write(data(off), &WRAP.to_le_bytes());
        }
        let at = data(start & (self.cap - 1));
        let crc = crc32c::crc32c(payload);
        self.map.write(at, &(payload.len() as u32).to_le_bytes());
        self.map.write(at + 4, &crc.to_le_bytes());
        self.map.write(at + ENTRY_HEADER as usize, payload);
        self.map.atomic(HEAD_AT).store(end, Ordering::Release);
        Ok(end)
    }

    /// The consumer: the record at `pos` (before `head`), skipping a wrap marker.
    pub fn entry(&self, pos: u64, head: u64) -> Result<Option<Slot<'_>>, Corrupt> {
        if pos >= head {
            return Ok(None);
        }
        let mut start = pos;
        let mut len = self.u32_at(data(start & (self.cap - 1)));
        if len == WRAP {
            start += self.cap - (start & (self.cap - 1));
            if start >= head {
                return Err(Corrupt("a wrap marker at the end of the ring"));
            }
            len = self.u32_at(data(0));
        }
        let off = start & (self.cap - 1);
        let end = start + ENTRY_HEADER + u64::from(len).next_multiple_of(8);
        if u64::from(len) > self.cap - off - ENTRY_HEADER || end > head {
            return Err(Corrupt("a record length runs past what was published"));
        }
        let at = data(off);
        let payload = self.map.read(at + ENTRY_HEADER as usize, len as usize);
        if crc32c::crc32c(payload) != self.u32_at(at + 4) {
            return Err(Corrupt("a record's checksum does not match"));
        }
        Ok(Some(Slot {
            seq: start,
            payload,
            next: end,
        }))
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b = self.map.read(at, 4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

fn data(off: u64) -> usize {
    HEADER + off as usize
}

fn u64_at(map: &Mapped, at: usize) -> u64 {
    let b = map.read(at, 8);
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("warden-ring-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::create_dir_all(&d);
        d
    }

    fn drain_all(ring: &Ring) -> Vec<(u64, Vec<u8>)> {
        let (mut pos, head, mut out) = (ring.tail(), ring.head(), Vec::new());
        while let Ok(Some(slot)) = ring.entry(pos, head) {
            out.push((slot.seq, slot.payload.to_vec()));
            pos = slot.next;
        }
        ring.release(pos);
        out
    }

    #[test]
    fn records_wrap_around_and_come_back_in_order_with_rising_seqs() {
        let d = dir("wrap");
        let ring = Ring::open(&d, 0, 256, 0).unwrap_or_else(|e| panic!("{e}"));
        let seen = Cell::new(ring.tail());
        let mut want = Vec::new();
        let mut got = Vec::new();
        for i in 0..200u32 {
            let payload = vec![i as u8; (i % 37 + 1) as usize];
            loop {
                match ring.put(&payload, &seen) {
                    Ok(_) => break,
                    Err(PutError::Full) => got.extend(drain_all(&ring)),
                    Err(e) => panic!("{e:?}"),
                }
            }
            want.push(payload);
        }
        got.extend(drain_all(&ring));
        assert_eq!(got.iter().map(|g| g.1.clone()).collect::<Vec<_>>(), want);
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "seqs rise");
        assert_eq!(ring.put(&[0; 300], &seen), Err(PutError::TooLarge));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn published_records_survive_the_process_that_wrote_them() {
        let d = dir("reopen");
        {
            let ring = Ring::open(&d, 3, 4096, 1000).unwrap_or_else(|e| panic!("{e}"));
            let seen = Cell::new(ring.tail());
            for p in [&b"one"[..], b"two", b"three"] {
                assert!(ring.put(p, &seen).is_ok());
            }
            assert_eq!(drain_all(&ring).len(), 3);
            assert!(ring.put(b"four", &seen).is_ok());
            // Dropped without a word: the mapping goes, the file keeps what was published.
        }
        let ring = Ring::open(&d, 3, 64, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ring.capacity(), 4096, "an existing ring keeps its size");
        let left = drain_all(&ring);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].1, b"four");
        assert!(
            left[0].0 >= 1000,
            "positions continue from where they started"
        );
        assert!(
            Ring::open(&d, 4, 64, 0).is_ok(),
            "another shard, another file"
        );
        let wrong = std::fs::rename(Ring::path(&d, 3), Ring::path(&d, 5));
        assert!(wrong.is_ok());
        assert!(Ring::open(&d, 5, 64, 0).is_err(), "a ring names its shard");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn damaged_ring_bytes_are_reported_not_followed() {
        let d = dir("damaged");
        let ring = Ring::open(&d, 0, 1024, 0).unwrap_or_else(|e| panic!("{e}"));
        let seen = Cell::new(0);
        assert!(ring.put(b"payload", &seen).is_ok());
        drop(ring);
        let path = Ring::path(&d, 0);
        let mut bytes = std::fs::read(&path).unwrap_or_default();
        bytes[HEADER + 9] ^= 0xff;
        assert!(std::fs::write(&path, &bytes).is_ok());
        let ring = Ring::open(&d, 0, 1024, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ring.entry(ring.tail(), ring.head()).err(),
            Some(Corrupt("a record's checksum does not match"))
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
