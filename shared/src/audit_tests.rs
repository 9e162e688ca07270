use super::*;

fn record(id: &str) -> Vec<u8> {
    let r = Record {
        kind: Kind::Response,
        at_us: 1,
        request_id: Some(id.into()),
        status: Some(200),
        ..Record::default()
    };
    r.encode()
}

fn key() -> ChainKey {
    ChainKey::from_secret(&[9u8; 32])
}

/// Write `segments` segments of `per` records, chained under [`key`], into a fresh directory.
fn log(name: &str, segments: u64, per: usize) -> PathBuf {
    log_with(name, segments, per, Some(&key()))
}

fn log_with(name: &str, segments: u64, per: usize, key: Option<&ChainKey>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    let mut prev = [0u8; 32];
    for s in 0..segments {
        let mut bytes = header(s, 0, &prev, key).to_vec();
        for i in 0..per {
            prev = frame(&mut bytes, key, &prev, &record(&format!("req_{s}_{i}")));
        }
        let _ = std::fs::write(dir.join(segment_name(s)), bytes);
    }
    dir
}

fn verify(dir: &Path) -> Result<Summary, Break> {
    super::verify(dir, Some(&key()))
}

fn segment_bytes(dir: &Path, s: u64) -> Vec<u8> {
    std::fs::read(dir.join(segment_name(s))).unwrap_or_default()
}

#[test]
fn an_intact_log_verifies() {
    let dir = log("intact", 3, 4);
    assert_eq!(
        verify(&dir),
        Ok(Summary {
            segments: 3,
            records: 12,
            torn_tail: false
        })
    );
}

#[test]
fn a_flipped_byte_is_a_checksum_break() {
    let dir = log("flip", 2, 3);
    let mut b = segment_bytes(&dir, 1);
    let last = b.len() - 3;
    b[last] ^= 0x20;
    let _ = std::fs::write(dir.join(segment_name(1)), b);
    let err = verify(&dir).err().map(|e| (e.segment, e.what));
    assert_eq!(err, Some((1, Problem::Checksum.to_string())));
}

#[test]
fn deleted_and_swapped_records_break_the_chain() {
    let dir = log("delete", 1, 3);
    let seg = read_segment(&dir.join(segment_name(0)), Some(&key())).map_err(|e| e.to_string());
    let Ok(seg) = seg else { panic!("{seg:?}") };
    let b = segment_bytes(&dir, 0);
    let offsets: Vec<usize> = seg.records.iter().map(|(o, _, _)| *o as usize).collect();
    // Delete the middle record.
    let mut deleted = b[..offsets[1]].to_vec();
    deleted.extend_from_slice(&b[offsets[2]..]);
    let _ = std::fs::write(dir.join(segment_name(0)), &deleted);
    assert_eq!(
        verify(&dir).err().map(|e| e.what),
        Some(Problem::Chain.to_string())
    );
    // Swap the last two.
    let mut swapped = b[..offsets[1]].to_vec();
    swapped.extend_from_slice(&b[offsets[2]..]);
    swapped.extend_from_slice(&b[offsets[1]..offsets[2]]);
    let _ = std::fs::write(dir.join(segment_name(0)), &swapped);
    assert_eq!(
        verify(&dir).err().map(|e| e.what),
        Some(Problem::Chain.to_string())
    );
}

#[test]
fn a_removed_segment_is_detected() {
    let dir = log("removed", 3, 2);
    let _ = std::fs::remove_file(dir.join(segment_name(1)));
    assert!(verify(&dir)
        .err()
        .is_some_and(|e| e.what.contains("missing")));
    let dir = log("removed-first", 3, 2);
    let _ = std::fs::remove_file(dir.join(segment_name(0)));
    assert!(
        verify(&dir)
            .err()
            .is_some_and(|e| e.what.contains("missing")),
        "no retention record covers it"
    );
}

#[test]
fn a_torn_tail_in_the_last_segment_is_reported_not_failed() {
    let dir = log("torn", 2, 2);
    let b = segment_bytes(&dir, 1);
    let _ = std::fs::write(dir.join(segment_name(1)), &b[..b.len() - 5]);
    assert_eq!(
        verify(&dir),
        Ok(Summary {
            segments: 2,
            records: 3,
            torn_tail: true
        })
    );
    let b = segment_bytes(&dir, 0);
    let _ = std::fs::write(dir.join(segment_name(0)), &b[..b.len() - 5]);
    assert!(
        verify(&dir).is_err(),
        "a torn tail anywhere but the end is a break"
    );
}

#[test]
fn a_compressed_segment_reads_and_verifies_like_the_plain_one() {
    let dir = log("compressed", 3, 50);
    let plain = super::segment_bytes(&dir.join(segment_name(1))).unwrap_or_default();
    let (frames, end) = read_frames_from(&dir.join(segment_name(1)), 0).unwrap_or_default();
    let done = compress_segment(&dir.join(segment_name(1)), 3)
        .ok()
        .flatten()
        .unwrap_or_default();
    assert!(done
        .to_string_lossy()
        .ends_with("segment-00000000000000000001.wal.zst"));
    assert!(!dir.join(segment_name(1)).exists());
    let small = std::fs::metadata(&done).map_or(u64::MAX, |m| m.len());
    assert!(small < plain.len() as u64, "{small} vs {}", plain.len());
    assert_eq!(super::segment_bytes(&done).unwrap_or_default(), plain);
    // Readers that listed the plain path before it was compressed still find it.
    assert_eq!(
        super::segment_bytes(&dir.join(segment_name(1))).unwrap_or_default(),
        plain
    );
    let listed = segments(&dir).unwrap_or_default();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[1].1, done);
    assert_eq!(
        read_frames_from(&done, 0).unwrap_or_default(),
        (frames, end)
    );
    assert_eq!(verify(&dir).map(|s| s.records), Ok(150));
    // A changed byte in the compressed file is caught: it no longer decompresses, or a CRC breaks.
    let mut bytes = std::fs::read(&done).unwrap_or_default();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    let _ = std::fs::write(&done, bytes);
    assert!(verify(&dir).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_segment_deleted_while_it_was_compressed_does_not_come_back() {
    let dir = log("compress-race", 2, 3);
    let path = dir.join(segment_name(0));
    assert_eq!(std::fs::remove_file(&path).ok(), Some(()));
    assert!(compress_segment(&path, 3).is_err(), "nothing to read");
    assert!(!compressed_path(&path).exists());
    // A damaged segment is left plain, as evidence.
    let damaged = dir.join(segment_name(1));
    let mut bytes = std::fs::read(&damaged).unwrap_or_default();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let _ = std::fs::write(&damaged, &bytes);
    assert_eq!(compress_segment(&damaged, 3).ok(), Some(None));
    assert!(damaged.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rewrite record `n` of segment 0 with `payload` and re-chain everything after it under `key`,
/// fixing every CRC: what someone who can write the directory can do.
fn rewrite_record(dir: &Path, n: usize, payload: &[u8], key: Option<&ChainKey>) {
    let seg = read_segment(&dir.join(segment_name(0)), None);
    let Ok(seg) = seg else { panic!("{seg:?}") };
    let raw = segment_bytes(dir, 0);
    let mut out = raw[..HEADER_LEN].to_vec();
    let mut prev = seg.prev_hash;
    for (i, (_, _, p)) in seg.records.iter().enumerate() {
        let p = if i == n { payload } else { p.as_slice() };
        prev = frame(&mut out, key, &prev, p);
    }
    let _ = std::fs::write(dir.join(segment_name(0)), out);
}

#[test]
fn a_keyed_chain_cannot_be_fixed_up_without_its_key() {
    let dir = log("forged", 2, 3);
    let forged = record("req_forged");
    // With SHA-256, as the unkeyed chain was: refused.
    rewrite_record(&dir, 1, &forged, None);
    assert_eq!(
        verify(&dir).err().map(|e| (e.segment, e.what)),
        Some((0, Problem::Chain.to_string()))
    );
    // With a guessed key: refused.
    let dir = log("forged-guess", 2, 3);
    rewrite_record(&dir, 1, &forged, Some(&ChainKey::from_secret(&[1u8; 32])));
    assert!(verify(&dir).is_err());
    // The same rewrite in an unkeyed log verified: the weakness the key removes.
    let dir = log_with("forged-plain", 2, 3, None);
    rewrite_record(&dir, 1, &forged, None);
    let seg1 = segment_bytes(&dir, 1);
    let last = read_segment(&dir.join(segment_name(0)), None)
        .map(|s| s.last_hash())
        .unwrap_or_default();
    let mut fixed = seg1[..HEADER_LEN].to_vec();
    fixed[24..56].copy_from_slice(&last);
    let seg = read_segment(&dir.join(segment_name(1)), None);
    let mut prev = last;
    for (_, _, p) in seg.map(|s| s.records).unwrap_or_default() {
        prev = frame(&mut fixed, None, &prev, &p);
    }
    let _ = std::fs::write(dir.join(segment_name(1)), fixed);
    assert!(super::verify(&dir, None).is_ok());
}

#[test]
fn a_keyed_log_needs_its_own_key_and_plain_segments_still_verify() {
    let dir = log("which-key", 1, 2);
    let no_key = super::verify(&dir, None).err().map(|e| e.what);
    assert!(no_key.is_some_and(|w| w.contains("--key-file")));
    let other = super::verify(&dir, Some(&ChainKey::from_secret(&[2u8; 32])));
    assert!(other
        .err()
        .is_some_and(|e| e.what.contains("another audit key")));
    let plain = log_with("plain", 2, 2, None);
    assert_eq!(super::verify(&plain, None).map(|s| s.records), Ok(4));
    assert_eq!(
        super::verify(&plain, Some(&key())).map(|s| s.records),
        Ok(4)
    );
    // A plain log continued by a keyed writer: both halves check.
    let seg0 = read_segment(&plain.join(segment_name(1)), None).map(|s| s.last_hash());
    let prev = seg0.unwrap_or_default();
    let mut next = header(2, 0, &prev, Some(&key())).to_vec();
    frame(&mut next, Some(&key()), &prev, &record("keyed"));
    let _ = std::fs::write(plain.join(segment_name(2)), next);
    assert_eq!(verify(&plain).map(|s| s.records), Ok(5));
}

/// An anchor after every record of `dir`, as the control plane collects them.
fn anchors_of(dir: &Path) -> Vec<Anchor> {
    let mut out = Vec::new();
    for (index, path) in segments(dir).unwrap_or_default() {
        let seg = read_segment(&path, Some(&key()));
        let Ok(seg) = seg else { panic!("{seg:?}") };
        for (at, hash, p) in &seg.records {
            out.push(Anchor {
                segment: index,
                offset: at + (FRAME_OVERHEAD + p.len()) as u64,
                hash: hex(hash),
            });
        }
    }
    out
}

#[test]
fn anchors_prove_a_cut_off_end_and_a_rewrite_by_a_key_holder() {
    let dir = log("anchored", 3, 3);
    let anchors = anchors_of(&dir);
    assert_eq!(verify_anchors(&dir, Some(&key()), &anchors), Ok(9));
    // The last record cut off (a whole-record cut verifies as a shorter log).
    let b = segment_bytes(&dir, 2);
    let seg = read_segment(&dir.join(segment_name(2)), Some(&key()));
    let last_at = seg.map(|s| s.records[2].0).unwrap_or_default() as usize;
    let _ = std::fs::write(dir.join(segment_name(2)), &b[..last_at]);
    assert!(verify(&dir).is_ok(), "without anchors the cut is invisible");
    let cut = verify_anchors(&dir, Some(&key()), &anchors).err();
    assert!(cut.is_some_and(|e| e.segment == 2 && e.what.starts_with("truncated")));
    // The whole last segment removed.
    let _ = std::fs::remove_file(dir.join(segment_name(2)));
    assert!(verify(&dir).is_ok());
    let gone = verify_anchors(&dir, Some(&key()), &anchors).err();
    assert!(
        gone.as_ref()
            .is_some_and(|e| e.what.starts_with("truncated")),
        "{gone:?}"
    );
    // A rewrite by someone who holds the key passes `verify`, not the anchors.
    let dir = log("anchored-rewrite", 1, 3);
    let anchors = anchors_of(&dir);
    rewrite_record(&dir, 1, &record("req_0_1"), Some(&key()));
    assert_eq!(
        verify_anchors(&dir, Some(&key()), &anchors),
        Ok(3),
        "same bytes"
    );
    rewrite_record(&dir, 1, &record("req_X_1"), Some(&key()));
    assert!(verify(&dir).is_ok());
    let rewritten = verify_anchors(&dir, Some(&key()), &anchors).err();
    assert!(rewritten.is_some_and(|e| e.what.starts_with("rewritten")));
}
