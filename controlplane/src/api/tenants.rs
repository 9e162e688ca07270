//! Tenants, projects and the model catalog.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
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
    responses((status = 201, body = Created, description = "The project's id.", links(("create_api_key" = (operation_id = "create_api_key", parameters(("project" = "$response.body#/id")))), ("list_api_keys" = (operation_id = "list_api_keys", parameters(("project" = "$response.body#/id")))), ("add_provider_key" = (operation_id = "add_provider_key", parameters(("project" = "$response.body#/id")))), ("list_provider_keys" = (operation_id = "list_provider_keys", parameters(("project" = "$response.body#/id")))), ("put_guardrails" = (operation_id = "put_guardrails", parameters(("project" = "$response.body#/id")))), ("get_guardrails" = (operation_id = "get_guardrails", parameters(("project" = "$response.body#/id")))), ("put_routing" = (operation_id = "put_routing", parameters(("project" = "$response.body#/id")))), ("get_routing" = (operation_id = "get_routing", parameters(("project" = "$response.body#/id")))), ("put_limits" = (operation_id = "put_limits", parameters(("project" = "$response.body#/id")))), ("get_limits" = (operation_id = "get_limits", parameters(("project" = "$response.body#/id")))), ("put_cache" = (operation_id = "put_cache", parameters(("project" = "$response.body#/id")))), ("get_cache" = (operation_id = "get_cache", parameters(("project" = "$response.body#/id")))), ("purge_cache" = (operation_id = "purge_cache", parameters(("project" = "$response.body#/id")))), ("delete_project" = (operation_id = "delete_project", parameters(("project" = "$response.body#/id")))))),
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
