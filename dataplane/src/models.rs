//! The models a project can use, listed and looked up in each dialect's own shape, so that each
//! SDK's `models.list()` and `models.retrieve()` / `models.get()` work against Warden:
//!
//! - OpenAI, `GET /v1/models` and `GET /v1/models/{alias}` (Bearer): every alias whose provider
//!   the project reaches (its own keys or pooled ones, as its routing allows).
//! - Anthropic, the same paths with `x-api-key` or `anthropic-version` (the anthropic SDK sends
//!   both): the Anthropic chat aliases among them — what `/v1/messages` serves.
//! - Gemini, `GET /v1beta/models` and `GET /v1beta/models/{alias}` (also `/v1/…` with
//!   `x-goog-api-key`): the Google aliases among them, with the methods each answers.
//!
//! One page holds every model (the lists are a catalog's, tens of entries): Anthropic's
//! `has_more` is false, Gemini's list has no `nextPageToken`. An alias the project cannot use,
//! or of another provider on a native dialect, is a 404 in the dialect, as an unknown one is.

use warden_shared::catalog::{Dialect, ModelKind, Provider};

use crate::error::{Error, Kind, Result};
use crate::http::respond::json_string;
use crate::shard::Shard;
use crate::state::{ProjectState, RouteTarget, ServingState};
use crate::translate::json::{Arr, Obj};

/// The answer to a model list (`id` `None`) or look-up in `dialect`, into `out`.
pub fn answer(
    shard: &Shard,
    state: &ServingState,
    project: &ProjectState,
    dialect: Dialect,
    id: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let listed = |m: &RouteTarget| {
        project.reach & (1 << m.provider.index()) != 0
            && match dialect {
                Dialect::OpenAi => true,
                Dialect::Anthropic => {
                    m.provider == Provider::Anthropic && m.kind == ModelKind::Chat
                }
                Dialect::Gemini => m.provider == Provider::Google,
            }
    };
    match id {
        None if dialect == Dialect::OpenAi => out.extend_from_slice(&project.models_json),
        None => {
            let mut models: Vec<&RouteTarget> = state.models().filter(|m| listed(m)).collect();
            models.sort_by(|a, b| a.alias.cmp(&b.alias));
            list(dialect, &models, out);
        }
        Some(id) => {
            // Gemini names a model `models/{name}`; the SDKs put the prefix in the path or not.
            let id = id.strip_prefix("models/").unwrap_or(id);
            let m = state
                .route(id)
                .filter(|m| listed(m))
                .ok_or_else(|| not_found(shard, id))?;
            model(dialect, m, out);
        }
    }
    Ok(())
}

/// 404 for a model name the client sent, naming it when Warden may repeat it: a key or a card
/// pasted where the model goes would otherwise come back in the error body and go into the
/// debug log (`Shard::may_repeat`).
pub fn not_found(shard: &Shard, name: &str) -> Error {
    let e = Error::new(Kind::ModelNotFound, "unknown model");
    if shard.may_repeat(name.as_bytes()) {
        e.with_detail(format!("{name:?}"))
    } else {
        e.with_detail("the name sent is not repeated (not a model name's shape, or it holds a key or personal data)")
    }
}

fn list(dialect: Dialect, models: &[&RouteTarget], out: &mut Vec<u8>) {
    let mut o = Obj::new(out);
    let key = if dialect == Dialect::Gemini {
        "models"
    } else {
        "data"
    };
    let mut arr = Arr::new(o.key(key));
    for m in models {
        model(dialect, m, arr.item());
    }
    arr.end();
    if dialect == Dialect::Anthropic {
        o.raw("has_more", b"false");
        for (k, m) in [("first_id", models.first()), ("last_id", models.last())] {
            match m {
                Some(m) => o.str(k, &m.alias),
                None => o.raw(k, b"null"),
            }
        }
    }
    o.end();
}

fn model(dialect: Dialect, m: &RouteTarget, out: &mut Vec<u8>) {
    let mut o = Obj::new(out);
    match dialect {
        Dialect::OpenAi => {
            o.str("id", &m.alias);
            o.str("object", "model");
            o.num("created", 0);
            o.str("owned_by", m.provider.name());
        }
        Dialect::Anthropic => {
            o.str("type", "model");
            o.str("id", &m.alias);
            o.str("display_name", &m.alias);
            o.str("created_at", "1970-01-01T00:00:00Z");
        }
        Dialect::Gemini => {
            let name = o.key("name");
            let mut prefixed = String::with_capacity(7 + m.alias.len());
            prefixed.push_str("models/");
            prefixed.push_str(&m.alias);
            json_string(name, &prefixed);
            o.str("baseModelId", &m.alias);
            o.str("version", "");
            o.str("displayName", &m.alias);
            o.str("description", "");
            let methods: &[&str] = match m.kind {
                ModelKind::Chat => &["generateContent", "streamGenerateContent", "countTokens"],
                ModelKind::Embedding => &["embedContent", "batchEmbedContents"],
            };
            let mut arr = Arr::new(o.key("supportedGenerationMethods"));
            for method in methods {
                json_string(arr.item(), method);
            }
            arr.end();
        }
    }
    o.end();
}
