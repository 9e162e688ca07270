//! The operators' page: the data planes (the snapshot version each acknowledged, when it was last
//! heard from, its credential, its audit chain's newest alert), the pooled keys (added, listed
//! by fingerprint, deleted with confirmation), the model catalog and the price table. Operators
//! only (403 for a tenant's user). The same checks as the admin API; every change publishes.

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
use crate::secrets::now_s;

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /dashboard/operations`.
pub async fn page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<Done>,
) -> ApiResult<Response> {
    let Some(s) = session::current(&app, &headers).await? else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    let message = match q.done.as_deref() {
        Some("pooled-added") => "Pooled key saved. It is sealed; only its fingerprint is shown.",
        Some("pooled-deleted") => "Pooled key deleted.",
        Some("model-saved") => "Model saved; the data planes route it within moments.",
        Some("model-deleted") => "Model deleted.",
        Some("price-saved") => "Price saved.",
        _ => "",
    };
    render(&app, &s, StatusCode::OK, message).await
}

pub(super) async fn render(
    app: &App,
    s: &Signed,
    status: StatusCode,
    message: &str,
) -> ApiResult<Response> {
    if !s.is_operator() {
        return Err(ApiError::Forbidden("operators only".into()));
    }
    let csrf = escape(&s.csrf);
    let latest = app.version();
    let alerts: std::collections::HashMap<String, crate::store::anchors::Alert> =
        app.store.latest_alerts().await?.into_iter().collect();
    let now = now_s();
    let mut out = format!(
        "<section><h2>Data planes</h2><p class=\"lede\">Snapshot version {latest}; the base a \
         new leader resumes from: version {}.</p><table><thead><tr><th>Data plane</th>\
         <th>Snapshot</th><th>Last heard</th><th>Credential</th><th>Audit chain</th></tr></thead>\
         <tbody>",
        app.store.base_version().await?
    );
    let planes = app.store.dataplanes().await?;
    for d in &planes {
        let snapshot = if d.acked_version as u64 >= latest {
            format!("{} (current)", d.acked_version)
        } else {
            format!("{} (behind)", d.acked_version)
        };
        let credential = match (d.enrolled(), d.revoked) {
            (true, _) => "enrolled",
            (false, true) => "revoked",
            (false, false) => "not enrolled",
        };
        let audit = alerts
            .get(&d.id)
            .map_or_else(|| "no alert".to_owned(), |a| format!("alert: {}", a.reason));
        out.push_str(&format!(
            "<tr><td>{}<br><small>{}</small></td><td>{}</td><td>{} s ago</td><td>{}</td><td>{}</td></tr>",
            escape(&d.id),
            escape(&d.push_url),
            snapshot,
            (now - d.last_seen).max(0),
            credential,
            escape(&audit)
        ));
    }
    if planes.is_empty() {
        out.push_str("<tr><td colspan=\"5\">No data plane has registered.</td></tr>");
    }
    out.push_str("</tbody></table></section>");

    out.push_str(
        "<section><h2>Pooled keys</h2><p class=\"lede\">Warden's own provider keys, for projects \
         whose routing allows them; their cost is billed back at the price table's rates.</p>\
         <table><thead><tr><th>Provider</th><th>Label</th><th>Fingerprint</th><th>Added</th><th></th>\
         </tr></thead><tbody>",
    );
    let pooled = app.store.provider_keys(None).await?;
    for k in &pooled {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>\
             <form method=\"post\" action=\"/dashboard/operations/pooled-keys/{}/delete\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> sure</label>\
             <button type=\"submit\" class=\"danger\">Delete</button></form></td></tr>",
            escape(&k.provider),
            escape(&k.label),
            escape(&k.fingerprint),
            warden_shared::date::format_day(k.created_at.div_euclid(86_400)),
            escape(&k.id)
        ));
    }
    if pooled.is_empty() {
        out.push_str("<tr><td colspan=\"5\">No pooled keys.</td></tr>");
    }
    let providers: String = Provider::ALL
        .iter()
        .map(|p| format!("<option value=\"{0}\">{0}</option>", p.name()))
        .collect();
    out.push_str(&format!(
        "</tbody></table><form method=\"post\" action=\"/dashboard/operations/pooled-keys\" \
         class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>Provider <select name=\"provider\" required>{providers}</select></label>\
         <label>Key <input name=\"key\" type=\"password\" autocomplete=\"off\" required></label>\
         <label>Label <input name=\"label\" maxlength=\"128\"></label>\
         <button type=\"submit\">Save pooled key</button></form></section>"
    ));

    super::catalog::sections(app, &csrf, &providers, &mut out).await?;
    let page = pages::framed(
        pages::Page::Operations,
        &[
            ("who", &s.user.name),
            ("csrf", &s.csrf),
            ("message", message),
            ("sections", &out),
        ],
    );
    Ok((status, page).into_response())
}

/// The signed-in operator of a form post, its CSRF token checked.
pub(super) async fn operator(
    app: &App,
    headers: &HeaderMap,
    csrf: &str,
) -> ApiResult<Result<Signed, Response>> {
    let s = match session::form_user(app, headers, csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(Err(to_login)),
    };
    if !s.is_operator() {
        return Err(ApiError::Forbidden("operators only".into()));
    }
    Ok(Ok(s))
}

#[derive(Deserialize)]
pub struct NewPooled {
    csrf: String,
    provider: String,
    key: String,
    #[serde(default)]
    label: String,
}

/// `POST /dashboard/operations/pooled-keys`.
pub async fn add_pooled(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<NewPooled>,
) -> ApiResult<Response> {
    let key = zeroize::Zeroizing::new(f.key);
    let s = match operator(&app, &headers, &f.csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let label = (!f.label.is_empty()).then_some(f.label);
    match keys::add_pooled(&app, &f.provider, &key, label).await {
        Ok(row) => {
            tracing::info!(by = %s.user.name, key = %row.id, "pooled key added");
            Ok(Redirect::to("/dashboard/operations?done=pooled-added").into_response())
        }
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            let status = e.status();
            render(&app, &s, status, &e.to_string()).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /dashboard/operations/pooled-keys/{id}/delete` (with `confirm=yes`).
pub async fn delete_pooled(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Confirmed>,
) -> ApiResult<Response> {
    let s = match operator(&app, &headers, &f.csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    if !f.confirmed() {
        return render(
            &app,
            &s,
            StatusCode::BAD_REQUEST,
            "Tick “sure” to delete a key.",
        )
        .await;
    }
    if !app.store.delete_provider_key(&id, true).await? {
        return Err(ApiError::NotFound("pooled key"));
    }
    app.publish().await?;
    tracing::info!(by = %s.user.name, key = %id, "pooled key deleted");
    Ok(Redirect::to("/dashboard/operations?done=pooled-deleted").into_response())
}
