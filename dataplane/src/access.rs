//! The optional access log (`access_log = true`): one line per request, after it is answered,
//! through the process log (target `warden::access`; text or JSON per `log_format`) — who asked
//! (tenant, project, key id), what (route, method, model alias, stream), where it went
//! (provider), how it ended (status, error code, tokens) and how long it took. Never a key, a
//! prompt or an answer: the fields come from the request's audit entry, which holds ids only.
//! The line is written by the log thread; the shard only queues it (see `warden_shared::logs`).

use std::time::Duration;

use crate::audit::Entry;

/// Log one answered request.
pub fn line(entry: &Entry, method: &str, status: u16, total: Duration) {
    let usage = entry.usage.as_ref();
    tracing::info!(
        target: "warden::access",
        request_id = entry.request_id.as_deref().unwrap_or(""),
        client = %entry.client.map(|c| c.ip().to_string()).unwrap_or_default(),
        method,
        route = entry.route.unwrap_or(""),
        status,
        error = entry.error.unwrap_or(""),
        tenant = entry.tenant.as_deref().unwrap_or(""),
        project = entry.project.as_deref().unwrap_or(""),
        api_key_id = entry.api_key_id.as_deref().unwrap_or(""),
        model = entry.model_alias.as_deref().unwrap_or(""),
        provider = entry.provider.unwrap_or(""),
        stream = entry.stream.unwrap_or(false),
        input_tokens = usage.map_or(0, |u| u.input_tokens),
        output_tokens = usage.map_or(0, |u| u.output_tokens),
        duration_us = total.as_micros() as u64,
        upstream_us = entry.upstream_us.unwrap_or(0),
        "access"
    );
}
