//! The audit log on the data plane: what each shard records about each request, the per-shard
//! lock-free ring it goes through ([`ring`]), the drain thread that writes all rings into
//! hash-chained segment files ([`drain`], [`writer`]; format in `warden_shared::audit`), and
//! the `audit verify/export/tail` commands ([`cli`]).
//!
//! Position in the request path: a `request` record is queued before a request is forwarded;
//! a `response` record is committed — written to the segment file — before the response's last
//! bytes go out. That is the crash contract: a response the client saw complete has its record
//! in the file (kill -9 safe in `batch` mode; power-loss safe in `always` mode).
//!
//! Invariants: no record is dropped silently — a full ring or a failing disk turns into a 503
//! for the client and a counted rejection; no key is ever recorded (key ids and fingerprints
//! only).

pub mod cli;
pub mod drain;
pub mod ring;
pub mod writer;

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;
use warden_shared::audit::{Attempt, Kind, Record, Usage, Verdict};

/// `[audit]` in the data plane's config.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    pub enabled: bool,
    pub durability: Durability,
    /// `batch`: how often written records are fdatasync'ed.
    pub group_commit_ms: u64,
    pub segment_max_bytes: u64,
    pub segment_max_age_s: u64,
    /// Delete the oldest segments beyond this many bytes in all (0: keep everything).
    pub retention_max_bytes: u64,
    /// Delete segments older than this (0: keep everything).
    pub retention_max_age_s: u64,
    /// Records each shard's ring holds.
    pub ring_capacity: usize,
    /// How long a shard waits for room in a full ring before answering 503.
    pub full_wait_us: u64,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Written before the response ends; fdatasync every `group_commit_ms`.
    Batch,
    /// fdatasync before the response ends.
    Always,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            enabled: true,
            durability: Durability::Batch,
            group_commit_ms: 5,
            segment_max_bytes: 64 * 1024 * 1024,
            segment_max_age_s: 3600,
            retention_max_bytes: 0,
            retention_max_age_s: 0,
            ring_capacity: 4096,
            full_wait_us: 2000,
        }
    }
}

/// What a shard records about a request. Strings the shard already holds are shared (`Arc`),
/// so making an entry costs a few reference counts, not copies; the drain thread turns it into
/// a [`Record`].
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub kind: Kind,
    pub request_id: Option<Box<str>>,
    pub received_us: u64,
    pub first_byte_us: Option<u64>,
    pub tenant: Option<Arc<str>>,
    pub project: Option<Arc<str>>,
    pub environment: Option<&'static str>,
    pub api_key_id: Option<Arc<str>>,
    pub client: Option<SocketAddr>,
    pub dialect: Option<&'static str>,
    pub route: Option<&'static str>,
    pub stream: Option<bool>,
    pub model_alias: Option<Arc<str>>,
    pub provider: Option<&'static str>,
    pub upstream_model: Option<Arc<str>>,
    pub key_source: Option<&'static str>,
    pub provider_key_id: Option<Arc<str>>,
    pub provider_key_fingerprint: Option<Arc<str>>,
    /// Every upstream attempt, in order (bounded by `fallback.max_attempts`).
    pub attempts: Vec<AttemptEntry>,
    pub status: Option<u16>,
    pub error: Option<&'static str>,
    pub usage: Option<Usage>,
    pub verdicts: Vec<crate::guard::apply::Verdict>,
    pub overhead_us: Option<u64>,
    pub upstream_us: Option<u64>,
}

/// One upstream attempt.
#[derive(Debug, Clone)]
pub struct AttemptEntry {
    pub provider: &'static str,
    pub key_id: Arc<str>,
    pub key_source: &'static str,
    /// ok | status | connect | timeout | closed | protocol
    pub outcome: &'static str,
    pub status: Option<u16>,
}

impl Entry {
    /// The record as written, stamped `at_us`.
    pub fn to_record(&self, at_us: u64) -> Record {
        let s = |v: &Option<Arc<str>>| v.as_deref().map(str::to_owned);
        let attempts = self
            .attempts
            .iter()
            .map(|a| Attempt {
                provider: a.provider.to_owned(),
                key_id: a.key_id.to_string(),
                key_source: a.key_source.to_owned(),
                outcome: a.outcome.to_owned(),
                status: a.status,
            })
            .collect();
        Record {
            kind: self.kind,
            at_us,
            request_id: self.request_id.as_deref().map(str::to_owned),
            received_us: Some(self.received_us).filter(|v| *v > 0),
            first_byte_us: self.first_byte_us,
            tenant: s(&self.tenant),
            project: s(&self.project),
            environment: self.environment.map(str::to_owned),
            api_key_id: s(&self.api_key_id),
            client: self.client.map(|c| c.to_string()),
            dialect: self.dialect.map(str::to_owned),
            route: self.route.map(str::to_owned),
            stream: self.stream,
            model_alias: s(&self.model_alias),
            provider: self.provider.map(str::to_owned),
            upstream_model: s(&self.upstream_model),
            key_source: self.key_source.map(str::to_owned),
            provider_key_id: s(&self.provider_key_id),
            provider_key_fingerprint: s(&self.provider_key_fingerprint),
            attempts,
            status: self.status,
            error: self.error.map(str::to_owned),
            usage: self.usage,
            verdicts: self
                .verdicts
                .iter()
                .map(|v| Verdict {
                    category: v.category.to_owned(),
                    detector: v.detector.to_string(),
                    action: v.action.to_owned(),
                    count: v.count,
                })
                .collect(),
            overhead_us: self.overhead_us,
            upstream_us: self.upstream_us,
            count: None,
            deleted_through: None,
        }
    }
}

impl Entry {
    /// The record's JSON, written straight from the entry (no intermediate [`Record`]): the
    /// drain thread's hot path. Same fields and names as `Record`'s serde form.
    pub fn write_json(&self, at_us: u64, out: &mut Vec<u8>) {
        use crate::translate::json::{Arr, Obj};
        let mut o = Obj::new(out);
        o.str("kind", kind_name(self.kind));
        o.num("at_us", at_us);
        let opt_str = |o: &mut Obj<'_>, k: &str, v: Option<&str>| {
            if let Some(v) = v {
                o.str(k, v);
            }
        };
        opt_str(&mut o, "request_id", self.request_id.as_deref());
        if self.received_us > 0 {
            o.num("received_us", self.received_us);
        }
        if let Some(v) = self.first_byte_us {
            o.num("first_byte_us", v);
        }
        opt_str(&mut o, "tenant", self.tenant.as_deref());
        opt_str(&mut o, "project", self.project.as_deref());
        opt_str(&mut o, "environment", self.environment);
        opt_str(&mut o, "api_key_id", self.api_key_id.as_deref());
        if let Some(c) = self.client {
            let _ = std::io::Write::write_fmt(o.key("client"), format_args!("\"{c}\""));
        }
        opt_str(&mut o, "dialect", self.dialect);
        opt_str(&mut o, "route", self.route);
        if let Some(v) = self.stream {
            o.raw("stream", if v { b"true" } else { b"false" });
        }
        opt_str(&mut o, "model_alias", self.model_alias.as_deref());
        opt_str(&mut o, "provider", self.provider);
        opt_str(&mut o, "upstream_model", self.upstream_model.as_deref());
        opt_str(&mut o, "key_source", self.key_source);
        opt_str(&mut o, "provider_key_id", self.provider_key_id.as_deref());
        opt_str(
            &mut o,
            "provider_key_fingerprint",
            self.provider_key_fingerprint.as_deref(),
        );
        if !self.attempts.is_empty() {
            let mut arr = Arr::new(o.key("attempts"));
            for a in &self.attempts {
                let mut at = Obj::new(arr.item());
                at.str("provider", a.provider);
                at.str("key_id", &a.key_id);
                at.str("key_source", a.key_source);
                at.str("outcome", a.outcome);
                if let Some(st) = a.status {
                    at.num("status", u64::from(st));
                }
                at.end();
            }
            arr.end();
        }
        if let Some(v) = self.status {
            o.num("status", u64::from(v));
        }
        opt_str(&mut o, "error", self.error);
        if let Some(u) = self.usage {
            let mut uo = Obj::new(o.key("usage"));
            uo.num("input_tokens", u.input_tokens);
            uo.num("output_tokens", u.output_tokens);
            uo.num("cached_tokens", u.cached_tokens);
            uo.num("reasoning_tokens", u.reasoning_tokens);
            uo.end();
        }
        if !self.verdicts.is_empty() {
            let mut arr = Arr::new(o.key("verdicts"));
            for v in &self.verdicts {
                let mut vo = Obj::new(arr.item());
                vo.str("category", v.category);
                vo.str("detector", &v.detector);
                vo.str("action", v.action);
                vo.num("count", u64::from(v.count));
                vo.end();
            }
            arr.end();
        }
        if let Some(v) = self.overhead_us {
            o.num("overhead_us", v);
        }
        if let Some(v) = self.upstream_us {
            o.num("upstream_us", v);
        }
        o.end();
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Request => "request",
        Kind::Response => "response",
        Kind::Recovery => "recovery",
        Kind::Outage => "outage",
        Kind::Retention => "retention",
    }
}

/// Unix microseconds now.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_json_is_the_record_schema() {
        let e = Entry {
            kind: Kind::Response,
            request_id: Some("req_\"1".into()),
            received_us: 5,
            first_byte_us: Some(6),
            tenant: Some(Arc::from("acme")),
            project: Some(Arc::from("p")),
            environment: Some("production"),
            api_key_id: Some(Arc::from("key_1")),
            client: Some(
                "[::1]:80"
                    .parse()
                    .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 80))),
            ),
            dialect: Some("openai"),
            route: Some("chat_completions"),
            stream: Some(true),
            model_alias: Some(Arc::from("gpt-4o")),
            provider: Some("openai"),
            upstream_model: Some(Arc::from("gpt-4o")),
            key_source: Some("byok"),
            provider_key_id: Some(Arc::from("pk_1")),
            provider_key_fingerprint: Some(Arc::from("sha256:ab")),
            attempts: vec![
                AttemptEntry {
                    provider: "openai",
                    key_id: Arc::from("pk_1"),
                    key_source: "byok",
                    outcome: "status",
                    status: Some(429),
                },
                AttemptEntry {
                    provider: "openai",
                    key_id: Arc::from("pool_openai_0"),
                    key_source: "pooled",
                    outcome: "ok",
                    status: Some(200),
                },
            ],
            status: Some(429),
            error: Some("provider_error"),
            usage: Some(Usage {
                input_tokens: 1,
                output_tokens: 2,
                cached_tokens: 3,
                reasoning_tokens: 4,
            }),
            verdicts: vec![crate::guard::apply::Verdict {
                category: "pii",
                detector: "email".into(),
                action: "redact",
                count: 2,
            }],
            overhead_us: Some(7),
            upstream_us: Some(8),
        };
        let mut json = Vec::new();
        e.write_json(9, &mut json);
        let parsed: Result<Record, _> = serde_json::from_slice(&json);
        assert_eq!(
            parsed.ok(),
            Some(e.to_record(9)),
            "{}",
            String::from_utf8_lossy(&json)
        );
        let mut minimal = Vec::new();
        Entry::default().write_json(1, &mut minimal);
        let parsed: Result<Record, _> = serde_json::from_slice(&minimal);
        assert_eq!(parsed.ok(), Some(Entry::default().to_record(1)));
    }
}
