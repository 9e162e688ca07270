//! The audit log's record schema and on-disk format, shared by the writer (data plane), the
//! `audit verify/export/tail` commands, and anything else that reads an audit directory.
//!
//! ```text
//! segment file  segment-<index, 20 digits>.wal
//!   header      64 B: "WDNAUDK1" | index u64 LE | created_us u64 LE | prev_hash [32] | key id [8]
//!   frames      len u32 LE | crc32c u32 LE of (hash ‖ payload) | hash [32] | payload (len B)
//! payload       a binary record ([`codec`]); segments written before it hold JSON records
//! hash_i = HMAC-SHA256(audit key, hash_{i-1} ‖ payload_i); the chain runs across segments: a
//! segment's first hash_{-1} is its header's prev_hash, which is the previous segment's last hash.
//! ```
//!
//! The chain is keyed ([`ChainKey`], from the data plane's audit key file): someone who can
//! write the directory but not read the key cannot rewrite records and fix the chain up after
//! them. The key id in the header names the key without revealing it. Segments written before
//! keyed chains (magic "WDNAUDT1", 8 zero bytes where the key id is) chain with plain SHA-256
//! and still verify. What the key cannot show — a log cut short after its last anchor, or one
//! rewritten by someone holding the key — the control plane's anchors can (usage batches carry
//! the chain hash at both ends; see `verify_anchors`).
//!
//! Records never hold a key: Warden keys appear as their id, provider keys as id and
//! fingerprint. Guardrail verdicts carry counts, never the matched text.

mod chain_key;
pub mod codec;
mod compress;
mod verify;

pub use chain_key::ChainKey;
pub use compress::{compress_segment, compressed_path, is_compressed, segment_bytes};
pub use verify::{hex, verify, verify_anchors, Anchor, Break, Summary};

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Segments chained with plain SHA-256 (written before keyed chains).
pub const MAGIC: &[u8; 8] = b"WDNAUDT1";
/// Segments chained with HMAC-SHA256 under an audit key.
pub const MAGIC_KEYED: &[u8; 8] = b"WDNAUDK1";
pub const HEADER_LEN: usize = 64;
/// len + crc + hash.
pub const FRAME_OVERHEAD: usize = 4 + 4 + 32;
/// A payload larger than this is corruption, not a record.
pub const MAX_PAYLOAD: usize = 1 << 20;
/// The most a segment may hold (the writer rotates far below this).
pub const MAX_SEGMENT: u64 = 1 << 32;

/// One audit record. `kind` says which fields are present.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub kind: Kind,
    /// Unix microseconds when this record was made.
    pub at_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// When the request's head arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The Warden API key's id, never the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// openai | anthropic | gemini: the API the client spoke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_model: Option<String>,
    /// byok | pooled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_key_fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error code when the request failed (low-cardinality, as in metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The provider reported no usage: `usage` is Warden's estimate from the bytes (request
    /// body / 4 in, answer / 4 out), metered all the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_estimated: Option<bool>,
    /// The answer came from Warden's cache, not the provider: `exact` (or `semantic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<Verdict>,
    /// The injection model's highest score over the request's scored texts, in thousandths
    /// (present when the project's `injection` guardrail is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injection_score: Option<u16>,
    /// Time spent in Warden (total minus provider time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_us: Option<u64>,
    /// `recovery`: bytes of a torn tail cut off at start. `outage`: records that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// `retention`: every segment up to this index was deleted by retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_through: Option<u64>,
    /// The shard whose ring carried the record, and the record's position in that ring: how
    /// recovery after a crash tells records already in the log from those still to copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Before forwarding: who asked for what.
    #[default]
    Request,
    /// The outcome, written before the response's last bytes go out.
    Response,
    /// On start: a torn tail was truncated (`count` bytes).
    Recovery,
    /// Writing failed and recovered; `count` records could not be written meanwhile.
    Outage,
    /// Retention deleted old segments (`deleted_through`).
    Retention,
}

/// One try of a request at a provider with one key (the fallbacks taken are the tries after the
/// first).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attempt {
    pub provider: String,
    pub key_id: String,
    pub key_source: String,
    /// ok | status | connect | timeout | closed | protocol
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
}

/// What one guardrail detector found in a request or its answer, and what was done.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verdict {
    pub category: String,
    pub detector: String,
    pub action: String,
    pub count: u32,
}

/// The segment file name for an index.
pub fn segment_name(index: u64) -> String {
    format!("segment-{index:020}.wal")
}

/// Segment files in `dir`, sorted by index: `segment-N.wal`, or `segment-N.wal.zst` once a
/// closed segment is compressed (the plain file wins while both exist, mid-compression).
pub fn segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out: Vec<(u64, bool, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix("segment-") else {
            continue;
        };
        let (number, compressed) = match rest.strip_suffix(".wal.zst") {
            Some(n) => (n, true),
            None => match rest.strip_suffix(".wal") {
                Some(n) => (n, false),
                None => continue,
            },
        };
        if let Ok(index) = number.parse() {
            out.push((index, compressed, entry.path()));
        }
    }
    out.sort();
    out.dedup_by_key(|(index, _, _)| *index);
    Ok(out.into_iter().map(|(i, _, p)| (i, p)).collect())
}

/// A segment header; keyed (magic and key id) when `key` is given.
pub fn header(
    index: u64,
    created_us: u64,
    prev_hash: &[u8; 32],
    key: Option<&ChainKey>,
) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(key.map_or(MAGIC, |_| MAGIC_KEYED));
    h[8..16].copy_from_slice(&index.to_le_bytes());
    h[16..24].copy_from_slice(&created_us.to_le_bytes());
    h[24..56].copy_from_slice(prev_hash);
    if let Some(k) = key {
        h[56..64].copy_from_slice(&k.id());
    }
    h
}

/// The next chain hash: HMAC-SHA256 under `key`, or SHA-256 for unkeyed segments.
pub fn chain(key: Option<&ChainKey>, prev: &[u8; 32], payload: &[u8]) -> [u8; 32] {
    match key {
        Some(k) => k.mac(&[prev, payload]),
        None => {
            let mut h = Sha256::new();
            h.update(prev);
            h.update(payload);
            h.finalize().into()
        }
    }
}

/// Append a framed record to `out`; returns the new chain hash.
pub fn frame(
    out: &mut Vec<u8>,
    key: Option<&ChainKey>,
    prev: &[u8; 32],
    payload: &[u8],
) -> [u8; 32] {
    let hash = chain(key, prev, payload);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&hash), payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&hash);
    out.extend_from_slice(payload);
    hash
}

/// A whole segment file, parsed.
#[derive(Debug)]
pub struct Segment {
    pub index: u64,
    pub created_us: u64,
    pub prev_hash: [u8; 32],
    /// (offset of the frame, chain hash, payload), in order.
    pub records: Vec<(u64, [u8; 32], Vec<u8>)>,
    /// Where the valid frames end.
    pub valid_len: u64,
    pub file_len: u64,
    /// Why reading stopped before the end of the file, if it did.
    pub problem: Option<Problem>,
    /// The key id of a keyed segment (`None`: plain SHA-256 chain).
    pub key_id: Option<[u8; 8]>,
    /// False when the segment is keyed and no key was given: frames were checked against their
    /// CRCs only, not the chain.
    pub chain_checked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file ends inside a frame: what a crash mid-write leaves.
    TornTail,
    BadHeader,
    /// A frame's checksum does not match: the bytes were changed.
    Checksum,
    /// A frame's hash does not follow from the previous one: a record was removed, inserted or
    /// reordered, or a hash rewritten.
    Chain,
    BadLength,
    /// The segment was chained under another audit key than the one given.
    OtherKey,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Problem::TornTail => "the file ends inside a record (torn tail)",
            Problem::BadHeader => "the segment header is not valid",
            Problem::Checksum => "a record's CRC32C does not match its bytes",
            Problem::Chain => "a record's hash does not follow from the record before it",
            Problem::BadLength => "a record length is impossible",
            Problem::OtherKey => "the segment was chained under another audit key",
        })
    }
}

/// Read and check one segment file (compressed or not). Reading stops at the first problem.
/// A keyed segment's chain is checked only with its `key`.
pub fn read_segment(path: &Path, key: Option<&ChainKey>) -> std::io::Result<Segment> {
    Ok(parse_segment(&segment_bytes(path)?, key))
}

pub fn parse_segment(bytes: &[u8], key: Option<&ChainKey>) -> Segment {
    let mut seg = Segment {
        index: 0,
        created_us: 0,
        prev_hash: [0; 32],
        records: Vec::new(),
        valid_len: 0,
        file_len: bytes.len() as u64,
        problem: None,
        key_id: None,
        chain_checked: true,
    };
    if bytes.len() < HEADER_LEN {
        seg.problem = Some(Problem::TornTail);
        return seg;
    }
    // The key the chain is checked with: `None` for plain segments; for keyed ones the given
    // key if it is the segment's, else no check (no key) or a refusal (another key).
    let chain_key = match &bytes[..8] {
        m if m == MAGIC => None,
        m if m == MAGIC_KEYED => {
            let mut id = [0u8; 8];
            id.copy_from_slice(&bytes[56..64]);
            seg.key_id = Some(id);
            match key {
                Some(k) if k.id() == id => Some(k),
                Some(_) => {
                    seg.problem = Some(Problem::OtherKey);
                    return seg;
                }
                None => {
                    seg.chain_checked = false;
                    None
                }
            }
        }
        _ => {
            seg.problem = Some(Problem::BadHeader);
            return seg;
        }
    };
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[i..i + 8]);
        u64::from_le_bytes(b)
    };
    seg.index = u64_at(8);
    seg.created_us = u64_at(16);
    seg.prev_hash.copy_from_slice(&bytes[24..56]);
    let mut prev = seg.prev_hash;
    let mut at = HEADER_LEN;
    seg.valid_len = at as u64;
    while at < bytes.len() {
        if bytes.len() - at < FRAME_OVERHEAD {
            seg.problem = Some(Problem::TornTail);
            break;
        }
        let len =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        if len > MAX_PAYLOAD {
            seg.problem = Some(Problem::BadLength);
            break;
        }
        if bytes.len() - at - FRAME_OVERHEAD < len {
            seg.problem = Some(Problem::TornTail);
            break;
        }
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes[at + 8..at + 40]);
        let payload = &bytes[at + 40..at + 40 + len];
        if crc32c::crc32c_append(crc32c::crc32c(&hash), payload) != crc {
            seg.problem = Some(Problem::Checksum);
            break;
        }
        if seg.chain_checked && chain(chain_key, &prev, payload) != hash {
            seg.problem = Some(Problem::Chain);
            break;
        }
        seg.records.push((at as u64, hash, payload.to_vec()));
        prev = hash;
        at += FRAME_OVERHEAD + len;
        seg.valid_len = at as u64;
    }
    seg
}

/// A frame's offset in its segment file, its chain hash, and its payload.
pub type Frame = (u64, [u8; 32], Vec<u8>);

/// The records of a segment file from byte `offset` on (0: from the start, header skipped),
/// each checked against its CRC, stopping at a torn or damaged tail: (frame offset, payload)
/// pairs and where the valid frames end. For readers that follow a log as it grows (usage
/// metering); [`verify`] checks the hash chain.
/// Offsets are into the segment's plain bytes, compressed or not.
pub fn read_frames_from(path: &Path, offset: u64) -> std::io::Result<(Vec<Frame>, u64)> {
    use std::io::{Seek, SeekFrom};
    let start = offset.max(HEADER_LEN as u64);
    let bytes = if is_compressed(path) {
        let all = segment_bytes(path)?;
        all.get(start as usize..).unwrap_or_default().to_vec()
    } else {
        let mut f = std::fs::File::open(path)?;
        f.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        bytes
    };
    let mut out = Vec::new();
    let mut at = 0usize;
    while bytes.len() - at >= FRAME_OVERHEAD {
        let len =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        if len > MAX_PAYLOAD || bytes.len() - at - FRAME_OVERHEAD < len {
            break;
        }
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let payload = &bytes[at + 40..at + 40 + len];
        if crc32c::crc32c_append(crc32c::crc32c(&bytes[at + 8..at + 40]), payload) != crc {
            break;
        }
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes[at + 8..at + 40]);
        out.push((start + at as u64, hash, payload.to_vec()));
        at += FRAME_OVERHEAD + len;
    }
    Ok((out, start + at as u64))
}

impl Segment {
    /// The chain hash after this segment's last valid record.
    pub fn last_hash(&self) -> [u8; 32] {
        self.records.last().map_or(self.prev_hash, |(_, h, _)| *h)
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
