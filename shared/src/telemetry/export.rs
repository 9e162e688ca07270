//! The exporter thread: drains [`Telemetry`]'s queue every half second (or as soon as a batch is
//! waiting) and sends what it took to the OTLP/HTTP endpoint with the OpenTelemetry SDK's
//! exporter, one call at a time, each bounded by a 5-second timeout. A batch the collector
//! refuses or never answers is counted as failed and dropped; the queue keeps bounding memory.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind as OtelKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};

use super::{SpanKind, SpanRecord, Telemetry, Value, BATCH};

/// Start the exporter thread for `telemetry`, naming the process `default_service`.
pub fn spawn(telemetry: Arc<Telemetry>, default_service: &str) -> Result<(), String> {
    let endpoint = telemetry
        .config
        .otlp_endpoint
        .clone()
        .ok_or("telemetry.otlp_endpoint is not set")?;
    let service = telemetry
        .config
        .service_name
        .clone()
        .unwrap_or_else(|| default_service.to_owned());
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("telemetry: the OTLP exporter: {e}"))?;
    exporter.set_resource(
        &opentelemetry_sdk::Resource::builder_empty()
            .with_service_name(service)
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let scope = InstrumentationScope::builder("warden")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    std::thread::Builder::new()
        .name("warden-otlp".into())
        .spawn(move || {
            let _ = telemetry.wake.set(std::thread::current());
            loop {
                if telemetry.pending() < BATCH {
                    std::thread::park_timeout(Duration::from_millis(500));
                }
                let batch = telemetry.take(BATCH);
                if batch.is_empty() {
                    continue;
                }
                let n = batch.len() as u64;
                let data = batch.into_iter().map(|s| span_data(s, &scope)).collect();
                match futures_executor::block_on(exporter.export(data)) {
                    Ok(()) => telemetry.exported.fetch_add(n, Relaxed),
                    Err(_) => telemetry.failed.fetch_add(n, Relaxed),
                };
            }
        })
        .map_err(|e| format!("telemetry: starting the exporter thread: {e}"))?;
    Ok(())
}

fn span_data(s: SpanRecord, scope: &InstrumentationScope) -> SpanData {
    let flags = if s.context.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let trace_id = TraceId::from_bytes(s.context.trace_id);
    SpanData {
        span_context: SpanContext::new(
            trace_id,
            SpanId::from_bytes(s.context.span_id),
            flags,
            false,
            TraceState::NONE,
        ),
        parent_span_id: s
            .parent
            .map_or(SpanId::INVALID, |(id, _)| SpanId::from_bytes(id)),
        parent_span_is_remote: s.parent.is_some_and(|(_, remote)| remote),
        span_kind: match s.kind {
            SpanKind::Server => OtelKind::Server,
            SpanKind::Client => OtelKind::Client,
            SpanKind::Internal => OtelKind::Internal,
        },
        name: s.name.into(),
        start_time: s.start,
        end_time: s.end,
        attributes: s
            .attributes
            .into_iter()
            .map(|(k, v)| match v {
                Value::Str(v) => KeyValue::new(k, v.to_string()),
                Value::Static(v) => KeyValue::new(k, v),
                Value::Int(v) => KeyValue::new(k, v),
                Value::Bool(v) => KeyValue::new(k, v),
            })
            .collect(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: match s.error {
            Some(e) => Status::Error {
                description: e.into(),
            },
            None => Status::Unset,
        },
        instrumentation_scope: scope.clone(),
    }
}
