//! A tenant's people: who can sign in for it, and (for an operator or the tenant's owners) the
//! invitation form. An invitation makes the user with a random password shown once, on the
//! answer page, for the inviter to hand over; nothing is e-mailed.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::pages::{self, escape};
use super::session::{self, Signed};
use crate::app::App;
use crate::error::{ApiError, ApiResult};

fn may_invite(s: &Signed) -> bool {
    s.is_operator() || s.user.role == "owner"
}

/// `GET /dashboard/tenants/{tenant}/users`.
pub async fn page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let Some(s) = session::current(&app, &headers).await? else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    render(&app, &s, &tenant, StatusCode::OK, "").await
}

async fn render(
    app: &App,
    s: &Signed,
    tenant: &str,
    status: StatusCode,
    message: &str,
) -> ApiResult<Response> {
    let name = super::tenant_name(app, s, tenant).await?;
    let mut rows = String::new();
    for u in app.store.users_of(Some(tenant)).await? {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&u.name),
            escape(&u.role),
            warden_shared::date::format_day(u.created_at.div_euclid(86_400))
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=\"3\">No one yet.</td></tr>");
    }
    let invite = if may_invite(s) {
        format!(
            "<h2>Invite someone</h2>\
             <form method=\"post\" action=\"/dashboard/tenants/{}/users\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label>Name <input name=\"name\" required maxlength=\"128\"></label>\
             <label>Role <select name=\"role\"><option selected>member</option>\
             <option>owner</option></select></label>\
             <button type=\"submit\">Invite</button></form>",
            escape(tenant),
            escape(&s.csrf)
        )
    } else {
        String::new()
    };
    let page = pages::framed(
        pages::Page::People,
        &[
            ("who", &s.user.name),
            ("csrf", &s.csrf),
            ("tenant", &name),
            ("message", message),
            ("rows", &rows),
            ("invite", &invite),
        ],
    );
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
pub struct Invite {
    csrf: String,
    name: String,
    role: String,
}

/// `POST /dashboard/tenants/{tenant}/users`: the page with the new user's password, once.
pub async fn invite(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    Form(f): Form<Invite>,
) -> ApiResult<Response> {
    let s = match session::form_user(&app, &headers, &f.csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    super::tenant_name(&app, &s, &tenant).await?;
    if !may_invite(&s) {
        return Err(ApiError::Forbidden(
            "only an operator or the tenant's owners invite".into(),
        ));
    }
    if !matches!(f.role.as_str(), "owner" | "member") {
        return render(
            &app,
            &s,
            &tenant,
            StatusCode::BAD_REQUEST,
            "Role: owner or member.",
        )
        .await;
    }
    match super::make_user(&app.store, &f.name, Some(&tenant), &f.role).await {
        Ok((user, password)) => {
            tracing::info!(by = %s.user.name, name = %user.name, role = %user.role, "user invited");
            let message = format!(
                "{} can sign in now with the password {} — it is shown only this once.",
                user.name,
                password.as_str()
            );
            render(&app, &s, &tenant, StatusCode::CREATED, &message).await
        }
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            let status = e.status();
            render(&app, &s, &tenant, status, &e.to_string()).await
        }
        Err(e) => Err(e),
    }
}
