//! Audit segment files as `audit verify`, `export`, usage shipping and recovery read them: any
//! bytes, with the audit key or without, give a segment whose valid frames lie inside the file,
//! and every record decodes or is refused — never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warden_shared::audit::{parse_segment, ChainKey, Record, FRAME_OVERHEAD};

fn key() -> &'static ChainKey {
    static KEY: OnceLock<ChainKey> = OnceLock::new();
    KEY.get_or_init(|| ChainKey::from_secret(&[7u8; 32]))
}

fuzz_target!(|data: &[u8]| {
    for k in [None, Some(key())] {
        let segment = parse_segment(data, k);
        assert!(segment.valid_len <= data.len() as u64);
        for (offset, _, payload) in &segment.records {
            assert!(offset + (FRAME_OVERHEAD + payload.len()) as u64 <= segment.valid_len);
            let _ = Record::decode(payload);
        }
    }
    let _ = Record::decode(data);
});
