//! A tenant's usage: a chart of requests a day by key source (yours or pooled) with the day's
//! cost — uPlot, vendored in `assets/vendor` — and a table by model and key source, priced as the
//! statement prices it (`billing.rs`: the provider's price on pooled keys, Warden's overhead on
//! every request).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::pages::{self, escape};
use super::session::{self, Signed};
use crate::app::App;
use crate::billing::{price_map, Totals};
use crate::error::{ApiError, ApiResult};
use crate::secrets::now_s;
use crate::store::usage::UsageRow;

#[derive(Deserialize)]
pub struct Window {
    days: Option<i64>,
}

/// The window asked for: 1 to 366 days, 30 by default.
fn days(w: &Window) -> i64 {
    w.days.unwrap_or(30).clamp(1, 366)
}

/// The tenant's usage rows of the last `days` days, and those days in order.
async fn rows(app: &App, tenant: &str, days: i64) -> ApiResult<(Vec<String>, Vec<UsageRow>)> {
    let today = now_s().div_euclid(86_400);
    let all: Vec<String> = (today - days + 1..=today)
        .map(warden_shared::date::format_day)
        .collect();
    let (first, last) = (all[0].clone(), all[all.len() - 1].clone());
    let rows = app.store.usage(&first, &last, Some(tenant), None).await?;
    Ok((all, rows))
}

fn usd(u: warden_shared::money::Usd) -> f64 {
    u.0 as f64 / 1e12
}

/// `GET /dashboard/api/tenants/{tenant}/usage?days=N`: `{days, yours, pooled, cost_usd}`, one
/// entry a day.
pub async fn series(
    State(app): State<Arc<App>>,
    s: Signed,
    Path(tenant): Path<String>,
    Query(w): Query<Window>,
) -> ApiResult<Json<Value>> {
    super::tenant_name(&app, &s, &tenant).await?;
    let (all, rows) = rows(&app, &tenant, days(&w)).await?;
    let prices = price_map(&app.store.prices().await?);
    let at: BTreeMap<&str, usize> = all
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let (mut yours, mut pooled) = (vec![0u64; all.len()], vec![0u64; all.len()]);
    let mut cost = vec![Totals::default(); all.len()];
    for r in &rows {
        let Some(&i) = at.get(r.day.as_str()) else {
            continue;
        };
        let n = u64::try_from(r.requests).unwrap_or(0);
        match r.key_source.as_str() {
            "pooled" => pooled[i] += n,
            _ => yours[i] += n,
        }
        cost[i].add(r, &app.overhead, &prices);
    }
    Ok(Json(json!({
        "days": all,
        "yours": yours,
        "pooled": pooled,
        "cost_usd": cost.iter().map(|t| usd(t.total())).collect::<Vec<_>>(),
    })))
}

/// `GET /dashboard/tenants/{tenant}/usage?days=N`.
pub async fn page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    Query(w): Query<Window>,
) -> ApiResult<Response> {
    let Some(s) = session::current(&app, &headers).await? else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    let name = super::tenant_name(&app, &s, &tenant).await?;
    let days = days(&w);
    let (_, rows) = rows(&app, &tenant, days).await?;
    let prices = price_map(&app.store.prices().await?);
    let mut by: BTreeMap<(String, String), Totals> = BTreeMap::new();
    for r in &rows {
        let source = if r.key_source == "pooled" {
            "pooled"
        } else {
            "yours"
        };
        by.entry((r.model.clone(), source.to_owned()))
            .or_default()
            .add(r, &app.overhead, &prices);
    }
    let mut out = String::new();
    for ((model, source), t) in &by {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>${}</td><td>${}</td></tr>",
            escape(model),
            escape(source),
            t.requests,
            t.input_tokens,
            t.output_tokens,
            t.provider_cost,
            t.overhead
        ));
    }
    if out.is_empty() {
        out.push_str("<tr><td colspan=\"6\">No usage in this window.</td></tr>");
    }
    let days = days.to_string();
    Ok(pages::framed(
        pages::Page::Usage,
        &[
            ("who", &s.user.name),
            ("csrf", &s.csrf),
            ("tenant", &name),
            ("tenant_id", &tenant),
            ("days", &days),
            ("rows", &out),
        ],
    ))
}

#[derive(Deserialize)]
pub struct Month {
    month: Option<String>,
}

/// `GET /dashboard/tenants/{tenant}/statement[?month=YYYY-MM]`: this month's by default.
pub async fn statement(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    Query(q): Query<Month>,
) -> ApiResult<Response> {
    let Some(s) = session::current(&app, &headers).await? else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    let name = super::tenant_name(&app, &s, &tenant).await?;
    let (y, m, _) = warden_shared::date::civil_from_days(now_s().div_euclid(86_400));
    let month = q.month.unwrap_or_else(|| format!("{y:04}-{m:02}"));
    let st = serde_json::to_value(crate::api::usage::month_statement(&app, &tenant, &month).await?)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (first, following) = warden_shared::date::parse_month(&month)
        .ok_or_else(|| ApiError::BadRequest("month: want YYYY-MM".into()))?;
    let shift = |days: i64| {
        let (y, m, _) = warden_shared::date::civil_from_days(days);
        format!("{y:04}-{m:02}")
    };
    let (previous, next) = (shift(first - 1), shift(following));
    let text = |v: &Value, k: &str| {
        escape(
            &v[k]
                .as_str()
                .map_or_else(|| v[k].to_string(), str::to_owned),
        )
    };
    let line = |v: &Value, head: &str| {
        format!(
            "<tr>{head}<td>{}</td><td>{} / {}</td><td>${}</td><td>${}</td><td>${}</td></tr>",
            text(v, "requests"),
            text(v, "input_tokens"),
            text(v, "output_tokens"),
            text(v, "provider_cost_usd"),
            text(v, "overhead_usd"),
            text(v, "total_usd"),
        )
    };
    let mut rows = String::new();
    for l in st["lines"].as_array().into_iter().flatten() {
        let source = if l["key_source"] == "pooled" {
            "pooled"
        } else {
            "yours"
        };
        let head = format!(
            "<td>{}</td><td>{}</td><td>{}</td><td>{source}</td>",
            text(l, "project"),
            text(l, "provider"),
            text(l, "model")
        );
        rows.push_str(&line(l, &head));
    }
    rows.push_str(&line(
        &st["totals"],
        "<td colspan=\"4\"><strong>Total</strong></td>",
    ));
    let plan = text(&st, "plan");
    Ok(pages::framed(
        pages::Page::Statement,
        &[
            ("who", &s.user.name),
            ("csrf", &s.csrf),
            ("tenant", &name),
            ("tenant_id", &tenant),
            ("month", &month),
            ("plan", &plan),
            ("previous", &previous),
            ("next", &next),
            ("rows", &rows),
        ],
    ))
}
