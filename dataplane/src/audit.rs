//! The audit log on the data plane: what each shard records about each request, the per-shard
//! ring in a memory-mapped file it goes through ([`ring`]), the drain thread that copies all
//! rings into hash-chained segment files ([`drain`], [`writer`]; format in
//! `warden_shared::audit`), the copy of what a crash left in the rings at start ([`recover`]),
//! and the `audit verify/export/tail` commands ([`cli`]).
//!
//! Position in the request path: a `request` record is put in the shard's ring before a request
//! is forwarded; a `response` record before the response's last bytes go out. Either is safe
//! against `kill -9` the moment it is in the ring (the kernel owns the mapped pages), so the
//! shard never waits for another thread — except with `durability = "always"`, where the
//! response's record is fdatasync'ed first (power-loss safe).
//!
//! Invariants: no record is dropped silently — a full ring or a failing disk turns into a 503
//! for the client and a counted rejection; no key is ever recorded (key ids and fingerprints
//! only).

pub mod cli;
pub mod compact;
pub mod disk;
pub mod drain;
mod mapped;
pub mod producer;
pub mod recover;
pub mod ring;
pub mod writer;

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;
use warden_shared::audit::codec::{AttemptFields, VerdictFields, View};
use warden_shared::audit::{Kind, Usage};

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
    /// Delete the oldest segments beyond this many bytes in all (0: no size limit).
    pub retention_max_bytes: u64,
    /// Delete segments older than this (0: keep everything).
    pub retention_max_age_s: u64,
    /// Delete the oldest segments while the filesystem has fewer free bytes than this (0: never
    /// for this reason): the last headroom before a full disk stops every request. In bytes, not
    /// a share, because the disk is often shared: on a big one a tenth free is still plenty, and
    /// deleting the log would not give that tenth back.
    pub min_free_bytes: u64,
    /// The same as a share of the filesystem (0, the default: off).
    pub min_free_percent: u64,
    /// Below this share free, `/readyz` and `warden_audit_disk_low` warn (still ready).
    pub warn_free_percent: u64,
    /// Compress closed segments with zstd (on a thread of their own, off the drain).
    pub compress: bool,
    /// zstd level for closed segments.
    pub compress_level: i32,
    /// Records each shard's ring holds (the ring file is this times 512 B, rounded up to a
    /// power of two).
    pub ring_capacity: usize,
    /// How long a shard waits for room in a full ring before answering 503.
    pub full_wait_us: u64,
    /// The 32 secret bytes the chain's HMAC key is derived from (default `state_dir/audit.key`,
    /// created 0600 at first start). Keep it off the audit directory's backups; `audit verify`
    /// needs it.
    pub key_file: Option<std::path::PathBuf>,
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
            retention_max_bytes: 10 * 1024 * 1024 * 1024,
            retention_max_age_s: 0,
            min_free_bytes: 1024 * 1024 * 1024,
            min_free_percent: 0,
            warn_free_percent: 20,
            compress: true,
            compress_level: 3,
            ring_capacity: 32_768,
            full_wait_us: 2000,
            key_file: None,
        }
    }
}

/// What a shard records about a request. Strings the shard already holds are shared (`Arc`),
/// so filling it in costs a few reference counts; it is encoded straight into the ring.
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
    /// `usage` is Warden's estimate: the provider reported none.
    pub usage_estimated: bool,
    /// Answered from the cache: which kind of hit.
    pub cache: Option<crate::cache::Hit>,
    /// Answer bytes received from the provider (not encoded): what an estimate is made from.
    pub answer_bytes: u64,
    pub verdicts: Vec<crate::guard::apply::Verdict>,
    /// The injection model's highest score over the request's texts, in thousandths.
    pub injection_score: Option<u16>,
    pub overhead_us: Option<u64>,
    pub upstream_us: Option<u64>,
    /// When the request's guardrails ran (Unix µs, start and end), for its trace; not recorded.
    pub guard_us: Option<(u64, u64)>,
}

/// How an upstream attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Ok,
    /// The provider answered with an error status.
    Status,
    Connect,
    Timeout,
    Closed,
    Protocol,
}

impl AttemptOutcome {
    /// Every outcome, in metric order (`as usize` indexes it).
    pub const ALL: [AttemptOutcome; 6] = [
        AttemptOutcome::Ok,
        AttemptOutcome::Status,
        AttemptOutcome::Connect,
        AttemptOutcome::Timeout,
        AttemptOutcome::Closed,
        AttemptOutcome::Protocol,
    ];

    /// The name in audit records, metrics and spans.
    pub fn name(self) -> &'static str {
        match self {
            AttemptOutcome::Ok => "ok",
            AttemptOutcome::Status => "status",
            AttemptOutcome::Connect => "connect",
            AttemptOutcome::Timeout => "timeout",
            AttemptOutcome::Closed => "closed",
            AttemptOutcome::Protocol => "protocol",
        }
    }
}

/// One upstream attempt.
#[derive(Debug, Clone)]
pub struct AttemptEntry {
    pub provider: &'static str,
    pub key_id: Arc<str>,
    pub key_source: &'static str,
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
    /// For the request's trace (not recorded): its place in the plan (the span id the
    /// `traceparent` it sent names), and when it was sent and answered (Unix µs).
    pub n: u32,
    pub sent_us: u64,
    pub head_us: u64,
}

impl Entry {
    /// The record borrowed for encoding, stamped `at_us`.
    pub fn view(&self, at_us: u64) -> View<'_, AttemptEntry, crate::guard::apply::Verdict> {
        View {
            kind: self.kind,
            at_us,
            request_id: self.request_id.as_deref(),
            received_us: Some(self.received_us).filter(|v| *v > 0),
            first_byte_us: self.first_byte_us,
            tenant: self.tenant.as_deref(),
            project: self.project.as_deref(),
            environment: self.environment,
            api_key_id: self.api_key_id.as_deref(),
            client: self.client,
            dialect: self.dialect,
            route: self.route,
            stream: self.stream,
            model_alias: self.model_alias.as_deref(),
            provider: self.provider,
            upstream_model: self.upstream_model.as_deref(),
            key_source: self.key_source,
            provider_key_id: self.provider_key_id.as_deref(),
            provider_key_fingerprint: self.provider_key_fingerprint.as_deref(),
            attempts: &self.attempts,
            status: self.status,
            error: self.error,
            usage: self.usage,
            usage_estimated: self.usage_estimated.then_some(true),
            cache: self.cache.map(crate::cache::Hit::name),
            verdicts: &self.verdicts,
            injection_score: self.injection_score,
            overhead_us: self.overhead_us,
            upstream_us: self.upstream_us,
            count: None,
            deleted_through: None,
            shard: None,
            seq: None,
        }
    }

    /// Append the binary record, stamped `at_us` (the shard's hot path: a few copies).
    pub fn encode(&self, at_us: u64, out: &mut Vec<u8>) {
        self.view(at_us).encode(out);
    }
}

impl AttemptFields for AttemptEntry {
    fn fields(&self) -> (&str, &str, &str, &str, Option<u16>) {
        (
            self.provider,
            &self.key_id,
            self.key_source,
            self.outcome.name(),
            self.status,
        )
    }
}

impl VerdictFields for crate::guard::apply::Verdict {
    fn fields(&self) -> (&str, &str, &str, u32) {
        (
            self.category.name(),
            &self.detector,
            crate::guard::apply::action_name(self.action),
            self.count,
        )
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
    use warden_shared::audit::Record;

    #[test]
    fn an_entry_encodes_to_the_record_export_prints() {
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
                    outcome: AttemptOutcome::Status,
                    status: Some(429),
                    n: 0,
                    sent_us: 0,
                    head_us: 0,
                },
                AttemptEntry {
                    provider: "openai",
                    key_id: Arc::from("pool_openai_0"),
                    key_source: "pooled",
                    outcome: AttemptOutcome::Ok,
                    status: Some(200),
                    n: 1,
                    sent_us: 0,
                    head_us: 0,
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
            usage_estimated: true,
            cache: Some(crate::cache::Hit::Exact),
            injection_score: Some(12),
            answer_bytes: 10,
            verdicts: vec![crate::guard::apply::Verdict {
                category: crate::guard::Category::Pii,
                detector: "email".into(),
                action: warden_shared::snapshot::GuardAction::Redact,
                count: 2,
            }],
            overhead_us: Some(7),
            upstream_us: Some(8),
            guard_us: None,
        };
        let mut bytes = Vec::new();
        e.encode(9, &mut bytes);
        let r = Record::decode(&bytes).unwrap_or_default();
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json["kind"], "response");
        assert_eq!(json["at_us"], 9);
        assert_eq!(json["request_id"], "req_\"1");
        assert_eq!(json["received_us"], 5);
        assert_eq!(json["client"], "[::1]:80");
        assert_eq!(json["stream"], true);
        assert_eq!(json["provider_key_fingerprint"], "sha256:ab");
        assert_eq!(json["attempts"][0]["status"], 429);
        assert_eq!(json["attempts"][1]["key_source"], "pooled");
        assert_eq!(json["usage"]["reasoning_tokens"], 4);
        assert_eq!(json["verdicts"][0]["detector"], "email");
        assert_eq!(json["verdicts"][0]["count"], 2);
        assert_eq!(json["upstream_us"], 8);
        assert_eq!(json["injection_score"], 12);
        let mut minimal = Vec::new();
        Entry::default().encode(1, &mut minimal);
        assert_eq!(
            Record::decode(&minimal),
            Ok(Record {
                at_us: 1,
                ..Record::default()
            })
        );
    }
}
