//! A project's policies: guardrails, key routing, limits and the answer cache. Each is stored
//! as the JSON the operator sent (checked first) and read back with its defaults filled in;
//! every change publishes a snapshot.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use warden_shared::snapshot::{
    CacheMode, CachePolicy, CustomPattern, GuardAction, GuardrailPolicy, InjectionThresholds,
    KeyMode, Routing,
};
use warden_shared::standalone::CacheSection;

use super::{Admin, Body};
use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// A project's guardrail policy; absent keys are `off`.
#[derive(Deserialize, Serialize, Default, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii: Option<GuardAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<GuardAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injection: Option<GuardAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_safety: Option<GuardAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_pii: Option<GuardAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_secrets: Option<GuardAction>,
    /// Images, audio, video, PDFs and other binary files, content given by reference — what
    /// no guardrail reads: `off` (absent), `flag` or `block`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unscanned: Option<GuardAction>,
    /// The injection model's block threshold for user input (above 0, at most 1; absent: the
    /// model's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(exclusive_minimum = 0, maximum = 1)]
    pub injection_threshold: Option<f64>,
    /// Its threshold for tool results and documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(exclusive_minimum = 0, maximum = 1)]
    pub injection_tool_threshold: Option<f64>,
    /// Its flag threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(exclusive_minimum = 0, maximum = 1)]
    pub injection_flag_threshold: Option<f64>,
    /// The operator's own detectors (`warden_shared::patterns`), checked and compiled when set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_patterns: Vec<CustomPattern>,
    /// The regions whose numbering plans this project's national phone numbers are checked
    /// against (upper-case ISO 3166 codes, at most 32); absent: the data plane's own list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["KE", "NG"]))]
    pub phone_regions: Vec<String>,
    /// Whether a bare number valid as written in one of those regions is a phone number
    /// without a telephony word before it (more phone numbers kept from the provider, more
    /// order numbers and timestamps redacted); absent: the data plane's `phone_standalone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_standalone: Option<bool>,
}

impl GuardrailBody {
    pub fn thresholds(&self) -> Result<InjectionThresholds, String> {
        InjectionThresholds::from_fractions(
            self.injection_threshold,
            self.injection_tool_threshold,
            self.injection_flag_threshold,
        )
    }

    /// The policy (thresholds already checked by `thresholds`; out of range here: defaults).
    pub fn policy(&self) -> GuardrailPolicy {
        let off = GuardAction::Off;
        GuardrailPolicy {
            injection_thresholds: self.thresholds().unwrap_or_default(),
            pii: self.pii.unwrap_or(off),
            secrets: self.secrets.unwrap_or(off),
            injection: self.injection.unwrap_or(off),
            content_safety: self.content_safety.unwrap_or(off),
            response_pii: self.response_pii.unwrap_or(off),
            response_secrets: self.response_secrets.unwrap_or(off),
            unscanned: self.unscanned.unwrap_or(off),
        }
    }
}

#[utoipa::path(put, path = "/admin/v1/projects/{project}/guardrails", tag = "policy",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    request_body = GuardrailBody,
    responses((status = 200, body = GuardrailBody, description = "The policy as stored.")))]
pub async fn put_guardrails(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Body(g): Body<GuardrailBody>,
) -> ApiResult<Json<GuardrailBody>> {
    Ok(Json(save_guardrails(&app, &project, g).await?))
}

/// Check a project's guardrail policy (patterns compiled, thresholds in range), store it and
/// publish.
pub async fn save_guardrails(
    app: &App,
    project: &str,
    g: GuardrailBody,
) -> ApiResult<GuardrailBody> {
    if matches!(g.response_pii, Some(GuardAction::Restore))
        || matches!(g.response_secrets, Some(GuardAction::Restore))
    {
        return Err(ApiError::BadRequest(
            "restore applies to the request side only".into(),
        ));
    }
    GuardrailPolicy::check_unscanned(g.unscanned).map_err(ApiError::BadRequest)?;
    warden_shared::patterns::check(&g.custom_patterns).map_err(ApiError::BadRequest)?;
    warden_shared::phones::check_regions(&g.phone_regions)
        .map_err(|e| ApiError::BadRequest(format!("phone_regions: {e}")))?;
    g.thresholds().map_err(ApiError::BadRequest)?;
    let json = serde_json::to_string(&g).map_err(|e| ApiError::Internal(e.to_string()))?;
    if !app.store.set_guardrails(project, &json).await? {
        return Err(ApiError::NotFound("project"));
    }
    app.publish().await?;
    Ok(g)
}

/// One of a project's stored JSON policies (guardrails, routing, limits), parsed; 404 when the
/// project does not exist.
pub async fn stored_policy<T: DeserializeOwned>(
    app: &App,
    project: &str,
    pick: fn(&crate::store::ProjectRow) -> &String,
) -> ApiResult<T> {
    let p = app
        .store
        .project(project)
        .await?
        .ok_or(ApiError::NotFound("project"))?;
    serde_json::from_str(pick(&p)).map_err(|e| ApiError::Internal(e.to_string()))
}

#[utoipa::path(get, path = "/admin/v1/projects/{project}/guardrails", tag = "policy",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    responses((status = 200, body = GuardrailBody, description = "The policy; absent categories are off.")))]
pub async fn get_guardrails(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> ApiResult<Json<GuardrailBody>> {
    Ok(Json(
        stored_policy(&app, &project, |p| &p.guardrails).await?,
    ))
}

/// A project's key routing: `key_mode` for every provider, with per-provider overrides.
#[derive(Deserialize, Serialize, Default, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingBody {
    /// For every provider without an override (default `byok_then_pooled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_mode: Option<KeyMode>,
    /// Per-provider overrides, by provider name (openai, anthropic, google, groq, deepseek).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[schema(value_type = std::collections::BTreeMap<super::tenants::ProviderName, KeyMode>)]
    pub providers: std::collections::BTreeMap<String, KeyMode>,
}

/// A project's effective routing: the mode, default filled in, and the overrides.
#[derive(Serialize, ToSchema)]
pub struct RoutingView {
    pub key_mode: KeyMode,
    #[schema(value_type = std::collections::BTreeMap<super::tenants::ProviderName, KeyMode>)]
    pub providers: std::collections::BTreeMap<String, KeyMode>,
}

impl RoutingBody {
    pub fn routing(&self) -> Result<Routing, String> {
        let mut providers = Vec::with_capacity(self.providers.len());
        for (name, mode) in &self.providers {
            let p = warden_shared::catalog::Provider::from_name(name)
                .ok_or_else(|| format!("unknown provider {name:?}"))?;
            providers.push((p, *mode));
        }
        Ok(Routing {
            key_mode: self.key_mode.unwrap_or(Routing::default().key_mode),
            providers,
        })
    }
}

#[utoipa::path(put, path = "/admin/v1/projects/{project}/routing", tag = "policy",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    request_body = RoutingBody,
    responses((status = 200, body = RoutingView, description = "The routing as stored."),
        (status = 403, body = super::openapi::ErrorBody,
            description = "Developer-plan tenants use pooled keys only.")))]
pub async fn put_routing(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Body(r): Body<RoutingBody>,
) -> ApiResult<Json<RoutingView>> {
    Ok(Json(save_routing(&app, &project, r).await?))
}

/// Check a project's routing (known providers; developer-plan tenants pooled only), store it and
/// publish.
pub async fn save_routing(app: &App, project: &str, r: RoutingBody) -> ApiResult<RoutingView> {
    r.routing().map_err(ApiError::BadRequest)?;
    let p = app
        .store
        .project(project)
        .await?
        .ok_or(ApiError::NotFound("project"))?;
    let byok = |m: &KeyMode| *m != KeyMode::PooledOnly;
    if p.plan == "developer"
        && (r.key_mode.as_ref().is_some_and(byok) || r.providers.values().any(byok))
    {
        return Err(ApiError::Forbidden(
            "developer-plan tenants use pooled keys only; bring your own keys on team or enterprise".into(),
        ));
    }
    let json = serde_json::to_string(&r).map_err(|e| ApiError::Internal(e.to_string()))?;
    app.store.set_routing(project, &json).await?;
    app.publish().await?;
    Ok(routing_view(r))
}

#[utoipa::path(get, path = "/admin/v1/projects/{project}/routing", tag = "policy",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    responses((status = 200, body = RoutingView, description = "The effective routing.")))]
pub async fn get_routing(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> ApiResult<Json<RoutingView>> {
    let body: RoutingBody = stored_policy(&app, &project, |p| &p.routing).await?;
    Ok(Json(routing_view(body)))
}

fn routing_view(r: RoutingBody) -> RoutingView {
    RoutingView {
        key_mode: r.key_mode.unwrap_or(Routing::default().key_mode),
        providers: r.providers,
    }
}

/// A project's limits (`PUT /admin/v1/projects/{project}/limits`); absent keys: no limit.
#[derive(Deserialize, Serialize, Default, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
    /// Dollars, a decimal string (`"250"`, `"99.50"`): requests are refused once the month's
    /// spend reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[0-9]+(\.[0-9]{1,6})?$")]
    pub monthly_spend_usd: Option<String>,
    /// Dollars: answers carry a warning header from here on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[0-9]+(\.[0-9]{1,6})?$")]
    pub monthly_spend_warning_usd: Option<String>,
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

#[utoipa::path(put, path = "/admin/v1/projects/{project}/limits", tag = "policy",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    request_body = LimitsBody,
    responses((status = 200, body = LimitsBody, description = "The limits as stored.")))]
pub async fn put_limits(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Body(b): Body<LimitsBody>,
) -> ApiResult<Json<LimitsBody>> {
    Ok(Json(save_limits(&app, &project, b).await?))
}

/// Check a project's limits, store them and publish.
pub async fn save_limits(app: &App, project: &str, b: LimitsBody) -> ApiResult<LimitsBody> {
    b.limits().map_err(ApiError::BadRequest)?;
    let json = serde_json::to_string(&b).map_err(|e| ApiError::Internal(e.to_string()))?;
    if !app.store.set_limits(project, &json).await? {
        return Err(ApiError::NotFound("project"));
    }
    app.publish().await?;
    Ok(b)
}

#[utoipa::path(get, path = "/admin/v1/projects/{project}/limits", tag = "policy",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    responses((status = 200, body = LimitsBody, description = "The limits; absent: no limit.")))]
pub async fn get_limits(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> ApiResult<Json<LimitsBody>> {
    Ok(Json(stored_policy(&app, &project, |p| &p.limits).await?))
}

/// A project's answer cache (`PUT /admin/v1/projects/{project}/cache`): `mode` off | exact |
/// semantic, `ttl_s`, `semantic_threshold`, `semantic_max_temperature`, `max_mb`.
#[utoipa::path(put, path = "/admin/v1/projects/{project}/cache", tag = "policy",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    request_body = CacheSection,
    responses((status = 200, body = CacheView, description = "The cache policy as applied.")))]
pub async fn put_cache(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Body(b): Body<CacheSection>,
) -> ApiResult<Json<CacheView>> {
    Ok(Json(save_cache(&app, &project, b, false).await?))
}

/// `POST /admin/v1/projects/{project}/cache/purge`: every answer the project's cache holds is
/// dropped — on every data plane and in the shared tier — and the cache starts empty.
#[utoipa::path(post, path = "/admin/v1/projects/{project}/cache/purge", tag = "policy",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    responses((status = 200, body = CacheView,
        description = "The cache policy as applied, with its new generation.")))]
pub async fn purge_cache(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> ApiResult<Json<CacheView>> {
    let stored: CacheSection = stored_policy(&app, &project, |p| &p.cache).await?;
    Ok(Json(save_cache(&app, &project, stored, true).await?))
}

/// Check a project's cache policy, store it and publish. Its generation is the stored one
/// (whatever `b` says), raised when the cache is turned off or `purge` asks: the answers kept
/// so far are never served again, the cache starts empty.
pub async fn save_cache(
    app: &App,
    project: &str,
    mut b: CacheSection,
    purge: bool,
) -> ApiResult<CacheView> {
    b.policy().map_err(ApiError::BadRequest)?;
    let stored: CacheSection = stored_policy(app, project, |p| &p.cache).await?;
    let turned_off = stored.mode != CacheMode::Off && b.mode == CacheMode::Off;
    b.generation = if purge || turned_off {
        Some(stored.generation.unwrap_or(0).wrapping_add(1))
    } else {
        stored.generation
    };
    let json = serde_json::to_string(&b).map_err(|e| ApiError::Internal(e.to_string()))?;
    if !app.store.set_cache(project, &json).await? {
        return Err(ApiError::NotFound("project"));
    }
    app.publish().await?;
    Ok(cache_view(&b))
}

#[utoipa::path(get, path = "/admin/v1/projects/{project}/cache", tag = "policy",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    responses((status = 200, body = CacheView, description = "The cache policy as applied.")))]
pub async fn get_cache(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> ApiResult<Json<CacheView>> {
    let b: CacheSection = stored_policy(&app, &project, |p| &p.cache).await?;
    Ok(Json(cache_view(&b)))
}

/// A project's cache policy with its defaults filled in, as the data planes apply it.
#[derive(Serialize, ToSchema)]
pub struct CacheView {
    pub mode: CacheMode,
    pub ttl_s: u32,
    pub semantic_threshold: f64,
    /// The highest temperature answered by meaning; null: any.
    pub semantic_max_temperature: Option<f64>,
    /// 0: no cap of the project's own.
    pub max_mb: u64,
    /// Raised each time the cache was turned off or purged (answers of an earlier generation are
    /// never served).
    pub generation: u32,
}

pub fn cache_view(b: &CacheSection) -> CacheView {
    let p = b.policy().unwrap_or_default();
    CacheView {
        mode: p.mode,
        ttl_s: p.ttl_s,
        semantic_threshold: f64::from(p.semantic_threshold) / 10_000.0,
        semantic_max_temperature: (p.semantic_max_temperature != CachePolicy::ANY_TEMPERATURE)
            .then(|| f64::from(p.semantic_max_temperature) / 100.0),
        max_mb: p.max_bytes >> 20,
        generation: p.generation,
    }
}
