//! Usage and billing: the data planes' usage batches in, `GET /admin/v1/usage`, the price
//! table, and a tenant's monthly statement.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, Body, DataPlaneBearer, Params};
use crate::app::App;
use crate::billing::{price_map, Totals};
use crate::error::{ApiError, ApiResult};
use crate::store::anchors::Anchoring;
use crate::store::usage::{self as store, Cursor, RequestRow, UsageRow};

/// The most rows one batch may carry.
const MAX_BATCH_ROWS: usize = 100_000;

/// The most attempts (keys × providers × fallbacks of one request), and the most verdicts, a
/// request row may list.
const MAX_ATTEMPTS: usize = 64;

/// A data plane's usage since its last batch: a range of its audit log, the usage rows and
/// request rows that range holds, and the audit chain's hashes at its ends.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    dataplane: String,
    from: Cursor,
    to: Cursor,
    #[schema(max_items = 100_000)]
    rows: Vec<UsageRow>,
    #[serde(default)]
    #[schema(max_items = 100_000)]
    requests: Vec<RequestRow>,
    /// The audit chain at the batch's ends (data planes before anchors send none).
    #[serde(default)]
    anchor: Option<AnchorBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnchorBody {
    /// Hex chain hash at `from`; `null` when the data plane's log no longer holds that point.
    from_hash: Option<String>,
    to_hash: String,
    /// The batch reaches the end of the data plane's log.
    #[serde(default)]
    at_end: bool,
}

fn is_hash(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[derive(Serialize, ToSchema)]
pub struct Applied {
    /// false: not applied now — applied before (a retry, nothing changed), or refused (409).
    pub applied: bool,
    /// With 409: the batch starts before what this store holds for the data plane and reaches
    /// past it (the data plane never heard the answer to its last batch); it resends from here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_from: Option<Cursor>,
}

/// `POST /dataplane/v1/usage`: only with the credential of the data plane the batch names —
/// the enrolment token, or another data plane's credential, cannot post rows, move a cursor or
/// set anchors in its name.
#[utoipa::path(post, path = "/dataplane/v1/usage", tag = "dataplanes",
    security(("dataplane" = [])), request_body = Batch,
    responses((status = 200, body = Applied, description = "Stored, or known already."),
        (status = 409, body = Applied, description = "Starts before what is held and reaches past it: resend from `resume_from`.")))]
pub async fn ingest(
    bearer: DataPlaneBearer,
    State(app): State<Arc<App>>,
    Body(b): Body<Batch>,
) -> ApiResult<(StatusCode, Json<Applied>)> {
    super::check_name("dataplane", &b.dataplane)?;
    let row = app.store.dataplane(&b.dataplane).await?;
    if !row.is_some_and(|d| bearer.is_credential_of(&app, &d)) {
        return Err(ApiError::Unauthorized);
    }
    if b.rows.len() > MAX_BATCH_ROWS || b.requests.len() > MAX_BATCH_ROWS || b.to < b.from {
        return Err(ApiError::BadRequest(
            "a batch has at most 100000 rows and ends after it starts".into(),
        ));
    }
    let bad = b.rows.iter().any(|r| {
        warden_shared::date::parse_day(&r.day).is_none()
            || [r.requests, r.input_tokens, r.output_tokens, r.cached_tokens]
                .iter()
                .any(|n| *n < 0)
            || [
                &r.tenant,
                &r.project,
                &r.environment,
                &r.provider,
                &r.model,
                &r.key_source,
            ]
            .iter()
            .any(|s| s.len() > 256)
    });
    if bad {
        return Err(ApiError::BadRequest("a usage row is not valid".into()));
    }
    let long = |s: &String| s.len() > 256;
    let bad = b.requests.iter().any(|r| {
        [
            r.input_tokens,
            r.output_tokens,
            r.cached_tokens,
            r.status,
            r.latency_us,
            r.first_byte_us,
        ]
        .iter()
        .any(|n| *n < 0)
            || r.attempts.len() > MAX_ATTEMPTS
            || r.verdicts.len() > MAX_ATTEMPTS
            || r.verdicts
                .iter()
                .any(|v| [&v.category, &v.detector, &v.action].into_iter().any(long))
            || [
                &r.request_id,
                &r.tenant,
                &r.project,
                &r.provider,
                &r.model,
                &r.key_source,
                &r.cache,
                &r.api_key,
                &r.error,
            ]
            .into_iter()
            .any(long)
            || r.attempts.iter().any(|a| {
                [&a.provider, &a.key_id, &a.key_source, &a.outcome]
                    .into_iter()
                    .any(long)
            })
    });
    if bad {
        return Err(ApiError::BadRequest("a request row is not valid".into()));
    }
    if let Some(a) = &b.anchor {
        if !is_hash(&a.to_hash) || a.from_hash.as_deref().is_some_and(|h| !is_hash(h)) {
            return Err(ApiError::BadRequest(
                "anchor hashes are 64 lower-case hex digits".into(),
            ));
        }
        let anchoring = Anchoring {
            from: b.from,
            to: b.to,
            from_hash: a.from_hash.clone(),
            to_hash: a.to_hash.clone(),
            at_end: a.at_end,
        };
        let now = crate::secrets::now_s().saturating_mul(1_000_000);
        if let Some((reason, detail)) = app.store.anchor(&b.dataplane, &anchoring, now).await? {
            tracing::warn!(dataplane = %b.dataplane, reason = reason.name(), "audit chain alert: {detail}");
        }
    }
    let outcome = app
        .store
        .apply_usage(&b.dataplane, b.from, b.to, &b.rows, &b.requests)
        .await?;
    let (status, applied, resume_from) = match outcome {
        store::Applied::Now => (StatusCode::OK, true, None),
        store::Applied::Known => (StatusCode::OK, false, None),
        store::Applied::ResumeFrom(held) => (StatusCode::CONFLICT, false, Some(held)),
    };
    if applied && !b.rows.is_empty() {
        app.usage_changed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    Ok((
        status,
        Json(Applied {
            applied,
            resume_from,
        }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    project: Option<String>,
    tenant: Option<String>,
    /// First day, `YYYY-MM-DD` (default: the first of this month).
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    from: Option<String>,
    /// Last day, inclusive (default: today).
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    to: Option<String>,
    /// Comma-separated: any of cache, model, provider, key_source, environment, day, project,
    /// tenant (`cache`: '' for provider answers, exact or semantic for cache hits).
    #[param(
        pattern = "^((cache|model|provider|key_source|environment|day|project|tenant)(,(cache|model|provider|key_source|environment|day|project|tenant))*)?$"
    )]
    group_by: Option<String>,
}

const DIMENSIONS: [&str; 8] = [
    "cache",
    "model",
    "provider",
    "key_source",
    "environment",
    "day",
    "project",
    "tenant",
];

fn dimension<'r>(row: &'r UsageRow, name: &str) -> &'r str {
    match name {
        "model" => &row.model,
        "provider" => &row.provider,
        "environment" => &row.environment,
        "day" => &row.day,
        "cache" => &row.cache,
        "project" => &row.project,
        "tenant" => &row.tenant,
        _ => &row.key_source,
    }
}

/// Sums of usage and what it cost; dollar amounts are exact decimal strings.
#[derive(Serialize, ToSchema)]
pub struct Money {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub overhead_usd: String,
    /// What pooled-key traffic cost at the providers' prices (your own keys: billed to you by the
    /// provider, not here).
    pub provider_cost_usd: String,
    pub total_usd: String,
    /// Pooled traffic on a model missing from the price table (its provider cost counted as 0).
    pub unpriced: bool,
    pub cache_hits: u64,
    pub cache_savings_usd: String,
}

fn money(t: &Totals) -> Money {
    Money {
        requests: t.requests,
        input_tokens: t.input_tokens,
        output_tokens: t.output_tokens,
        cached_tokens: t.cached_tokens,
        overhead_usd: t.overhead.to_string(),
        provider_cost_usd: t.provider_cost.to_string(),
        total_usd: t.total().to_string(),
        unpriced: t.unpriced,
        cache_hits: t.cache_hits,
        cache_savings_usd: t.cache_savings.to_string(),
    }
}

/// One group of `GET /admin/v1/usage`: the sums, and the value of each dimension grouped by.
#[derive(Serialize, ToSchema)]
pub struct UsageLine {
    #[serde(flatten)]
    pub totals: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `byok` or `pooled`: always present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UsageReport {
    pub from: String,
    pub to: String,
    pub group_by: Vec<String>,
    pub rows: Vec<UsageLine>,
}

#[utoipa::path(get, path = "/admin/v1/usage", tag = "usage", security(("admin" = [])),
    params(UsageQuery),
    responses((status = 200, body = UsageReport, description = "Usage summed by the groups asked for.")))]
pub async fn usage(
    _: Admin,
    State(app): State<Arc<App>>,
    Params(q): Params<UsageQuery>,
) -> ApiResult<Json<UsageReport>> {
    let today = crate::secrets::now_s() / 86_400;
    let (y, m, _) = warden_shared::date::civil_from_days(today);
    let day = |v: &Option<String>, default: String| -> ApiResult<String> {
        let d = v.clone().unwrap_or(default);
        warden_shared::date::parse_day(&d)
            .map(|_| d.clone())
            .ok_or_else(|| ApiError::BadRequest(format!("{d:?} is not a YYYY-MM-DD date")))
    };
    let from = day(&q.from, format!("{y:04}-{m:02}-01"))?;
    let to = day(&q.to, warden_shared::date::format_day(today))?;
    let mut group: Vec<&str> = Vec::new();
    for g in q
        .group_by
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|g| !g.is_empty())
    {
        let g = DIMENSIONS
            .iter()
            .find(|d| **d == g)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "group_by {g:?}: one of cache, model, provider, key_source, environment, day, project, tenant"
                ))
            })?;
        if !group.contains(g) {
            group.push(g);
        }
    }
    // Rows always say whose keys served them.
    if !group.contains(&"key_source") {
        group.push("key_source");
    }
    let rows = app
        .store
        .usage(&from, &to, q.tenant.as_deref(), q.project.as_deref())
        .await?;
    let prices = price_map(&app.store.prices().await?);
    let mut sums: BTreeMap<Vec<String>, Totals> = BTreeMap::new();
    for r in &rows {
        let key = group.iter().map(|g| dimension(r, g).to_owned()).collect();
        sums.entry(key).or_default().add(r, &app.overhead, &prices);
    }
    let rows = sums
        .into_iter()
        .map(|(key, t)| {
            let mut line = UsageLine {
                totals: money(&t),
                cache: None,
                model: None,
                provider: None,
                key_source: None,
                environment: None,
                day: None,
                project: None,
                tenant: None,
            };
            for (g, k) in group.iter().zip(key) {
                let slot = match *g {
                    "cache" => &mut line.cache,
                    "model" => &mut line.model,
                    "provider" => &mut line.provider,
                    "environment" => &mut line.environment,
                    "day" => &mut line.day,
                    "project" => &mut line.project,
                    "tenant" => &mut line.tenant,
                    _ => &mut line.key_source,
                };
                *slot = Some(k);
            }
            line
        })
        .collect();
    Ok(Json(UsageReport {
        from,
        to,
        group_by: group.iter().map(|g| (*g).to_owned()).collect(),
        rows,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// `YYYY-MM`.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: String,
}

/// A tenant's month, as the admin API and the dashboard show it.
#[derive(Serialize, ToSchema)]
pub struct Statement {
    pub tenant: String,
    pub plan: String,
    pub month: String,
    pub lines: Vec<StatementLine>,
    /// The exact sums of the lines.
    pub totals: Money,
}

#[derive(Serialize, ToSchema)]
pub struct StatementLine {
    #[serde(flatten)]
    pub totals: Money,
    pub project: String,
    pub provider: String,
    pub model: String,
    /// `byok` or `pooled`.
    pub key_source: String,
}

/// A tenant's month: one line per project, provider, model and key source, and the totals
/// (which are the exact sums of the lines).
#[utoipa::path(get, path = "/admin/v1/tenants/{tenant}/statement", tag = "tenants",
    security(("admin" = [])),
    params(("tenant" = String, Path, description = "The tenant's id."), StatementQuery),
    responses((status = 200, body = Statement, description = "The month's statement.")))]
pub async fn statement(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    Params(q): Params<StatementQuery>,
) -> ApiResult<Json<Statement>> {
    Ok(Json(month_statement(&app, &tenant, &q.month).await?))
}

/// Tenant `tenant`'s statement for `month` (`YYYY-MM`): a line per project, provider, model and
/// key source, and the totals — as the admin API and the dashboard show it.
pub async fn month_statement(app: &App, tenant: &str, month: &str) -> ApiResult<Statement> {
    let (first, next) = warden_shared::date::parse_month(month)
        .ok_or_else(|| ApiError::BadRequest(format!("month {month:?}: want YYYY-MM")))?;
    let plan = app
        .store
        .tenant_plan(tenant)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    let from = warden_shared::date::format_day(first);
    let to = warden_shared::date::format_day(next - 1);
    let rows = app.store.usage(&from, &to, Some(tenant), None).await?;
    let prices = price_map(&app.store.prices().await?);
    let mut lines: BTreeMap<[String; 4], Totals> = BTreeMap::new();
    for r in &rows {
        let key = [
            r.project.clone(),
            r.provider.clone(),
            r.model.clone(),
            r.key_source.clone(),
        ];
        lines.entry(key).or_default().add(r, &app.overhead, &prices);
    }
    let mut total = Totals::default();
    let items = lines
        .into_iter()
        .map(|([project, provider, model, key_source], t)| {
            total.merge(&t);
            StatementLine {
                totals: money(&t),
                project,
                provider,
                model,
                key_source,
            }
        })
        .collect();
    Ok(Statement {
        tenant: tenant.to_owned(),
        plan,
        month: month.to_owned(),
        lines: items,
        totals: money(&total),
    })
}
