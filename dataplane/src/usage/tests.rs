use super::*;
use warden_shared::audit::{frame, header, Usage};

fn record(at_us: u64, project: &str, key_source: &str, input: u64, output: u64) -> Vec<u8> {
    let r = Record {
        kind: Kind::Response,
        at_us,
        tenant: Some("acme".into()),
        project: Some(project.into()),
        environment: Some("production".into()),
        provider: Some("openai".into()),
        upstream_model: Some("gpt-4o".into()),
        key_source: Some(key_source.into()),
        usage: Some(Usage {
            input_tokens: input,
            output_tokens: output,
            cached_tokens: 1,
            reasoning_tokens: 0,
        }),
        ..Record::default()
    };
    r.encode()
}

#[test]
fn records_are_summed_per_bucket_and_the_cursor_resumes_after_them() {
    let dir = std::env::temp_dir().join(format!("warden-usage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let day = 1_795_341_600_000_000;
    let mut seg = header(0, day, &[0; 32], None).to_vec();
    let mut hash = [0u8; 32];
    for (p, s, i, o) in [
        ("a", "byok", 10, 5),
        ("a", "byok", 20, 7),
        ("a", "pooled", 1, 1),
    ] {
        hash = frame(&mut seg, None, &hash, &record(day, p, s, i, o));
    }
    let path = dir.join(format!("segment-{:020}.wal", 0));
    std::fs::write(&path, &seg).unwrap_or_else(|e| panic!("{e}"));
    let Batch {
        rows,
        requests,
        to,
        from_hash,
        to_hash,
        to_frame_at,
        ..
    } = collect(&dir, Cursor::default(), 0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_hash, Some([0; 32]), "the first segment's prev_hash");
    assert_eq!(to_hash, Some(hash));
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2].key_source, "pooled");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[0].key_source.as_str(),
            rows[0].requests,
            rows[0].input_tokens,
            rows[0].output_tokens
        ),
        ("byok", 2, 30, 12)
    );
    assert_eq!(rows[0].day, "2026-11-22");
    assert_eq!(to.offset, seg.len() as u64);
    // A torn record being written is not read; once whole, it is, from the cursor.
    let whole = {
        let mut more = Vec::new();
        frame(&mut more, None, &hash, &record(day, "b", "byok", 3, 3));
        more
    };
    let mut torn = seg.clone();
    torn.extend_from_slice(&whole[..whole.len() - 2]);
    std::fs::write(&path, &torn).unwrap_or_else(|e| panic!("{e}"));
    let Batch {
        rows,
        to: again,
        from_hash: again_hash,
        ..
    } = collect(&dir, to, to_frame_at).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        again_hash,
        Some(hash),
        "read from the record before the cursor"
    );
    assert!(rows.is_empty() && again == to);
    seg.extend_from_slice(&whole);
    std::fs::write(&path, &seg).unwrap_or_else(|e| panic!("{e}"));
    let Batch { rows, to: end, .. } =
        collect(&dir, to, to_frame_at).unwrap_or_else(|e| panic!("{e}"));
    // A cursor no record ends at any more (the log was cut or rewritten): no hash.
    let past = Cursor {
        segment: 0,
        offset: to.offset + 1,
    };
    assert_eq!(collect(&dir, past, 0).map(|b| b.from_hash).ok(), Some(None));
    assert_eq!(
        collect(&dir, to, 0).map(|b| b.from_hash).ok(),
        Some(Some(hash)),
        "without the hint, the segment is read whole"
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].project, "b");
    assert_eq!(end.offset, seg.len() as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_resume_point_is_believed_only_inside_the_batch() {
    let c = |segment, offset| Cursor { segment, offset };
    let reply = |s: u64, o: u64| {
        format!(r#"{{"applied":false,"resume_from":{{"segment":{s},"offset":{o}}}}}"#).into_bytes()
    };
    assert_eq!(
        resume_from(&reply(1, 500), c(1, 0), c(2, 80)),
        Some(c(1, 500))
    );
    // Not past where the batch starts, not at or past where it ends, not garbage.
    assert_eq!(resume_from(&reply(1, 0), c(1, 0), c(2, 80)), None);
    assert_eq!(resume_from(&reply(2, 80), c(1, 0), c(2, 80)), None);
    assert_eq!(resume_from(&reply(9, 0), c(1, 0), c(2, 80)), None);
    assert_eq!(
        resume_from(br#"{"applied":false}"#, c(1, 0), c(2, 80)),
        None
    );
    assert_eq!(resume_from(b"<html>", c(1, 0), c(2, 80)), None);
}
