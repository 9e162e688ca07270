//! A project's request log: each request the data planes reported (`GET /admin/v1/requests`'s
//! rows, priced the same way), newest first, a page at a time — a page is one indexed range
//! read (`before_us`), whatever the number of rows kept.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{self, escape};
use super::session;
use crate::app::App;
use crate::error::ApiResult;

/// Rows per page.
const PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct Older {
    before_us: Option<i64>,
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
    let rows = app
        .store
        .requests(None, Some(&p.id), q.before_us.unwrap_or(i64::MAX), PAGE)
        .await?;
    let rows = crate::api::usage::priced(&app, rows).await?;
    let mut out = String::new();
    for v in &rows {
        let r = &v.row;
        let source = match r.key_source.as_str() {
            "byok" => "yours",
            "pooled" => "pooled",
            other => other,
        };
        let attempts = r.attempts.len();
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td>\
             <td>${} + ${} overhead</td></tr>",
            time(r.at_us),
            escape(&r.model),
            escape(&r.provider),
            escape(source),
            attempts,
            r.status,
            r.input_tokens,
            r.output_tokens,
            escape(&v.provider_cost_usd),
            escape(&v.overhead_usd),
        ));
    }
    if out.is_empty() {
        out.push_str("<tr><td colspan=\"8\">No requests yet.</td></tr>");
    }
    let older = match rows.last() {
        Some(last) if rows.len() as i64 == PAGE => format!(
            "<p><a href=\"/dashboard/projects/{}/requests?before_us={}\">Older requests</a></p>",
            escape(&p.id),
            last.row.at_us
        ),
        _ => String::new(),
    };
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
