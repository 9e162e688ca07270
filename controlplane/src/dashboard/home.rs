//! The signed-in page: the tenants and projects the person may see, with the forms that make
//! them — a project (and its environment) for an operator or the tenant's owner, a tenant for an
//! operator. The same checks as the admin API (`api::tenants`); every change publishes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use warden_shared::snapshot::{Environment, Plan};

use super::pages::{self, escape};
use super::session::{self, Signed};
use super::Confirmed;
use crate::api::tenants::{make_project, make_tenant, remove_project};
use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// The signed-in page, with `message` (why a form was refused; may be empty) and `status`.
pub async fn render(
    app: &App,
    s: &Signed,
    status: StatusCode,
    message: &str,
) -> ApiResult<Response> {
    let tenant = s
        .user
        .tenant_id
        .as_deref()
        .map(|t| format!(" of {t}"))
        .unwrap_or_default();
    let who = format!("{} · {}{tenant}", s.user.name, s.user.role);
    let operator = if s.is_operator() {
        "<p><a href=\"/dashboard/operations\">Operations</a>: data planes, pooled keys, \
         models and prices.</p>"
    } else {
        ""
    };
    let page = pages::framed(
        pages::Page::Projects,
        &[
            ("who", &who),
            ("csrf", &s.csrf),
            ("message", message),
            ("operator", operator),
            ("projects", &list(app, s).await?),
        ],
    );
    Ok((status, page).into_response())
}

/// A refused form: the signed-in page again with the reason (400, 409); other errors as they are.
async fn refused(app: &App, s: &Signed, e: ApiError) -> ApiResult<Response> {
    match e {
        ApiError::BadRequest(_) | ApiError::Conflict(_) => {
            render(app, s, e.status(), &e.to_string()).await
        }
        e => Err(e),
    }
}

/// The list of tenants and projects, as markup for the signed-in page.
pub async fn list(app: &App, s: &Signed) -> ApiResult<String> {
    let tenants: Vec<(String, String, String)> = app
        .store
        .tenants()
        .await?
        .into_iter()
        .filter(|(id, _, _)| s.may_see(id))
        .collect();
    let csrf = escape(&s.csrf);
    let mut out = String::new();
    for (id, name, plan) in tenants {
        let projects = app.store.projects_of(&id).await?;
        // Operators move a tenant to another plan; others see it.
        let plan_part = if s.is_operator() {
            let options: String = ["developer", "team", "enterprise"]
                .iter()
                .map(|p| {
                    let on = if *p == plan { " selected" } else { "" };
                    format!("<option{on}>{p}</option>")
                })
                .collect();
            format!(
                "<form method=\"post\" action=\"/dashboard/tenants/{}/plan\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <label>Plan <select name=\"plan\">{options}</select></label>\
                 <button type=\"submit\">Change plan</button></form>",
                escape(&id)
            )
        } else {
            format!("<p>Plan: {}</p>", escape(&plan))
        };
        out.push_str(&format!(
            "<h2>{}</h2><p><a href=\"/dashboard/tenants/{}/users\">People</a> · \
             <a href=\"/dashboard/tenants/{}/usage\">Usage</a></p>{plan_part}\
             <ul class=\"projects\">",
            escape(&name),
            escape(&id),
            escape(&id)
        ));
        if projects.is_empty() {
            out.push_str("<li>No projects yet.</li>");
        }
        for (pid, pname, env) in projects {
            out.push_str(&format!(
                "<li><a href=\"/dashboard/projects/{}\">{}</a> <small>{}</small></li>",
                escape(&pid),
                escape(&pname),
                escape(&env)
            ));
        }
        out.push_str("</ul>");
        if may_change(s) {
            out.push_str(&format!(
                "<form method=\"post\" action=\"/dashboard/tenants/{}/projects\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <label>Project <input name=\"name\" required maxlength=\"128\"></label>\
                 <label>Environment <select name=\"environment\"><option>development</option>\
                 <option>staging</option><option selected>production</option></select></label>\
                 <button type=\"submit\">New project</button></form>",
                escape(&id)
            ));
        }
    }
    if s.is_operator() {
        out.push_str(&format!(
            "<h2>New tenant</h2>\
             <form method=\"post\" action=\"/dashboard/tenants\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>Name <input name=\"name\" required maxlength=\"128\"></label>\
             <label>Plan <select name=\"plan\"><option>developer</option>\
             <option selected>team</option><option>enterprise</option></select></label>\
             <button type=\"submit\">New tenant</button></form>"
        ));
    }
    Ok(out)
}

/// Operators, and a tenant's owners for their own tenant, make projects.
fn may_change(s: &Signed) -> bool {
    s.is_operator() || s.user.role == "owner"
}

#[derive(Deserialize)]
pub struct NewTenant {
    csrf: String,
    name: String,
    plan: Plan,
}

#[derive(Deserialize)]
pub struct NewPlan {
    csrf: String,
    plan: Plan,
}

/// `POST /dashboard/tenants/{tenant}/plan` (operators).
pub async fn change_plan(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::extract::Path(tenant): axum::extract::Path<String>,
    Form(f): Form<NewPlan>,
) -> ApiResult<Response> {
    let s = match session::form_user(&app, &headers, &f.csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    if !s.is_operator() {
        return Err(ApiError::Forbidden("operators change plans".into()));
    }
    let t = crate::api::tenants::change_plan(&app, &tenant, f.plan).await?;
    tracing::info!(by = %s.user.name, tenant = %t.id, plan = %t.plan, "plan changed");
    Ok(Redirect::to("/dashboard/").into_response())
}

/// `POST /dashboard/tenants` (operators).
pub async fn new_tenant(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<NewTenant>,
) -> ApiResult<Response> {
    let s = match session::form_user(&app, &headers, &f.csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    if !s.is_operator() {
        return Err(ApiError::Forbidden("operators make tenants".into()));
    }
    let id = match make_tenant(&app, &f.name, f.plan).await {
        Ok(id) => id,
        Err(e) => return refused(&app, &s, e).await,
    };
    tracing::info!(by = %s.user.name, tenant = %id, "tenant made");
    Ok(Redirect::to("/dashboard/").into_response())
}

#[derive(Deserialize)]
pub struct NewProject {
    csrf: String,
    name: String,
    environment: Environment,
}

/// `POST /dashboard/tenants/{tenant}/projects`: to the new project's page. Another tenant's
/// answers 404.
pub async fn new_project(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    Form(f): Form<NewProject>,
) -> ApiResult<Response> {
    let s = match session::form_user(&app, &headers, &f.csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    if !s.may_see(&tenant) {
        return Err(ApiError::NotFound("tenant"));
    }
    if !may_change(&s) {
        return Err(ApiError::Forbidden(
            "operators and owners make projects".into(),
        ));
    }
    let id = match make_project(&app, &tenant, &f.name, f.environment).await {
        Ok(id) => id,
        Err(e) => return refused(&app, &s, e).await,
    };
    tracing::info!(by = %s.user.name, project = %id, "project made");
    Ok(Redirect::to(&format!("/dashboard/projects/{id}")).into_response())
}

/// `POST /dashboard/projects/{project}/delete` (operators and the tenant's owners, with
/// `confirm=yes`): back to the list.
pub async fn delete_project(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Form(f): Form<Confirmed>,
) -> ApiResult<Response> {
    let s = match session::form_user(&app, &headers, &f.csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let p = super::projects::visible(&app, &s, &project).await?;
    if !may_change(&s) {
        return Err(ApiError::Forbidden(
            "operators and owners delete projects".into(),
        ));
    }
    if !f.confirmed() {
        return Err(ApiError::BadRequest(
            "tick “sure” to delete a project".into(),
        ));
    }
    remove_project(&app, &p.id).await?;
    tracing::info!(by = %s.user.name, project = %p.id, "project deleted");
    Ok(Redirect::to("/dashboard/").into_response())
}
