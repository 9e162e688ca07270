//! Warden API keys (shown once, stored as a keyed digest and a short hint), provider keys and the
//! operator's pooled keys (sealed with AES-256-GCM, never shown again), and master-key rotation.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warden_shared::catalog::Provider;
use warden_shared::fingerprint;
use warden_shared::vault::KeyScope;
use zeroize::Zeroizing;

use super::openapi::ErrorBody;
use super::tenants::{unknown_provider, ProviderName};
use super::{check_name, Admin, Body};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::secrets::{hex, new_api_key, new_id, now_s};
use crate::store::ProviderKeyRow;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// 1 to 128 printable characters.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u001f\u007f-\u009f\s][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    name: String,
}

/// A Warden key just made: the only answer that carries the key.
#[derive(Serialize, ToSchema)]
pub struct ShownKey {
    pub id: String,
    /// `wdn_…`: shown this once, stored only as a keyed digest.
    #[serde(serialize_with = "super::secret")]
    #[schema(value_type = String)]
    pub key: Zeroizing<String>,
    /// The key's last four characters, as lists show it.
    pub hint: String,
}

#[utoipa::path(post, path = "/admin/v1/projects/{project}/api-keys", tag = "keys",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    request_body = NewApiKey,
    responses((status = 201, body = ShownKey, description = "The key, shown once.", links(("delete_api_key" = (operation_id = "delete_api_key", parameters(("id" = "$response.body#/id"))))))))]
pub async fn create_api_key(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Body(k): Body<NewApiKey>,
) -> ApiResult<(StatusCode, Json<ShownKey>)> {
    if app.store.project(&project).await?.is_none() {
        return Err(ApiError::NotFound("project"));
    }
    let made = make_api_key(&app, &project, &k.name).await?;
    // The only time the key is shown.
    Ok((
        StatusCode::CREATED,
        Json(ShownKey {
            id: made.id,
            key: made.key,
            hint: made.hint,
        }),
    ))
}

/// A Warden key just made: the key itself is in hand only now.
pub struct MadeKey {
    pub id: String,
    pub key: Zeroizing<String>,
    pub hint: String,
}

/// Make a Warden key named `name` for `project` (which exists), store its keyed digest, publish.
pub async fn make_api_key(app: &App, project: &str, name: &str) -> ApiResult<MadeKey> {
    check_name("name", name)?;
    let digests = app
        .key_digests
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no API-key digest secret"))?;
    let key = new_api_key()?;
    let digest = digests.of_key(key.as_bytes());
    // The id says nothing about the key: random, not a prefix of any digest.
    let id = new_id("key")?;
    let hint = format!("wdn_…{}", &key[key.len() - 4..]);
    app.store
        .insert_api_key(&id, project, name, &hex(&digest), &hint)
        .await?;
    app.publish().await?;
    Ok(MadeKey { id, key, hint })
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeys {
    pub api_keys: Vec<ApiKeyItem>,
}

/// A Warden key as lists show it: never the key.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyItem {
    pub id: String,
    pub name: String,
    pub hint: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of its newest request the data planes have reported (they report within
    /// seconds); `null`: never used.
    pub last_used: Option<i64>,
}

/// A project's Warden keys: id, name, hint and creation time (the key itself was shown once,
/// at creation, and is not stored).
#[utoipa::path(get, path = "/admin/v1/projects/{project}/api-keys", tag = "keys",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    responses((status = 200, body = ApiKeys, description = "The project's Warden keys.")))]
pub async fn list_api_keys(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> ApiResult<Json<ApiKeys>> {
    if app.store.project(&project).await?.is_none() {
        return Err(ApiError::NotFound("project"));
    }
    let api_keys = app
        .store
        .project_api_keys(&project)
        .await?
        .into_iter()
        .map(|(id, name, hint, created_at, last_used)| ApiKeyItem {
            id,
            name,
            hint,
            created_at,
            last_used,
        })
        .collect();
    Ok(Json(ApiKeys { api_keys }))
}

#[utoipa::path(delete, path = "/admin/v1/api-keys/{id}", tag = "keys", security(("admin" = [])),
    params(("id" = String, Path, description = "The Warden key's id.")),
    responses((status = 204, description = "Revoked: refused from the next snapshot on.")))]
pub async fn delete_api_key(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if !app.store.delete_api_key(&id).await? {
        return Err(ApiError::NotFound("API key"));
    }
    app.publish().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProviderKey {
    #[schema(value_type = ProviderName)]
    provider: String,
    /// The provider's key: 1 to 512 printable ASCII characters, no spaces. Sealed at once and
    /// never shown again.
    #[schema(min_length = 1, max_length = 512, pattern = "^[!-~]+$")]
    key: String,
    /// At most 128 bytes.
    #[schema(max_length = 128)]
    label: Option<String>,
    /// Lower goes first (0 to 1000000, default 0).
    #[schema(maximum = 1_000_000)]
    priority: Option<u32>,
}

/// What the API shows of a provider key: never the key.
#[derive(Serialize, ToSchema)]
pub struct ProviderKeyItem {
    pub id: String,
    #[schema(value_type = ProviderName)]
    pub provider: String,
    pub label: String,
    pub priority: i64,
    /// A short digest that tells keys apart without revealing them.
    pub fingerprint: String,
    /// Unix seconds.
    pub created: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderKeys {
    pub provider_keys: Vec<ProviderKeyItem>,
}

#[derive(Serialize, ToSchema)]
pub struct PooledKeys {
    pub pooled_keys: Vec<ProviderKeyItem>,
}

#[utoipa::path(post, path = "/admin/v1/projects/{project}/provider-keys", tag = "keys",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    request_body = NewProviderKey,
    responses((status = 201, body = ProviderKeyItem, description = "Sealed and stored.", links(("delete_provider_key" = (operation_id = "delete_provider_key", parameters(("id" = "$response.body#/id")))), ("put_key_priority" = (operation_id = "put_key_priority", parameters(("id" = "$response.body#/id")))))),
        (status = 403, body = ErrorBody, description = "Developer-plan tenants use pooled keys only."),
        (status = 409, body = ErrorBody, description = "This key is already stored for the project.")))]
pub async fn add_provider_key(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Body(k): Body<NewProviderKey>,
) -> ApiResult<(StatusCode, Json<ProviderKeyItem>)> {
    let key = Zeroizing::new(k.key);
    let p = app
        .store
        .project(&project)
        .await?
        .ok_or(ApiError::NotFound("project"))?;
    let row = add_own_key(&app, &p, &k.provider, &key, k.label, k.priority).await?;
    Ok((StatusCode::CREATED, Json(described(&row))))
}

/// Seal and store a project's own provider key (not on the developer plan), publish.
pub async fn add_own_key(
    app: &App,
    p: &crate::store::ProjectRow,
    provider: &str,
    key: &str,
    label: Option<String>,
    priority: Option<u32>,
) -> ApiResult<ProviderKeyRow> {
    if p.plan == "developer" {
        return Err(ApiError::Forbidden(
            "developer-plan tenants use pooled keys; bring your own keys on team or enterprise"
                .into(),
        ));
    }
    seal(
        app,
        Some((&p.tenant_id, &p.id)),
        provider,
        key,
        label,
        priority,
    )
    .await
}

#[utoipa::path(get, path = "/admin/v1/projects/{project}/provider-keys", tag = "keys",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    responses((status = 200, body = ProviderKeys, description = "The project's own keys.")))]
pub async fn list_provider_keys(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> ApiResult<Json<ProviderKeys>> {
    if app.store.project(&project).await?.is_none() {
        return Err(ApiError::NotFound("project"));
    }
    let provider_keys = app
        .store
        .provider_keys(Some(&project))
        .await?
        .iter()
        .map(described)
        .collect();
    Ok(Json(ProviderKeys { provider_keys }))
}

#[utoipa::path(delete, path = "/admin/v1/provider-keys/{id}", tag = "keys",
    security(("admin" = [])), params(("id" = String, Path, description = "The provider key's id.")),
    responses((status = 204, description = "Deleted: not used from the next snapshot on.")))]
pub async fn delete_provider_key(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if !app.store.delete_provider_key(&id, false).await? {
        return Err(ApiError::NotFound("provider key"));
    }
    app.publish().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/admin/v1/pooled-keys", tag = "keys", security(("admin" = [])),
    request_body = NewProviderKey,
    responses((status = 201, body = ProviderKeyItem, description = "Sealed and stored.", links(("delete_pooled_key" = (operation_id = "delete_pooled_key", parameters(("id" = "$response.body#/id")))), ("put_pooled_priority" = (operation_id = "put_pooled_priority", parameters(("id" = "$response.body#/id")))))),
        (status = 409, body = ErrorBody, description = "This key is already pooled.")))]
pub async fn add_pooled_key(
    _: Admin,
    State(app): State<Arc<App>>,
    Body(k): Body<NewProviderKey>,
) -> ApiResult<(StatusCode, Json<ProviderKeyItem>)> {
    let key = Zeroizing::new(k.key);
    let row = seal(&app, None, &k.provider, &key, k.label, k.priority).await?;
    Ok((StatusCode::CREATED, Json(described(&row))))
}

#[utoipa::path(get, path = "/admin/v1/pooled-keys", tag = "keys", security(("admin" = [])),
    responses((status = 200, body = PooledKeys, description = "The operator's pooled keys.")))]
pub async fn list_pooled_keys(
    _: Admin,
    State(app): State<Arc<App>>,
) -> ApiResult<Json<PooledKeys>> {
    let pooled_keys = app
        .store
        .provider_keys(None)
        .await?
        .iter()
        .map(described)
        .collect();
    Ok(Json(PooledKeys { pooled_keys }))
}

#[utoipa::path(delete, path = "/admin/v1/pooled-keys/{id}", tag = "keys",
    security(("admin" = [])), params(("id" = String, Path, description = "The pooled key's id.")),
    responses((status = 204, description = "Deleted: not used from the next snapshot on.")))]
pub async fn delete_pooled_key(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if !app.store.delete_provider_key(&id, true).await? {
        return Err(ApiError::NotFound("pooled key"));
    }
    app.publish().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Seal and store an operator's pooled key, publish.
pub async fn add_pooled(
    app: &App,
    provider: &str,
    key: &str,
    label: Option<String>,
) -> ApiResult<ProviderKeyRow> {
    seal(app, None, provider, key, label, None).await
}

/// What the API shows of a provider key: never the key.
fn described(k: &ProviderKeyRow) -> ProviderKeyItem {
    ProviderKeyItem {
        id: k.id.clone(),
        provider: k.provider.clone(),
        label: k.label.clone(),
        priority: k.priority,
        fingerprint: k.fingerprint.clone(),
        created: k.created_at,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityBody {
    /// Lower is tried first.
    #[schema(maximum = 1_000_000)]
    priority: u32,
}

/// `PUT /admin/v1/provider-keys/{id}/priority`: reorder a project's keys.
#[utoipa::path(put, path = "/admin/v1/provider-keys/{id}/priority", tag = "keys",
    security(("admin" = [])), params(("id" = String, Path, description = "The provider key's id.")),
    request_body = PriorityBody,
    responses((status = 200, body = ProviderKeyItem, description = "The key in its new place.")))]
pub async fn put_key_priority(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Body(b): Body<PriorityBody>,
) -> ApiResult<Json<ProviderKeyItem>> {
    Ok(Json(set_priority(&app, &id, false, b.priority).await?))
}

/// `PUT /admin/v1/pooled-keys/{id}/priority`: reorder the pooled keys.
#[utoipa::path(put, path = "/admin/v1/pooled-keys/{id}/priority", tag = "keys",
    security(("admin" = [])), params(("id" = String, Path, description = "The pooled key's id.")),
    request_body = PriorityBody,
    responses((status = 200, body = ProviderKeyItem, description = "The key in its new place.")))]
pub async fn put_pooled_priority(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Body(b): Body<PriorityBody>,
) -> ApiResult<Json<ProviderKeyItem>> {
    Ok(Json(set_priority(&app, &id, true, b.priority).await?))
}

/// Give key `id` (a project's, or a pooled one) priority `priority` and publish.
pub async fn set_priority(
    app: &App,
    id: &str,
    pooled: bool,
    priority: u32,
) -> ApiResult<ProviderKeyItem> {
    if priority > MAX_PRIORITY {
        return Err(ApiError::BadRequest(format!(
            "priority: 0 to {MAX_PRIORITY}"
        )));
    }
    let row = app
        .store
        .set_provider_key_priority(id, pooled, i64::from(priority))
        .await?
        .ok_or(ApiError::NotFound("provider key"))?;
    app.publish().await?;
    Ok(described(&row))
}

/// The highest provider-key priority (an order, not a quantity).
const MAX_PRIORITY: u32 = 1_000_000;

/// Validate, seal under the current master key (scope: tenant, project, provider, key id — empty
/// tenant and project for pooled keys), store, publish.
async fn seal(
    app: &App,
    owner: Option<(&str, &str)>,
    provider: &str,
    key: &str,
    label: Option<String>,
    priority: Option<u32>,
) -> ApiResult<ProviderKeyRow> {
    let provider = Provider::from_name(provider).ok_or_else(|| unknown_provider(provider))?;
    if key.is_empty() || key.len() > 512 {
        return Err(ApiError::BadRequest("key must be 1 to 512 bytes".into()));
    }
    if key.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err(ApiError::BadRequest(
            "key contains whitespace or non-printable characters".into(),
        ));
    }
    if priority.is_some_and(|p| p > MAX_PRIORITY) {
        return Err(ApiError::BadRequest(format!(
            "priority: 0 to {MAX_PRIORITY}"
        )));
    }
    let label = label.unwrap_or_default();
    if label.len() > 128 {
        return Err(ApiError::BadRequest(
            "label must be at most 128 characters".into(),
        ));
    }
    let fp = fingerprint(key.as_bytes());
    let project = owner.map(|(_, p)| p);
    if app
        .store
        .provider_keys(project)
        .await?
        .iter()
        .any(|k| k.fingerprint == fp)
    {
        return Err(ApiError::Conflict("this key is already stored here".into()));
    }
    let id = new_id("pk")?;
    let (tenant, project_id) = owner.unwrap_or(("", ""));
    let scope = KeyScope {
        tenant,
        project: project_id,
        provider,
        key_id: &id,
    };
    let ring = app.keyring();
    let master = ring
        .current()
        .ok_or_else(|| ApiError::Internal("no master key".into()))?;
    let sealed = master
        .seal(scope, key.as_bytes())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let row = ProviderKeyRow {
        id,
        project_id: project.map(str::to_owned),
        provider: provider.name().to_owned(),
        label,
        priority: i64::from(priority.unwrap_or(0)),
        fingerprint: fp,
        master_key_id: i64::from(sealed.master_key_id),
        nonce: hex(&sealed.nonce),
        ciphertext: hex(&sealed.ciphertext),
        created_at: now_s(),
    };
    app.store.insert_provider_key(&row).await?;
    app.publish().await?;
    Ok(row)
}
