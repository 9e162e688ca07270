//! Tenants, projects and the model catalog.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warden_shared::catalog::{ModelKind, ModelRoute, Provider};
use warden_shared::snapshot::{Environment, Plan};

use super::{check_name, Admin, Body};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::secrets::new_id;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// 1 to 128 printable characters, unique.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u001f\u007f-\u009f\s][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    name: String,
    plan: Plan,
}

/// The id of what was just made.
#[derive(Serialize, ToSchema)]
pub struct Created {
    pub id: String,
}

#[utoipa::path(post, path = "/admin/v1/tenants", tag = "tenants", security(("admin" = [])),
    request_body = NewTenant,
    responses((status = 201, body = Created, description = "The tenant's id.", links(("create_project" = (operation_id = "create_project", parameters(("tenant" = "$response.body#/id")))), ("list_projects" = (operation_id = "list_projects", parameters(("tenant" = "$response.body#/id")))), ("statement" = (operation_id = "statement", parameters(("tenant" = "$response.body#/id")))), ("put_plan" = (operation_id = "put_plan", parameters(("tenant" = "$response.body#/id")))), ("delete_tenant" = (operation_id = "delete_tenant", parameters(("tenant" = "$response.body#/id")))))),
        (status = 409, body = super::openapi::ErrorBody, description = "A tenant of that name exists.")))]
pub async fn create_tenant(
    _: Admin,
    State(app): State<Arc<App>>,
    Body(t): Body<NewTenant>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let id = make_tenant(&app, &t.name, t.plan).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Make tenant `name` on `plan` and publish; its id.
pub async fn make_tenant(app: &App, name: &str, plan: Plan) -> ApiResult<String> {
    check_name("name", name)?;
    let id = new_id("ten")?;
    app.store
        .insert_tenant(&id, name, plan_name(plan))
        .await
        .map_err(|e| match ApiError::from(e) {
            ApiError::Conflict(_) => ApiError::Conflict(format!("a tenant named {name:?} exists")),
            other => other,
        })?;
    app.publish().await?;
    Ok(id)
}

#[derive(Serialize, ToSchema)]
pub struct Tenants {
    pub tenants: Vec<TenantItem>,
}

#[derive(Serialize, ToSchema)]
pub struct TenantItem {
    pub id: String,
    pub name: String,
    #[schema(value_type = Plan)]
    pub plan: String,
}

#[utoipa::path(get, path = "/admin/v1/tenants", tag = "tenants", security(("admin" = [])),
    responses((status = 200, body = Tenants, description = "Every tenant.")))]
pub async fn list_tenants(_: Admin, State(app): State<Arc<App>>) -> ApiResult<Json<Tenants>> {
    let tenants = app
        .store
        .tenants()
        .await?
        .into_iter()
        .map(|(id, name, plan)| TenantItem { id, name, plan })
        .collect();
    Ok(Json(Tenants { tenants }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    plan: Plan,
}

/// `PUT /admin/v1/tenants/{tenant}/plan`: move a tenant to another plan. On the developer plan
/// its projects are served on pooled keys only, whatever their routing says.
#[utoipa::path(put, path = "/admin/v1/tenants/{tenant}/plan", tag = "tenants",
    security(("admin" = [])), params(("tenant" = String, Path, description = "The tenant's id.")),
    request_body = PlanBody,
    responses((status = 200, body = TenantItem, description = "The tenant on its new plan.")))]
pub async fn put_plan(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    Body(b): Body<PlanBody>,
) -> ApiResult<Json<TenantItem>> {
    Ok(Json(change_plan(&app, &tenant, b.plan).await?))
}

/// Move `tenant` to `plan` and publish.
pub async fn change_plan(app: &App, tenant: &str, plan: Plan) -> ApiResult<TenantItem> {
    if !app.store.set_tenant_plan(tenant, plan_name(plan)).await? {
        return Err(ApiError::NotFound("tenant"));
    }
    app.publish().await?;
    let (id, name, plan) = app
        .store
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.0 == tenant)
        .ok_or(ApiError::NotFound("tenant"))?;
    Ok(TenantItem { id, name, plan })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// 1 to 128 printable characters, unique within the tenant.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u001f\u007f-\u009f\s][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    name: String,
    environment: Environment,
}

#[utoipa::path(post, path = "/admin/v1/tenants/{tenant}/projects", tag = "tenants",
    security(("admin" = [])), params(("tenant" = String, Path, description = "The tenant's id.")),
    request_body = NewProject,
    responses((status = 201, body = Created, description = "The project's id.", links(("create_api_key" = (operation_id = "create_api_key", parameters(("project" = "$response.body#/id")))), ("list_api_keys" = (operation_id = "list_api_keys", parameters(("project" = "$response.body#/id")))), ("add_provider_key" = (operation_id = "add_provider_key", parameters(("project" = "$response.body#/id")))), ("list_provider_keys" = (operation_id = "list_provider_keys", parameters(("project" = "$response.body#/id")))), ("put_guardrails" = (operation_id = "put_guardrails", parameters(("project" = "$response.body#/id")))), ("get_guardrails" = (operation_id = "get_guardrails", parameters(("project" = "$response.body#/id")))), ("put_routing" = (operation_id = "put_routing", parameters(("project" = "$response.body#/id")))), ("get_routing" = (operation_id = "get_routing", parameters(("project" = "$response.body#/id")))), ("put_limits" = (operation_id = "put_limits", parameters(("project" = "$response.body#/id")))), ("get_limits" = (operation_id = "get_limits", parameters(("project" = "$response.body#/id")))), ("put_cache" = (operation_id = "put_cache", parameters(("project" = "$response.body#/id")))), ("get_cache" = (operation_id = "get_cache", parameters(("project" = "$response.body#/id")))), ("delete_project" = (operation_id = "delete_project", parameters(("project" = "$response.body#/id")))))),
        (status = 409, body = super::openapi::ErrorBody,
            description = "The tenant has a project of that name.")))]
pub async fn create_project(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    Body(p): Body<NewProject>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let id = make_project(&app, &tenant, &p.name, p.environment).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Make project `name` of `tenant` in `environment` and publish; its id.
pub async fn make_project(
    app: &App,
    tenant: &str,
    name: &str,
    environment: Environment,
) -> ApiResult<String> {
    check_name("name", name)?;
    if !app.store.tenant_exists(tenant).await? {
        return Err(ApiError::NotFound("tenant"));
    }
    let id = new_id("prj")?;
    app.store
        .insert_project(&id, tenant, name, environment_name(environment))
        .await
        .map_err(|e| match ApiError::from(e) {
            ApiError::Conflict(_) => {
                ApiError::Conflict(format!("the tenant has a project named {name:?}"))
            }
            other => other,
        })?;
    app.publish().await?;
    Ok(id)
}

#[derive(Serialize, ToSchema)]
pub struct Projects {
    pub projects: Vec<ProjectItem>,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectItem {
    pub id: String,
    pub name: String,
    #[schema(value_type = Environment)]
    pub environment: String,
}

/// `GET /admin/v1/tenants/{tenant}/projects`.
#[utoipa::path(get, path = "/admin/v1/tenants/{tenant}/projects", tag = "tenants",
    security(("admin" = [])), params(("tenant" = String, Path, description = "The tenant's id.")),
    responses((status = 200, body = Projects, description = "The tenant's projects.")))]
pub async fn list_projects(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Projects>> {
    if !app.store.tenant_exists(&tenant).await? {
        return Err(ApiError::NotFound("tenant"));
    }
    let projects = app
        .store
        .projects_of(&tenant)
        .await?
        .into_iter()
        .map(|(id, name, environment)| ProjectItem {
            id,
            name,
            environment,
        })
        .collect();
    Ok(Json(Projects { projects }))
}

/// `DELETE /admin/v1/projects/{project}`: the project and its keys.
#[utoipa::path(delete, path = "/admin/v1/projects/{project}", tag = "tenants",
    security(("admin" = [])), params(("project" = String, Path, description = "The project's id.")),
    responses((status = 204, description = "Deleted, with its Warden and provider keys.")))]
pub async fn delete_project(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> ApiResult<StatusCode> {
    remove_project(&app, &project).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a project with its Warden and provider keys, and publish.
pub async fn remove_project(app: &App, project: &str) -> ApiResult<()> {
    if !app.store.delete_project(project).await? {
        return Err(ApiError::NotFound("project"));
    }
    app.publish().await?;
    Ok(())
}

/// `DELETE /admin/v1/tenants/{tenant}`: once it has no project (409 otherwise), with its
/// dashboard users.
#[utoipa::path(delete, path = "/admin/v1/tenants/{tenant}", tag = "tenants",
    security(("admin" = [])), params(("tenant" = String, Path, description = "The tenant's id.")),
    responses((status = 204, description = "Deleted, with its dashboard users."),
        (status = 409, body = super::openapi::ErrorBody, description = "The tenant has projects.")))]
pub async fn delete_tenant(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
) -> ApiResult<StatusCode> {
    match app.store.delete_tenant(&tenant).await? {
        None => Err(ApiError::NotFound("tenant")),
        Some(false) => Err(ApiError::Conflict(
            "the tenant has projects: delete them first".into(),
        )),
        Some(true) => {
            app.publish().await?;
            Ok(StatusCode::NO_CONTENT)
        }
    }
}

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

/// A provider Warden routes to.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: the handlers take and give provider names as strings
pub enum ProviderName {
    #[schema(rename = "openai")]
    OpenAi,
    #[schema(rename = "anthropic")]
    Anthropic,
    #[schema(rename = "google")]
    Google,
    #[schema(rename = "groq")]
    Groq,
    #[schema(rename = "deepseek")]
    DeepSeek,
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

pub fn unknown_provider(name: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "unknown provider {name:?} (expected openai, anthropic, google, groq or deepseek)"
    ))
}

pub fn plan_name(p: Plan) -> &'static str {
    match p {
        Plan::Developer => "developer",
        Plan::Team => "team",
        Plan::Enterprise => "enterprise",
    }
}

fn environment_name(e: Environment) -> &'static str {
    match e {
        Environment::Development => "development",
        Environment::Staging => "staging",
        Environment::Production => "production",
    }
}
