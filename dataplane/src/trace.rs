//! Request traces (`[telemetry]`, see `warden_shared::telemetry`).
//!
//! A client's W3C `traceparent` is accepted: the request's span becomes its child and follows its
//! sampled flag; without one, `sample_ratio` decides. Each upstream attempt sends a
//! `traceparent` naming its own span (derived from the request's, so nothing is kept per
//! attempt). With tracing off, a client's valid `traceparent` still goes upstream unchanged.
//!
//! The spans are described from the request's audit entry once the answer is out — nothing is
//! built while the request is in flight — and queued without blocking for the exporter thread:
//! the request (SERVER, `chat {alias}` as the GenAI conventions name it), the guardrails, each
//! upstream attempt (CLIENT), and for streams the stream from first byte to last.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use warden_shared::telemetry::{
    attempt_span_id, SpanKind, SpanRecord, Telemetry, TraceContext, Value,
};

use crate::audit::{AttemptOutcome, Entry};
use crate::http::parse::RequestHead;

/// A request's place in a trace.
#[derive(Debug, Clone, Copy)]
pub struct Trace {
    /// This request's span (or, passed through, the client's own context).
    pub context: TraceContext,
    /// The client's span, when it sent one.
    pub parent: Option<[u8; 8]>,
    /// Spans are recorded and exported for this request.
    pub record: bool,
    /// Tracing is off: the client's context goes upstream as it came.
    passthrough: bool,
}

impl Trace {
    /// `None` when tracing is off and the client sent no valid `traceparent`.
    pub fn start(
        telemetry: Option<&Telemetry>,
        ids: &warden_shared::telemetry::Ids,
        head: &RequestHead,
        buf: &[u8],
    ) -> Option<Trace> {
        let client = head
            .traceparent
            .and_then(|s| TraceContext::parse(s.get(buf)));
        let Some(t) = telemetry else {
            return client.map(|context| Trace {
                context,
                parent: None,
                record: false,
                passthrough: true,
            });
        };
        let (trace_id, sampled, parent) = match client {
            Some(c) => (c.trace_id, c.sampled, Some(c.span_id)),
            None => {
                let id = ids.trace_id();
                (id, t.samples(&id), None)
            }
        };
        Some(Trace {
            context: TraceContext {
                trace_id,
                span_id: ids.span_id(),
                sampled,
            },
            parent,
            record: sampled,
            passthrough: false,
        })
    }

    /// The `traceparent` attempt `n` sends upstream.
    pub fn upstream(&self, n: usize) -> [u8; 55] {
        if self.passthrough {
            return self.context.header();
        }
        self.context
            .child(attempt_span_id(self.context.span_id, n))
            .header()
    }
}

fn at(us: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us)
}

fn text(v: &Option<Arc<str>>) -> Option<Value> {
    v.as_ref().map(|s| Value::Str(Arc::clone(s)))
}

/// Describe a finished request's spans from its audit entry and queue them.
pub fn finish(t: &Telemetry, trace: &Trace, e: &Entry, method: &str, status: u16) {
    if !trace.record {
        return;
    }
    let end = SystemTime::now();
    let start = at(e.received_us);
    let ctx = trace.context;
    let child = |span_id| (ctx.child(span_id), Some((ctx.span_id, false)));
    let route = e.route.unwrap_or("other");
    let chat = e.model_alias.is_some();
    let mut attrs: Vec<(&'static str, Value)> = vec![
        ("http.request.method", Value::Str(Arc::from(method))),
        ("http.route", Value::Static(route)),
        ("http.response.status_code", Value::Int(i64::from(status))),
    ];
    let optional = [
        ("gen_ai.request.model", text(&e.model_alias)),
        ("gen_ai.response.model", text(&e.upstream_model)),
        ("gen_ai.provider.name", e.provider.map(Value::Static)),
        (
            "warden.request_id",
            e.request_id.as_deref().map(|r| Value::Str(Arc::from(r))),
        ),
        ("warden.tenant", text(&e.tenant)),
        ("warden.project", text(&e.project)),
        ("warden.key_source", e.key_source.map(Value::Static)),
        ("warden.stream", e.stream.map(Value::Bool)),
        ("error.type", e.error.map(Value::Static)),
    ];
    attrs.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
    if chat {
        attrs.push(("gen_ai.operation.name", Value::Static("chat")));
    }
    if let Some(u) = e.usage {
        attrs.push((
            "gen_ai.usage.input_tokens",
            Value::Int(u.input_tokens as i64),
        ));
        attrs.push((
            "gen_ai.usage.output_tokens",
            Value::Int(u.output_tokens as i64),
        ));
        attrs.push(("warden.usage_estimated", Value::Bool(e.usage_estimated)));
    }
    let name = match &e.model_alias {
        Some(alias) => format!("chat {alias}"),
        None => format!("{method} {route}"),
    };
    t.submit(SpanRecord {
        context: ctx,
        parent: trace.parent.map(|p| (p, true)),
        name,
        kind: SpanKind::Server,
        start,
        end,
        attributes: attrs,
        error: (status >= 500).then_some(e.error.unwrap_or("error")),
    });
    let ids = ids_after(ctx.span_id);
    if let Some((from, to)) = e.guard_us {
        let findings: u32 = e.verdicts.iter().map(|v| v.count).sum();
        let (context, parent) = child(ids[0]);
        t.submit(SpanRecord {
            context,
            parent,
            name: "guardrails".into(),
            kind: SpanKind::Internal,
            start: at(from),
            end: at(to),
            attributes: vec![(
                "warden.guardrails.findings",
                Value::Int(i64::from(findings)),
            )],
            error: None,
        });
    }
    for a in &e.attempts {
        let (context, parent) = child(attempt_span_id(ctx.span_id, a.n as usize));
        let mut attributes = vec![
            ("gen_ai.provider.name", Value::Static(a.provider)),
            ("warden.key_source", Value::Static(a.key_source)),
            ("warden.attempt.outcome", Value::Static(a.outcome.name())),
        ];
        if let Some(s) = a.status {
            attributes.push(("http.response.status_code", Value::Int(i64::from(s))));
        }
        t.submit(SpanRecord {
            context,
            parent,
            name: format!("{} upstream", a.provider),
            kind: SpanKind::Client,
            start: at(a.sent_us),
            end: at(a.head_us.max(a.sent_us)),
            attributes,
            error: (a.outcome != AttemptOutcome::Ok).then_some(a.outcome.name()),
        });
    }
    if let (Some(true), Some(first)) = (e.stream, e.first_byte_us) {
        let (context, parent) = child(ids[1]);
        t.submit(SpanRecord {
            context,
            parent,
            name: "stream".into(),
            kind: SpanKind::Internal,
            start: at(first),
            end,
            attributes: vec![("warden.answer_bytes", Value::Int(e.answer_bytes as i64))],
            error: None,
        });
    }
}

/// Span ids for the guardrails and stream spans: derived past the attempts' range.
fn ids_after(request: [u8; 8]) -> [[u8; 8]; 2] {
    [
        attempt_span_id(request, 1000),
        attempt_span_id(request, 1001),
    ]
}
