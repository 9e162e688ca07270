//! A project's request log: each request the data planes reported (`GET /admin/v1/requests`'s
//! rows, priced the same way), newest first, a page at a time — a page is one indexed range
//! read (`before_us`), whatever the number of rows kept — narrowed by key source, outcome and
//! model; each row with its latency and the guardrails' verdicts.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{self, escape};
use super::session;
use crate::app::App;
use crate::error::ApiResult;
use crate::store::requests::RequestFilter;

/// `total (first byte)` in milliseconds; `—` when the data plane did not say.
fn latency(total_us: i64, first_us: i64) -> String {
    let ms = |us: i64| us as f64 / 1000.0;
    match (total_us, first_us) {
        (0, _) => "—".into(),
        (t, 0) => format!("{:.1} ms", ms(t)),
        (t, f) => format!("{:.1} ms <small>(first byte {:.1})</small>", ms(t), ms(f)),
    }
}

/// Each verdict as `category/detector: action ×count`.
fn verdicts(v: &[warden_shared::audit::Verdict]) -> String {
    if v.is_empty() {
        return "—".into();
    }
    v.iter()
        .map(|v| {
            format!(
                "{}/{}: {} ×{}",
                escape(&v.category),
                escape(&v.detector),
                escape(&v.action),
                v.count
            )
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// A filter's value: `None` when empty.
fn some(v: &str) -> Option<&str> {
    Some(v.trim()).filter(|v| !v.is_empty())
}

/// A query-string value, percent-encoded (everything but unreserved characters).
fn escape_query(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Rows per page.
const PAGE: i64 = 50;

/// The page's query: where the page starts, and the filters.
#[derive(Deserialize)]
pub struct Older {
    before_us: Option<i64>,
    /// `byok` or `pooled` ('' or absent: both).
    #[serde(default)]
    key_source: String,
    /// `ok` or `error`.
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    model: String,
}

/// `GET /dashboard/projects/{project}/requests[?before_us=]`.
pub async fn page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(q): Query<Older>,
) -> ApiResult<Response> {
    let Some(s) = session::current(&app, &headers).await? else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    let p = super::projects::visible(&app, &s, &project).await?;
    let key_source = some(&q.key_source).filter(|k| ["byok", "pooled"].contains(k));
    let rows = app
        .store
        .requests(&RequestFilter {
            project: Some(&p.id),
            key_source,
            model: some(&q.model),
            failed: crate::api::requests::failed(some(&q.outcome))?,
            before_us: q.before_us.unwrap_or(i64::MAX),
            limit: PAGE,
            ..RequestFilter::default()
        })
        .await?;
    let rows = crate::api::requests::priced(&app, rows).await?;
    let mut out = String::new();
    for v in &rows {
        let r = &v.row;
        let source = match r.key_source.as_str() {
            "byok" => "yours",
            "pooled" => "pooled",
            other => other,
        };
        // An answer from Warden's cache: no provider was asked.
        let source = match r.cache.as_str() {
            "" => escape(source),
            kind => format!(
                "{} <small>(cache: {})</small>",
                escape(source),
                escape(kind)
            ),
        };
        let attempts = r.attempts.len();
        let status = match r.error.as_str() {
            "" => r.status.to_string(),
            e => format!("{} {}", r.status, escape(e)),
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{status}</td><td>{}</td>\
             <td>{} / {}</td><td>${} + ${} overhead</td><td>{}</td></tr>",
            time(r.at_us),
            escape(&r.model),
            escape(&r.provider),
            source,
            attempts,
            latency(r.latency_us, r.first_byte_us),
            r.input_tokens,
            r.output_tokens,
            escape(&v.provider_cost_usd),
            escape(&v.overhead_usd),
            verdicts(&r.verdicts),
        ));
    }
    if out.is_empty() {
        out.push_str("<tr><td colspan=\"10\">No requests.</td></tr>");
    }
    // The filters, kept on the next page's link.
    let kept = format!(
        "key_source={}&outcome={}&model={}",
        key_source.unwrap_or(""),
        escape_query(some(&q.outcome).unwrap_or("")),
        escape_query(some(&q.model).unwrap_or(""))
    );
    let older = match rows.last() {
        Some(last) if rows.len() as i64 == PAGE => format!(
            "<p><a href=\"/dashboard/projects/{}/requests?before_us={}&amp;{}\">Older requests</a></p>",
            escape(&p.id),
            last.row.at_us,
            escape(&kept)
        ),
        _ => String::new(),
    };
    let selected = |on: bool| if on { " selected" } else { "" };
    let filters = format!(
        "<option value=\"\">yours and pooled</option>\
         <option value=\"byok\"{}>yours</option><option value=\"pooled\"{}>pooled</option>",
        selected(key_source == Some("byok")),
        selected(key_source == Some("pooled")),
    );
    let outcomes = format!(
        "<option value=\"\">any outcome</option>\
         <option value=\"ok\"{}>succeeded</option><option value=\"error\"{}>failed</option>",
        selected(some(&q.outcome) == Some("ok")),
        selected(some(&q.outcome) == Some("error")),
    );
    let name = super::projects::project_name(&app, &p).await?;
    Ok(pages::framed(
        pages::Page::Requests,
        &[
            ("who", &s.user.name),
            ("csrf", &s.csrf),
            ("project", &name),
            ("project_id", &p.id),
            ("rows", &out),
            ("older", &older),
            ("key_sources", &filters),
            ("outcomes", &outcomes),
            ("model", some(&q.model).unwrap_or("")),
        ],
    ))
}

/// A time in microseconds as `YYYY-MM-DD HH:MM:SS`.
pub(super) fn time(at_us: i64) -> String {
    let secs = at_us.div_euclid(1_000_000);
    let (day, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    format!(
        "{} {:02}:{:02}:{:02}",
        warden_shared::date::format_day(day),
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}
