//! The admin API (`Authorization: Bearer <admin token>`, compared in constant time) and the
//! data-plane registration endpoint (`Bearer <data-plane token>`). JSON in, JSON out; bodies
//! with unknown fields are refused. Keys are returned once at creation (Warden keys) or never
//! (provider keys: id, provider, label, fingerprint only). Every change publishes a snapshot.

pub mod keys;
pub mod models;
mod openapi;
mod ops;
mod planes;
pub mod policy;
pub mod prices;
pub mod requests;
mod rotation;
pub mod tenants;
pub mod usage;

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

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
        .route("/admin/v1/tenants/{tenant}/plan", put(tenants::put_plan))
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
            put(policy::put_guardrails).get(policy::get_guardrails),
        )
        .route(
            "/admin/v1/projects/{project}/routing",
            put(policy::put_routing).get(policy::get_routing),
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
            "/admin/v1/provider-keys/{id}/priority",
            put(keys::put_key_priority),
        )
        .route(
            "/admin/v1/pooled-keys/{id}/priority",
            put(keys::put_pooled_priority),
        )
        .route(
            "/admin/v1/pooled-keys",
            post(keys::add_pooled_key).get(keys::list_pooled_keys),
        )
        .route(
            "/admin/v1/pooled-keys/{id}",
            delete(keys::delete_pooled_key),
        )
        .route("/admin/v1/models", get(models::list_models))
        .route(
            "/admin/v1/models/{alias}",
            put(models::put_model).delete(models::delete_model),
        )
        .route("/admin/v1/dataplanes", get(planes::list_dataplanes))
        .route(
            "/admin/v1/dataplanes/{id}/anchors",
            get(planes::dataplane_anchors),
        )
        .route(
            "/admin/v1/dataplanes/{id}",
            delete(planes::revoke_dataplane),
        )
        .route("/admin/v1/snapshot", get(ops::snapshot_version))
        .route(
            "/admin/v1/master-key/rotate",
            post(rotation::rotate_master_key),
        )
        .route("/dataplane/v1/register", post(planes::register))
        .route("/dataplane/v1/usage", post(usage::ingest))
        .route("/admin/v1/usage", get(usage::usage))
        .route("/admin/v1/requests", get(requests::requests))
        .route(
            "/admin/v1/projects/{project}/cache",
            put(policy::put_cache).get(policy::get_cache),
        )
        .route(
            "/admin/v1/projects/{project}/cache/purge",
            post(policy::purge_cache),
        )
        .route(
            "/admin/v1/projects/{project}/limits",
            put(policy::put_limits).get(policy::get_limits),
        )
        .route("/admin/v1/prices", get(prices::list_prices))
        .route(
            "/admin/v1/prices/{provider}/{model}",
            put(prices::put_price),
        )
        .route(
            "/admin/v1/tenants/{tenant}/statement",
            get(usage::statement),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/admin/v1/openapi.json", get(openapi::document))
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
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// `Query` whose rejections are our 400s with the reason (unknown parameter, not a number, …).
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params<T>, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Params(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// Serialize a secret shown once (a new Warden key, a data plane's credential) without copying
/// it out of its zeroized buffer.
pub fn secret<S: serde::Serializer>(v: &Zeroizing<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

pub fn secret_opt<S: serde::Serializer>(
    v: &Option<Zeroizing<String>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(v),
        None => s.serialize_none(),
    }
}

/// A name: 1–128 printable characters.
pub fn check_name(field: &str, name: &str) -> ApiResult<()> {
    if name.trim().is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{field} must be 1 to 128 printable characters"
        )));
    }
    Ok(())
}
