//! Usage metering: token usage travels from the audit log to the control plane in batches, so
//! no request waits on a network hop and nothing is lost across a restart.
//!
//! Every answered request's `response` record already carries its provider, upstream model,
//! key source and token usage, and the audit log is durable before the client sees the end of
//! the answer. A shipper thread follows the log from a cursor (segment, byte offset) kept in
//! `state_dir/usage-cursor`: every `interval` it reads the records written since, sums them per
//! (day, tenant, project, environment, provider, model, key source), and posts the rows with the
//! cursor range to `POST /dataplane/v1/usage`. The control plane applies a batch and moves its own
//! copy of the cursor in one transaction, so a batch sent twice (the data plane restarted before
//! it saved the acknowledgement) is counted once. The cursor is saved only after the control
//! plane acknowledged; the audit writer keeps segments the shipper still needs (`needed`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use warden_shared::audit::{
    hex, read_frames_from, segments, Kind, Record, FRAME_OVERHEAD, HEADER_LEN,
};

/// The most records one batch carries.
const BATCH_RECORDS: usize = 20_000;

/// Where shipping has got to: the next byte to read, in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Cursor {
    pub segment: u64,
    pub offset: u64,
}

/// One row of summed usage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Row {
    pub day: String,
    pub tenant: String,
    pub project: String,
    pub environment: String,
    pub provider: String,
    pub model: String,
    pub key_source: String,
    /// '' answered by a provider; `exact` or `semantic` from the cache.
    pub cache: String,
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
}

/// One answered request, for the control plane's per-request view: who, which key source and
/// key, every attempt, the usage — never a key or any text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRow {
    pub request_id: String,
    pub at_us: u64,
    pub tenant: String,
    pub project: String,
    pub status: u16,
    pub provider: String,
    pub model: String,
    pub key_source: String,
    pub cache: String,
    /// The Warden key's id ('' when the record has none).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_key: String,
    /// From the head's arrival to the answer's commit: Warden's time plus the provider's.
    #[serde(skip_serializing_if = "is_zero")]
    pub latency_us: u64,
    /// From the head's arrival to the first byte sent back (streams).
    #[serde(skip_serializing_if = "is_zero")]
    pub first_byte_us: u64,
    /// The error code of a failed request (as in metrics).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// The guardrails' verdicts, request and response side.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<warden_shared::audit::Verdict>,
    pub attempts: Vec<warden_shared::audit::Attempt>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
}

/// What one batch carries: summed rows, each request, the cursor after the last record, and
/// the audit chain at both ends (the control plane's anchors).
pub struct Batch {
    pub rows: Vec<Row>,
    pub requests: Vec<RequestRow>,
    pub to: Cursor,
    /// The chain hash at `from`, read from the log; `None` when the log no longer holds it.
    pub from_hash: Option<[u8; 32]>,
    /// The chain hash at `to` (`from_hash` when nothing was read).
    pub to_hash: Option<[u8; 32]>,
    /// Where the last record read starts (0: none), saved with the cursor so the next batch
    /// reads `from_hash` without reading the whole segment.
    pub to_frame_at: u64,
    /// The batch reaches the end of the log.
    pub at_end: bool,
}

/// The records after `from` (at most [`BATCH_RECORDS`]), summed into rows and listed per
/// request, the cursor after the last record read, and the chain hashes at both ends.
/// `frame_at` is where the record ending at `from` starts, when known.
pub fn collect(audit_dir: &Path, from: Cursor, frame_at: u64) -> std::io::Result<Batch> {
    let mut sums: BTreeMap<[String; 8], [u64; 4]> = BTreeMap::new();
    let mut requests = Vec::new();
    let mut to = from;
    let mut records = 0usize;
    let mut list = segments(audit_dir)?;
    list.sort_unstable_by_key(|(i, _)| *i);
    let mut from_hash = None;
    let mut last: Option<(u64, [u8; 32])> = None;
    let header_end = HEADER_LEN as u64;
    for (index, path) in list.into_iter().filter(|(i, _)| *i >= from.segment) {
        let mut start = 0;
        if index == from.segment {
            start = from.offset;
            if from.offset <= header_end {
                from_hash = prev_hash(&path);
            } else if (header_end..from.offset).contains(&frame_at) {
                // Read the record that ends at `from` too, for its hash.
                start = frame_at;
            }
        }
        let (frames, end) = read_frames_from(&path, start)?;
        for (at, hash, payload) in frames {
            let end_of = at + (FRAME_OVERHEAD + payload.len()) as u64;
            if index == from.segment && at < from.offset {
                if end_of == from.offset {
                    from_hash = Some(hash);
                }
                continue;
            }
            last = Some((at, hash));
            let Ok(r) = Record::decode(&payload) else {
                continue;
            };
            add(&mut sums, &r);
            requests.extend(request_row(&r));
            records += 1;
            if records >= BATCH_RECORDS {
                // Resume right after this record.
                to = Cursor {
                    segment: index,
                    offset: end_of,
                };
                return Ok(Batch {
                    rows: rows(sums),
                    requests,
                    to,
                    from_hash: from_hash.or_else(|| hash_at(audit_dir, from)),
                    to_hash: Some(hash),
                    to_frame_at: at,
                    at_end: false,
                });
            }
        }
        // A segment now shorter than the cursor (cut after it was shipped) never moves it back.
        to = to.max(Cursor {
            segment: index,
            offset: end,
        });
    }
    let from_hash = from_hash.or_else(|| hash_at(audit_dir, from));
    Ok(Batch {
        rows: rows(sums),
        requests,
        to,
        from_hash,
        to_hash: last.map(|(_, h)| h).or(from_hash),
        to_frame_at: last.map_or(0, |(at, _)| at),
        at_end: true,
    })
}

/// A segment header's `prev_hash`: the chain hash before its first record.
fn prev_hash(path: &Path) -> Option<[u8; 32]> {
    let bytes = warden_shared::audit::segment_bytes(path).ok()?;
    let header = bytes.get(24..56)?;
    header.try_into().ok()
}

/// The chain hash at `c` by reading its whole segment (when the record ending there was not
/// where the saved cursor said): `None` when no record ends there any more.
fn hash_at(audit_dir: &Path, c: Cursor) -> Option<[u8; 32]> {
    let path = audit_dir.join(warden_shared::audit::segment_name(c.segment));
    let path = if path.exists() {
        path
    } else {
        warden_shared::audit::compressed_path(&path)
    };
    if c.offset <= HEADER_LEN as u64 {
        return prev_hash(&path);
    }
    let seg = warden_shared::audit::read_segment(&path, None).ok()?;
    seg.records
        .iter()
        .find(|(at, _, p)| at + (FRAME_OVERHEAD + p.len()) as u64 == c.offset)
        .map(|(_, h, _)| *h)
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn request_row(r: &Record) -> Option<RequestRow> {
    let (Kind::Response, Some(provider)) = (r.kind, &r.provider) else {
        return None;
    };
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let u = r.usage.unwrap_or_default();
    Some(RequestRow {
        request_id: s(&r.request_id),
        at_us: r.at_us,
        tenant: s(&r.tenant),
        project: s(&r.project),
        status: r.status.unwrap_or(0),
        provider: provider.clone(),
        model: s(&r.upstream_model),
        key_source: r.key_source.clone().unwrap_or_else(|| "byok".into()),
        cache: s(&r.cache),
        api_key: s(&r.api_key_id),
        latency_us: r
            .overhead_us
            .unwrap_or(0)
            .saturating_add(r.upstream_us.unwrap_or(0)),
        first_byte_us: match (r.received_us, r.first_byte_us) {
            (Some(start), Some(first)) => first.saturating_sub(start),
            _ => 0,
        },
        error: s(&r.error),
        verdicts: r.verdicts.clone(),
        attempts: r.attempts.clone(),
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cached_tokens: u.cached_tokens,
    })
}

fn add(sums: &mut BTreeMap<[String; 8], [u64; 4]>, r: &Record) {
    let (Kind::Response, Some(provider)) = (r.kind, &r.provider) else {
        return;
    };
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let key = [
        warden_shared::date::day_of_us(r.at_us),
        s(&r.tenant),
        s(&r.project),
        s(&r.environment),
        provider.clone(),
        s(&r.upstream_model),
        r.key_source.clone().unwrap_or_else(|| "byok".into()),
        s(&r.cache),
    ];
    let u = r.usage.unwrap_or_default();
    let e = sums.entry(key).or_default();
    e[0] += 1;
    e[1] += u.input_tokens;
    e[2] += u.output_tokens;
    e[3] += u.cached_tokens;
}

fn rows(sums: BTreeMap<[String; 8], [u64; 4]>) -> Vec<Row> {
    sums.into_iter()
        .map(
            |([day, tenant, project, environment, provider, model, key_source, cache], n)| Row {
                day,
                tenant,
                project,
                environment,
                provider,
                model,
                key_source,
                cache,
                requests: n[0],
                input_tokens: n[1],
                output_tokens: n[2],
                cached_tokens: n[3],
            },
        )
        .collect()
}

/// The saved cursor and where the record before it starts (`segment offset frame_at`; files
/// written before anchors lack the third field), or the start of the oldest segment.
pub fn load_cursor(state_dir: &Path, audit_dir: &Path) -> (Cursor, u64, bool) {
    let saved = std::fs::read_to_string(cursor_path(state_dir))
        .ok()
        .and_then(|t| {
            let mut fields = t.split_whitespace();
            let cursor = Cursor {
                segment: fields.next()?.parse().ok()?,
                offset: fields.next()?.parse().ok()?,
            };
            let frame_at = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
            Some((cursor, frame_at))
        });
    match saved {
        Some((cursor, frame_at)) => (cursor, frame_at, true),
        None => {
            let oldest = segments(audit_dir)
                .ok()
                .and_then(|l| l.iter().map(|(i, _)| *i).min())
                .unwrap_or(0);
            let start = Cursor {
                segment: oldest,
                offset: 0,
            };
            (start, 0, false)
        }
    }
}

/// Where a control plane that refused a batch (409) says to resume: its cursor, when it lies
/// inside the batch (`from` < it < `to`); anything else is not believed.
fn resume_from(reply: &[u8], from: Cursor, to: Cursor) -> Option<Cursor> {
    let v: serde_json::Value = serde_json::from_slice(reply).ok()?;
    let c = &v["resume_from"];
    let held = Cursor {
        segment: c["segment"].as_u64()?,
        offset: c["offset"].as_u64()?,
    };
    (from < held && held < to).then_some(held)
}

fn cursor_path(state_dir: &Path) -> PathBuf {
    state_dir.join("usage-cursor")
}

/// Ship usage every `interval` while the process runs, to one control plane of the cluster,
/// moving to the next when it does not take a batch (any of them applies a batch once: the
/// store checks the cursor). `needed` tells the audit writer the oldest segment not yet shipped.
pub fn spawn_shipper(
    audit_dir: PathBuf,
    state_dir: PathBuf,
    control_planes: Vec<String>,
    control: Arc<crate::control::Control>,
    dataplane: String,
    interval: Duration,
    needed: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let urls: Vec<String> = control_planes
        .iter()
        .map(|cp| format!("{}/dataplane/v1/usage", cp.trim_end_matches('/')))
        .collect();
    if urls.is_empty() {
        return Err(std::io::Error::other("no control plane to ship usage to"));
    }
    let mut at = 0;
    std::thread::Builder::new()
        .name("warden-usage".into())
        .spawn(move || {
            let (mut cursor, mut frame_at, mut shipped) = load_cursor(&state_dir, &audit_dir);
            needed.store(cursor.segment, Relaxed);
            loop {
                // Usage goes with this data plane's own credential: none until it has enrolled.
                let Some(credential) = control.credential_for(&dataplane) else {
                    std::thread::sleep(interval);
                    continue;
                };
                match collect(&audit_dir, cursor, frame_at) {
                    // New records, or a log that no longer holds what was shipped (the control
                    // plane raises the alert).
                    Ok(b) if b.to != cursor || (shipped && b.from_hash.is_none()) => {
                        let to = b.to;
                        let body = serde_json::json!({
                            "dataplane": dataplane, "from": cursor, "to": to, "rows": b.rows,
                            "requests": b.requests,
                            "anchor": {
                                "from_hash": b.from_hash.map(|h| hex(&h)),
                                "to_hash": hex(&b.to_hash.unwrap_or_default()),
                                "at_end": b.at_end,
                            },
                        })
                        .to_string();
                        let url = &urls[at % urls.len()];
                        match crate::control::post_json_reply(url, &credential, &body) {
                            Ok((409, reply)) => match resume_from(&reply, cursor, to) {
                                // The control plane holds more than this data plane knows (it
                                // never heard the answer to its last batch): on from there.
                                Some(held) => {
                                    (cursor, frame_at, shipped) = (held, 0, true);
                                    needed.store(cursor.segment, Relaxed);
                                    continue;
                                }
                                None => {
                                    at += 1;
                                    tracing::warn!("the control plane refused a usage batch")
                                }
                            },
                            Ok((200..=299, _)) if to == cursor => {}
                            Ok((200..=299, _)) => {
                                let text =
                                    format!("{} {} {}\n", to.segment, to.offset, b.to_frame_at);
                                match crate::control::write_atomically(
                                    &cursor_path(&state_dir),
                                    text.as_bytes(),
                                ) {
                                    Ok(()) => {
                                        (cursor, frame_at, shipped) = (to, b.to_frame_at, true);
                                        needed.store(cursor.segment, Relaxed);
                                        // More may be waiting: go again at once.
                                        continue;
                                    }
                                    Err(e) => tracing::warn!("saving the usage cursor: {e}"),
                                }
                            }
                            Ok((status, _)) => {
                                at += 1;
                                tracing::warn!(status, "the control plane refused a usage batch")
                            }
                            Err(e) => {
                                at += 1;
                                tracing::debug!("control plane unreachable: {e}")
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("reading the audit log for usage: {e}"),
                }
                std::thread::sleep(interval);
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests;
