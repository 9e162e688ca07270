//! The operators' page, continued: the model catalog and the price table, each listed with a form
//! to save an entry (and, for models, to delete one). The same checks as `PUT
//! /admin/v1/models/{alias}` and `PUT /admin/v1/prices/{provider}/{model}` — a catalog no snapshot
//! could be built from is refused, with the reason on the page — and every change publishes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::operations::{operator, render};
use super::pages::escape;
use super::Confirmed;
use crate::api::models::{self, ModelBody};
use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// The Models and Prices sections of the operators' page, appended to `out`.
pub(super) async fn sections(
    app: &App,
    csrf: &str,
    providers: &str,
    out: &mut String,
) -> ApiResult<()> {
    out.push_str(
        "<section><h2>Models</h2><p class=\"lede\">The aliases clients name, where each goes, and \
         the aliases tried when every key of one has failed.</p><table><thead><tr><th>Alias</th>\
         <th>Provider</th><th>Upstream model</th><th>Kind</th><th>Fallbacks</th><th></th></tr>\
         </thead><tbody>",
    );
    for (alias, provider, upstream, fallbacks, kind) in app.store.models().await? {
        let fallbacks: Vec<String> = serde_json::from_str(&fallbacks).unwrap_or_default();
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>\
             <form method=\"post\" action=\"/dashboard/operations/models/{}/delete\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> sure</label>\
             <button type=\"submit\" class=\"danger\">Delete</button></form></td></tr>",
            escape(&alias),
            escape(&provider),
            escape(&upstream),
            escape(&kind),
            escape(&fallbacks.join(", ")),
            escape(&alias),
        ));
    }
    out.push_str(&format!(
        "</tbody></table><form method=\"post\" action=\"/dashboard/operations/models\" \
         class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>Alias <input name=\"alias\" required maxlength=\"128\"></label>\
         <label>Provider <select name=\"provider\" required>{providers}</select></label>\
         <label>Upstream model <input name=\"upstream_model\" required maxlength=\"128\"></label>\
         <label>Kind <select name=\"kind\"><option value=\"chat\">chat</option>\
         <option value=\"embedding\">embedding</option></select></label>\
         <label>Fallbacks <input name=\"fallbacks\" placeholder=\"alias, alias\"></label>\
         <button type=\"submit\">Save model</button></form></section>"
    ));
    out.push_str(
        "<section><h2>Prices</h2><p class=\"lede\">Dollars per million tokens, for pooled keys \
         (what their traffic is billed back at) and the data planes' spend limits.</p><table>\
         <thead><tr><th>Provider</th><th>Model</th><th>Input</th><th>Output</th></tr></thead>\
         <tbody>",
    );
    for p in app.store.prices().await? {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>${}</td><td>${}</td></tr>",
            escape(&p.provider),
            escape(&p.model),
            escape(&p.input_per_mtok),
            escape(&p.output_per_mtok)
        ));
    }
    out.push_str(&format!(
        "</tbody></table><form method=\"post\" action=\"/dashboard/operations/prices\" \
         class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>Provider <select name=\"provider\" required>{providers}</select></label>\
         <label>Upstream model <input name=\"model\" required maxlength=\"128\"></label>\
         <label>Input $ <input name=\"input_per_mtok\" required inputmode=\"decimal\" size=\"8\"></label>\
         <label>Output $ <input name=\"output_per_mtok\" required inputmode=\"decimal\" size=\"8\"></label>\
         <button type=\"submit\">Save price</button></form></section>"
    ));
    Ok(())
}

#[derive(Deserialize)]
pub struct ModelForm {
    csrf: String,
    alias: String,
    provider: String,
    upstream_model: String,
    #[serde(default)]
    kind: String,
    /// Comma-separated aliases.
    #[serde(default)]
    fallbacks: String,
}

/// `POST /dashboard/operations/models`: add or change an alias.
pub async fn save_model(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<ModelForm>,
) -> ApiResult<Response> {
    let s = match operator(&app, &headers, &f.csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let body = ModelBody {
        provider: f.provider,
        upstream_model: f.upstream_model.trim().to_owned(),
        fallbacks: f
            .fallbacks
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
        kind: Some(f.kind).filter(|k| !k.is_empty()),
    };
    let alias = f.alias.trim().to_owned();
    answer(
        &app,
        &s,
        models::save_model(&app, alias.clone(), body)
            .await
            .map(drop),
        "model-saved",
    )
    .await
    .inspect(|_| tracing::info!(by = %s.user.name, %alias, "model saved"))
}

/// `POST /dashboard/operations/models/{alias}/delete` (with `confirm=yes`).
pub async fn delete_model(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(alias): Path<String>,
    Form(f): Form<Confirmed>,
) -> ApiResult<Response> {
    let s = match operator(&app, &headers, &f.csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    if !f.confirmed() {
        let e = ApiError::BadRequest("Tick “sure” to delete a model.".into());
        return answer(&app, &s, Err(e), "").await;
    }
    answer(
        &app,
        &s,
        models::remove_model(&app, &alias).await,
        "model-deleted",
    )
    .await
    .inspect(|_| tracing::info!(by = %s.user.name, %alias, "model deleted"))
}

#[derive(Deserialize)]
pub struct PriceForm {
    csrf: String,
    provider: String,
    model: String,
    input_per_mtok: String,
    output_per_mtok: String,
}

/// `POST /dashboard/operations/prices`: set a model's price.
pub async fn save_price(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<PriceForm>,
) -> ApiResult<Response> {
    let s = match operator(&app, &headers, &f.csrf).await? {
        Ok(s) => s,
        Err(to_login) => return Ok(to_login),
    };
    let saved = crate::api::prices::save_price(
        &app,
        f.provider,
        f.model.trim().to_owned(),
        f.input_per_mtok.trim().to_owned(),
        f.output_per_mtok.trim().to_owned(),
    )
    .await;
    answer(&app, &s, saved.map(drop), "price-saved").await
}

/// Back to the page: with `done` after a change, or the page again with the reason and its
/// status when the change was refused (400, 404, 409).
async fn answer(
    app: &App,
    s: &super::session::Signed,
    result: ApiResult<()>,
    done: &str,
) -> ApiResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/dashboard/operations?done={done}")).into_response()),
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_) | ApiError::NotFound(_))) => {
            render(app, s, e.status(), &e.to_string()).await
        }
        Err(e) => Err(e),
    }
}
