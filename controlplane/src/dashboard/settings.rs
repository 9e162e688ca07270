//! A project's settings page: its key routing (the key mode — yours only, yours then pooled,
//! pooled only — for every provider, with per-provider overrides), its guardrail policy (each
//! category's action and the injection thresholds; operator patterns are kept as the admin API
//! set them), its limits (requests and tokens a minute, the month's spend cap and warning) and
//! its answer cache (off or exact, how long an answer is served, the project's share of memory).
//! Everyone who may see the project sees them; operators and the tenant's owners change them.
//! The same checks as the admin API (`api::policy`), the reason on the page when refused; every
//! change publishes a snapshot.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use warden_shared::catalog::Provider;
use warden_shared::snapshot::{CacheMode, GuardAction, KeyMode};
use warden_shared::standalone::CacheSection;

use super::pages::{self, escape};
use super::projects::{posted, project_name, visible};
use super::session::{self, Signed};
use crate::api::policy::{self, GuardrailBody, LimitsBody, RoutingBody};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::store::ProjectRow;

mod forms;
use forms::{cache_from, field, guardrails_from, limits_from, routing_from, Fields};

const MODES: [(KeyMode, &str, &str); 3] = [
    (KeyMode::ByokOnly, "byok_only", "your keys only"),
    (
        KeyMode::ByokThenPooled,
        "byok_then_pooled",
        "your keys, then pooled",
    ),
    (KeyMode::PooledOnly, "pooled_only", "pooled keys only"),
];

const ACTIONS: [(GuardAction, &str); 5] = [
    (GuardAction::Off, "off"),
    (GuardAction::Flag, "flag"),
    (GuardAction::Redact, "redact"),
    (GuardAction::Restore, "restore"),
    (GuardAction::Block, "block"),
];

/// The categories, which actions each offers, and their labels.
const CATEGORIES: [(&str, &str, &[&str]); 7] = [
    (
        "pii",
        "Personal data in requests",
        &["off", "flag", "redact", "restore", "block"],
    ),
    (
        "secrets",
        "Secrets in requests",
        &["off", "flag", "redact", "restore", "block"],
    ),
    ("injection", "Prompt injection", &["off", "flag", "block"]),
    (
        "content_safety",
        "Unsafe content",
        &["off", "flag", "block"],
    ),
    (
        "response_pii",
        "Personal data in answers",
        &["off", "flag", "redact", "block"],
    ),
    (
        "response_secrets",
        "Secrets in answers",
        &["off", "flag", "redact", "block"],
    ),
    (
        "unscanned",
        "Images, PDFs, audio, files (unread)",
        &["off", "flag", "block"],
    ),
];

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /dashboard/projects/{project}/settings`.
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
    let message = match q.done.as_deref() {
        Some("routing") => "Routing saved; the data planes apply it within moments.",
        Some("guardrails") => "Guardrail policy saved; the data planes apply it within moments.",
        Some("limits") => "Limits saved; the data planes apply them within moments.",
        Some("cache") => "Cache settings saved; the data planes apply them within moments.",
        _ => "",
    };
    render(&app, &s, &p, StatusCode::OK, message).await
}

/// Operators and the tenant's owners change a project's settings; members see them.
fn may_change(s: &Signed) -> bool {
    s.is_operator() || s.user.role == "owner"
}

async fn render(
    app: &App,
    s: &Signed,
    p: &ProjectRow,
    status: StatusCode,
    message: &str,
) -> ApiResult<Response> {
    let routing: RoutingBody = policy::stored_policy(app, &p.id, |p| &p.routing).await?;
    let guard: GuardrailBody = policy::stored_policy(app, &p.id, |p| &p.guardrails).await?;
    let limits: LimitsBody = policy::stored_policy(app, &p.id, |p| &p.limits).await?;
    let cache: CacheSection = policy::stored_policy(app, &p.id, |p| &p.cache).await?;
    let disabled = if may_change(s) { "" } else { " disabled" };

    let mode = routing.key_mode.unwrap_or(KeyMode::ByokThenPooled);
    let options = |current: Option<KeyMode>, inherit: bool| {
        let mut out = String::new();
        if inherit {
            out.push_str(&format!(
                "<option value=\"\"{}>as above</option>",
                selected(current.is_none())
            ));
        }
        for (m, value, label) in MODES {
            out.push_str(&format!(
                "<option value=\"{value}\"{}>{label}</option>",
                selected(current == Some(m))
            ));
        }
        out
    };
    let mut routing_rows = format!(
        "<label>Every provider <select name=\"key_mode\"{disabled}>{}</select></label>",
        options(Some(mode), false)
    );
    for provider in Provider::ALL {
        let name = provider.name();
        routing_rows.push_str(&format!(
            "<label>{name} <select name=\"{name}\"{disabled}>{}</select></label>",
            options(routing.providers.get(name).copied(), true)
        ));
    }

    let mut guard_rows = String::new();
    for (field, label, offered) in CATEGORIES {
        let current = category(&guard, field).unwrap_or(GuardAction::Off);
        let opts: String = ACTIONS
            .iter()
            .filter(|(_, name)| offered.contains(name))
            .map(|(a, name)| {
                format!(
                    "<option value=\"{name}\"{}>{name}</option>",
                    selected(*a == current)
                )
            })
            .collect();
        guard_rows.push_str(&format!(
            "<label>{label} <select name=\"{field}\"{disabled}>{opts}</select></label>"
        ));
    }
    for (field, label, value) in [
        (
            "injection_threshold",
            "Injection block threshold (user input)",
            guard.injection_threshold,
        ),
        (
            "injection_tool_threshold",
            "… in tool results and documents",
            guard.injection_tool_threshold,
        ),
        (
            "injection_flag_threshold",
            "Injection flag threshold",
            guard.injection_flag_threshold,
        ),
    ] {
        guard_rows.push_str(&format!(
            "<label>{label} <input name=\"{field}\" value=\"{}\" placeholder=\"model default\" \
             inputmode=\"decimal\" size=\"6\"{disabled}></label>",
            value.map_or_else(String::new, |v| v.to_string())
        ));
    }
    guard_rows.push_str(&format!(
        "<label>Phone regions <input name=\"phone_regions\" value=\"{}\" \
         placeholder=\"the data plane's\" size=\"20\"{disabled}></label>",
        escape(&guard.phone_regions.join(", "))
    ));
    let standalone = |v: Option<bool>| selected(guard.phone_standalone == v);
    guard_rows.push_str(&format!(
        "<label>Bare phone numbers <select name=\"phone_standalone\"{disabled}>\
         <option value=\"\"{}>as the data plane says</option>\
         <option value=\"on\"{}>taken without a phone word</option>\
         <option value=\"off\"{}>need a phone word</option></select></label>",
        standalone(None),
        standalone(Some(true)),
        standalone(Some(false)),
    ));
    let patterns = if guard.custom_patterns.is_empty() {
        "none".to_owned()
    } else {
        guard
            .custom_patterns
            .iter()
            .map(|c| escape(&c.id))
            .collect::<Vec<_>>()
            .join(", ")
    };

    let number = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
    let money = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
    let limit_rows = format!(
        "<label>Requests a minute <input name=\"requests_per_minute\" value=\"{}\" \
         inputmode=\"numeric\" size=\"8\" placeholder=\"no limit\"{disabled}></label>\
         <label>Tokens a minute <input name=\"tokens_per_minute\" value=\"{}\" \
         inputmode=\"numeric\" size=\"10\" placeholder=\"no limit\"{disabled}></label>\
         <label>Monthly spend cap $ <input name=\"monthly_spend_usd\" value=\"{}\" \
         inputmode=\"decimal\" size=\"10\" placeholder=\"no cap\"{disabled}></label>\
         <label>Warn from $ <input name=\"monthly_spend_warning_usd\" value=\"{}\" \
         inputmode=\"decimal\" size=\"10\" placeholder=\"no warning\"{disabled}></label>",
        number(limits.requests_per_minute),
        number(limits.tokens_per_minute),
        money(&limits.monthly_spend_usd),
        money(&limits.monthly_spend_warning_usd),
    );
    let applied = policy::cache_view(&cache);
    let cache_rows = format!(
        "<label>Answers <select name=\"mode\"{disabled}>\
         <option value=\"off\"{}>not cached</option>\
         <option value=\"exact\"{}>cached: the same request gets the same answer</option>\
         <option value=\"semantic\"{}>cached by meaning: a rephrased last question gets the \
         same answer too</option>\
         </select></label>\
         <label>Served for (seconds) <input name=\"ttl_s\" value=\"{}\" inputmode=\"numeric\" \
         size=\"8\"{disabled}></label>\
         <label>Closeness a rephrasing needs (0–1) <input name=\"semantic_threshold\" \
         value=\"{}\" inputmode=\"decimal\" size=\"6\"{disabled}></label>\
         <label>Rephrasings only up to temperature (0–2) <input name=\"semantic_max_temperature\" \
         value=\"{}\" inputmode=\"decimal\" size=\"6\" placeholder=\"any\"{disabled}></label>\
         <label>This project's share (MiB a shard) <input name=\"max_mb\" value=\"{}\" \
         inputmode=\"numeric\" size=\"8\" placeholder=\"no cap of its own\"{disabled}></label>\
         <label><input type=\"checkbox\" name=\"purge\" value=\"on\"{disabled}> Drop the answers \
         kept so far (turning the cache off drops them too)</label>",
        selected(applied.mode == CacheMode::Off),
        selected(applied.mode == CacheMode::Exact),
        selected(applied.mode == CacheMode::Semantic),
        applied.ttl_s,
        applied.semantic_threshold,
        applied
            .semantic_max_temperature
            .map_or_else(String::new, |t| t.to_string()),
        cache.max_mb.map_or_else(String::new, |m| m.to_string()),
    );
    let save = |what: &str| {
        if may_change(s) {
            format!("<button type=\"submit\">Save {what}</button>")
        } else {
            "<p class=\"lede\">Operators and the tenant's owners change these.</p>".to_owned()
        }
    };
    let name = project_name(app, p).await?;
    let page = pages::framed(
        pages::Page::Settings,
        &[
            ("who", &s.user.name),
            ("csrf", &s.csrf),
            ("project", &name),
            ("project_id", &p.id),
            ("message", message),
            ("routing", &routing_rows),
            ("guardrails", &guard_rows),
            ("patterns", &patterns),
            ("limits", &limit_rows),
            ("cache", &cache_rows),
            ("save_cache", &save("cache settings")),
            ("save_routing", &save("routing")),
            ("save_guardrails", &save("guardrails")),
            ("save_limits", &save("limits")),
        ],
    );
    Ok((status, page).into_response())
}

fn selected(on: bool) -> &'static str {
    if on {
        " selected"
    } else {
        ""
    }
}

fn category(g: &GuardrailBody, field: &str) -> Option<GuardAction> {
    match field {
        "pii" => g.pii,
        "secrets" => g.secrets,
        "injection" => g.injection,
        "content_safety" => g.content_safety,
        "response_pii" => g.response_pii,
        "unscanned" => g.unscanned,
        _ => g.response_secrets,
    }
}

/// The signed-in user of a settings form, allowed to change the project.
async fn changer(
    app: &App,
    headers: &HeaderMap,
    project: &str,
    f: &Fields,
) -> ApiResult<Result<(Signed, ProjectRow), Response>> {
    let (s, p) = match posted(app, headers, project, field(f, "csrf")).await? {
        Ok(sp) => sp,
        Err(to_login) => return Ok(Err(to_login)),
    };
    if !may_change(&s) {
        return Err(ApiError::Forbidden(
            "operators and the tenant's owners change a project's settings".into(),
        ));
    }
    Ok(Ok((s, p)))
}

/// Back to the page: `done` after a change, or the page with the reason when it was refused.
async fn answer<T>(
    app: &App,
    s: &Signed,
    p: &ProjectRow,
    result: ApiResult<T>,
    done: &str,
) -> ApiResult<Response> {
    match result {
        Ok(_) => {
            tracing::info!(by = %s.user.name, project = %p.id, what = done, "project settings saved");
            Ok(Redirect::to(&format!(
                "/dashboard/projects/{}/settings?done={done}",
                p.id
            ))
            .into_response())
        }
        Err(e @ (ApiError::BadRequest(_) | ApiError::Forbidden(_))) => {
            render(app, s, p, e.status(), &e.to_string()).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /dashboard/projects/{project}/settings/{routing|guardrails|limits|cache}`: the form's values
/// checked and saved as the admin API saves them; the page again with the reason when refused.
pub async fn save(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((project, what)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> ApiResult<Response> {
    let (s, p) = match changer(&app, &headers, &project, &f).await? {
        Ok(sp) => sp,
        Err(to_login) => return Ok(to_login),
    };
    let saved = match what.as_str() {
        "routing" => match routing_from(&f) {
            Ok(body) => policy::save_routing(&app, &p.id, body).await.map(drop),
            Err(e) => Err(e),
        },
        "guardrails" => {
            let stored = policy::stored_policy(&app, &p.id, |p| &p.guardrails).await?;
            match guardrails_from(stored, &f) {
                Ok(body) => policy::save_guardrails(&app, &p.id, body).await.map(drop),
                Err(e) => Err(e),
            }
        }
        "limits" => match limits_from(&f) {
            Ok(body) => policy::save_limits(&app, &p.id, body).await.map(drop),
            Err(e) => Err(e),
        },
        "cache" => {
            let stored = policy::stored_policy(&app, &p.id, |p| &p.cache).await?;
            match cache_from(stored, &f) {
                Ok(body) => policy::save_cache(&app, &p.id, body, field(&f, "purge") == "on")
                    .await
                    .map(drop),
                Err(e) => Err(e),
            }
        }
        _ => return Err(ApiError::NotFound("setting")),
    };
    answer(&app, &s, &p, saved, &what).await
}
