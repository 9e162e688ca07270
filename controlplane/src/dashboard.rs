//! The dashboard: the tenants' and operators' way into Warden, served by the control plane on its
//! `listen` address (`/` leads to it). People sign in with a name and password (`login.rs`,
//! Argon2id in `passwords.rs`) and get a session (`session.rs`); the admin API's bearer token
//! keeps working for automation beside it.
//!
//! Roles: an operator (no tenant) sees and changes everything; a tenant's `owner` and `member`
//! see only their own tenant — an object of another tenant answers 404, as one that does not
//! exist. The first operator, `admin`, is made at the first start with a random password written
//! once to `data_dir/initial-admin-password` (0600); `warden-controlplane user add` makes more.

mod catalog;
mod home;
mod login;
mod operations;
mod pages;
pub mod passwords;
mod projects;
mod requests;
pub mod session;
mod settings;
mod team;
mod usage;

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::Body;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::secrets::{new_id, now_s, write_private};
use crate::store::people::UserRow;
use crate::store::Store;
use session::Signed;

/// The client's address, as the listener saw it (plain TCP or TLS): the sign-in rate limit
/// counts by it.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub std::net::SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, crate::tls::TlsListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::tls::TlsListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// A form that deletes something: the session's CSRF token and the ticked "sure" box.
#[derive(Deserialize)]
pub struct Confirmed {
    csrf: String,
    #[serde(default)]
    confirm: String,
}

impl Confirmed {
    fn confirmed(&self) -> bool {
        self.confirm == "yes"
    }
}

/// `[dashboard]` in the control plane's config.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// A session ends this long after sign-in, used or not.
    pub session_max_s: i64,
    /// … or after this long without a request.
    pub session_idle_s: i64,
    /// Failed sign-ins allowed per name within `login_window_s` (ten times as many per address).
    pub login_attempts: i64,
    pub login_window_s: i64,
    /// Cookies are `Secure` (set from `[tls]`, not configured).
    #[serde(skip)]
    pub secure: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            session_max_s: 12 * 3600,
            session_idle_s: 3600,
            login_attempts: 5,
            login_window_s: 900,
            secure: false,
        }
    }
}

impl Settings {
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("session_max_s", self.session_max_s),
            ("session_idle_s", self.session_idle_s),
            ("login_attempts", self.login_attempts),
            ("login_window_s", self.login_window_s),
        ] {
            if v <= 0 {
                return Err(format!("[dashboard] {name} must be at least 1"));
            }
        }
        Ok(())
    }
}

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard/") }))
        .route("/dashboard", get(|| async { Redirect::to("/dashboard/") }))
        .route("/dashboard/", get(home))
        .route("/dashboard/login", get(login::form).post(login::login))
        .route("/dashboard/logout", post(login::logout))
        .route("/dashboard/assets/{name}", get(pages::asset))
        // Browsers ask for it on every page: no icon, and no 404 in their consoles.
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route("/dashboard/tenants", post(home::new_tenant))
        .route("/dashboard/tenants/{tenant}/plan", post(home::change_plan))
        .route("/dashboard/operations", get(operations::page))
        .route(
            "/dashboard/operations/pooled-keys",
            post(operations::add_pooled),
        )
        .route(
            "/dashboard/operations/pooled-keys/{id}/delete",
            post(operations::delete_pooled),
        )
        .route("/dashboard/operations/models", post(catalog::save_model))
        .route(
            "/dashboard/operations/models/{alias}/delete",
            post(catalog::delete_model),
        )
        .route("/dashboard/operations/prices", post(catalog::save_price))
        .route(
            "/dashboard/projects/{project}/settings",
            get(settings::page),
        )
        .route(
            "/dashboard/projects/{project}/settings/{what}",
            post(settings::save),
        )
        .route(
            "/dashboard/tenants/{tenant}/projects",
            post(home::new_project),
        )
        .route(
            "/dashboard/tenants/{tenant}/users",
            get(team::page).post(team::invite),
        )
        .route("/dashboard/tenants/{tenant}/usage", get(usage::page))
        .route(
            "/dashboard/tenants/{tenant}/statement",
            get(usage::statement),
        )
        .route("/dashboard/api/tenants/{tenant}/usage", get(usage::series))
        .route("/dashboard/projects/{project}", get(projects::page))
        .route(
            "/dashboard/projects/{project}/delete",
            post(home::delete_project),
        )
        .route(
            "/dashboard/projects/{project}/requests",
            get(requests::page),
        )
        .route(
            "/dashboard/projects/{project}/provider-keys",
            post(projects::add_provider_key),
        )
        .route(
            "/dashboard/projects/{project}/provider-keys/{id}/delete",
            post(projects::delete_provider_key),
        )
        .route(
            "/dashboard/projects/{project}/provider-keys/{id}/priority",
            post(projects::set_priority),
        )
        .route(
            "/dashboard/projects/{project}/provider-keys/{id}/rotate",
            post(projects::rotate_provider_key),
        )
        .route(
            "/dashboard/projects/{project}/api-keys",
            post(projects::add_api_key),
        )
        .route(
            "/dashboard/projects/{project}/api-keys/{id}/delete",
            post(projects::delete_api_key),
        )
        .route("/dashboard/api/me", get(me))
        .route("/dashboard/api/users", post(invite))
        .route("/dashboard/api/tenants/{tenant}/projects", get(projects))
        .route("/dashboard/api/tenants/{tenant}/users", get(tenant_users))
        .route("/dashboard/api/operators", get(operators))
}

/// `GET /dashboard/`: the signed-in page, or the sign-in form.
async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Response> {
    Ok(match session::current(&app, &headers).await? {
        Some(s) => home::render(&app, &s, axum::http::StatusCode::OK, "").await?,
        None => Redirect::to("/dashboard/login").into_response(),
    })
}

/// `GET /dashboard/api/me`.
async fn me(s: Signed) -> Json<Value> {
    Json(json!({
        "name": s.user.name,
        "role": s.user.role,
        "tenant": s.user.tenant_id,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Invite {
    name: String,
    /// Absent: an operator (operators only).
    tenant: Option<String>,
    /// `owner` or `member` for a tenant's user; `operator` without a tenant.
    role: String,
}

/// `POST /dashboard/api/users`: an operator invites anyone; a tenant's owner invites to its own
/// tenant. The new user's password is in the answer, once.
async fn invite(
    State(app): State<Arc<App>>,
    s: Signed,
    Body(i): Body<Invite>,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let allowed = match &i.tenant {
        Some(t) => s.is_operator() || (s.may_see(t) && s.user.role == "owner"),
        None => s.is_operator(),
    };
    if !allowed {
        return Err(ApiError::Forbidden(
            "only an operator, or a tenant's owner for its own tenant, invites users".into(),
        ));
    }
    if let Some(t) = &i.tenant {
        if !app.store.tenant_exists(t).await? {
            return Err(ApiError::NotFound("tenant"));
        }
    }
    let (user, password) = make_user(&app.store, &i.name, i.tenant.as_deref(), &i.role).await?;
    tracing::info!(by = %s.user.name, name = %user.name, role = %user.role, "user invited");
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({
            "id": user.id,
            "name": user.name,
            "tenant": user.tenant_id,
            "role": user.role,
            "password": password.as_str(),
        })),
    ))
}

/// `GET /dashboard/api/tenants/{tenant}/projects`: 404 for a tenant the user may not see.
async fn projects(
    State(app): State<Arc<App>>,
    s: Signed,
    UrlPath(tenant): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    if !s.may_see(&tenant) || !app.store.tenant_exists(&tenant).await? {
        return Err(ApiError::NotFound("tenant"));
    }
    let rows = app.store.projects_of(&tenant).await?;
    Ok(Json(json!({
        "projects": rows
            .into_iter()
            .map(|(id, name, environment)| json!({"id": id, "name": name, "environment": environment}))
            .collect::<Vec<_>>(),
    })))
}

/// `GET /dashboard/api/tenants/{tenant}/users`: 404 for a tenant the user may not see.
async fn tenant_users(
    State(app): State<Arc<App>>,
    s: Signed,
    UrlPath(tenant): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    if !s.may_see(&tenant) || !app.store.tenant_exists(&tenant).await? {
        return Err(ApiError::NotFound("tenant"));
    }
    Ok(users(app.store.users_of(Some(&tenant)).await?))
}

/// `GET /dashboard/api/operators`: operators only.
async fn operators(State(app): State<Arc<App>>, s: Signed) -> ApiResult<Json<Value>> {
    if !s.is_operator() {
        return Err(ApiError::Forbidden("operators only".into()));
    }
    Ok(users(app.store.users_of(None).await?))
}

/// Users as the dashboard lists them: never their password hash.
fn users(rows: Vec<UserRow>) -> Json<Value> {
    Json(json!({
        "users": rows
            .into_iter()
            .map(|u| json!({"id": u.id, "name": u.name, "role": u.role, "tenant": u.tenant_id, "created_at": u.created_at}))
            .collect::<Vec<_>>(),
    }))
}

/// The name of tenant `tenant` if the signed-in user may see it; 404 otherwise (as for a tenant
/// that does not exist).
pub(super) async fn tenant_name(app: &App, s: &Signed, tenant: &str) -> ApiResult<String> {
    let found = app
        .store
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.0 == tenant);
    match found {
        Some((_, name, _)) if s.may_see(tenant) => Ok(name),
        _ => Err(ApiError::NotFound("tenant")),
    }
}

/// Make user `name` with a new random password: the user and the password (shown once).
pub async fn make_user(
    store: &Store,
    name: &str,
    tenant: Option<&str>,
    role: &str,
) -> ApiResult<(UserRow, zeroize::Zeroizing<String>)> {
    crate::api::check_name("name", name)?;
    match (tenant, role) {
        (None, "operator") | (Some(_), "owner" | "member") => {}
        _ => {
            return Err(ApiError::BadRequest(
                "role: operator without a tenant, owner or member with one".into(),
            ))
        }
    }
    let password = passwords::generate()?;
    let pw = password.clone();
    let hash = tokio::task::spawn_blocking(move || passwords::hash(&pw))
        .await
        .map_err(anyhow::Error::from)??;
    let user = UserRow {
        id: new_id("usr")?,
        name: name.to_owned(),
        tenant_id: tenant.map(str::to_owned),
        role: role.to_owned(),
        password: hash,
        created_at: now_s(),
    };
    if !store.insert_user(&user).await? {
        return Err(ApiError::Conflict(format!("a user named {name:?} exists")));
    }
    Ok((user, password))
}

/// At a start on a store with no user: make the operator `admin` and write its password to
/// `data_dir/initial-admin-password` (0600). Another control plane of the cluster that made it
/// first wins; this one then writes nothing.
pub async fn first_operator(store: &Store, data_dir: &Path) -> anyhow::Result<()> {
    if store.count_users().await? > 0 {
        return Ok(());
    }
    match make_user(store, "admin", None, "operator").await {
        Ok((_, password)) => {
            let path = data_dir.join("initial-admin-password");
            write_private(&path, format!("{}\n", password.as_str()).as_bytes())?;
            tracing::info!(
                path = %path.display(),
                "made the operator `admin`; its password is in this file (sign in at /dashboard/)"
            );
            Ok(())
        }
        Err(ApiError::Conflict(_)) => Ok(()),
        Err(e) => Err(anyhow::anyhow!("making the first operator: {e}")),
    }
}
