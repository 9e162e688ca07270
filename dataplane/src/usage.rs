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
use warden_shared::audit::{read_frames_from, segments, Kind, Record};
use zeroize::Zeroizing;

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
    pub attempts: Vec<warden_shared::audit::Attempt>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
}

/// What one batch carries: summed rows, each request, and the cursor after the last record.
pub struct Batch {
    pub rows: Vec<Row>,
    pub requests: Vec<RequestRow>,
    pub to: Cursor,
}

/// The records after `from` (at most [`BATCH_RECORDS`]), summed into rows and listed per
/// request, and the cursor after the last record read.
pub fn collect(audit_dir: &Path, from: Cursor) -> std::io::Result<Batch> {
    let mut sums: BTreeMap<[String; 7], [u64; 4]> = BTreeMap::new();
    let mut requests = Vec::new();
    let mut to = from;
    let mut records = 0usize;
    let mut list = segments(audit_dir)?;
    list.sort_unstable_by_key(|(i, _)| *i);
    for (index, path) in list.into_iter().filter(|(i, _)| *i >= from.segment) {
        let start = if index == from.segment {
            from.offset
        } else {
            0
        };
        let (frames, end) = read_frames_from(&path, start)?;
        for (at, payload) in frames {
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
                    offset: at + (warden_shared::audit::FRAME_OVERHEAD + payload.len()) as u64,
                };
                return Ok(Batch {
                    rows: rows(sums),
                    requests,
                    to,
                });
            }
        }
        to = Cursor {
            segment: index,
            offset: end,
        };
    }
    Ok(Batch {
        rows: rows(sums),
        requests,
        to,
    })
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
        attempts: r.attempts.clone(),
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cached_tokens: u.cached_tokens,
    })
}

fn add(sums: &mut BTreeMap<[String; 7], [u64; 4]>, r: &Record) {
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
    ];
    let u = r.usage.unwrap_or_default();
    let e = sums.entry(key).or_default();
    e[0] += 1;
    e[1] += u.input_tokens;
    e[2] += u.output_tokens;
    e[3] += u.cached_tokens;
}

fn rows(sums: BTreeMap<[String; 7], [u64; 4]>) -> Vec<Row> {
    sums.into_iter()
        .map(
            |([day, tenant, project, environment, provider, model, key_source], n)| Row {
                day,
                tenant,
                project,
                environment,
                provider,
                model,
                key_source,
                requests: n[0],
                input_tokens: n[1],
                output_tokens: n[2],
                cached_tokens: n[3],
            },
        )
        .collect()
}

/// The saved cursor, or the start of the oldest segment.
pub fn load_cursor(state_dir: &Path, audit_dir: &Path) -> Cursor {
    let saved = std::fs::read_to_string(cursor_path(state_dir))
        .ok()
        .and_then(|t| {
            let (s, o) = t.trim().split_once(' ')?;
            Some(Cursor {
                segment: s.parse().ok()?,
                offset: o.parse().ok()?,
            })
        });
    saved.unwrap_or_else(|| Cursor {
        segment: segments(audit_dir)
            .ok()
            .and_then(|l| l.iter().map(|(i, _)| *i).min())
            .unwrap_or(0),
        offset: 0,
    })
}

fn cursor_path(state_dir: &Path) -> PathBuf {
    state_dir.join("usage-cursor")
}

/// Ship usage every `interval` while the process runs. `needed` tells the audit writer the
/// oldest segment not yet shipped.
pub fn spawn_shipper(
    audit_dir: PathBuf,
    state_dir: PathBuf,
    control_plane: String,
    token: Zeroizing<String>,
    dataplane: String,
    interval: Duration,
    needed: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let url = format!("{}/dataplane/v1/usage", control_plane.trim_end_matches('/'));
    std::thread::Builder::new()
        .name("warden-usage".into())
        .spawn(move || {
            let mut cursor = load_cursor(&state_dir, &audit_dir);
            needed.store(cursor.segment, Relaxed);
            loop {
                match collect(&audit_dir, cursor) {
                    Ok(Batch { rows, requests, to }) if to != cursor => {
                        let body = serde_json::json!({
                            "dataplane": dataplane, "from": cursor, "to": to, "rows": rows,
                            "requests": requests,
                        })
                        .to_string();
                        match crate::control::post_json(&url, &token, &body) {
                            Ok(200..=299) => {
                                let text = format!("{} {}\n", to.segment, to.offset);
                                match crate::control::write_atomically(
                                    &cursor_path(&state_dir),
                                    text.as_bytes(),
                                ) {
                                    Ok(()) => {
                                        cursor = to;
                                        needed.store(cursor.segment, Relaxed);
                                        // More may be waiting: go again at once.
                                        continue;
                                    }
                                    Err(e) => tracing::warn!("saving the usage cursor: {e}"),
                                }
                            }
                            Ok(status) => {
                                tracing::warn!(status, "the control plane refused a usage batch")
                            }
                            Err(e) => tracing::debug!("control plane unreachable: {e}"),
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
mod tests {
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
        let mut seg = header(0, day, &[0; 32]).to_vec();
        let mut hash = [0u8; 32];
        for (p, s, i, o) in [
            ("a", "byok", 10, 5),
            ("a", "byok", 20, 7),
            ("a", "pooled", 1, 1),
        ] {
            hash = frame(&mut seg, &hash, &record(day, p, s, i, o));
        }
        let path = dir.join(format!("segment-{:020}.wal", 0));
        std::fs::write(&path, &seg).unwrap_or_else(|e| panic!("{e}"));
        let Batch { rows, requests, to } =
            collect(&dir, Cursor::default()).unwrap_or_else(|e| panic!("{e}"));
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
            frame(&mut more, &hash, &record(day, "b", "byok", 3, 3));
            more
        };
        let mut torn = seg.clone();
        torn.extend_from_slice(&whole[..whole.len() - 2]);
        std::fs::write(&path, &torn).unwrap_or_else(|e| panic!("{e}"));
        let Batch {
            rows, to: again, ..
        } = collect(&dir, to).unwrap_or_else(|e| panic!("{e}"));
        assert!(rows.is_empty() && again == to);
        seg.extend_from_slice(&whole);
        std::fs::write(&path, &seg).unwrap_or_else(|e| panic!("{e}"));
        let Batch { rows, to: end, .. } = collect(&dir, to).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].project, "b");
        assert_eq!(end.offset, seg.len() as u64);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
