//! The model catalog: the aliases clients name, the provider and upstream model each goes to, its
//! kind, and the aliases tried when every key of one has failed. Every change is checked as the
//! snapshot build checks the whole catalog (kinds, fallbacks, route groups' tiers), so a change
//! the data planes could not be sent is refused rather than stored.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warden_shared::catalog::{ModelKind, ModelRoute, Provider};

use super::tenants::{unknown_provider, ProviderName};
use super::{check_name, Admin, Body};
use crate::app::App;
use crate::error::{ApiError, ApiResult};

#[derive(Serialize, ToSchema)]
pub struct Models {
    pub models: Vec<ModelItem>,
}

/// A model alias as the data planes route it.
#[derive(Serialize, ToSchema)]
pub struct ModelItem {
    pub alias: String,
    #[schema(value_type = ProviderName)]
    pub provider: String,
    pub upstream_model: String,
    /// Aliases tried, in order, when every key of this model has failed.
    pub fallbacks: Vec<String>,
    #[schema(value_type = ModelKindName)]
    pub kind: String,
}

/// What a model answers: chat completions or embeddings.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only
pub enum ModelKindName {
    #[schema(rename = "chat")]
    Chat,
    #[schema(rename = "embedding")]
    Embedding,
}

#[utoipa::path(get, path = "/admin/v1/models", tag = "catalog", security(("admin" = [])),
    responses((status = 200, body = Models, description = "The model catalog.")))]
pub async fn list_models(_: Admin, State(app): State<Arc<App>>) -> ApiResult<Json<Models>> {
    let models = app
        .store
        .models()
        .await?
        .into_iter()
        .map(
            |(alias, provider, upstream_model, fallbacks, kind)| ModelItem {
                alias,
                provider,
                upstream_model,
                fallbacks: serde_json::from_str(&fallbacks).unwrap_or_default(),
                kind,
            },
        )
        .collect();
    Ok(Json(Models { models }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelBody {
    #[schema(value_type = ProviderName)]
    pub provider: String,
    /// The provider's model name: 1 to 128 characters, none of `/ : ? #` or space.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^/:?# \x00-\x1f\x7f]+$"
    )]
    pub upstream_model: String,
    /// Up to 4 other known aliases tried, in order, when every key of this model has failed.
    #[serde(default)]
    #[schema(max_items = 4)]
    pub fallbacks: Vec<String>,
    /// `chat` (default) or `embedding`.
    #[serde(default)]
    #[schema(value_type = Option<ModelKindName>)]
    pub kind: Option<String>,
}

#[utoipa::path(put, path = "/admin/v1/models/{alias}", tag = "catalog", security(("admin" = [])),
    params(("alias" = String, Path, description = "The alias clients name (1 to 128 printable characters).")),
    request_body = ModelBody,
    responses((status = 200, body = ModelItem, description = "The alias as stored.")))]
pub async fn put_model(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(alias): Path<String>,
    Body(m): Body<ModelBody>,
) -> ApiResult<Json<ModelItem>> {
    Ok(Json(save_model(&app, alias, m).await?))
}

/// Check an alias with the catalog it would make (kinds, fallbacks, route groups), store it and
/// publish.
pub async fn save_model(app: &App, alias: String, m: ModelBody) -> ApiResult<ModelItem> {
    check_name("alias", &alias)?;
    check_name("upstream_model", &m.upstream_model)?;
    if m.upstream_model.contains(['/', ':', '?', '#', ' ']) {
        return Err(ApiError::BadRequest(
            "upstream_model may not contain '/', ':', '?', '#' or spaces".into(),
        ));
    }
    let provider = Provider::from_name(&m.provider).ok_or_else(|| unknown_provider(&m.provider))?;
    let known = app.store.models().await?;
    if m.fallbacks.len() > 4 {
        return Err(ApiError::BadRequest("at most 4 fallbacks".into()));
    }
    let kind = match m.kind.as_deref() {
        None => ModelKind::Chat,
        Some(k) => ModelKind::from_name(k).ok_or_else(|| {
            ApiError::BadRequest(format!("kind must be \"chat\" or \"embedding\", not {k:?}"))
        })?,
    };
    for f in &m.fallbacks {
        if *f == alias || !known.iter().any(|(a, ..)| a == f) {
            return Err(ApiError::BadRequest(format!(
                "fallback {f:?} is not another known model alias"
            )));
        }
    }
    // The catalog as it would be with this alias, checked as a whole (kinds, fallbacks, route
    // groups).
    let mut catalog = catalog_without(&known, &alias);
    catalog.push(ModelRoute {
        alias: alias.clone(),
        provider,
        kind,
        upstream_model: m.upstream_model.clone(),
        fallbacks: m.fallbacks.clone(),
    });
    check_catalog(app, &catalog).map_err(ApiError::BadRequest)?;
    let fallbacks = serde_json::to_string(&m.fallbacks).unwrap_or_else(|_| "[]".into());
    app.store
        .put_model(
            &alias,
            provider.name(),
            &m.upstream_model,
            &fallbacks,
            kind.name(),
        )
        .await?;
    app.publish().await?;
    Ok(ModelItem {
        alias,
        provider: provider.name().to_owned(),
        upstream_model: m.upstream_model,
        fallbacks: m.fallbacks,
        kind: kind.name().to_owned(),
    })
}

#[utoipa::path(delete, path = "/admin/v1/models/{alias}", tag = "catalog", security(("admin" = [])),
    params(("alias" = String, Path)),
    responses((status = 204, description = "Deleted."),
        (status = 409, body = super::openapi::ErrorBody,
            description = "Another alias falls back to this one.")))]
pub async fn delete_model(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(alias): Path<String>,
) -> ApiResult<StatusCode> {
    remove_model(&app, &alias).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete an alias nothing else names, and publish.
pub async fn remove_model(app: &App, alias: &str) -> ApiResult<()> {
    // Another alias's fallback or a route group's tier naming this one would leave a catalog no
    // snapshot can be built from: every later change would fail to publish.
    let known = app.store.models().await?;
    if known.iter().any(|(a, ..)| a == alias) {
        check_catalog(app, &catalog_without(&known, alias))
            .map_err(|e| ApiError::Conflict(format!("{alias:?} is still in use: {e}")))?;
    }
    if !app.store.delete_model(alias).await? {
        return Err(ApiError::NotFound("model"));
    }
    app.publish().await?;
    Ok(())
}

type ModelTuple = (String, String, String, String, String);

/// The stored catalog without `alias`.
fn catalog_without(known: &[ModelTuple], alias: &str) -> Vec<ModelRoute> {
    known
        .iter()
        .filter(|(a, ..)| a != alias)
        .filter_map(|(a, p, u, f, k)| {
            Some(ModelRoute {
                alias: a.clone(),
                provider: Provider::from_name(p)?,
                kind: ModelKind::from_name(k)?,
                upstream_model: u.clone(),
                fallbacks: serde_json::from_str(f).unwrap_or_default(),
            })
        })
        .collect()
}

/// What a snapshot build checks of the catalog: kinds, fallbacks, and the route groups' tiers.
fn check_catalog(app: &App, catalog: &[ModelRoute]) -> Result<(), String> {
    warden_shared::catalog::check_models(catalog)?;
    warden_shared::snapshot::route_groups(&app.route_groups, catalog).map(drop)
}
