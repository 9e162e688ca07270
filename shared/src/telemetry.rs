//! Traces: W3C trace context, and spans that leave a process through one bounded queue.
//!
//! A shard (or a control-plane task) finishes a request, describes its spans as plain
//! [`SpanRecord`]s and pushes them into [`Telemetry`]'s lock-free bounded queue: a push never
//! blocks and never allocates beyond the record; when the queue is full the span is dropped and
//! counted (`dropped`), never the request. One exporter thread (`export::spawn`, feature
//! `telemetry`) drains the queue in batches and sends them over OTLP/HTTP protobuf with the
//! OpenTelemetry SDK's exporter. Attribute names follow OpenTelemetry's GenAI and HTTP semantic
//! conventions (`gen_ai.request.model`, `gen_ai.usage.input_tokens`, `http.response.status_code`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::SystemTime;

use crossbeam_queue::ArrayQueue;

#[cfg(feature = "telemetry")]
pub mod export;

/// `[telemetry]` in either binary's config. Tracing is off unless `otlp_endpoint` is set.
#[derive(serde::Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where spans go: an OTLP/HTTP traces URL (`http://collector:4318/v1/traces`).
    pub otlp_endpoint: Option<String>,
    /// The share of requests traced when the client sent no sampled `traceparent` (0.0–1.0).
    /// A client's sampled flag is followed either way.
    #[serde(default = "one")]
    pub sample_ratio: f64,
    /// Spans held for the exporter at most; more are dropped and counted.
    #[serde(default = "queue_default")]
    pub queue: usize,
    /// `service.name` of the resource (default: the binary's name).
    pub service_name: Option<String>,
}

fn one() -> f64 {
    1.0
}

fn queue_default() -> usize {
    8192
}

impl Config {
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(format!(
                "telemetry.sample_ratio {} must be between 0 and 1",
                self.sample_ratio
            ));
        }
        if self.queue == 0 || self.queue > 1 << 20 {
            return Err("telemetry.queue must be between 1 and 1048576".into());
        }
        if let Some(url) = &self.otlp_endpoint {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "telemetry.otlp_endpoint {url:?} must be an http:// or https:// URL"
                ));
            }
        }
        Ok(())
    }
}

/// A span's trace context: the trace, this span, and whether it is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl TraceContext {
    /// A `traceparent` header value (version 00) as W3C Trace Context defines it. Refuses
    /// anything malformed, and the all-zero ids; a later version is read for its first four
    /// fields, as the specification asks.
    pub fn parse(value: &[u8]) -> Option<TraceContext> {
        let v = value.trim_ascii();
        if v.len() < 55 || (v.len() > 55 && (v[..2] == *b"00" || v[55] != b'-')) {
            return None;
        }
        if v[2] != b'-' || v[35] != b'-' || v[52] != b'-' || v[..2] == *b"ff" {
            return None;
        }
        // The version must be hex; any but ff is read for the fields below.
        hex_bytes::<1>(&v[..2])?;
        let trace_id = hex_bytes::<16>(&v[3..35])?;
        let span_id = hex_bytes::<8>(&v[36..52])?;
        let flags = hex_bytes::<1>(&v[53..55])?[0];
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// This context as a `traceparent` value.
    pub fn header(&self) -> [u8; 55] {
        let mut out = [0u8; 55];
        out[..3].copy_from_slice(b"00-");
        hex_into(&self.trace_id, &mut out[3..35]);
        out[35] = b'-';
        hex_into(&self.span_id, &mut out[36..52]);
        out[52] = b'-';
        out[53..55].copy_from_slice(if self.sampled { b"01" } else { b"00" });
        out
    }

    /// A child of this span, with the span id `span_id`.
    pub fn child(&self, span_id: [u8; 8]) -> TraceContext {
        TraceContext { span_id, ..*self }
    }
}

fn hex_bytes<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    if hex.len() != 2 * N {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        *o = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (b, o) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        o[0] = HEX[usize::from(b >> 4)];
        o[1] = HEX[usize::from(b & 15)];
    }
}

/// Span and trace ids from a SplitMix64 sequence seeded once from the OS: one per shard (or
/// task), no lock and no system call per id.
pub struct Ids(std::cell::Cell<u64>);

impl Ids {
    pub fn new() -> Ids {
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        Ids(std::cell::Cell::new(u64::from_le_bytes(seed)))
    }

    fn next(&self) -> u64 {
        let s = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0.set(s);
        mix(s)
    }

    pub fn span_id(&self) -> [u8; 8] {
        let id = self.next().to_be_bytes();
        if id == [0; 8] {
            [1, 0, 0, 0, 0, 0, 0, 0]
        } else {
            id
        }
    }

    pub fn trace_id(&self) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.next().to_be_bytes());
        id[8..].copy_from_slice(&self.next().to_be_bytes());
        if id == [0; 16] {
            id[15] = 1;
        }
        id
    }
}

impl Default for Ids {
    fn default() -> Ids {
        Ids::new()
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The span id of attempt `n` (0-based) of the request whose span is `request`: derived, so the
/// header sent upstream and the span recorded after agree without keeping either.
pub fn attempt_span_id(request: [u8; 8], n: usize) -> [u8; 8] {
    let id = mix(u64::from_be_bytes(request) ^ (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let id = id.to_be_bytes();
    if id == [0; 8] {
        [2, 0, 0, 0, 0, 0, 0, 0]
    } else {
        id
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Server,
    Client,
    Internal,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(Arc<str>),
    Static(&'static str),
    Int(i64),
    Bool(bool),
}

/// One finished span, as a shard describes it.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    pub context: TraceContext,
    /// The parent span, if any, and whether it came from another process.
    pub parent: Option<([u8; 8], bool)>,
    pub name: String,
    pub kind: SpanKind,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<(&'static str, Value)>,
    /// Set when the span's operation failed: its description.
    pub error: Option<&'static str>,
}

/// The queue between the shards and the exporter thread, and what happened to the spans.
pub struct Telemetry {
    pub config: Config,
    queue: ArrayQueue<SpanRecord>,
    /// Spans dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Spans the collector accepted, and spans in batches it refused or never answered.
    pub exported: AtomicU64,
    pub failed: AtomicU64,
    wake: std::sync::OnceLock<std::thread::Thread>,
}

impl Telemetry {
    /// `None` unless the config names an endpoint.
    pub fn new(config: &Config) -> Option<Arc<Telemetry>> {
        config.otlp_endpoint.as_ref()?;
        Some(Arc::new(Telemetry {
            queue: ArrayQueue::new(config.queue.max(1)),
            config: config.clone(),
            dropped: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            wake: std::sync::OnceLock::new(),
        }))
    }

    /// Queue a finished span; a full queue drops it (counted). Never blocks.
    pub fn submit(&self, span: SpanRecord) {
        if self.queue.push(span).is_err() {
            self.dropped.fetch_add(1, Relaxed);
        } else if self.queue.len() >= BATCH {
            if let Some(t) = self.wake.get() {
                t.unpark();
            }
        }
    }

    /// Whether a request without a sampled parent is traced: `sample_ratio` of trace ids.
    pub fn samples(&self, trace_id: &[u8; 16]) -> bool {
        let ratio = self.config.sample_ratio;
        if ratio >= 1.0 {
            return true;
        }
        let low = u64::from_be_bytes([
            trace_id[8],
            trace_id[9],
            trace_id[10],
            trace_id[11],
            trace_id[12],
            trace_id[13],
            trace_id[14],
            trace_id[15],
        ]) >> 11;
        (low as f64) < ratio * (1u64 << 53) as f64
    }

    /// Up to `max` queued spans, oldest first.
    pub fn take(&self, max: usize) -> Vec<SpanRecord> {
        let mut out = Vec::with_capacity(max.min(self.queue.len()));
        while out.len() < max {
            match self.queue.pop() {
                Some(s) => out.push(s),
                None => break,
            }
        }
        out
    }

    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Prometheus lines for the three counters, under `prefix` (`warden` or `warden_cp`).
    pub fn render(&self, prefix: &str, out: &mut String) {
        use std::fmt::Write;
        for (name, help, v) in [
            ("exported", "Spans the OTLP collector accepted.", &self.exported),
            ("dropped", "Spans dropped because the exporter queue was full (requests are never held for a span).", &self.dropped),
            ("failed", "Spans in batches the collector refused or did not answer.", &self.failed),
        ] {
            let _ = writeln!(
                out,
                "# HELP {prefix}_trace_spans_{name}_total {help}\n# TYPE {prefix}_trace_spans_{name}_total counter\n{prefix}_trace_spans_{name}_total {}",
                v.load(Relaxed)
            );
        }
    }
}

/// Spans sent in one export call at most.
pub const BATCH: usize = 512;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_refuses_malformed_values() {
        let v = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let c = TraceContext::parse(v).unwrap_or_else(|| panic!("valid"));
        assert!(c.sampled);
        assert_eq!(&c.header()[..], &v[..]);
        let unsampled = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        assert_eq!(
            TraceContext::parse(unsampled).map(|c| c.sampled),
            Some(false)
        );
        for bad in [
            &b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            b"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            b"",
        ] {
            assert_eq!(
                TraceContext::parse(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // A later version: its first four fields, whatever follows a dash.
        assert!(
            TraceContext::parse(b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
                .is_some()
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts_spans() {
        let config = Config {
            otlp_endpoint: Some("http://127.0.0.1:9/v1/traces".into()),
            sample_ratio: 1.0,
            queue: 2,
            service_name: None,
        };
        let t = Telemetry::new(&config).unwrap_or_else(|| panic!("configured"));
        let ids = Ids::new();
        let span = SpanRecord {
            context: TraceContext {
                trace_id: ids.trace_id(),
                span_id: ids.span_id(),
                sampled: true,
            },
            parent: None,
            name: "chat gpt-4o".into(),
            kind: SpanKind::Server,
            start: SystemTime::now(),
            end: SystemTime::now(),
            attributes: Vec::new(),
            error: None,
        };
        for _ in 0..5 {
            t.submit(span.clone());
        }
        assert_eq!(t.dropped.load(Relaxed), 3);
        assert_eq!(t.take(10).len(), 2);
        assert_ne!(
            attempt_span_id(span.context.span_id, 0),
            attempt_span_id(span.context.span_id, 1)
        );
    }

    #[test]
    fn the_ratio_samples_about_its_share() {
        let config = Config {
            otlp_endpoint: Some("http://127.0.0.1:9/v1/traces".into()),
            sample_ratio: 0.25,
            queue: 8,
            service_name: None,
        };
        let t = Telemetry::new(&config).unwrap_or_else(|| panic!("configured"));
        let ids = Ids::new();
        let n = (0..10_000).filter(|_| t.samples(&ids.trace_id())).count();
        assert!((2_000..3_000).contains(&n), "{n}");
    }
}
