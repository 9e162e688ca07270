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

/// Write `segments` segments of `per` records into a fresh directory.
fn log(name: &str, segments: u64, per: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    let mut prev = [0u8; 32];
    for s in 0..segments {
        let mut bytes = header(s, 0, &prev).to_vec();
        for i in 0..per {
            prev = frame(&mut bytes, &prev, &record(&format!("req_{s}_{i}")));
        }
        let _ = std::fs::write(dir.join(segment_name(s)), bytes);
    }
    dir
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
    let seg = read_segment(&dir.join(segment_name(0))).map_err(|e| e.to_string());
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
