//! The request log through the admin API: each answered request, newest first, a page at a time,
//! narrowed by tenant, project, Warden key, key source, model and outcome
//! (`store::requests`), priced as the usage is.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, Params};
use crate::app::App;
use crate::billing::{price_map, Totals};
use crate::error::{ApiError, ApiResult};
use crate::store::requests::RequestFilter;
use crate::store::usage::{RequestRow, UsageRow};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    project: Option<String>,
    tenant: Option<String>,
    /// A Warden key's id: only its requests.
    api_key: Option<String>,
    /// Only requests served on the tenant's own keys (`byok`) or on pooled keys (`pooled`).
    #[param(inline, value_type = Option<KeySource>)]
    key_source: Option<String>,
    /// The upstream model.
    model: Option<String>,
    /// `error`: answered with a status of 400 or above; `ok`: the others.
    #[param(inline, value_type = Option<Outcome>)]
    outcome: Option<String>,
    /// Unix microseconds: only requests before this (for paging back: the last row's `at_us`).
    before_us: Option<i64>,
    /// At most this many, newest first (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Whose keys served a request.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: the filter is matched as text
pub enum KeySource {
    #[schema(rename = "byok")]
    Byok,
    #[schema(rename = "pooled")]
    Pooled,
}

/// How a request ended.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only
pub enum Outcome {
    #[schema(rename = "ok")]
    Ok,
    #[schema(rename = "error")]
    Error,
}

/// The `outcome` filter: `Some(true)` for errors.
pub fn failed(outcome: Option<&str>) -> ApiResult<Option<bool>> {
    match outcome {
        None | Some("") => Ok(None),
        Some("ok") => Ok(Some(false)),
        Some("error") => Ok(Some(true)),
        Some(o) => Err(ApiError::BadRequest(format!(
            "outcome {o:?}: \"ok\" or \"error\""
        ))),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Requests {
    pub requests: Vec<PricedRequest>,
}

/// A request of the log, priced.
#[derive(Serialize, ToSchema)]
pub struct PricedRequest {
    #[serde(flatten)]
    pub row: RequestRow,
    /// Attempts after the first.
    pub fallbacks: usize,
    pub overhead_usd: String,
    pub provider_cost_usd: String,
}

/// Each answered request: key source, every attempt (the fallbacks taken), usage and what it
/// cost — newest first.
#[utoipa::path(get, path = "/admin/v1/requests", tag = "usage", security(("admin" = [])),
    params(RequestsQuery),
    responses((status = 200, body = Requests, description = "Requests, newest first.")))]
pub async fn requests(
    _: Admin,
    State(app): State<Arc<App>>,
    Params(q): Params<RequestsQuery>,
) -> ApiResult<Json<Requests>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit: 1 to 1000".into()));
    }
    if let Some(s) = q
        .key_source
        .as_deref()
        .filter(|s| !["byok", "pooled"].contains(s))
    {
        return Err(ApiError::BadRequest(format!(
            "key_source {s:?}: \"byok\" or \"pooled\""
        )));
    }
    let rows = app
        .store
        .requests(&RequestFilter {
            tenant: q.tenant.as_deref(),
            project: q.project.as_deref(),
            api_key: q.api_key.as_deref(),
            key_source: q.key_source.as_deref(),
            model: q.model.as_deref(),
            failed: failed(q.outcome.as_deref())?,
            before_us: q.before_us.unwrap_or(i64::MAX),
            limit,
        })
        .await?;
    let requests = priced(&app, rows).await?;
    Ok(Json(Requests { requests }))
}

/// Request rows as the API and the dashboard show them: with their fallbacks counted and their
/// overhead and provider cost priced.
pub async fn priced(app: &App, rows: Vec<RequestRow>) -> ApiResult<Vec<PricedRequest>> {
    let prices = price_map(&app.store.prices().await?);
    Ok(rows
        .into_iter()
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
            PricedRequest {
                fallbacks: r.attempts.len().saturating_sub(1),
                overhead_usd: t.overhead.to_string(),
                provider_cost_usd: t.provider_cost.to_string(),
                row: r,
            }
        })
        .collect())
}
