//! The Anthropic Messages dialect of the mock: `POST /v1/messages` with `x-api-key` (or Bearer) and a
//! required `anthropic-version`; `max_tokens` required; the exact event sequence of
//! ../shared/wire/anthropic-messages-stream.sse (message_start … message_stop, a ping, tool_use
//! blocks with input_json_delta); extended thinking (`mock/thinking.rs`); Anthropic's error
//! bodies and statuses (529 overloaded). `POST /v1/messages/count_tokens` answers
//! `{"input_tokens": n}`, n the words of the messages and system prompt.

use std::time::Duration;

use serde_json::{json, Value};

use super::{MockConfig, MockRequest, Plan, Reply};

pub fn messages(config: &MockConfig, req: &MockRequest<'_>) -> Reply {
    let body = match checked(config, req) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    answer(&body)
}

/// `POST /v1/messages/count_tokens`: the same checks and body, `max_tokens` not needed.
pub fn count_tokens(config: &MockConfig, req: &MockRequest<'_>) -> Reply {
    let body = match checked(config, req) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let Some(messages) = body["messages"].as_array() else {
        return error(400, "invalid_request_error", "messages: Field required");
    };
    if !body["model"].is_string() {
        return error(400, "invalid_request_error", "model: Field required");
    }
    let mut texts: Vec<String> = messages.iter().map(text_of).collect();
    texts.push(system_text(&body["system"]));
    super::word_count(&texts, |n| json!({"input_tokens": n}))
}

/// The key, the version header and a JSON body, as the API checks them first.
fn checked(config: &MockConfig, req: &MockRequest<'_>) -> Result<Value, Reply> {
    // The API takes `x-api-key` or, as current SDKs send it, `Authorization: Bearer`.
    let bearer = req
        .header("authorization")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let x_api_key = req
        .header("x-api-key")
        .and_then(|v| std::str::from_utf8(v).ok());
    let Some(key) = x_api_key
        .or(bearer)
        .map(str::trim)
        .filter(|k| !k.is_empty())
    else {
        return Err(error(
            401,
            "authentication_error",
            "x-api-key header is required",
        ));
    };
    if let Some(status) = config.key_status.get(key) {
        return Err(status_error(*status));
    }
    if req.header("anthropic-version").is_none() {
        return Err(error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ));
    }
    serde_json::from_slice::<Value>(req.body).map_err(|_| {
        error(
            400,
            "invalid_request_error",
            "The request body is not valid JSON.",
        )
    })
}

/// A Messages answer to a checked body.
fn answer(body: &Value) -> Reply {
    if !body["max_tokens"].is_u64() {
        return error(400, "invalid_request_error", "max_tokens: Field required");
    }
    let Some(messages) = body["messages"].as_array() else {
        return error(400, "invalid_request_error", "messages: Field required");
    };
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(text_of)
        .unwrap_or_default();
    let mut prompt: Vec<String> = messages.iter().map(text_of).collect();
    prompt.push(system_text(&body["system"]));
    let offers = |name: &str| {
        body["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == name))
    };
    let thinks = match super::thinking::check(body) {
        Ok(budget) => budget.is_some(),
        Err(message) => return error(400, "invalid_request_error", message),
    };
    let plan = Plan::new(&last_user, &prompt.join(" "), offers);
    if let Some(status) = plan.knobs.status {
        return status_error(status);
    }
    let thought = thinks.then(|| super::thinking::text(plan.topic(&last_user)));
    let model = body["model"].as_str().unwrap_or("");
    let id = format!("msg_mock{}", plan.serial);
    // The tool called, and its input: a `mock:tool` knob's (input `{}`), else the one
    // `tool_choice` forces (`tool`, or the first tool for `any`) with input that follows its
    // schema, as Claude's answers do.
    let tools = body["tools"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let forced = match body["tool_choice"]["type"].as_str() {
        Some("tool") => tools
            .iter()
            .find(|t| t["name"] == body["tool_choice"]["name"]),
        Some("any") => tools.first(),
        _ => None,
    };
    let call: Option<(String, Value)> = match (&plan.tool, forced) {
        (Some(name), _) => Some((name.clone(), json!({}))),
        (None, Some(t)) => Some((
            t["name"].as_str().unwrap_or("").to_owned(),
            super::schema::instance(t.get("input_schema"), &last_user),
        )),
        (None, None) => None,
    };
    let (stop_reason, mut content) = match &call {
        Some((name, input)) => (
            "tool_use",
            json!([{"type": "tool_use", "id": "toolu_mock_1", "name": name, "input": input}]),
        ),
        None => ("end_turn", json!([{"type": "text", "text": plan.text}])),
    };
    let thinking_tokens = thought
        .as_deref()
        .map_or(0, |t| t.split_whitespace().count());
    if let (Some(t), Some(blocks)) = (&thought, content.as_array_mut()) {
        blocks.insert(
            0,
            json!({"type": "thinking", "thinking": t, "signature": super::thinking::sign(t)}),
        );
    }
    let output_tokens = plan.completion_tokens + thinking_tokens;
    // With a thinking block first, the answer's block is the second.
    let at = usize::from(thought.is_some());
    let (input, written, read) = super::prompt_cache::usage(body, plan.prompt_tokens);
    let usage = |output: usize| {
        json!({"input_tokens": input, "output_tokens": output,
               "cache_creation_input_tokens": written, "cache_read_input_tokens": read})
    };
    let stream = body["stream"].as_bool() == Some(true);
    let mut events = Vec::new();
    if stream {
        let mut push = |name: &str, data: Value| {
            events.push(format!("event: {name}\ndata: {data}\n\n").into_bytes())
        };
        push(
            "message_start",
            json!({"type": "message_start", "message": {"id": id, "type": "message", "role": "assistant",
            "content": [], "model": model, "stop_reason": null, "stop_sequence": null, "usage": usage(1)}}),
        );
        if let Some(t) = &thought {
            push(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
            );
            for piece in crate::knobs::split(t, 3) {
                push(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": piece}}),
                );
            }
            push(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "signature_delta", "signature": super::thinking::sign(t)}}),
            );
            push(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            );
        }
        match &call {
            Some((name, input)) => {
                push(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": at,
                    "content_block": {"type": "tool_use", "id": "toolu_mock_1", "name": name, "input": {}}}),
                );
                push("ping", json!({"type": "ping"}));
                let json = input.to_string();
                let n = plan.knobs.chunks.unwrap_or(super::DEFAULT_CHUNKS);
                for piece in crate::knobs::split(&json, n) {
                    push(
                        "content_block_delta",
                        json!({"type": "content_block_delta", "index": at,
                        "delta": {"type": "input_json_delta", "partial_json": piece}}),
                    );
                }
            }
            None => {
                push(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": at,
                    "content_block": {"type": "text", "text": ""}}),
                );
                push("ping", json!({"type": "ping"}));
                for piece in plan.pieces() {
                    push(
                        "content_block_delta",
                        json!({"type": "content_block_delta", "index": at,
                        "delta": {"type": "text_delta", "text": piece}}),
                    );
                }
            }
        }
        push(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": at}),
        );
        push(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": output_tokens}}),
        );
        push("message_stop", json!({"type": "message_stop"}));
    }
    let message = json!({"id": id, "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": stop_reason, "stop_sequence": null, "usage": usage(output_tokens)});
    plan.reply(stream, events, message.to_string().into_bytes())
}

/// Text the model reads in a message: a string, or text and tool_result blocks.
fn text_of(m: &Value) -> String {
    match &m["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| match b["type"].as_str() {
                Some("text") => b["text"].as_str().map(str::to_owned),
                Some("tool_result") => Some(text_of(b)),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn system_text(system: &Value) -> String {
    match system {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn status_error(status: u16) -> Reply {
    let (kind, message) = match status {
        400 => ("invalid_request_error", "Invalid request."),
        401 => ("authentication_error", "invalid x-api-key"),
        403 => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404 => (
            "not_found_error",
            "The requested resource could not be found.",
        ),
        413 => (
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        ),
        429 => (
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit.",
        ),
        529 => ("overloaded_error", "Overloaded"),
        _ => ("api_error", "Internal server error"),
    };
    error(status, kind, message)
}

pub fn error(status: u16, kind: &str, message: &str) -> Reply {
    let body = json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_mock"});
    Reply::Full {
        status,
        body: body.to_string().into_bytes(),
        delay: Duration::ZERO,
    }
}
