//! Checking an audit directory: the whole chain ([`verify`]) and, against the anchors the
//! control plane kept from usage batches, that nothing anchored was cut off or rewritten
//! ([`verify_anchors`]) — what no key can show on its own.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{read_segment, segments, ChainKey, Kind, Problem, Record, HEADER_LEN};

/// The first break found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub segment: u64,
    pub offset: u64,
    pub what: String,
}

/// What [`verify`] found in an intact directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub segments: u64,
    pub records: u64,
    /// The last segment ends in a torn tail (a crash mid-write); the writer cuts it off and
    /// records that on its next start.
    pub torn_tail: bool,
}

/// Check every segment in `dir`: headers, CRCs, the hash chain within and across segments,
/// missing segments. Segments deleted by retention are accepted only when a `retention`
/// record in the log says so.
pub fn verify(dir: &Path, key: Option<&ChainKey>) -> Result<Summary, Break> {
    let files = segments(dir).map_err(|e| Break {
        segment: 0,
        offset: 0,
        what: format!("reading {}: {e}", dir.display()),
    })?;
    let mut summary = Summary::default();
    let mut prev: Option<(u64, [u8; 32])> = None;
    let mut retained_from = 0;
    let first = files.first().map_or(0, |(i, _)| *i);
    let count = files.len();
    for (n, (index, path)) in files.iter().enumerate() {
        let seg = read_segment(path, key).map_err(|e| Break {
            segment: *index,
            offset: 0,
            what: e.to_string(),
        })?;
        let brk = |offset: u64, what: String| Break {
            segment: *index,
            offset,
            what,
        };
        if seg.problem == Some(Problem::BadHeader) || seg.index != *index {
            return Err(brk(
                0,
                "the segment header is not valid or names another segment".into(),
            ));
        }
        if seg.problem == Some(Problem::OtherKey) {
            return Err(brk(
                0,
                "the segment was chained under another audit key than the one given".into(),
            ));
        }
        if !seg.chain_checked {
            return Err(brk(
                0,
                "the segment's chain is keyed: give the audit key (--key-file)".into(),
            ));
        }
        if let Some((prev_index, prev_hash)) = prev {
            if *index != prev_index + 1 {
                return Err(brk(
                    0,
                    format!("segments {}..{} are missing", prev_index + 1, index - 1),
                ));
            }
            if seg.prev_hash != prev_hash {
                return Err(brk(
                    0,
                    "the segment does not continue the previous segment's chain".into(),
                ));
            }
        }
        for (_, _, payload) in &seg.records {
            if let Ok(r) = Record::decode(payload) {
                if r.kind == Kind::Retention {
                    retained_from = retained_from.max(r.deleted_through.map_or(0, |d| d + 1));
                }
            }
        }
        match &seg.problem {
            None => {}
            Some(Problem::TornTail) if n + 1 == count => summary.torn_tail = true,
            Some(p) => return Err(brk(seg.valid_len, p.to_string())),
        }
        summary.segments += 1;
        summary.records += seg.records.len() as u64;
        prev = Some((*index, seg.last_hash()));
    }
    if first > retained_from {
        return Err(Break {
            segment: first,
            offset: 0,
            what: format!("segments {retained_from}..{} are missing", first - 1),
        });
    }
    Ok(summary)
}

/// A point of a data plane's chain that the control plane was told about in a usage batch: the
/// chain hash after the last record before byte `offset` of segment `segment` (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub segment: u64,
    pub offset: u64,
    pub hash: String,
}

/// Check that every anchored point is still in the log with the hash it had when it was
/// anchored: a log cut short, or rewritten even by someone holding the audit key, fails here.
/// Anchors in segments older than the oldest one present are skipped (retention deleted them;
/// [`verify`] checks that a retention record says so). Returns how many anchors were checked.
pub fn verify_anchors(
    dir: &Path,
    key: Option<&ChainKey>,
    anchors: &[Anchor],
) -> Result<usize, Break> {
    let files = segments(dir).map_err(|e| Break {
        segment: 0,
        offset: 0,
        what: format!("reading {}: {e}", dir.display()),
    })?;
    let first = files.first().map_or(u64::MAX, |(i, _)| *i);
    let last = files.last().map(|(i, _)| *i);
    let mut sorted: Vec<&Anchor> = anchors.iter().collect();
    sorted.sort_by_key(|a| (a.segment, a.offset));
    let mut parsed: Option<(u64, super::Segment)> = None;
    let mut checked = 0;
    for a in sorted {
        let brk = |what: String| Break {
            segment: a.segment,
            offset: a.offset,
            what,
        };
        if a.segment < first && last.is_some() {
            continue;
        }
        let Some(path) = files.iter().find(|(i, _)| *i == a.segment).map(|(_, p)| p) else {
            return Err(brk(match last {
                Some(l) if a.segment > l => format!(
                    "truncated: the log ends in segment {l}, but segment {} was anchored",
                    a.segment
                ),
                _ => format!("segment {} is missing", a.segment),
            }));
        };
        if parsed.as_ref().map(|(i, _)| *i) != Some(a.segment) {
            let seg = read_segment(path, key).map_err(|e| brk(e.to_string()))?;
            parsed = Some((a.segment, seg));
        }
        let Some((_, seg)) = parsed.as_ref() else {
            continue;
        };
        let at = if a.offset <= HEADER_LEN as u64 {
            Some(seg.prev_hash)
        } else {
            seg.records
                .iter()
                .find(|(start, _, payload)| {
                    start + (super::FRAME_OVERHEAD + payload.len()) as u64 == a.offset
                })
                .map(|(_, h, _)| *h)
        };
        let Some(hash) = at else {
            return Err(brk(if a.offset > seg.valid_len {
                format!(
                    "truncated: segment {} ends at byte {}, but byte {} was anchored",
                    a.segment, seg.valid_len, a.offset
                )
            } else {
                "rewritten: no record ends where the anchored one did".into()
            }));
        };
        if hex(&hash) != a.hash.to_ascii_lowercase() {
            return Err(brk(format!(
                "rewritten: the chain hash here is {}, the anchored one {}",
                hex(&hash),
                a.hash
            )));
        }
        checked += 1;
    }
    Ok(checked)
}

/// Lower-case hex, as anchors carry hashes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
