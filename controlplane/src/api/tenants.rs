//! Tenants, projects and the model catalog.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use warden_shared::catalog::{ModelKind, ModelRoute, Provider};
use warden_shared::snapshot::{Environment, Plan};

use super::{check_name, Admin, Body};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::secrets::new_id;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    name: String,
    plan: Plan,
}

pub async fn create_tenant(
    _: Admin,
    State(app): State<Arc<App>>,
    Body(t): Body<NewTenant>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = make_tenant(&app, &t.name, t.plan).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
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

pub async fn list_tenants(_: Admin, State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let rows: Vec<Value> = app
        .store
        .tenants()
        .await?
        .into_iter()
        .map(|(id, name, plan)| json!({"id": id, "name": name, "plan": plan}))
        .collect();
    Ok(Json(json!({"tenants": rows})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    name: String,
    environment: Environment,
}

pub async fn create_project(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    Body(p): Body<NewProject>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = make_project(&app, &tenant, &p.name, p.environment).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
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

/// `GET /admin/v1/tenants/{tenant}/projects`.
pub async fn list_projects(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    if !app.store.tenant_exists(&tenant).await? {
        return Err(ApiError::NotFound("tenant"));
    }
    let rows: Vec<Value> = app
        .store
        .projects_of(&tenant)
        .await?
        .into_iter()
        .map(|(id, name, environment)| json!({"id": id, "name": name, "environment": environment}))
        .collect();
    Ok(Json(json!({"projects": rows})))
}

/// `DELETE /admin/v1/projects/{project}`: the project and its keys.
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

pub async fn list_models(_: Admin, State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let rows: Vec<Value> = app
        .store
        .models()
        .await?
        .into_iter()
        .map(|(alias, provider, upstream, fallbacks, kind)| {
            let fallbacks: Value = serde_json::from_str(&fallbacks).unwrap_or_else(|_| json!([]));
            json!({"alias": alias, "provider": provider, "upstream_model": upstream, "fallbacks": fallbacks, "kind": kind})
        })
        .collect();
    Ok(Json(json!({"models": rows})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelBody {
    provider: String,
    upstream_model: String,
    /// Aliases tried, in order, when every key of this model has failed.
    #[serde(default)]
    fallbacks: Vec<String>,
    /// `chat` (default) or `embedding`.
    #[serde(default)]
    kind: Option<String>,
}

pub async fn put_model(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(alias): Path<String>,
    Body(m): Body<ModelBody>,
) -> ApiResult<Json<Value>> {
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
    // The catalog as it would be with this alias, checked as a whole (kinds, fallbacks).
    let mut catalog: Vec<ModelRoute> = known
        .iter()
        .filter(|(a, ..)| *a != alias)
        .filter_map(|(a, p, u, f, k)| {
            Some(ModelRoute {
                alias: a.clone(),
                provider: Provider::from_name(p)?,
                kind: ModelKind::from_name(k)?,
                upstream_model: u.clone(),
                fallbacks: serde_json::from_str(f).unwrap_or_default(),
            })
        })
        .collect();
    catalog.push(ModelRoute {
        alias: alias.clone(),
        provider,
        kind,
        upstream_model: m.upstream_model.clone(),
        fallbacks: m.fallbacks.clone(),
    });
    warden_shared::catalog::check_models(&catalog).map_err(ApiError::BadRequest)?;
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
    Ok(Json(
        json!({"alias": alias, "provider": provider.name(), "upstream_model": m.upstream_model, "fallbacks": m.fallbacks, "kind": kind.name()}),
    ))
}

pub async fn delete_model(
    _: Admin,
    State(app): State<Arc<App>>,
    Path(alias): Path<String>,
) -> ApiResult<StatusCode> {
    if !app.store.delete_model(&alias).await? {
        return Err(ApiError::NotFound("model"));
    }
    app.publish().await?;
    Ok(StatusCode::NO_CONTENT)
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
