//! A project's page: its keys — "API Keys → Add
//! Provider Key" (choose the provider, paste the key, save: the page then shows only provider,
//! label, fingerprint and when it was added), deleting a key with confirmation, and Warden keys
//! (made and shown once, listed by hint, deleted with confirmation), and rotating a provider key
//! in one step: the new key is sealed and published before the old one is deleted, so no request
//! finds neither. Server-rendered forms,
//! each carrying the session's CSRF token; the same rules as the admin API apply (the key is
//! checked and sealed by `api::keys`, and every change publishes a snapshot).
//!
//! A project of a tenant the user may not see answers 404, as a missing one does.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use warden_shared::catalog::Provider;

use super::pages::{self, escape};
use super::session::{self, Signed};
use super::Confirmed;
use crate::api::keys;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::store::ProjectRow;

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// What a redirect back to the project page says happened (fixed texts: nothing from the
/// request is echoed).
fn done_message(done: Option<&str>) -> &'static str {
    match done {
        Some("key-added") => "Provider key saved. It is sealed; only its fingerprint is shown.",
        Some("key-deleted") => "Provider key deleted.",
        Some("api-key-deleted") => "Warden key deleted.",
        Some("key-rotated") => "Provider key rotated: the new key serves, the old one is deleted.",
        Some("priority") => "Priority saved: the provider's keys are tried in the new order.",
        _ => "",
    }
}

/// `GET /dashboard/projects/{project}`.
pub async fn page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(q): Query<Done>,
) -> ApiResult<Response> {
    let Some(s) = session::current(&app, &headers).await? else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    let p = visible(&app, &s, &project).await?;
    render(
        &app,
        &s,
        &p,
        StatusCode::OK,
        done_message(q.done.as_deref()),
    )
    .await
}

/// A project's name (its id if it has none to show).
pub(super) async fn project_name(app: &App, p: &ProjectRow) -> ApiResult<String> {
    Ok(app
        .store
        .projects_of(&p.tenant_id)
        .await?
        .into_iter()
        .find(|r| r.0 == p.id)
        .map_or_else(|| p.id.clone(), |r| r.1))
}

/// The project `id` if the user may see it (404 otherwise).
pub(super) async fn visible(app: &App, s: &Signed, id: &str) -> ApiResult<ProjectRow> {
    match app.store.project(id).await? {
        Some(p) if s.may_see(&p.tenant_id) => Ok(p),
        _ => Err(ApiError::NotFound("project")),
    }
}

async fn render(
    app: &App,
    s: &Signed,
    p: &ProjectRow,
    status: StatusCode,
    message: &str,
) -> ApiResult<Response> {
    let name = project_name(app, p).await?;
    let delete_form = |what: &str, id: &str| {
        format!(
            "<form method=\"post\" action=\"/dashboard/projects/{}/{what}/{}/delete\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> sure</label>\
             <button type=\"submit\" class=\"danger\">Delete</button></form>",
            escape(&p.id),
            escape(id),
            escape(&s.csrf)
        )
    };
    let mut provider_rows = String::new();
    for k in app.store.provider_keys(Some(&p.id)).await? {
        let rotate = format!(
            "<form method=\"post\" action=\"/dashboard/projects/{}/provider-keys/{}/rotate\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input name=\"key\" type=\"password\" autocomplete=\"off\" required \
             placeholder=\"new key\" aria-label=\"new key\">\
             <button type=\"submit\">Rotate</button></form>",
            escape(&p.id),
            escape(&k.id),
            escape(&s.csrf)
        );
        provider_rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}{rotate}</td></tr>",
            escape(&k.provider),
            escape(&k.label),
            priority_form(&p.id, &k.id, k.priority, &s.csrf),
            escape(&k.fingerprint),
            day(k.created_at),
            delete_form("provider-keys", &k.id),
        ));
    }
    if provider_rows.is_empty() {
        provider_rows.push_str("<tr><td colspan=\"6\">No provider keys: requests use pooled keys where routing allows.</td></tr>");
    }
    let mut api_key_rows = String::new();
    for (id, key_name, hint, created_at, last_used) in app.store.project_api_keys(&p.id).await? {
        let used = last_used.map_or_else(
            || "never".to_owned(),
            |at| super::requests::time(at.saturating_mul(1_000_000)),
        );
        api_key_rows.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{used}</td><td>{}</td></tr>",
            escape(&key_name),
            escape(&hint),
            day(created_at),
            delete_form("api-keys", &id)
        ));
    }
    if api_key_rows.is_empty() {
        api_key_rows.push_str("<tr><td colspan=\"5\">No Warden keys yet.</td></tr>");
    }
    let providers: String = Provider::ALL
        .iter()
        .map(|p| format!("<option value=\"{0}\">{0}</option>", p.name()))
        .collect();
    let danger = if s.is_operator() || s.user.role == "owner" {
        format!(
            "<section><h2>Delete this project</h2><p class=\"lede\">Its provider keys and Warden keys \
             go with it; requests with its keys are refused within moments. Usage and the request \
             log stay.</p><form method=\"post\" action=\"/dashboard/projects/{}/delete\" \
             class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> sure</label>\
             <button type=\"submit\" class=\"danger\">Delete project</button></form></section>",
            escape(&p.id),
            escape(&s.csrf)
        )
    } else {
        String::new()
    };
    let page = pages::framed(
        pages::Page::Project,
        &[
            ("who", &s.user.name),
            ("csrf", &s.csrf),
            ("project", &name),
            ("project_id", &p.id),
            ("environment", &p.environment),
            ("tenant", &p.tenant_id),
            ("message", message),
            ("provider_rows", &provider_rows),
            ("api_key_rows", &api_key_rows),
            ("providers", &providers),
            ("danger", &danger),
        ],
    );
    Ok((status, page).into_response())
}

/// A key's priority, with the form that changes it.
fn priority_form(project: &str, key: &str, priority: i64, csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/dashboard/projects/{}/provider-keys/{}/priority\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input name=\"priority\" value=\"{priority}\" inputmode=\"numeric\" size=\"4\" \
         aria-label=\"priority\"><button type=\"submit\">Set</button></form>",
        escape(project),
        escape(key),
        escape(csrf)
    )
}

#[derive(Deserialize)]
pub struct NewPriority {
    csrf: String,
    priority: String,
}

/// `POST /dashboard/projects/{project}/provider-keys/{id}/priority`: reorder the project's keys.
pub async fn set_priority(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    Form(f): Form<NewPriority>,
) -> ApiResult<Response> {
    let (s, p) = match posted(&app, &headers, &project, &f.csrf).await? {
        Ok(sp) => sp,
        Err(to_login) => return Ok(to_login),
    };
    let ours = app
        .store
        .provider_keys(Some(&p.id))
        .await?
        .iter()
        .any(|k| k.id == id);
    if !ours {
        return Err(ApiError::NotFound("provider key"));
    }
    let set = match f.priority.trim().parse::<u32>() {
        Ok(n) => keys::set_priority(&app, &id, false, n).await.map(drop),
        Err(_) => Err(ApiError::BadRequest(format!(
            "priority {:?}: a whole number, lower first",
            f.priority
        ))),
    };
    match set {
        Ok(()) => {
            tracing::info!(by = %s.user.name, project = %p.id, key = %id, "provider key reordered");
            Ok(
                Redirect::to(&format!("/dashboard/projects/{}?done=priority", p.id))
                    .into_response(),
            )
        }
        Err(e @ ApiError::BadRequest(_)) => render(&app, &s, &p, e.status(), &e.to_string()).await,
        Err(e) => Err(e),
    }
}

/// A Unix time as its UTC day.
fn day(at: i64) -> String {
    warden_shared::date::format_day(at.div_euclid(86_400))
}

/// The signed-in user of a form post, with its CSRF token checked, and the project it names.
pub(super) async fn posted(
    app: &App,
    headers: &HeaderMap,
    project: &str,
    csrf: &str,
) -> ApiResult<Result<(Signed, ProjectRow), Response>> {
    let s = match session::form_user(app, headers, csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(Err(to_login)),
    };
    let p = visible(app, &s, project).await?;
    Ok(Ok((s, p)))
}

#[derive(Deserialize)]
pub struct NewProviderKey {
    csrf: String,
    provider: String,
    key: String,
    #[serde(default)]
    label: String,
    /// Lower is tried first ('' or absent: 0).
    #[serde(default)]
    priority: String,
}

/// `POST /dashboard/projects/{project}/provider-keys`.
pub async fn add_provider_key(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Form(f): Form<NewProviderKey>,
) -> ApiResult<Response> {
    let key = zeroize::Zeroizing::new(f.key);
    let (s, p) = match posted(&app, &headers, &project, &f.csrf).await? {
        Ok(sp) => sp,
        Err(to_login) => return Ok(to_login),
    };
    let label = (!f.label.is_empty()).then_some(f.label);
    let priority = match f.priority.trim() {
        "" => Ok(None),
        v => v.parse::<u32>().map(Some).map_err(|_| {
            ApiError::BadRequest(format!("priority {v:?}: a whole number, lower first"))
        }),
    };
    let added = match priority {
        Ok(priority) => keys::add_own_key(&app, &p, &f.provider, &key, label, priority).await,
        Err(e) => Err(e),
    };
    match added {
        Ok(row) => {
            tracing::info!(by = %s.user.name, project = %p.id, key = %row.id, "provider key added");
            Ok(
                Redirect::to(&format!("/dashboard/projects/{}?done=key-added", p.id))
                    .into_response(),
            )
        }
        Err(e @ (ApiError::BadRequest(_) | ApiError::Forbidden(_) | ApiError::Conflict(_))) => {
            let status = e.status();
            render(&app, &s, &p, status, &e.to_string()).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /dashboard/projects/{project}/provider-keys/{id}/delete` (with `confirm=yes`).
pub async fn delete_provider_key(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    Form(f): Form<Confirmed>,
) -> ApiResult<Response> {
    delete_key(&app, &headers, &project, &id, &f, Kind::Provider).await
}

/// The two kinds of key a project page deletes.
#[derive(Clone, Copy)]
enum Kind {
    Provider,
    Warden,
}

/// Delete key `id` of `project` (it must be the project's), publish, back to the page.
async fn delete_key(
    app: &App,
    headers: &HeaderMap,
    project: &str,
    id: &str,
    f: &Confirmed,
    kind: Kind,
) -> ApiResult<Response> {
    let (s, p) = match posted(app, headers, project, &f.csrf).await? {
        Ok(sp) => sp,
        Err(to_login) => return Ok(to_login),
    };
    if !f.confirmed() {
        let status = StatusCode::BAD_REQUEST;
        return render(app, &s, &p, status, "Tick “sure” to delete a key.").await;
    }
    let deleted = match kind {
        Kind::Provider => {
            let ours = app
                .store
                .provider_keys(Some(&p.id))
                .await?
                .iter()
                .any(|k| k.id == id);
            ours && app.store.delete_provider_key(id, false).await?
        }
        Kind::Warden => {
            let ours = app
                .store
                .project_api_keys(&p.id)
                .await?
                .iter()
                .any(|k| k.0 == id);
            ours && app.store.delete_api_key(id).await?
        }
    };
    if !deleted {
        return Err(ApiError::NotFound("key"));
    }
    app.publish().await?;
    let done = match kind {
        Kind::Provider => "key-deleted",
        Kind::Warden => "api-key-deleted",
    };
    tracing::info!(by = %s.user.name, project = %p.id, key = %id, "{done}");
    Ok(Redirect::to(&format!("/dashboard/projects/{}?done={done}", p.id)).into_response())
}

#[derive(Deserialize)]
pub struct NewApiKey {
    csrf: String,
    name: String,
}

/// `POST /dashboard/projects/{project}/api-keys`: the page that shows the key, once.
pub async fn add_api_key(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Form(f): Form<NewApiKey>,
) -> ApiResult<Response> {
    let (s, p) = match posted(&app, &headers, &project, &f.csrf).await? {
        Ok(sp) => sp,
        Err(to_login) => return Ok(to_login),
    };
    let made = match keys::make_api_key(&app, &p.id, &f.name).await {
        Ok(made) => made,
        Err(e @ ApiError::BadRequest(_)) => {
            return render(&app, &s, &p, StatusCode::BAD_REQUEST, &e.to_string()).await
        }
        Err(e) => return Err(e),
    };
    tracing::info!(by = %s.user.name, project = %p.id, key = %made.id, "Warden key made");
    Ok(pages::key_made(&made.key, &p.id))
}

/// `POST /dashboard/projects/{project}/api-keys/{id}/delete` (with `confirm=yes`).
pub async fn delete_api_key(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    Form(f): Form<Confirmed>,
) -> ApiResult<Response> {
    delete_key(&app, &headers, &project, &id, &f, Kind::Warden).await
}

#[derive(Deserialize)]
pub struct Rotation {
    csrf: String,
    key: String,
}

/// `POST /dashboard/projects/{project}/provider-keys/{id}/rotate`: the new key (same provider,
/// label and priority) is added and published first, then the old one deleted.
pub async fn rotate_provider_key(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    Form(f): Form<Rotation>,
) -> ApiResult<Response> {
    let key = zeroize::Zeroizing::new(f.key);
    let (s, p) = match posted(&app, &headers, &project, &f.csrf).await? {
        Ok(sp) => sp,
        Err(to_login) => return Ok(to_login),
    };
    let old = app
        .store
        .provider_keys(Some(&p.id))
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or(ApiError::NotFound("provider key"))?;
    let priority = u32::try_from(old.priority).ok();
    let label = Some(old.label.clone());
    let new = match keys::add_own_key(&app, &p, &old.provider, &key, label, priority).await {
        Ok(row) => row,
        Err(e @ (ApiError::BadRequest(_) | ApiError::Forbidden(_) | ApiError::Conflict(_))) => {
            let status = e.status();
            return render(&app, &s, &p, status, &e.to_string()).await;
        }
        Err(e) => return Err(e),
    };
    if app.store.delete_provider_key(&old.id, false).await? {
        app.publish().await?;
    }
    tracing::info!(by = %s.user.name, project = %p.id, old = %old.id, new = %new.id, "provider key rotated");
    Ok(Redirect::to(&format!("/dashboard/projects/{}?done=key-rotated", p.id)).into_response())
}
