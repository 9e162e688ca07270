//! Appending to the segment files: frames go into a buffer, one `write` puts a batch in the
//! file, `fdatasync` makes it durable; segments rotate by size and age; retention deletes the
//! oldest and records that it did.
//!
//! On open the last segment is checked: a torn tail (a crash mid-write) is truncated to the
//! last whole record and a `recovery` record says so in the chain. Any other damage is left in
//! place as evidence, and writing continues in a new segment.
//! On a failed write the file is cut back to its last good length, so a half-written batch
//! never sits in the chain.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_shared::audit::codec::append_origin;
use warden_shared::audit::{
    self, frame, header, segment_name, segments, ChainKey, Kind, Problem, Record, HEADER_LEN,
};

use super::disk::Space;
use super::{now_us, AuditConfig};

pub struct Writer {
    dir: PathBuf,
    file: File,
    index: u64,
    /// Bytes of the current segment known to be in the file.
    len: u64,
    opened: Instant,
    /// The audit key the chain is made with (`None`: plain SHA-256, for tests of old logs).
    key: Option<ChainKey>,
    /// Chain hash after the last record in the file.
    chain: [u8; 32],
    /// Chain hash after the last record in `buf`.
    pending_chain: [u8; 32],
    buf: Vec<u8>,
    /// One record's payload as it is framed.
    payload: Vec<u8>,
    config: AuditConfig,
    /// Written since the last fdatasync.
    dirty: bool,
    /// Segments from this index on are kept whatever the retention limits (the usage shipper
    /// has not read them yet).
    pub keep_from: Option<Arc<AtomicU64>>,
    /// Where closed segments go to be compressed (none: they stay plain).
    compactor: Option<SyncSender<PathBuf>>,
    /// The highest ring position (`seq`) per shard among the records of the newest segment at
    /// open: records a crash left in a ring after they were written are not copied twice.
    pub last_seqs: BTreeMap<u32, u64>,
}

impl Writer {
    pub fn open(
        dir: &Path,
        config: &AuditConfig,
        key: Option<ChainKey>,
    ) -> std::io::Result<Writer> {
        std::fs::create_dir_all(dir)?;
        let existing = segments(dir)?;
        let mut w = match existing.last() {
            None => Writer::create(dir, config, &key, 0, [0; 32])?,
            Some((index, path)) => Writer::resume(dir, config, &key, *index, path)?,
        };
        w.sync()?;
        Ok(w)
    }

    fn create(
        dir: &Path,
        config: &AuditConfig,
        key: &Option<ChainKey>,
        index: u64,
        prev: [u8; 32],
    ) -> std::io::Result<Writer> {
        let path = dir.join(segment_name(index));
        // Owner only: records name tenants, projects and key ids.
        let mut file = warden_shared::create_private(&path)?;
        file.write_all(&header(index, now_us(), &prev, key.as_ref()))?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok(Writer {
            dir: dir.to_owned(),
            file,
            index,
            len: HEADER_LEN as u64,
            opened: Instant::now(),
            key: key.clone(),
            chain: prev,
            pending_chain: prev,
            buf: Vec::with_capacity(256 * 1024),
            payload: Vec::with_capacity(1024),
            config: config.clone(),
            dirty: false,
            keep_from: None,
            compactor: None,
            last_seqs: BTreeMap::new(),
        })
    }

    fn resume(
        dir: &Path,
        config: &AuditConfig,
        key: &Option<ChainKey>,
        index: u64,
        path: &Path,
    ) -> std::io::Result<Writer> {
        let mut seg = audit::read_segment(path, key.as_ref())?;
        if seg.problem == Some(Problem::OtherKey) {
            // Chained under an earlier key: read it by its CRCs to continue from its last hash.
            seg = audit::read_segment(path, None)?;
        }
        if seg.file_len < HEADER_LEN as u64 {
            // Cut off while being created: nothing in it but part of a header.
            let prev = match index.checked_sub(1) {
                Some(p) => audit::read_segment(&dir.join(segment_name(p)), None)?.last_hash(),
                None => [0; 32],
            };
            return Writer::create(dir, config, key, index, prev);
        }
        let same_key = seg.key_id == key.as_ref().map(ChainKey::id);
        match seg.problem {
            // Compressed, so closed, or chained another way than this writer chains: continue
            // in the next segment (never mix two chains in one file).
            None | Some(Problem::TornTail) if audit::is_compressed(path) || !same_key => {
                let mut w = Writer::create(dir, config, key, index + 1, seg.last_hash())?;
                w.last_seqs = last_seqs(&seg);
                Ok(w)
            }
            None | Some(Problem::TornTail) => {
                let mut file = OpenOptions::new().write(true).open(path)?;
                let cut = seg.file_len - seg.valid_len;
                if cut > 0 {
                    file.set_len(seg.valid_len)?;
                }
                file.seek(SeekFrom::Start(seg.valid_len))?;
                let chain = seg.last_hash();
                let mut w = Writer {
                    dir: dir.to_owned(),
                    file,
                    index,
                    len: seg.valid_len,
                    opened: Instant::now(),
                    key: key.clone(),
                    chain,
                    pending_chain: chain,
                    buf: Vec::with_capacity(256 * 1024),
                    payload: Vec::with_capacity(1024),
                    config: config.clone(),
                    dirty: false,
                    keep_from: None,
                    compactor: None,
                    last_seqs: last_seqs(&seg),
                };
                if cut > 0 {
                    w.append(&Record {
                        kind: Kind::Recovery,
                        at_us: now_us(),
                        count: Some(cut),
                        ..Record::default()
                    });
                    w.flush()?;
                }
                Ok(w)
            }
            // Damage that is not a crash: keep it as evidence, continue in a fresh segment.
            Some(_) => {
                let mut w = Writer::create(dir, config, key, index + 1, seg.last_hash())?;
                w.last_seqs = last_seqs(&seg);
                Ok(w)
            }
        }
    }

    /// Frame a record of the writer's own (recovery, outage, retention) into the pending batch.
    pub fn append(&mut self, record: &Record) {
        self.payload.clear();
        record.view().encode(&mut self.payload);
        self.pending_chain = frame(
            &mut self.buf,
            self.key.as_ref(),
            &self.pending_chain,
            &self.payload,
        );
    }

    /// Frame a record a shard encoded into its ring, adding where it came from.
    pub fn append_ring(&mut self, encoded: &[u8], shard: u32, seq: u64) {
        self.payload.clear();
        self.payload.extend_from_slice(encoded);
        append_origin(&mut self.payload, shard, seq);
        self.pending_chain = frame(
            &mut self.buf,
            self.key.as_ref(),
            &self.pending_chain,
            &self.payload,
        );
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Write the pending batch to the file (one write). On failure the file is cut back and
    /// the batch discarded: its records were not written, and the caller says so to everyone
    /// waiting on them.
    pub fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.buf);
        if let Err(e) = result {
            self.buf.clear();
            self.pending_chain = self.chain;
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(e);
        }
        self.len += self.buf.len() as u64;
        self.chain = self.pending_chain;
        self.buf.clear();
        self.dirty = true;
        Ok(())
    }

    /// Start the next segment when this one is full or old enough. Called only once the rings
    /// have been released for everything written, so the newest segment always holds the
    /// records whose release a crash could have cut off (see `last_seqs`).
    pub fn rotate_if_due(&mut self) -> std::io::Result<()> {
        if self.len >= self.config.segment_max_bytes
            || self.opened.elapsed() >= Duration::from_secs(self.config.segment_max_age_s.max(1))
        {
            self.rotate()?;
        }
        Ok(())
    }

    /// fdatasync what was written.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.dirty {
            self.file.sync_data()?;
            self.dirty = false;
        }
        Ok(())
    }

    pub fn dirty(&self) -> bool {
        self.dirty
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.sync()?;
        let mut next = Writer::create(
            &self.dir,
            &self.config,
            &self.key,
            self.index + 1,
            self.chain,
        )?;
        next.keep_from = self.keep_from.take();
        next.compactor = self.compactor.take();
        let closed = self.dir.join(segment_name(self.index));
        *self = next;
        self.compress(closed);
        self.apply_retention()
    }

    /// Compress closed segments from now on, starting with those a previous run left plain.
    pub fn set_compactor(&mut self, tx: SyncSender<PathBuf>) -> std::io::Result<()> {
        self.compactor = Some(tx);
        // A compression cut short by a crash leaves its half-written file behind.
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.to_string_lossy().ends_with(".wal.zst.tmp") {
                std::fs::remove_file(&path)?;
            }
        }
        for (index, path) in segments(&self.dir)? {
            if index < self.index && !audit::is_compressed(&path) {
                self.compress(path);
            }
        }
        Ok(())
    }

    fn compress(&self, closed: PathBuf) {
        if let Some(tx) = &self.compactor {
            // A full queue leaves the segment plain until the next start; never wait here.
            let _ = tx.try_send(closed);
        }
    }

    /// The filesystem is short of free space: close the current segment (when it holds
    /// anything) so that retention may delete the oldest ones.
    pub fn make_room(&mut self) -> std::io::Result<()> {
        if self.len > HEADER_LEN as u64 {
            self.rotate()
        } else {
            self.apply_retention()
        }
    }

    /// Whether the filesystem has less free space than `min_free_bytes` or `min_free_percent`.
    pub fn short_of_space(&self, space: Space) -> bool {
        space.below(self.config.min_free_bytes, self.config.min_free_percent)
    }

    /// Delete the oldest segments beyond the retention limits, and record that in the chain.
    fn apply_retention(&mut self) -> std::io::Result<()> {
        let (max_bytes, max_age) = (
            self.config.retention_max_bytes,
            self.config.retention_max_age_s,
        );
        if max_bytes == 0
            && max_age == 0
            && self.config.min_free_bytes == 0
            && self.config.min_free_percent == 0
        {
            return Ok(());
        }
        let mut space = super::disk::space(&self.dir).ok();
        let mut all = segments(&self.dir)?;
        all.retain(|(i, _)| *i < self.index);
        let mut sizes: Vec<(u64, PathBuf, u64, Option<std::time::SystemTime>)> = Vec::new();
        for (i, p) in all {
            let meta = std::fs::metadata(&p)?;
            sizes.push((i, p, meta.len(), meta.modified().ok()));
        }
        let mut total: u64 = sizes.iter().map(|s| s.2).sum::<u64>() + self.len;
        let mut deleted_through = None;
        let keep = self.keep_from.as_ref().map(|k| k.load(Relaxed));
        for (i, path, size, modified) in &sizes {
            if keep.is_some_and(|k| *i >= k) {
                // Usage in it has not reached the control plane yet.
                break;
            }
            let too_old = max_age > 0
                && modified
                    .and_then(|m| m.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > max_age);
            let too_big = max_bytes > 0 && total > max_bytes;
            let too_full = space.is_some_and(|s| self.short_of_space(s));
            if !(too_old || too_big || too_full) {
                break;
            }
            remove_segment(path)?;
            total -= size;
            if let Some(s) = &mut space {
                s.free += size;
            }
            deleted_through = Some(*i);
        }
        if let Some(through) = deleted_through {
            sync_dir(&self.dir)?;
            self.append(&Record {
                kind: Kind::Retention,
                at_us: now_us(),
                deleted_through: Some(through),
                ..Record::default()
            });
            self.flush()?;
        }
        Ok(())
    }
}

/// Delete a segment file, whichever form it has by now (the compactor may have just replaced
/// the plain file with the compressed one).
fn remove_segment(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !audit::is_compressed(path) => {
            std::fs::remove_file(audit::compressed_path(path))
        }
        other => other,
    }
}

/// The highest `seq` per shard among a segment's records.
fn last_seqs(seg: &audit::Segment) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    for (_, _, payload) in &seg.records {
        if let Ok(Record {
            shard: Some(shard),
            seq: Some(seq),
            ..
        }) = Record::decode(payload)
        {
            let last = out.entry(shard).or_insert(seq);
            *last = (*last).max(seq);
        }
    }
    out
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
