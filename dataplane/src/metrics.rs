//! Per-shard counters, merged only when `/metrics` is scraped.
//!
//! Each shard owns one [`ShardMetrics`] and is its only writer, so counting is a plain load and
//! store (no locked read-modify-write, no cache line shared between writers); the admin thread
//! only reads. Labels are fixed, low-cardinality enums: route, status class, provider.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use warden_shared::catalog::Provider;
use warden_shared::snapshot::GuardAction;

use crate::guard::apply::Verdict;
use crate::guard::Category;

pub mod cache;
mod primitives;
pub mod spend;

pub use primitives::{write_histogram, Counter, Gauge, Histogram, BUCKETS_US};

/// The actions a verdict can carry, in metric order.
pub const VERDICT_ACTIONS: [GuardAction; 4] = [
    GuardAction::Flag,
    GuardAction::Redact,
    GuardAction::Restore,
    GuardAction::Block,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    ChatCompletions,
    /// `/v1/models` and `/v1/models/{id}` (OpenAI's shape).
    Models,
    /// Anthropic-native `/v1/messages`.
    Messages,
    /// Gemini-native `…:generateContent` / `:streamGenerateContent`.
    GenerateContent,
    /// OpenAI's `/v1/embeddings`, any embedding provider behind it.
    Embeddings,
    /// Gemini-native `…:embedContent` / `:batchEmbedContents`.
    EmbedContent,
    /// OpenAI's Responses API, `/v1/responses`.
    Responses,
    /// Anthropic-native `/v1/messages/count_tokens`.
    MessagesCountTokens,
    /// Gemini-native `…:countTokens`.
    CountTokens,
    /// OpenAI's `/v1/responses/input_tokens`.
    ResponsesInputTokens,
    /// The model list and look-up in Anthropic's shape (`/v1/models` with Anthropic's headers).
    AnthropicModels,
    /// … in Gemini's (`/v1beta/models`, or `/v1/models` with `x-goog-api-key`).
    GeminiModels,
    Other,
}

const ROUTES: [&str; 13] = [
    "chat_completions",
    "models",
    "messages",
    "generate_content",
    "embeddings",
    "embed_content",
    "responses",
    "messages_count_tokens",
    "count_tokens",
    "responses_input_tokens",
    "anthropic_models",
    "gemini_models",
    "other",
];

impl Route {
    /// The API dialect callers of this route speak, for error bodies.
    pub fn dialect(self) -> warden_shared::catalog::Dialect {
        use warden_shared::catalog::Dialect;
        match self {
            Route::Messages | Route::MessagesCountTokens | Route::AnthropicModels => {
                Dialect::Anthropic
            }
            Route::GenerateContent
            | Route::EmbedContent
            | Route::CountTokens
            | Route::GeminiModels => Dialect::Gemini,
            Route::ChatCompletions
            | Route::Models
            | Route::Embeddings
            | Route::Responses
            | Route::ResponsesInputTokens
            | Route::Other => Dialect::OpenAi,
        }
    }

    /// The metric label, also used in audit records.
    pub fn name(self) -> &'static str {
        ROUTES[self as usize]
    }
}
const STATUSES: [u16; 16] = [
    200, 400, 401, 403, 404, 405, 408, 413, 429, 431, 500, 502, 503, 504, 505, 0,
];
const PROVIDERS: usize = Provider::ALL.len() + 1;

#[derive(Default)]
pub struct ShardMetrics {
    requests: [[[Counter; PROVIDERS]; STATUSES.len()]; ROUTES.len()],
    /// Time spent in Warden itself: total minus time waiting on the provider.
    pub overhead: Histogram,
    /// Request sent to the provider until its response was complete (streams: last event).
    pub upstream: Histogram,
    /// The request's arrival until the provider's first answer bytes (streams: about the first
    /// token).
    pub first_byte: Histogram,
    /// Tokens, billed dollars, limit rejections, and requests by model alias.
    pub spend: spend::Spend,
    /// The answer cache (`cache.rs`).
    pub cache: std::sync::Arc<cache::CacheMetrics>,
    pub open_connections: Gauge,
    pub connections: Counter,
    pub connections_rejected: Counter,
    /// Connections whose task panicked: closed, the shard serving on (`isolate.rs`).
    pub panics: Counter,
    /// TLS on `listen`: handshakes that failed or timed out (the connection is closed).
    pub tls_handshake_failures: Counter,
    /// Answers whose provider reported no usage: metered from an estimate.
    pub usage_estimated: Counter,
    pub pool_reused: Counter,
    pub pool_connects: Counter,
    pub pool_stale_retries: Counter,
    pub pool_idle: Gauge,
    pub stream_client_disconnects: Counter,
    pub stream_upstream_failures: Counter,
    /// Requests refused because the audit log could not take their record.
    pub audit_rejected: Counter,
    /// Guardrail verdicts: [category, `Category::ALL` order][action, `VERDICT_ACTIONS` order].
    pub guard_verdicts: [[Counter; VERDICT_ACTIONS.len()]; Category::ALL.len()],
    /// Upstream attempts: [key source byok|pooled][outcome, `AttemptOutcome as usize`].
    pub attempts: [[Counter; crate::audit::AttemptOutcome::ALL.len()]; 2],
    /// Requests answered by another key or model than their first choice.
    pub fallbacks: Counter,
    /// Keys passed over because their circuit breaker was open (or cooling down after a 429).
    pub breaker_skips: Counter,
    pub io_uring: AtomicU64,
}

/// What a token count counts: read (cached ones included), written, read from the provider's
/// cache, spent on reasoning.
pub const TOKEN_KINDS: [&str; 4] = ["input", "output", "cached", "reasoning"];

impl ShardMetrics {
    /// Count guardrail verdicts under their own category and action.
    pub fn verdicts(&self, verdicts: &[Verdict]) {
        for v in verdicts {
            let c = Category::ALL.iter().position(|c| *c == v.category);
            let a = VERDICT_ACTIONS.iter().position(|a| *a == v.action);
            if let (Some(c), Some(a)) = (c, a) {
                self.guard_verdicts[c][a].add(u64::from(v.count));
            }
        }
    }

    /// What an answered request's audit entry says about time to first byte, tokens, cost
    /// (priced with `billing`) and its model alias.
    pub fn answered(
        &self,
        entry: &crate::audit::Entry,
        status: u16,
        billing: &warden_shared::snapshot::BillingRates,
    ) {
        if let (Some(first), true) = (entry.first_byte_us, entry.received_us > 0) {
            self.first_byte
                .observe_us(first.saturating_sub(entry.received_us));
        }
        self.spend.answered(entry, status, billing);
    }

    pub fn request(&self, route: Route, status: u16, provider: Option<Provider>) {
        let s = STATUSES
            .iter()
            .position(|x| *x == status)
            .unwrap_or(STATUSES.len() - 1);
        let p = provider.map_or(0, |p| p.index() + 1);
        self.requests[route as usize][s][p].inc();
    }
}

fn provider_label(i: usize) -> &'static str {
    if i == 0 {
        "none"
    } else {
        Provider::ALL[i - 1].name()
    }
}

/// Prometheus text exposition of all shards' counters, summed.
pub fn render(
    shards: &[std::sync::Arc<ShardMetrics>],
    snapshot_version: u64,
    listen_sockets: usize,
) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let _ = writeln!(
        out,
        "# HELP warden_build_info The running build.\n# TYPE warden_build_info gauge\nwarden_build_info{{version=\"{}\",plane=\"data\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "# HELP warden_log_lines_dropped_total Log lines dropped because stderr could not keep up.\n# TYPE warden_log_lines_dropped_total counter\nwarden_log_lines_dropped_total {}",
        warden_shared::logs::dropped()
    );
    let sum = |f: &dyn Fn(&ShardMetrics) -> u64| shards.iter().map(|s| f(s)).sum::<u64>();
    let _ = writeln!(
        out,
        "# HELP warden_requests_total Requests answered, by route, status and provider."
    );
    let _ = writeln!(out, "# TYPE warden_requests_total counter");
    for (r, route) in ROUTES.iter().enumerate() {
        for (s, status) in STATUSES.iter().enumerate() {
            for p in 0..PROVIDERS {
                let n = sum(&|m| m.requests[r][s][p].get());
                if n > 0 {
                    let status = if *status == 0 {
                        "other".to_string()
                    } else {
                        status.to_string()
                    };
                    let _ = writeln!(
                        out,
                        "warden_requests_total{{route=\"{route}\",status=\"{status}\",provider=\"{}\"}} {n}",
                        provider_label(p)
                    );
                }
            }
        }
    }
    histogram(
        &mut out,
        "warden_gateway_overhead_seconds",
        "Time spent in Warden per request.",
        shards,
        |m| &m.overhead,
    );
    histogram(
        &mut out,
        "warden_upstream_duration_seconds",
        "Provider time per request.",
        shards,
        |m| &m.upstream,
    );
    histogram(
        &mut out,
        "warden_time_to_first_byte_seconds",
        "From a request's arrival to the provider's first answer bytes (streams: about the first token).",
        shards,
        |m| &m.first_byte,
    );
    let spends: Vec<&spend::Spend> = shards.iter().map(|s| &s.spend).collect();
    spend::render(&mut out, &spends);
    crate::limits::shared::render(&mut out);
    let caches: Vec<&cache::CacheMetrics> = shards.iter().map(|s| &*s.cache).collect();
    cache::render(&mut out, &caches);
    let gauges: [(&str, &str, i64); 3] = [
        (
            "warden_open_connections",
            "Client connections open now.",
            shards.iter().map(|s| s.open_connections.get()).sum(),
        ),
        (
            "warden_upstream_pool_idle_connections",
            "Idle pooled provider connections.",
            shards.iter().map(|s| s.pool_idle.get()).sum(),
        ),
        (
            "warden_listen_sockets",
            "SO_REUSEPORT listening sockets (one per shard).",
            listen_sockets as i64,
        ),
    ];
    for (name, help, v) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    let counters: [(&str, &str, u64); 11] = [
        (
            "warden_connections_total",
            "Client connections accepted.",
            sum(&|m| m.connections.get()),
        ),
        (
            "warden_connections_rejected_total",
            "Connections refused at the per-shard limit or while draining.",
            sum(&|m| m.connections_rejected.get()),
        ),
        (
            "warden_panics_total",
            "Connections whose task panicked (a bug): each was closed and its shard served on.",
            sum(&|m| m.panics.get()),
        ),
        (
            "warden_tls_handshake_failures_total",
            "Client TLS handshakes on listen that failed or did not finish within timeouts.head_ms.",
            sum(&|m| m.tls_handshake_failures.get()),
        ),
        (
            "warden_usage_estimated_total",
            "Answers the provider reported no usage for: metered from an estimate (bytes / 4), marked usage_estimated in the audit record.",
            sum(&|m| m.usage_estimated.get()),
        ),
        (
            "warden_upstream_pool_reused_total",
            "Provider requests sent on a pooled connection.",
            sum(&|m| m.pool_reused.get()),
        ),
        (
            "warden_upstream_pool_connects_total",
            "New provider connections.",
            sum(&|m| m.pool_connects.get()),
        ),
        (
            "warden_upstream_pool_stale_retries_total",
            "Requests retried once after a stale pooled connection.",
            sum(&|m| m.pool_stale_retries.get()),
        ),
        (
            "warden_stream_client_disconnects_total",
            "Streams ended by the client going away.",
            sum(&|m| m.stream_client_disconnects.get()),
        ),
        (
            "warden_stream_upstream_failures_total",
            "Streams the provider broke off.",
            sum(&|m| m.stream_upstream_failures.get()),
        ),
        (
            "warden_audit_rejected_total",
            "Requests answered 503 because the audit log could not take their record.",
            sum(&|m| m.audit_rejected.get()),
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let _ = writeln!(out, "# HELP warden_guardrail_verdicts_total Guardrail findings acted on, by category and action.");
    let _ = writeln!(out, "# TYPE warden_guardrail_verdicts_total counter");
    for (c, category) in Category::ALL.iter().map(|c| c.name()).enumerate() {
        for (a, action) in VERDICT_ACTIONS
            .iter()
            .map(|a| crate::guard::apply::action_name(*a))
            .enumerate()
        {
            let n = sum(&|m| m.guard_verdicts[c][a].get());
            let _ = writeln!(out, "warden_guardrail_verdicts_total{{category=\"{category}\",action=\"{action}\"}} {n}");
        }
    }
    let _ = writeln!(out, "# HELP warden_upstream_attempts_total Upstream attempts, by key source and outcome (status: the provider answered with an error status).");
    let _ = writeln!(out, "# TYPE warden_upstream_attempts_total counter");
    for (s, source) in ["byok", "pooled"].iter().enumerate() {
        for outcome in crate::audit::AttemptOutcome::ALL {
            let n = sum(&|m| m.attempts[s][outcome as usize].get());
            let outcome = outcome.name();
            let _ = writeln!(out, "warden_upstream_attempts_total{{key_source=\"{source}\",outcome=\"{outcome}\"}} {n}");
        }
    }
    for (name, help, v) in [
        (
            "warden_fallbacks_total",
            "Requests answered by another key or model than their first choice.",
            sum(&|m| m.fallbacks.get()),
        ),
        (
            "warden_breaker_skips_total",
            "Keys passed over while their circuit breaker was open or a retry-after was running.",
            sum(&|m| m.breaker_skips.get()),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP warden_shard_info One per shard, with the I/O driver it runs."
    );
    let _ = writeln!(out, "# TYPE warden_shard_info gauge");
    for (i, s) in shards.iter().enumerate() {
        let driver = if s.io_uring.load(Relaxed) == 1 {
            "io_uring"
        } else {
            "epoll"
        };
        let _ = writeln!(
            out,
            "warden_shard_info{{shard=\"{i}\",driver=\"{driver}\"}} 1"
        );
    }
    let _ = writeln!(
        out,
        "# HELP warden_snapshot_version Config snapshot version being served."
    );
    let _ = writeln!(
        out,
        "# TYPE warden_snapshot_version gauge\nwarden_snapshot_version {snapshot_version}"
    );
    out
}

fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    shards: &[std::sync::Arc<ShardMetrics>],
    pick: fn(&ShardMetrics) -> &Histogram,
) {
    let parts: Vec<&Histogram> = shards.iter().map(|s| pick(s)).collect();
    write_histogram(out, name, help, &parts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn shards_are_summed_at_scrape_time() {
        let a = Arc::new(ShardMetrics::default());
        let b = Arc::new(ShardMetrics::default());
        a.request(Route::ChatCompletions, 200, Some(Provider::OpenAi));
        b.request(Route::ChatCompletions, 200, Some(Provider::OpenAi));
        b.request(Route::Models, 418, None);
        a.overhead.observe_us(40);
        b.overhead.observe_us(70_000_000);
        let text = render(&[a, b], 3, 2);
        assert!(text.contains("warden_requests_total{route=\"chat_completions\",status=\"200\",provider=\"openai\"} 2"));
        assert!(text.contains(
            "warden_requests_total{route=\"models\",status=\"other\",provider=\"none\"} 1"
        ));
        assert!(text.contains("warden_gateway_overhead_seconds_bucket{le=\"0.00005\"} 1"));
        assert!(text.contains("warden_gateway_overhead_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("warden_listen_sockets 2"));
    }
}
