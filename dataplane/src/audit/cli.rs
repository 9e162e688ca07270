//! `warden-dataplane audit verify|export|tail DIR`: what an auditor runs against an audit
//! directory. `verify` checks every CRC and the whole keyed hash chain and names the first
//! break, and with `--anchors` (the control plane's `GET /admin/v1/dataplanes/{id}/anchors`)
//! proves a log cut short or rewritten since; `export` prints records as JSON lines
//! (optionally by time and project), stopping with an error at a break; `tail` prints the
//! newest records and can follow new ones.
//!
//! The audit key comes from `--key-file`, else from `audit.key` beside the directory (where a
//! data plane with the default `state_dir/audit` keeps it).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use warden_shared::audit::{read_segment, segments, verify, verify_anchors, ChainKey, Record};

/// Run an `audit` subcommand; returns the process exit code.
pub fn run(args: &[String], out: &mut impl Write, err: &mut impl Write) -> u8 {
    crate::cli::run_tool(args, USAGE, out, err, |out, _| {
        match args.first().map(String::as_str) {
            Some("verify") => verify_cmd(&args[1..], out),
            Some("export") => export_cmd(&args[1..], out),
            Some("tail") => tail_cmd(&args[1..], out),
            _ => Err(USAGE.to_owned()),
        }
    })
}

const USAGE: &str = "usage: warden-dataplane audit verify DIR [--key-file FILE] [--anchors FILE]\n       warden-dataplane audit export DIR [--from TIME] [--to TIME] [--project ID]\n       warden-dataplane audit tail DIR [-n N] [--follow]\nTIME: RFC 3339 in UTC (2026-11-22T10:00:00Z) or Unix seconds";

/// The audit key: `--key-file`, else `audit.key` beside `dir` when there is one.
fn chain_key(dir: &Path, key_file: Option<&str>) -> Result<Option<ChainKey>, String> {
    if let Some(file) = key_file {
        return ChainKey::from_file(Path::new(file)).map(Some);
    }
    let beside = dir.parent().map(|p| p.join("audit.key"));
    match beside.filter(|p| p.exists()) {
        Some(p) => ChainKey::from_file(&p).map(Some),
        None => Ok(None),
    }
}

fn verify_cmd(args: &[String], out: &mut impl Write) -> Result<u8, String> {
    let (mut dir, mut key_file, mut anchors_file) = (None, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--key-file" => key_file = Some(it.next().ok_or(USAGE)?.as_str()),
            "--anchors" => anchors_file = Some(it.next().ok_or(USAGE)?.as_str()),
            _ if dir.is_none() && !a.starts_with('-') => dir = Some(Path::new(a.as_str())),
            _ => return Err(USAGE.to_owned()),
        }
    }
    let dir = dir.ok_or(USAGE)?;
    let key = chain_key(dir, key_file)?;
    let anchors: Vec<warden_shared::audit::Anchor> = match anchors_file {
        Some(f) => {
            let text = std::fs::read(f).map_err(|e| format!("reading {f}: {e}"))?;
            serde_json::from_slice(&text).map_err(|e| {
                format!("{f}: a JSON array of {{segment, offset, hash}} is expected: {e}")
            })?
        }
        None => Vec::new(),
    };
    let checked = verify(dir, key.as_ref())
        .and_then(|s| verify_anchors(dir, key.as_ref(), &anchors).map(|n| (s, n)));
    match checked {
        Ok((s, anchored)) => {
            let _ = writeln!(
                out,
                "intact: {} segments, {} records",
                s.segments, s.records
            );
            match &key {
                Some(k) => {
                    let _ = writeln!(out, "chain keyed under audit key {}", k.id_hex());
                }
                None => {
                    let _ = writeln!(out, "note: no audit key given: only unkeyed segments");
                }
            }
            if anchors_file.is_some() {
                let _ = writeln!(
                    out,
                    "anchors: {anchored} of {} hold ({} in segments retention deleted)",
                    anchors.len(),
                    anchors.len() - anchored
                );
            }
            if s.torn_tail {
                let _ = writeln!(
                    out,
                    "note: the last segment ends in a torn tail (a crash mid-write); the data plane cuts it off and records that on its next start"
                );
            }
            Ok(0)
        }
        Err(b) => {
            let _ = writeln!(
                out,
                "broken: segment {} at byte {}: {}",
                b.segment, b.offset, b.what
            );
            Ok(1)
        }
    }
}

struct Filter {
    from_us: u64,
    to_us: u64,
    project: Option<String>,
}

impl Filter {
    fn keeps(&self, r: &Record) -> bool {
        r.at_us >= self.from_us
            && r.at_us <= self.to_us
            && self
                .project
                .as_deref()
                .is_none_or(|p| r.project.as_deref() == Some(p))
    }
}

fn export_cmd(args: &[String], out: &mut impl Write) -> Result<u8, String> {
    let (dir, rest) = args.split_first().ok_or(USAGE)?;
    let mut filter = Filter {
        from_us: 0,
        to_us: u64::MAX,
        project: None,
    };
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(USAGE)?;
        match flag.as_str() {
            "--from" => filter.from_us = parse_time(value)?,
            "--to" => filter.to_us = parse_time(value)?,
            "--project" => filter.project = Some(value.clone()),
            _ => return Err(USAGE.to_owned()),
        }
    }
    for_each_record(Path::new(dir), &mut |record| {
        if filter.keeps(record) {
            let _ = out.write_all(&json_line(record));
        }
    })
}

fn tail_cmd(args: &[String], out: &mut impl Write) -> Result<u8, String> {
    let (dir, rest) = args.split_first().ok_or(USAGE)?;
    let (mut n, mut follow) = (10usize, false);
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "-n" => n = it.next().and_then(|v| v.parse().ok()).ok_or(USAGE)?,
            "--follow" | "-f" => follow = true,
            _ => return Err(USAGE.to_owned()),
        }
    }
    let dir = Path::new(dir);
    let mut all = Vec::new();
    let code = for_each_record(dir, &mut |r| all.push(json_line(r)))?;
    for p in &all[all.len().saturating_sub(n)..] {
        let _ = out.write_all(p);
    }
    let _ = out.flush();
    if !follow {
        return Ok(code);
    }
    let mut seen = all.len();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let mut now = Vec::new();
        for_each_record(dir, &mut |r| now.push(json_line(r)))?;
        for p in now.iter().skip(seen) {
            let _ = out.write_all(p);
        }
        let _ = out.flush();
        seen = seen.max(now.len());
    }
}

/// A record as one JSON line (the form `export` and `tail` print, whatever the stored form).
fn json_line(r: &Record) -> Vec<u8> {
    let mut line = serde_json::to_vec(r).unwrap_or_default();
    line.push(b'\n');
    line
}

/// Every record of every segment, in order. Stops at the first break (exit code 1 with a
/// message on stderr); a torn tail at the very end is not a break.
fn for_each_record(dir: &Path, f: &mut impl FnMut(&Record)) -> Result<u8, String> {
    let key = chain_key(dir, None)?;
    let files = segments(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let count = files.len();
    for (n, (index, path)) in files.iter().enumerate() {
        let seg =
            read_segment(path, key.as_ref()).map_err(|e| format!("{}: {e}", path.display()))?;
        for (_, _, payload) in &seg.records {
            let record = Record::decode(payload).map_err(|e| format!("segment {index}: {e}"))?;
            f(&record);
        }
        match seg.problem {
            None => {}
            Some(warden_shared::audit::Problem::TornTail) if n + 1 == count => {}
            Some(p) => {
                return Err(format!(
                    "broken: segment {index} at byte {}: {p}",
                    seg.valid_len
                ))
            }
        }
    }
    Ok(0)
}

/// Unix seconds, or RFC 3339 in UTC (`2026-11-22T10:00:00Z`, fractions allowed) → microseconds.
fn parse_time(v: &str) -> Result<u64, String> {
    if let Ok(secs) = v.parse::<u64>() {
        return Ok(secs * 1_000_000);
    }
    let bad = || format!("cannot read {v:?} as a time: use 2026-11-22T10:00:00Z or Unix seconds");
    let v = v
        .strip_suffix('Z')
        .or_else(|| v.strip_suffix("+00:00"))
        .ok_or_else(bad)?;
    let (date, time) = v.split_once('T').ok_or_else(bad)?;
    let num = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    let ([y, mo, da], [h, mi, s]) = (d.as_slice(), t.as_slice()) else {
        return Err(bad());
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let days = warden_shared::date::days_from_civil(num(y)?, num(mo)?, num(da)?);
    let secs = days * 86_400 + num(h)? * 3600 + num(mi)? * 60 + num(whole)?;
    let micros: u64 = format!("{frac:0<6}")
        .get(..6)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    u64::try_from(secs)
        .map(|s| s * 1_000_000 + micros)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("0"), Ok(0));
        assert_eq!(parse_time("1970-01-02T00:00:00Z"), Ok(86_400_000_000));
        assert_eq!(
            parse_time("2026-11-22T10:00:00.5Z"),
            Ok(1_795_341_600_500_000)
        );
        assert!(parse_time("yesterday").is_err());
    }
}
