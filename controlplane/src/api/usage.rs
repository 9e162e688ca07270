//! Usage and billing: the data planes' usage batches in, `GET /admin/v1/usage`, the price
//! table, and a tenant's monthly statement.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use warden_shared::catalog::Provider;
use warden_shared::standalone::CacheSection;

use super::{Admin, Body, DataPlaneBearer};
use crate::app::App;
use crate::billing::{price_map, Totals};
use crate::error::{ApiError, ApiResult};
use crate::store::anchors::Anchoring;
use crate::store::usage::{Cursor, Price, RequestRow, UsageRow};
use warden_shared::money::Rate;

/// The most rows one batch may carry.
const MAX_BATCH_ROWS: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    dataplane: String,
    from: Cursor,
    to: Cursor,
    rows: Vec<UsageRow>,
    #[serde(default)]
    requests: Vec<RequestRow>,
    /// The audit chain at the batch's ends (data planes before anchors send none).
    #[serde(default)]
    anchor: Option<AnchorBody>,
}

#[derive(Deserialize)]
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

/// `POST /dataplane/v1/usage`: only with the credential of the data plane the batch names —
/// the enrolment token, or another data plane's credential, cannot post rows, move a cursor or
/// set anchors in its name.
pub async fn ingest(
    bearer: DataPlaneBearer,
    State(app): State<Arc<App>>,
    Body(b): Body<Batch>,
) -> ApiResult<Json<Value>> {
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
    let applied = app
        .store
        .apply_usage(&b.dataplane, b.from, b.to, &b.rows, &b.requests)
        .await?;
    if applied && !b.rows.is_empty() {
        app.usage_changed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(Json(json!({"applied": applied})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    project: Option<String>,
    tenant: Option<String>,
    /// First day, `YYYY-MM-DD` (default: the first of this month).
    from: Option<String>,
    /// Last day, inclusive (default: today).
    to: Option<String>,
    /// Comma-separated: any of cache, model, provider, key_source, environment, day, project,
    /// tenant (`cache`: '' for provider answers, exact or semantic for cache hits).
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

fn money(t: &Totals) -> Value {
    json!({
        "requests": t.requests,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cached_tokens": t.cached_tokens,
        "overhead_usd": t.overhead.to_string(),
        "provider_cost_usd": t.provider_cost.to_string(),
        "total_usd": t.total().to_string(),
        "unpriced": t.unpriced,
        "cache_hits": t.cache_hits,
        "cache_savings_usd": t.cache_savings.to_string(),
    })
}

pub async fn usage(
    _: Admin,
    State(app): State<Arc<App>>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<Value>> {
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
            .find(|d| **d == g.trim())
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
    let out: Vec<Value> = sums
        .iter()
        .map(|(key, t)| {
            let mut v = money(t);
            for (g, k) in group.iter().zip(key) {
                v[*g] = json!(k);
            }
            v
        })
        .collect();
    Ok(Json(
        json!({"from": from, "to": to, "group_by": group, "rows": out}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestsQuery {
    project: Option<String>,
    tenant: Option<String>,
    /// Unix microseconds: only requests before this (for paging back).
    before_us: Option<i64>,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<i64>,
}

/// Each answered request: key source, every attempt (the fallbacks taken), usage and what it
/// cost — newest first.
pub async fn requests(
    _: Admin,
    State(app): State<Arc<App>>,
    Query(q): Query<RequestsQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = app
        .store
        .requests(
            q.tenant.as_deref(),
            q.project.as_deref(),
            q.before_us.unwrap_or(i64::MAX),
            limit,
        )
        .await?;
    let out = priced(&app, &rows).await?;
    Ok(Json(json!({"requests": out})))
}

/// Request rows as the API and the dashboard show them: with their fallbacks counted and their
/// overhead and provider cost priced.
pub async fn priced(app: &App, rows: &[RequestRow]) -> ApiResult<Vec<Value>> {
    let prices = price_map(&app.store.prices().await?);
    Ok(rows
        .iter()
        .map(|r| {
            let mut t = Totals::default();
            t.add(
                &UsageRow {
                    day: String::new(),
                    tenant: r.tenant.clone(),
                    project: r.project.clone(),
                    environment: String::new(),
                    provider: r.provider.clone(),
                    model: r.model.clone(),
                    key_source: r.key_source.clone(),
                    cache: r.cache.clone(),
                    requests: 1,
                    input_tokens: r.input_tokens,
                    output_tokens: r.output_tokens,
                    cached_tokens: r.cached_tokens,
                },
                &app.overhead,
                &prices,
            );
            let mut v = json!(r);
            v["fallbacks"] = json!(r
                .attempts
                .as_array()
                .map_or(0, |a| a.len().saturating_sub(1)));
            v["overhead_usd"] = json!(t.overhead.to_string());
            v["provider_cost_usd"] = json!(t.provider_cost.to_string());
            v
        })
        .collect())
}

pub async fn list_prices(_: Admin, State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"prices": app.store.prices().await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceBody {
    input_per_mtok: String,
    output_per_mtok: String,
}

pub async fn put_price(
    _: Admin,
    State(app): State<Arc<App>>,
    Path((provider, model)): Path<(String, String)>,
    Body(b): Body<PriceBody>,
) -> ApiResult<Json<Value>> {
    Provider::from_name(&provider).ok_or_else(|| super::tenants::unknown_provider(&provider))?;
    super::check_name("model", &model)?;
    for v in [&b.input_per_mtok, &b.output_per_mtok] {
        if Rate::per_mtok(v).is_none() {
            return Err(ApiError::BadRequest(format!(
                "{v:?}: dollars per million tokens, a decimal with at most 6 places"
            )));
        }
    }
    let price = Price {
        provider,
        model,
        input_per_mtok: b.input_per_mtok,
        output_per_mtok: b.output_per_mtok,
    };
    app.store.put_price(&price).await?;
    Ok(Json(json!(price)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// `YYYY-MM`.
    month: String,
}

/// A tenant's month: one line per project, provider, model and key source, and the totals
/// (which are the exact sums of the lines).
pub async fn statement(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    Query(q): Query<StatementQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(month_statement(&app, &tenant, &q.month).await?))
}

/// Tenant `tenant`'s statement for `month` (`YYYY-MM`): a line per project, provider, model and
/// key source, and the totals — as the admin API and the dashboard show it.
pub async fn month_statement(app: &App, tenant: &str, month: &str) -> ApiResult<Value> {
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
    let items: Vec<Value> = lines
        .iter()
        .map(|([project, provider, model, key_source], t)| {
            total.merge(t);
            let mut v = money(t);
            v["project"] = json!(project);
            v["provider"] = json!(provider);
            v["model"] = json!(model);
            v["key_source"] = json!(key_source);
            v
        })
        .collect();
    Ok(json!({
        "tenant": tenant,
        "plan": plan,
        "month": month,
        "lines": items,
        "totals": money(&total),
    }))
}

/// A project's limits (`PUT /admin/v1/projects/{project}/limits`); absent keys: no limit.
#[derive(Deserialize, serde::Serialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct LimitsBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    requests_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tokens_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monthly_spend_usd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monthly_spend_warning_usd: Option<String>,
}

impl LimitsBody {
    pub fn limits(&self) -> Result<warden_shared::snapshot::Limits, String> {
        warden_shared::snapshot::Limits::from_decimal(
            self.requests_per_minute,
            self.tokens_per_minute,
            self.monthly_spend_usd.as_deref(),
            self.monthly_spend_warning_usd.as_deref(),
        )
    }
}

pub async fn put_limits(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Body(b): Body<LimitsBody>,
) -> ApiResult<Json<Value>> {
    b.limits().map_err(ApiError::BadRequest)?;
    let json = serde_json::to_string(&b).map_err(|e| ApiError::Internal(e.to_string()))?;
    if !app.store.set_limits(&project, &json).await? {
        return Err(ApiError::NotFound("project"));
    }
    app.publish().await?;
    Ok(Json(json!(b)))
}

pub async fn get_limits(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    let b: LimitsBody = super::stored_policy(&app, &project, |p| &p.limits).await?;
    Ok(Json(json!(b)))
}

/// A project's answer cache (`PUT /admin/v1/projects/{project}/cache`): `mode` off | exact |
/// semantic, `ttl_s`, `semantic_threshold`, `max_mb`.
pub async fn put_cache(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Body(b): Body<CacheSection>,
) -> ApiResult<Json<Value>> {
    b.policy().map_err(ApiError::BadRequest)?;
    let json = serde_json::to_string(&b).map_err(|e| ApiError::Internal(e.to_string()))?;
    if !app.store.set_cache(&project, &json).await? {
        return Err(ApiError::NotFound("project"));
    }
    app.publish().await?;
    Ok(Json(cache_json(&b)))
}

pub async fn get_cache(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    let b: CacheSection = super::stored_policy(&app, &project, |p| &p.cache).await?;
    Ok(Json(cache_json(&b)))
}

/// The policy with its defaults filled in, as the data planes apply it.
fn cache_json(b: &CacheSection) -> Value {
    let p = b.policy().unwrap_or_default();
    json!({
        "mode": p.mode,
        "ttl_s": p.ttl_s,
        "semantic_threshold": f64::from(p.semantic_threshold) / 10_000.0,
        "max_mb": p.max_bytes >> 20,
    })
}
