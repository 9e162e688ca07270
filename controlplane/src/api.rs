//! The admin API (`Authorization: Bearer <admin token>`, compared in constant time) and the
//! data-plane registration endpoint (`Bearer <data-plane token>`). JSON in, JSON out; bodies
//! with unknown fields are refused. Keys are returned once at creation (Warden keys) or never
//! (provider keys: id, provider, label, fingerprint only). Every change publishes a snapshot.

pub mod keys;
mod ops;
pub mod tenants;
pub mod usage;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use warden_shared::snapshot::{
    CustomPattern, GuardAction, GuardrailPolicy, InjectionThresholds, KeyMode, Routing,
};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::secrets::constant_time_eq;
use crate::store::dataplanes::DataPlaneRow;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/admin/v1/tenants",
            post(tenants::create_tenant).get(tenants::list_tenants),
        )
        .route("/admin/v1/tenants/{tenant}", delete(tenants::delete_tenant))
        .route(
            "/admin/v1/tenants/{tenant}/projects",
            post(tenants::create_project).get(tenants::list_projects),
        )
        .route(
            "/admin/v1/projects/{project}",
            delete(tenants::delete_project),
        )
        .route(
            "/admin/v1/projects/{project}/api-keys",
            post(keys::create_api_key).get(keys::list_api_keys),
        )
        .route("/admin/v1/api-keys/{id}", delete(keys::delete_api_key))
        .route(
            "/admin/v1/projects/{project}/guardrails",
            put(put_guardrails).get(get_guardrails),
        )
        .route(
            "/admin/v1/projects/{project}/routing",
            put(put_routing).get(get_routing),
        )
        .route(
            "/admin/v1/projects/{project}/provider-keys",
            post(keys::add_provider_key).get(keys::list_provider_keys),
        )
        .route(
            "/admin/v1/provider-keys/{id}",
            delete(keys::delete_provider_key),
        )
        .route(
            "/admin/v1/pooled-keys",
            post(keys::add_pooled_key).get(keys::list_pooled_keys),
        )
        .route(
            "/admin/v1/pooled-keys/{id}",
            delete(keys::delete_pooled_key),
        )
        .route("/admin/v1/models", get(tenants::list_models))
        .route(
            "/admin/v1/models/{alias}",
            put(tenants::put_model).delete(tenants::delete_model),
        )
        .route("/admin/v1/dataplanes", get(list_dataplanes))
        .route("/admin/v1/dataplanes/{id}/anchors", get(dataplane_anchors))
        .route("/admin/v1/dataplanes/{id}", delete(revoke_dataplane))
        .route("/admin/v1/snapshot", get(ops::snapshot_version))
        .route("/admin/v1/master-key/rotate", post(keys::rotate_master_key))
        .route("/dataplane/v1/register", post(register))
        .route("/dataplane/v1/usage", post(usage::ingest))
        .route("/admin/v1/usage", get(usage::usage))
        .route("/admin/v1/requests", get(usage::requests))
        .route(
            "/admin/v1/projects/{project}/cache",
            put(usage::put_cache).get(usage::get_cache),
        )
        .route(
            "/admin/v1/projects/{project}/limits",
            put(usage::put_limits).get(usage::get_limits),
        )
        .route("/admin/v1/prices", get(usage::list_prices))
        .route("/admin/v1/prices/{provider}/{model}", put(usage::put_price))
        .route(
            "/admin/v1/tenants/{tenant}/statement",
            get(usage::statement),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(crate::dashboard::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            crate::trace::layer,
        ))
        .with_state(app)
}

/// Proof that the request carried the admin token.
pub struct Admin;

impl FromRequestParts<Arc<App>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Admin, ApiError> {
        bearer(parts, &app.admin_token)
            .then_some(Admin)
            .ok_or(ApiError::Unauthorized)
    }
}

/// The bearer token a data plane presented: the enrolment token or its own credential, told
/// apart by the handler (a credential is only good for the id it was issued to).
pub struct DataPlaneBearer(pub zeroize::Zeroizing<String>);

impl FromRequestParts<Arc<App>> for DataPlaneBearer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &Arc<App>,
    ) -> Result<DataPlaneBearer, ApiError> {
        let presented = presented(parts);
        if presented.is_empty() {
            return Err(ApiError::Unauthorized);
        }
        Ok(DataPlaneBearer(zeroize::Zeroizing::new(
            presented.to_owned(),
        )))
    }
}

impl DataPlaneBearer {
    /// The shared enrolment token.
    pub fn is_enrolment_token(&self, app: &App) -> bool {
        !app.dataplane_token.is_empty()
            && constant_time_eq(self.0.as_bytes(), app.dataplane_token.as_bytes())
    }

    /// The credential of the enrolled, unrevoked data plane `row`.
    pub fn is_credential_of(&self, app: &App, row: &DataPlaneRow) -> bool {
        row.enrolled()
            && app
                .credentials
                .as_ref()
                .is_some_and(|c| c.check(&row.id, row.credential_gen, &self.0))
    }
}

fn presented(parts: &Parts) -> &str {
    parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

fn bearer(parts: &Parts, expected: &str) -> bool {
    let presented = presented(parts);
    !expected.is_empty() && constant_time_eq(presented.as_bytes(), expected.as_bytes())
}

/// `Json` whose rejections are our 400s with the reason (unknown field, wrong type, …).
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Body<T>, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError::BadRequest(rejection_text(&e))),
        }
    }
}

fn rejection_text(e: &JsonRejection) -> String {
    e.body_text()
}

/// A name: 1–128 printable characters.
pub fn check_name(field: &str, name: &str) -> ApiResult<()> {
    if name.trim().is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{field} must be 1 to 128 printable characters"
        )));
    }
    Ok(())
}

/// A project's guardrail policy; absent keys are `off`.
#[derive(Deserialize, serde::Serialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct GuardrailBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pii: Option<GuardAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secrets: Option<GuardAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    injection: Option<GuardAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_safety: Option<GuardAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response_pii: Option<GuardAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response_secrets: Option<GuardAction>,
    /// The injection model's thresholds (0 to 1; absent: the model's defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    injection_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    injection_tool_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    injection_flag_threshold: Option<f64>,
    /// The operator's own detectors (`warden_shared::patterns`), checked and compiled when set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_patterns: Vec<CustomPattern>,
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
        }
    }
}

async fn put_guardrails(
    _: Admin,
    State(app): State<Arc<App>>,
    axum::extract::Path(project): axum::extract::Path<String>,
    Body(g): Body<GuardrailBody>,
) -> ApiResult<Json<Value>> {
    if matches!(g.response_pii, Some(GuardAction::Restore))
        || matches!(g.response_secrets, Some(GuardAction::Restore))
    {
        return Err(ApiError::BadRequest(
            "restore applies to the request side only".into(),
        ));
    }
    warden_shared::patterns::check(&g.custom_patterns).map_err(ApiError::BadRequest)?;
    g.thresholds().map_err(ApiError::BadRequest)?;
    let json = serde_json::to_string(&g).map_err(|e| ApiError::Internal(e.to_string()))?;
    if !app.store.set_guardrails(&project, &json).await? {
        return Err(ApiError::NotFound("project"));
    }
    app.publish().await?;
    Ok(Json(serde_json::to_value(&g).unwrap_or_default()))
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

async fn get_guardrails(
    _: Admin,
    State(app): State<Arc<App>>,
    axum::extract::Path(project): axum::extract::Path<String>,
) -> ApiResult<Json<Value>> {
    let body: GuardrailBody = stored_policy(&app, &project, |p| &p.guardrails).await?;
    Ok(Json(serde_json::to_value(&body).unwrap_or_default()))
}

/// A project's key routing: `key_mode` for every provider, with per-provider overrides.
#[derive(Deserialize, serde::Serialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RoutingBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_mode: Option<KeyMode>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    providers: std::collections::BTreeMap<String, KeyMode>,
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

async fn put_routing(
    _: Admin,
    State(app): State<Arc<App>>,
    axum::extract::Path(project): axum::extract::Path<String>,
    Body(r): Body<RoutingBody>,
) -> ApiResult<Json<Value>> {
    r.routing().map_err(ApiError::BadRequest)?;
    let p = app
        .store
        .project(&project)
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
    app.store.set_routing(&project, &json).await?;
    app.publish().await?;
    Ok(Json(routing_json(&r)))
}

async fn get_routing(
    _: Admin,
    State(app): State<Arc<App>>,
    axum::extract::Path(project): axum::extract::Path<String>,
) -> ApiResult<Json<Value>> {
    let body: RoutingBody = stored_policy(&app, &project, |p| &p.routing).await?;
    Ok(Json(routing_json(&body)))
}

/// The effective routing: the mode (default filled in) and the overrides.
fn routing_json(r: &RoutingBody) -> Value {
    let mode = r.key_mode.unwrap_or(Routing::default().key_mode);
    json!({"key_mode": mode, "providers": r.providers})
}

async fn list_dataplanes(_: Admin, State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let planes = app.store.dataplanes().await?;
    let alerts: std::collections::HashMap<String, crate::store::anchors::Alert> =
        app.store.latest_alerts().await?.into_iter().collect();
    let latest = app.version();
    let rows: Vec<Value> = planes
        .into_iter()
        .map(|d| {
            let alert = alerts.get(&d.id);
            json!({"id": d.id, "push_url": d.push_url, "acked_version": d.acked_version,
                "last_seen": d.last_seen, "current": d.acked_version as u64 >= latest,
                "enrolled": d.enrolled(), "revoked": d.revoked, "audit_alert": alert})
        })
        .collect();
    Ok(Json(
        json!({"snapshot_version": latest, "dataplanes": rows}),
    ))
}

/// `GET /admin/v1/dataplanes/{id}/anchors`: the points of that data plane's audit chain the
/// control plane keeps, as `warden-dataplane audit verify DIR --anchors FILE` reads them.
async fn dataplane_anchors(
    _: Admin,
    State(app): State<Arc<App>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> ApiResult<Json<Value>> {
    let anchors = app.store.anchors(&id).await?;
    Ok(Json(Value::Array(
        anchors
            .into_iter()
            .map(|(segment, offset, hash)| json!({"segment": segment, "offset": offset, "hash": hash}))
            .collect(),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    id: String,
    push_url: String,
    version: u64,
}

/// `POST /dataplane/v1/register`. An enrolled data plane registers with its own credential;
/// an id not enrolled yet (or revoked by an operator) enrols with the enrolment token and gets
/// its credential once, in this answer. The enrolment token cannot re-register an enrolled id
/// (409): that would hand its snapshots, and its usage, to whoever holds the token.
async fn register(
    bearer: DataPlaneBearer,
    State(app): State<Arc<App>>,
    Body(r): Body<Registration>,
) -> ApiResult<Json<Value>> {
    check_name("id", &r.id)?;
    if !(r.push_url.starts_with("http://") || r.push_url.starts_with("https://")) {
        return Err(ApiError::BadRequest(
            "push_url must be an http:// or https:// URL".into(),
        ));
    }
    let row = app.store.dataplane(&r.id).await?;
    let enrolled = row.as_ref().filter(|d| d.enrolled());
    let mut issued = None;
    match enrolled {
        Some(d) if bearer.is_credential_of(&app, d) => {
            app.store
                .refresh_dataplane(&r.id, &r.push_url, r.version)
                .await?;
        }
        Some(_) if bearer.is_enrolment_token(&app) => {
            return Err(ApiError::Conflict(format!(
                "data plane {:?} is enrolled: it registers with its own credential \
                 (state_dir/dataplane.credential); to enrol it again, an operator revokes it \
                 first (DELETE /admin/v1/dataplanes/{{id}})",
                r.id
            )));
        }
        None if bearer.is_enrolment_token(&app) => {
            let generation = app.store.enrol(&r.id, &r.push_url, r.version).await?;
            let credentials = app
                .credentials
                .as_ref()
                .ok_or_else(|| ApiError::Internal("no credential key".into()))?;
            issued = Some(credentials.issue(&r.id, generation));
            tracing::info!(dataplane = %r.id, generation, "data plane enrolled");
        }
        _ => return Err(ApiError::Unauthorized),
    }
    let latest = app.version();
    if r.version < latest {
        app.wake.notify_one();
    }
    let mut answer = json!({"snapshot_version": latest});
    if let Some(c) = &issued {
        answer["credential"] = json!(c.as_str());
    }
    Ok(Json(answer))
}

/// `DELETE /admin/v1/dataplanes/{id}`: refuse its credential from now on (no more pushes, no
/// usage accepted in its name) until it enrols again with the enrolment token.
async fn revoke_dataplane(
    _: Admin,
    State(app): State<Arc<App>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    if app.store.revoke_dataplane(&id).await? {
        tracing::info!(dataplane = %id, "data plane revoked");
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("data plane"))
    }
}
