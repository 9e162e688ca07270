//! The front ends: the dialects a client may speak to Warden, as variants of one type. The
//! request path (`proxy::handle`) is the same for every one; what differs lives here — how the
//! body is read, which provider and model it routes to, and how each attempt's upstream body is
//! made. Answers and errors go back in the front end's [`Dialect`].
//!
//! - [`Front::Chat`]: `POST /v1/chat/completions`, OpenAI's dialect, any provider behind it
//!   (translated for Anthropic and Gemini), route groups and fallbacks across providers.
//! - [`Front::Messages`]: `POST /v1/messages`, Anthropic's own dialect (the Warden key in
//!   `x-api-key` or Bearer): Claude models with Anthropic keys, passed through; any other chat
//!   alias or route group converted to a chat request at parse (`translate/messages.rs`) and
//!   from there the chat path exactly, the answer written back as Anthropic's
//!   (`Delivery::messages`).
//! - [`Front::ResponsesInputTokens`]: `POST /v1/responses/input_tokens`, OpenAI's token count for
//!   a Responses request, to OpenAI models only, screened as that request is, passed through.
//! - [`Front::MessagesCountTokens`]: `POST /v1/messages/count_tokens`, Anthropic's token
//!   count for a Messages request, the same body (screened the same way: the text goes to the
//!   provider all the same) and the same keys; the answer is a count, so no response guard, no
//!   cache and no usage.
//! - [`Front::Generate`]: `POST /v1beta/models/{model}:generateContent` or
//!   `:streamGenerateContent` (also under `/v1/`), Gemini's own dialect (the Warden key in
//!   `x-goog-api-key` or Bearer), Google keys only; `:countTokens` likewise, answered as
//!   `count_tokens` is.
//! - [`Front::Embeddings`]: `POST /v1/embeddings`, OpenAI's dialect, embedding aliases only
//!   (`front/embeddings.rs`), translated for Gemini.
//! - [`Front::Responses`]: `POST /v1/responses`, OpenAI's Responses API, converted to a chat
//!   request at parse (`translate/responses.rs`) and from there the chat path exactly; the
//!   answer is converted back on the way out (`Delivery::responses`).
//!
//! A model serves one kind of route: a chat alias on `/v1/embeddings`, or an embedding alias
//! anywhere else, is refused with 400 before a provider is asked.
//!
//! Native bodies pass through unchanged apart from the model name and the guardrails'
//! placeholders. Their model may be a catalog alias of that provider, or one of the provider's
//! upstream names the catalog uses.

use std::rc::Rc;
use std::sync::Arc;

use simd_json::BorrowedValue;
use warden_shared::catalog::{Dialect, ModelKind, Provider};

use super::attempt::{Attempt, Body, Translation};
use crate::auth::Caller;
use crate::context::Request;
use crate::error::{Error, Kind, Result};
use crate::guard::apply::Plan as Screened;
use crate::http::respond::json_string;
use crate::route::{
    parse_chat, parse_model_body, refuse_duplicate_keys, split_at_model, ChatFields,
};
use crate::shard::Shard;
use crate::state::{KeyRef, KeySource, RouteTarget, ServingState};
use crate::translate::responses::Echo;

mod anthropic_headers;
mod chat;
mod embeddings;

/// The dialect a request came in.
pub enum Front<'r> {
    Chat,
    Embeddings,
    Responses,
    Messages,
    MessagesCountTokens,
    ResponsesInputTokens,
    /// The model and the method come from the path; `stream` is `alt=sse`.
    Generate {
        model: &'r str,
        method: &'static str,
        stream: bool,
    },
}

/// A request body as its front end read it (the value borrows the shard's scratch buffer).
pub struct Parsed<'v> {
    pub value: BorrowedValue<'v>,
    /// The model the client named and where it sits in the body (for Gemini it comes from the
    /// path, and `model_span` is empty), whether it streams, its `stream_options`.
    pub fields: ChatFields,
    /// A Responses request: the chat request it became (`value` and `fields` describe it) and
    /// what passing it through to OpenAI needs.
    pub converted: Option<Converted>,
}

/// A request that became a chat request at parse: a `/v1/responses` request, both ways it can
/// go (through chat, every provider, or to OpenAI as it came, to OpenAI's own Responses API),
/// or a `/v1/messages` request for a model that is not Anthropic's (through chat only).
pub struct Converted {
    /// The chat request; when chat cannot carry the request (see `refusal`), a stub that names
    /// only the model, for routing and limits.
    pub chat: Rc<Vec<u8>>,
    /// What a Responses answer made from a chat answer repeats of the request.
    pub echo: Option<Echo>,
    /// What an Anthropic message made from a chat answer repeats of the request.
    pub messages: Option<crate::translate::messages::Echo>,
    /// The routing fields of the client's own Responses body (where its model sits), for
    /// OpenAI's own Responses API.
    pub native: Option<ChatFields>,
    /// Why chat cannot carry the request (stored state, built-in tools, item types only
    /// OpenAI knows): then only OpenAI routes may answer it, and others get this error.
    pub refusal: Option<Error>,
}

/// Where a request goes before fallbacks and keys are counted in.
pub enum Target<'s> {
    /// A catalog alias (or the tier a route group picked), with its fallback aliases.
    Catalog(&'s RouteTarget),
    /// A native route's own provider: the alias, when the client named one, and the model.
    Native {
        provider: Provider,
        alias: Option<&'s Arc<str>>,
        upstream: Arc<str>,
    },
}

impl<'r> Front<'r> {
    /// A Gemini request, from its path: `/v1beta/models/{model}:{method}[?alt=sse]`.
    pub fn generate(req: &Request<'r>) -> Result<Front<'r>> {
        let path = std::str::from_utf8(req.head.path.get(req.buf)).map_err(|_| unknown())?;
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let name = path
            .strip_prefix("/v1beta/models/")
            .or_else(|| path.strip_prefix("/v1/models/"))
            .ok_or_else(unknown)?;
        let (model, method) = name.split_once(':').ok_or_else(unknown)?;
        let sse = query.split('&').any(|p| p == "alt=sse");
        let method = match method {
            "generateContent" => ":generateContent",
            "streamGenerateContent" if sse => super::attempt::GEMINI_SSE,
            "streamGenerateContent" => ":streamGenerateContent",
            "embedContent" => ":embedContent",
            "batchEmbedContents" => ":batchEmbedContents",
            "countTokens" => COUNT_TOKENS,
            _ => return Err(unknown()),
        };
        Ok(Front::Generate {
            model,
            method,
            stream: sse,
        })
    }

    /// The dialect of the client's requests, answers and errors.
    pub fn dialect(&self) -> Dialect {
        match self {
            Front::Chat | Front::Embeddings | Front::Responses | Front::ResponsesInputTokens => {
                Dialect::OpenAi
            }
            Front::Messages | Front::MessagesCountTokens => Dialect::Anthropic,
            Front::Generate { .. } => Dialect::Gemini,
        }
    }

    /// Validate the body (a repeated key anywhere is refused) and read what routing needs.
    pub fn parse<'v>(&self, req: &Request<'_>, scratch: &'v mut Vec<u8>) -> Result<Parsed<'v>> {
        let body = req.body;
        // A Responses request, and a Messages request for another provider's model, become chat
        // requests here.
        let converted = match self {
            Front::Responses => Some(chat::responses_to_chat(req)?),
            Front::Messages => chat::messages_to_chat(req)?,
            _ => None,
        };
        if let Some((chat, converted)) = converted {
            let (fields, value) = parse_chat(&chat, scratch)?;
            return Ok(Parsed {
                converted: Some(converted.with_chat(chat, &fields, req)),
                value,
                fields,
            });
        }
        let (fields, value) = match self {
            Front::Chat | Front::Responses => parse_chat(body, scratch)?,
            Front::Messages => parse_model_body(body, scratch)?,
            Front::MessagesCountTokens | Front::ResponsesInputTokens | Front::Embeddings => {
                let (mut fields, value) = parse_model_body(body, scratch)?;
                // Embeddings and counts never stream, whatever the body says.
                fields.stream = false;
                (fields, value)
            }
            Front::Generate { model, stream, .. } => {
                scratch.clear();
                scratch.extend_from_slice(body);
                let value = simd_json::to_borrowed_value(scratch)
                    .map_err(|e| crate::route::invalid_json(body, e))?;
                refuse_duplicate_keys(body)?;
                let fields = ChatFields {
                    model: (*model).to_owned(),
                    model_span: 0..0,
                    stream: *stream,
                    include_usage: false,
                    stream_options_span: None,
                };
                (fields, value)
            }
        };
        Ok(Parsed {
            value,
            fields,
            converted: None,
        })
    }

    /// The provider and model the request names: a catalog alias or route group (chat), or the
    /// front end's own provider (native routes). Unknown models are 404.
    pub fn route<'s>(
        &self,
        shard: &Shard,
        req: &Request<'s>,
        caller: &Caller<'s>,
        parsed: &Parsed<'_>,
    ) -> Result<Target<'s>> {
        let state: &'s ServingState = req.state;
        let model = parsed.fields.model.as_str();
        // A Messages request for another provider's model took the chat path at parse.
        let chat = matches!(self, Front::Chat | Front::Responses) || parsed.converted.is_some();
        match self {
            _ if chat => match (state.route(model), state.group(model)) {
                (Some(t), _) if t.kind != ModelKind::Chat => return Err(wrong_kind(t)),
                (Some(t), _) => Some(t),
                (None, Some(tiers)) => super::policy::route_by_complexity(
                    shard,
                    state,
                    req,
                    caller,
                    &parsed.value,
                    tiers,
                ),
                (None, None) => None,
            }
            .map(Target::Catalog)
            .ok_or_else(|| crate::models::not_found(shard, model)),
            Front::Embeddings => {
                embeddings::check_input(&parsed.value, caller)?;
                match state.route(model) {
                    Some(t) if t.kind == ModelKind::Embedding => Ok(Target::Catalog(t)),
                    Some(t) => Err(wrong_kind(t)),
                    None => Err(crate::models::not_found(shard, model)),
                }
            }
            Front::Messages | Front::MessagesCountTokens => {
                // The headers passed on with the body: refused here, before the guardrails run
                // and a limit is spent, when they are not of their shape.
                anthropic_headers::passed_on(req)?;
                native(shard, state, model, Provider::Anthropic, ModelKind::Chat)
            }
            Front::ResponsesInputTokens => {
                native(shard, state, model, Provider::OpenAi, ModelKind::Chat)
            }
            Front::Generate { method, .. } => {
                let kind = if embeds(method) {
                    ModelKind::Embedding
                } else {
                    ModelKind::Chat
                };
                native(shard, state, model, Provider::Google, kind)
            }
            Front::Chat | Front::Responses => Err(Error::new(
                Kind::Internal,
                "a chat request was not routed as one",
            )),
        }
    }

    /// The attempts, in order: for a catalog target its route and then its fallbacks, for
    /// each every key the project may use (its own in priority order, then pooled ones), at
    /// most `fallback.max_attempts`. Bodies for translated providers are built here; the
    /// guardrails' placeholders go into every body.
    pub fn plan<'s>(
        &self,
        shard: &Shard,
        req: &Request<'s>,
        caller: &Caller<'s>,
        parsed: Parsed<'_>,
        target: Target<'s>,
        screened: &Screened,
    ) -> Result<Vec<Attempt<'s>>> {
        let state: &'s ServingState = req.state;
        let max = shard.fallback.max_attempts;
        let (provider, alias, upstream) = match target {
            Target::Catalog(t) if matches!(self, Front::Embeddings) => {
                return embeddings::attempts(req, caller, parsed, t, screened, max)
            }
            Target::Catalog(t) => return chat::attempts(req, caller, parsed, t, screened, max),
            Target::Native {
                provider,
                alias,
                upstream,
            } => (provider, alias, upstream),
        };
        let body = match self {
            Front::Messages | Front::MessagesCountTokens => {
                let mut body = Vec::with_capacity(req.body.len() + upstream.len());
                let (before, after) = split_at_model(req.body, &parsed.fields.model_span);
                body.extend_from_slice(before);
                json_string(&mut body, &upstream);
                body.extend_from_slice(after);
                Body::Anthropic {
                    body: Rc::new(redact(body, screened)?),
                    headers: Some(Rc::new(anthropic_headers::passed_on(req)?)),
                    path: match self {
                        Front::MessagesCountTokens => super::request::MESSAGES_COUNT_TOKENS,
                        _ => super::request::MESSAGES,
                    },
                }
            }
            Front::ResponsesInputTokens => {
                let mut body = Vec::with_capacity(req.body.len() + upstream.len());
                let (before, after) = split_at_model(req.body, &parsed.fields.model_span);
                body.extend_from_slice(before);
                json_string(&mut body, &upstream);
                body.extend_from_slice(after);
                Body::OpenAiNative {
                    body: Rc::new(redact(body, screened)?),
                    path: "/responses/input_tokens",
                }
            }
            Front::Generate { method, .. } => {
                let body = if embeds(method) {
                    embeddings::native_body(req.body, &upstream)?
                } else {
                    req.body.to_vec()
                };
                Body::Gemini {
                    body: Rc::new(redact(body, screened)?),
                    method,
                }
            }
            Front::Chat | Front::Embeddings | Front::Responses => {
                return Err(Error::new(
                    Kind::Internal,
                    "an OpenAI-dialect request routed to a native target",
                ))
            }
        };
        let mut keys = Vec::new();
        state.keys_for(caller.project, provider, &mut keys);
        let attempts: Vec<Attempt<'s>> = keys
            .iter()
            .take(max)
            .map(|key| Attempt {
                origin: state.origin(provider),
                provider,
                alias,
                upstream_model: Arc::clone(&upstream),
                key: *key,
                owner: owner(caller, key),
                body: body.clone(),
                translation: Translation::None,
            })
            .collect();
        if attempts.is_empty() {
            return Err(no_key(provider));
        }
        Ok(attempts)
    }

    /// Whether the answer is text the response guardrails read (an embedding or a token count
    /// is not).
    pub fn answers_text(&self) -> bool {
        match self {
            Front::Embeddings | Front::MessagesCountTokens | Front::ResponsesInputTokens => false,
            Front::Generate { method, .. } => !embeds(method) && *method != COUNT_TOKENS,
            Front::Chat | Front::Messages | Front::Responses => true,
        }
    }

    /// Whether the request asks for a token count: nothing is generated, nothing cached, no
    /// usage metered.
    pub fn counts_tokens(&self) -> bool {
        match self {
            Front::MessagesCountTokens | Front::ResponsesInputTokens => true,
            Front::Generate { method, .. } => *method == COUNT_TOKENS,
            _ => false,
        }
    }
}

/// Gemini's token count method.
const COUNT_TOKENS: &str = ":countTokens";

/// Whether a Gemini method embeds (`:embedContent`, `:batchEmbedContents`).
fn embeds(method: &str) -> bool {
    method.contains("mbedContent")
}

fn unknown() -> Error {
    Error::new(Kind::UnknownRoute, "unknown path")
}

/// A model named on the route of the other kind (400, and which routes serve it).
fn wrong_kind(t: &RouteTarget) -> Error {
    let message = match t.kind {
        ModelKind::Embedding => {
            "this is an embedding model; use /v1/embeddings (or Gemini's embedContent)"
        }
        ModelKind::Chat => {
            "this is a chat model; use /v1/chat/completions (or the provider's native route)"
        }
    };
    Error::new(Kind::InvalidRequest, message).with_detail(t.alias.to_string())
}

/// A native route's target for `name`: an alias of `provider` of that `kind`, or one of the
/// provider's upstream names.
fn native<'s>(
    shard: &Shard,
    state: &'s ServingState,
    name: &str,
    provider: Provider,
    kind: ModelKind,
) -> Result<Target<'s>> {
    match state.route(name) {
        Some(t) if t.kind != kind => Err(wrong_kind(t)),
        Some(t) if t.provider == provider => Ok(Target::Native {
            provider,
            alias: Some(&t.alias),
            upstream: Arc::clone(&t.upstream_model),
        }),
        Some(t) => Err(Error::new(
            Kind::InvalidRequest,
            "this model is served by another provider; use /v1/chat/completions",
        )
        .with_detail(t.provider.name())),
        None if state.is_upstream_model(provider, name) => Ok(Target::Native {
            provider,
            alias: None,
            upstream: name.into(),
        }),
        None => Err(crate::models::not_found(shard, name)),
    }
}

/// One attempt of `route` with `body` per key in `keys`, up to `max` attempts in all.
fn push_attempts<'s>(
    attempts: &mut Vec<Attempt<'s>>,
    (state, caller, route): (&'s ServingState, &Caller<'s>, &'s RouteTarget),
    keys: &[KeyRef<'s>],
    (body, translation): (Body<'s>, Translation),
    max: usize,
) {
    for key in keys {
        if attempts.len() == max {
            break;
        }
        attempts.push(Attempt {
            origin: state.origin(route.provider),
            provider: route.provider,
            alias: Some(&route.alias),
            upstream_model: Arc::clone(&route.upstream_model),
            key: *key,
            owner: owner(caller, key),
            body: body.clone(),
            translation: translation.clone(),
        });
    }
}

/// The tenant and project a key was sealed for ("" and "" for a pooled key).
fn owner<'s>(caller: &Caller<'s>, key: &KeyRef<'_>) -> (&'s str, &'s str) {
    match key.source {
        KeySource::Byok => (&caller.project.tenant, &caller.project.id),
        KeySource::Pooled => ("", ""),
    }
}

/// The error when no key may serve a request to `provider`.
fn no_key(provider: Provider) -> Error {
    Error::new(
        Kind::NoProviderKey,
        "no provider key configured for this model's provider",
    )
    .with_detail(provider.name())
}

/// A finished outgoing body with the guardrails' placeholders in.
fn redact(body: Vec<u8>, plan: &crate::guard::apply::Plan) -> Result<Vec<u8>> {
    if plan.replacements.is_empty() {
        return Ok(body);
    }
    crate::guard::apply::rewrite(&body, &plan.replacements)
}
