//! The chat front end's attempts — `/v1/chat/completions`, and `/v1/responses` or
//! `/v1/messages` once its body became a chat request ([`responses_to_chat`],
//! [`messages_to_chat`]): each route, the alias and then its fallbacks,
//! in its provider's dialect (the client's body spliced for OpenAI-compatible providers,
//! translated for Anthropic and Gemini), for every key the project may use there. A route
//! whose provider cannot carry the request (its translation refuses it) is passed over, like one
//! without keys; when no route is left, that refusal is the answer.

use std::rc::Rc;

use warden_shared::catalog::{Dialect, Provider};
use warden_shared::snapshot::GuardAction;

use super::{no_key, push_attempts, redact, Converted, Parsed};
use crate::auth::Caller;
use crate::context::Request;
use crate::error::{Error, Result};
use crate::guard::apply::Plan as Screened;
use crate::proxy::attempt::{routes, Attempt, Body, Translation, GEMINI_SSE};
use crate::route::{parse_model_body, ChatFields};
use crate::state::{RouteTarget, ServingState};
use crate::translate::{anthropic, gemini, now, responses, Meta};

/// A chat request's attempts: each route (the target, then its fallbacks) in the provider's
/// dialect, for every key the project may use there.
pub fn attempts<'s>(
    req: &Request<'s>,
    caller: &Caller<'s>,
    parsed: Parsed<'_>,
    target: &'s RouteTarget,
    screened: &Screened,
    max: usize,
) -> Result<Vec<Attempt<'s>>> {
    let state: &'s ServingState = req.state;
    let Parsed {
        value,
        fields,
        converted,
    } = parsed;
    // A Responses request goes to OpenAI as it came (its own Responses API), to every other
    // provider as the chat request it became — unless chat cannot carry it.
    let (converted, native, refusal) = match converted {
        Some(c) => (Some(c.chat), c.native.map(Rc::new), c.refusal),
        None => (None, None, None),
    };
    let mut refused_routes = false;
    // Why the first route that could not carry the request (its translation refused it: `n`
    // above 1, thinking with forced JSON) was passed over.
    let mut untranslatable: Option<Error> = None;
    let stream = fields.stream;
    let fields = Rc::new(fields);
    let replacements = Rc::new(screened.replacements.clone());
    let policy = &caller.project.guardrails;
    let show_reasoning = policy.response_pii == GuardAction::Off
        && policy.response_secrets == GuardAction::Off
        && !caller
            .project
            .custom
            .as_ref()
            .is_some_and(|set| set.checks_responses());
    let mut attempts = Vec::new();
    let mut keys = Vec::new();
    for route in routes(state, target) {
        keys.clear();
        state.keys_for(caller.project, route.provider, &mut keys);
        if keys.is_empty() {
            continue;
        }
        let native = native
            .as_ref()
            .filter(|_| route.provider == Provider::OpenAi);
        if native.is_none() && refusal.is_some() {
            refused_routes = true;
            continue;
        }
        let meta = || Meta {
            id: format!("chatcmpl-{}", String::from_utf8_lossy(req.id)),
            model: route.alias.as_ref().into(),
            created: now(),
            include_usage: fields.include_usage,
            json_tool: anthropic::structured_output(&value).is_some(),
            show_reasoning,
        };
        let (body, translation) = match (route.provider.dialect(), native) {
            (_, Some(native)) => (
                Body::OpenAi {
                    path: "/responses",
                    body: None,
                    target: route,
                    fields: Rc::clone(native),
                    replacements: Rc::clone(&replacements),
                },
                Translation::ResponsesApi,
            ),
            (Dialect::OpenAi, None) => (
                Body::OpenAi {
                    path: "/chat/completions",
                    body: converted.clone(),
                    target: route,
                    fields: Rc::clone(&fields),
                    replacements: Rc::clone(&replacements),
                },
                Translation::None,
            ),
            (Dialect::Anthropic, None) => {
                let mut body = Vec::with_capacity(req.body.len() + 256);
                if let Err(why) =
                    anthropic::request(&value, &route.upstream_model, stream, &mut body)
                {
                    untranslatable.get_or_insert(why);
                    continue;
                }
                (
                    Body::Anthropic {
                        body: Rc::new(redact(body, screened)?),
                        headers: None,
                        path: crate::proxy::request::MESSAGES,
                    },
                    Translation::Anthropic(meta()),
                )
            }
            (Dialect::Gemini, None) => {
                let mut body = Vec::with_capacity(req.body.len() + 256);
                if let Err(why) = gemini::request(&value, &mut body) {
                    untranslatable.get_or_insert(why);
                    continue;
                }
                let method = if stream {
                    GEMINI_SSE
                } else {
                    ":generateContent"
                };
                let prefix = String::from_utf8_lossy(req.id).into_owned();
                (
                    Body::Gemini {
                        body: Rc::new(redact(body, screened)?),
                        method,
                    },
                    Translation::Gemini(meta(), prefix),
                )
            }
        };
        push_attempts(
            &mut attempts,
            (state, caller, route),
            &keys,
            (body, translation),
            max,
        );
    }
    if attempts.is_empty() {
        return Err(match (refusal, untranslatable) {
            (Some(why), _) if refused_routes => why,
            (_, Some(why)) => why,
            _ => no_key(target.provider),
        });
    }
    Ok(attempts)
}

/// What a request that became a chat request keeps beside its chat body, until that body is
/// parsed.
pub enum Conversion {
    /// A Responses request: the fields its answers repeat, the routing fields of the client's
    /// body (for OpenAI, which gets that body), and why chat cannot carry it, if it cannot.
    Responses {
        repeated: Vec<u8>,
        native: ChatFields,
        refusal: Option<Error>,
    },
    /// A Messages request for another provider's model.
    Messages,
}

impl Conversion {
    /// What the request path keeps of the conversion, its chat body (`fields`: that body's
    /// routing fields) included.
    pub fn with_chat(self, chat: Vec<u8>, fields: &ChatFields, req: &Request<'_>) -> Converted {
        let id = String::from_utf8_lossy(req.id);
        let model: Box<str> = fields.model.as_str().into();
        let chat = Rc::new(chat);
        match self {
            Conversion::Responses {
                repeated,
                native,
                refusal,
            } => Converted {
                chat,
                echo: Some(responses::Echo {
                    id: format!("resp_{id}"),
                    model,
                    created_at: now(),
                    fields: repeated,
                }),
                messages: None,
                native: Some(native),
                refusal,
            },
            Conversion::Messages => Converted {
                chat,
                echo: None,
                messages: Some(crate::translate::messages::Echo {
                    id: format!("msg_{id}"),
                    model,
                }),
                native: None,
                refusal: None,
            },
        }
    }
}

/// A Responses request as a chat request, and what else it keeps; when chat cannot carry the
/// request, the chat request is a stub naming the model, for routing and limits.
pub fn responses_to_chat(req: &Request<'_>) -> Result<(Vec<u8>, Conversion)> {
    let mut raw = Vec::new();
    // Valid JSON, an object, no repeated key, the model once as a plain string.
    let (mut native, value) = parse_model_body(req.body, &mut raw)?;
    // The Responses API reports usage in its closing event, always: nothing to ask for.
    native.include_usage = true;
    native.stream_options_span = None;
    let mut chat = Vec::with_capacity(req.body.len() + 128);
    let (repeated, refusal) = match responses::request(&value, &mut chat) {
        Ok(repeated) => (repeated, None),
        Err(why) if responses::only_openai(&why) => {
            chat.clear();
            (responses::routing_stub(&value, &mut chat), Some(why))
        }
        Err(e) => return Err(e),
    };
    let conversion = Conversion::Responses {
        repeated,
        native,
        refusal,
    };
    Ok((chat, conversion))
}

/// A `/v1/messages` request as a chat request when its model is not Anthropic's — an alias of
/// another provider, or a route group — and so takes the chat path; `None` when the native
/// route serves it (Anthropic's models, and names the catalog does not know, which it refuses).
pub fn messages_to_chat(req: &Request<'_>) -> Result<Option<(Vec<u8>, Conversion)>> {
    let mut raw = Vec::new();
    // Valid JSON, an object, no repeated key, the model once as a plain string.
    let (fields, value) = parse_model_body(req.body, &mut raw)?;
    let model = fields.model.as_str();
    let other = match req.state.route(model) {
        Some(t) => t.provider != Provider::Anthropic,
        None => req.state.group(model).is_some(),
    };
    if !other {
        return Ok(None);
    }
    let mut chat = Vec::with_capacity(req.body.len() + 128);
    crate::translate::messages::request(&value, &mut chat)?;
    Ok(Some((chat, Conversion::Messages)))
}
