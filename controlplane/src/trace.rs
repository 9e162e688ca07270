//! Traces of the control plane's own work (`[telemetry]`, see `warden_shared::telemetry`): a
//! SERVER span for every admin-API and control-link request (a caller's W3C `traceparent` is
//! followed; without one, `sample_ratio` decides) and a CLIENT span for every snapshot push.
//! Spans are queued without waiting for the exporter thread; a full queue drops them, counted.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use warden_shared::telemetry::{Ids, SpanKind, SpanRecord, TraceContext, Value};

use crate::app::App;

/// The middleware: time the request and describe it once answered.
pub async fn layer(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(t) = app.telemetry.clone() else {
        return next.run(req).await;
    };
    let client = req
        .headers()
        .get("traceparent")
        .and_then(|v| TraceContext::parse(v.as_bytes()));
    let ids = Ids::new();
    let context = match client {
        Some(c) => c.child(ids.span_id()),
        None => {
            let trace_id = ids.trace_id();
            TraceContext {
                trace_id,
                span_id: ids.span_id(),
                sampled: t.samples(&trace_id),
            }
        }
    };
    if !context.sampled {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let start = SystemTime::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    t.submit(SpanRecord {
        context,
        parent: client.map(|c| (c.span_id, true)),
        name: format!("{method} {route}"),
        kind: SpanKind::Server,
        start,
        end: SystemTime::now(),
        attributes: vec![
            (
                "http.request.method",
                Value::Str(Arc::from(method.as_str())),
            ),
            ("http.route", Value::Str(Arc::from(route.as_str()))),
            ("http.response.status_code", Value::Int(i64::from(status))),
        ],
        error: (status >= 500).then_some("server error"),
    });
    response
}

/// A snapshot push to data plane `id`, from `start` to now, ended by `outcome`.
pub fn push(app: &App, id: &str, version: u64, start: SystemTime, outcome: &'static str) {
    let Some(t) = &app.telemetry else {
        return;
    };
    let ids = Ids::new();
    let trace_id = ids.trace_id();
    if !t.samples(&trace_id) {
        return;
    }
    t.submit(SpanRecord {
        context: TraceContext {
            trace_id,
            span_id: ids.span_id(),
            sampled: true,
        },
        parent: None,
        name: "snapshot push".into(),
        kind: SpanKind::Client,
        start,
        end: SystemTime::now(),
        attributes: vec![
            ("warden.dataplane", Value::Str(Arc::from(id))),
            ("warden.snapshot.version", Value::Int(version as i64)),
            ("warden.push.outcome", Value::Static(outcome)),
        ],
        error: (outcome != "acked").then_some(outcome),
    });
}
