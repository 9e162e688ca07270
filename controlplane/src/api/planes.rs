//! Data planes: the operator's view (list, audit-chain anchors, revoke) and a data plane's own
//! registration, which enrols it with the shared enrolment token once and with its own
//! credential from then on.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::openapi::ErrorBody;
use super::{check_name, Admin, Body, DataPlaneBearer};
use crate::app::App;
use crate::error::{ApiError, ApiResult};

#[derive(Serialize, ToSchema)]
pub struct DataPlanes {
    /// The newest published snapshot.
    pub snapshot_version: u64,
    pub dataplanes: Vec<DataPlaneItem>,
}

#[derive(Serialize, ToSchema)]
pub struct DataPlaneItem {
    pub id: String,
    pub push_url: String,
    /// The newest snapshot version it acknowledged.
    pub acked_version: i64,
    /// Unix seconds: when it last registered or acknowledged.
    pub last_seen: i64,
    /// It holds the newest snapshot.
    pub current: bool,
    pub enrolled: bool,
    pub revoked: bool,
    /// Its audit log's newest alert (cut short, rewritten, or a range never shipped).
    pub audit_alert: Option<crate::store::anchors::Alert>,
}

#[utoipa::path(get, path = "/admin/v1/dataplanes", tag = "dataplanes", security(("admin" = [])),
    responses((status = 200, body = DataPlanes, description = "Every registered data plane.")))]
pub async fn list_dataplanes(_: Admin, State(app): State<Arc<App>>) -> ApiResult<Json<DataPlanes>> {
    let planes = app.store.dataplanes().await?;
    let mut alerts: std::collections::HashMap<String, crate::store::anchors::Alert> =
        app.store.latest_alerts().await?.into_iter().collect();
    let latest = app.version();
    let dataplanes = planes
        .into_iter()
        .map(|d| DataPlaneItem {
            current: u64::try_from(d.acked_version).unwrap_or(0) >= latest,
            enrolled: d.enrolled(),
            revoked: d.revoked,
            audit_alert: alerts.remove(&d.id),
            acked_version: d.acked_version,
            last_seen: d.last_seen,
            push_url: d.push_url,
            id: d.id,
        })
        .collect();
    Ok(Json(DataPlanes {
        snapshot_version: latest,
        dataplanes,
    }))
}

/// A point of a data plane's audit chain.
#[derive(Serialize, ToSchema)]
pub struct Anchor {
    pub segment: i64,
    pub offset: i64,
    /// The chain hash there, 64 hex digits.
    pub hash: String,
}

/// `GET /admin/v1/dataplanes/{id}/anchors`: the points of that data plane's audit chain the
/// control plane keeps, as `warden-dataplane audit verify DIR --anchors FILE` reads them.
#[utoipa::path(get, path = "/admin/v1/dataplanes/{id}/anchors", tag = "dataplanes",
    security(("admin" = [])), params(("id" = String, Path, description = "The data plane's id.")),
    responses((status = 200, body = Vec<Anchor>,
        description = "The anchors kept (none for an unknown id).")))]
pub async fn dataplane_anchors(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Anchor>>> {
    let anchors = app.store.anchors(&id).await?;
    Ok(Json(
        anchors
            .into_iter()
            .map(|(segment, offset, hash)| Anchor {
                segment,
                offset,
                hash,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The data plane's id: 1 to 128 printable characters.
    #[schema(min_length = 1, max_length = 128)]
    id: String,
    /// Where the control plane pushes snapshots: an http:// or https:// URL.
    #[schema(pattern = "^https?://")]
    push_url: String,
    /// The snapshot version it holds (0: none).
    #[schema(maximum = 9_223_372_036_854_775_807_u64)]
    version: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Registered {
    /// The newest snapshot: pushed at once when the data plane is behind.
    pub snapshot_version: u64,
    /// Issued once, when this registration enrolled the data plane; it signs with it from then on.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::secret_opt"
    )]
    #[schema(value_type = Option<String>)]
    pub credential: Option<zeroize::Zeroizing<String>>,
}

/// `POST /dataplane/v1/register`. An enrolled data plane registers with its own credential;
/// an id not enrolled yet (or revoked by an operator) enrols with the enrolment token and gets
/// its credential once, in this answer. The enrolment token cannot re-register an enrolled id
/// (409): that would hand its snapshots, and its usage, to whoever holds the token.
#[utoipa::path(post, path = "/dataplane/v1/register", tag = "dataplanes",
    security(("dataplane" = [])), request_body = Registration,
    responses((status = 200, body = Registered, description = "Registered (and, the first time, enrolled)."),
        (status = 409, body = ErrorBody,
            description = "The id is enrolled: it registers with its own credential.")))]
pub async fn register(
    bearer: DataPlaneBearer,
    State(app): State<Arc<App>>,
    Body(r): Body<Registration>,
) -> ApiResult<Json<Registered>> {
    check_name("id", &r.id)?;
    if i64::try_from(r.version).is_err() {
        return Err(ApiError::BadRequest(
            "version: at most 9223372036854775807".into(),
        ));
    }
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
    Ok(Json(Registered {
        snapshot_version: latest,
        credential: issued,
    }))
}

/// `DELETE /admin/v1/dataplanes/{id}`: refuse its credential from now on (no more pushes, no
/// usage accepted in its name) until it enrols again with the enrolment token.
#[utoipa::path(delete, path = "/admin/v1/dataplanes/{id}", tag = "dataplanes",
    security(("admin" = [])), params(("id" = String, Path, description = "The data plane's id.")),
    responses((status = 204, description = "Revoked: it enrols again with the enrolment token.")))]
pub async fn revoke_dataplane(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if app.store.revoke_dataplane(&id).await? {
        tracing::info!(dataplane = %id, "data plane revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("data plane"))
    }
}
