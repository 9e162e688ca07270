//! The OpenAI chat completions dialect of the mock (also Groq's and DeepSeek's): the exact
//! shapes of ../shared/wire/openai-*: completion object, stream chunks with `usage: null`, the
//! `include_usage` chunk with empty `choices`, `data: [DONE]`, and error bodies.

use std::time::Duration;

use serde_json::{json, Value};

use super::{mask, MockConfig, MockRequest, Plan, Reply};

/// The request's Bearer key, or OpenAI's answer when there is none or the mock is told to
/// fail that key.
pub fn authorize(config: &MockConfig, req: &MockRequest<'_>) -> Result<String, Reply> {
    let Some(key) = bearer(req) else {
        return Err(error(
            401,
            "missing_api_key",
            "invalid_request_error",
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        ));
    };
    match config.key_status.get(&key) {
        Some(status) => Err(key_error(*status, &key)),
        None => Ok(key),
    }
}

/// The request's key and its JSON body, or OpenAI's answer when either is missing or wrong.
pub fn authorized_json(
    config: &MockConfig,
    req: &MockRequest<'_>,
) -> Result<(String, Value), Reply> {
    let key = authorize(config, req)?;
    let body = serde_json::from_slice::<Value>(req.body).map_err(|_| {
        error(
            400,
            "invalid_json",
            "invalid_request_error",
            "We could not parse the JSON body of your request.",
        )
    })?;
    Ok((key, body))
}

pub fn chat(config: &MockConfig, req: &MockRequest<'_>) -> Reply {
    let (key, body) = match authorized_json(config, req) {
        Ok(both) => both,
        Err(reply) => return reply,
    };
    // OpenAI's reasoning models take `max_completion_tokens` only.
    let model_name = body["model"].as_str().unwrap_or("");
    let reasoning = ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|p| model_name.starts_with(p));
    if reasoning && body.get("max_tokens").is_some() {
        let body = json!({"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}});
        return Reply::Full {
            status: 400,
            body: body.to_string().into_bytes(),
            delay: Duration::ZERO,
        };
    }
    let Some(messages) = body["messages"].as_array() else {
        return error(
            400,
            "missing_required_parameter",
            "invalid_request_error",
            "Missing required parameter: 'messages'.",
        );
    };
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(message_text)
        .unwrap_or_default();
    let prompt: Vec<String> = messages.iter().map(message_text).collect();
    let mut plan = Plan::new(&last_user, &prompt.join(" "), |name| {
        offers_tool(&body, name)
    });
    plan.logprobs = body["logprobs"].as_bool() == Some(true);
    // `n` choices (OpenAI takes 1 to 128), each answering the same here.
    let n = body["n"].as_u64().unwrap_or(1);
    if !(1..=128).contains(&n) {
        let (code, bound) = if n == 0 {
            ("integer_below_min_value", "Expected a value >= 1")
        } else {
            ("integer_above_max_value", "Expected a value <= 128")
        };
        let body = json!({"error": {"message": format!("Invalid 'n': {bound}, but got {n} instead."),
            "type": "invalid_request_error", "param": "n", "code": code}});
        return Reply::Full {
            status: 400,
            body: body.to_string().into_bytes(),
            delay: Duration::ZERO,
        };
    }
    // Structured output: JSON that follows the schema, as constrained decoding gives.
    let format = &body["response_format"];
    match format["type"].as_str() {
        Some("json_schema") => {
            let schema = format["json_schema"].get("schema");
            plan.answer_json(&super::schema::instance(schema, &last_user));
        }
        Some("json_object") => plan.answer_json(&super::schema::instance(None, &last_user)),
        _ => {}
    }
    if let Some(status) = plan.knobs.status {
        return key_error(status, &key);
    }
    let model = body["model"].as_str().unwrap_or("");
    let id = format!("chatcmpl-mock{}", plan.serial);
    let usage = json!({
        "prompt_tokens": plan.prompt_tokens, "completion_tokens": plan.completion_tokens,
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}
    });
    let stream = body["stream"].as_bool() == Some(true);
    let include_usage =
        body["stream_options"]["include_usage"].as_bool() == Some(true) && !plan.knobs.no_usage;
    // DeepSeek's reasoner answers with its reasoning beside the content.
    let reasoning = model
        .contains("reasoner")
        .then(|| super::thinking::text(plan.topic(&last_user)));
    // The tool called (a knob's, or the one `tool_choice` forces), and its arguments.
    let call = plan.call(forced_function(&body), &last_user);
    let events = if stream {
        let answer = Answer {
            id: &id,
            model,
            include_usage,
            usage: &usage,
            reasoning: reasoning.as_deref(),
            call: call.as_ref(),
            n,
        };
        stream_events(&plan, &answer)
    } else {
        Vec::new()
    };
    let (message, finish) = match &call {
        Some((name, args)) => (
            json!({"role": "assistant", "content": null, "refusal": null,
                   "tool_calls": [{"id": "call_mock_1", "type": "function", "function": {"name": name, "arguments": args}}]}),
            "tool_calls",
        ),
        None => (
            json!({"role": "assistant", "content": plan.text, "refusal": null}),
            "stop",
        ),
    };
    let mut message = message;
    if let Some(r) = &reasoning {
        message["reasoning_content"] = json!(r);
    }
    let answer_logprobs = match call {
        Some(_) => Value::Null,
        None => logprobs(&plan, &plan.pieces()),
    };
    let mut completion = json!({
        "id": id, "object": "chat.completion", "created": plan.created, "model": model,
        "choices": (0..n).map(|i| json!({"index": i, "message": message, "logprobs": answer_logprobs, "finish_reason": finish})).collect::<Vec<_>>(),
        "usage": usage, "system_fingerprint": "fp_mock", "service_tier": "default"
    });
    if plan.knobs.no_usage {
        completion.as_object_mut().map(|o| o.remove("usage"));
    }
    plan.reply(stream, events, completion.to_string().into_bytes())
}

/// What a streamed answer carries besides the plan.
struct Answer<'a> {
    id: &'a str,
    model: &'a str,
    include_usage: bool,
    usage: &'a Value,
    reasoning: Option<&'a str>,
    /// The tool called and its arguments.
    call: Option<&'a (String, String)>,
    /// Choices: each event of the answer is sent once per choice, the choices interleaved.
    n: u64,
}

fn stream_events(plan: &Plan, a: &Answer<'_>) -> Vec<Vec<u8>> {
    let chunk = |index: u64, delta: &Value, finish: &Value| {
        let pieces: Vec<&str> = delta["content"].as_str().into_iter().collect();
        let logprobs = if pieces.is_empty() {
            Value::Null
        } else {
            logprobs(plan, &pieces)
        };
        let mut c = json!({"id": a.id, "object": "chat.completion.chunk", "created": plan.created, "model": a.model,
                           "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]});
        if plan.knobs.stamp {
            c["system_fingerprint"] = json!(crate::mock::SENT_MARK);
        }
        if a.include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    // Each step of the answer, then one chunk of it per choice.
    let mut steps = vec![(json!({"role": "assistant", "content": ""}), Value::Null)];
    for piece in a
        .reasoning
        .map(|r| crate::knobs::split(r, 2))
        .unwrap_or_default()
    {
        steps.push((
            json!({"content": null, "reasoning_content": piece}),
            Value::Null,
        ));
    }
    match a.call {
        Some((name, args)) => {
            steps.push((
                json!({"tool_calls": [{"index": 0, "id": "call_mock_1", "type": "function", "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ));
            for piece in crate::knobs::split(args, plan.knobs.chunks.unwrap_or(1)) {
                steps.push((
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                    Value::Null,
                ));
            }
            steps.push((json!({}), json!("tool_calls")));
        }
        None => {
            for piece in plan.pieces() {
                steps.push((json!({"content": piece}), Value::Null));
            }
            steps.push((json!({}), json!("stop")));
        }
    }
    let mut events: Vec<Value> = steps
        .iter()
        .flat_map(|(delta, finish)| (0..a.n).map(|i| chunk(i, delta, finish)))
        .collect();
    if a.include_usage {
        events.push(json!({"id": a.id, "object": "chat.completion.chunk", "created": plan.created, "model": a.model,
                           "choices": [], "usage": a.usage}));
    }
    let mut out: Vec<Vec<u8>> = events
        .into_iter()
        .map(|e| format!("data: {e}\n\n").into_bytes())
        .collect();
    out.push(b"data: [DONE]\n\n".to_vec());
    out
}

/// The `logprobs` of a choice with these tokens (one per piece of the answer, as OpenAI gives
/// one per token) when the request asked for them (`plan.logprobs`), else `null`.
fn logprobs(plan: &Plan, tokens: &[&str]) -> Value {
    if !plan.logprobs || tokens.is_empty() {
        return Value::Null;
    }
    let content: Vec<Value> = tokens
        .iter()
        .map(|t| json!({"token": t, "logprob": -0.25, "bytes": t.as_bytes(), "top_logprobs": []}))
        .collect();
    json!({"content": content, "refusal": null})
}

/// The text of a message: a string content, or the text parts of a content array.
fn message_text(m: &Value) -> String {
    match &m["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The function `tool_choice` forces: named (`{"type":"function","function":{"name":…}}`), or
/// the first one offered for `"required"`.
fn forced_function(body: &Value) -> Option<&Value> {
    let tools = body["tools"].as_array()?;
    let choice = &body["tool_choice"];
    let function = |t: &&Value| t["type"] == "function";
    if choice == "required" {
        return tools.iter().find(function).map(|t| &t["function"]);
    }
    let name = choice["function"]["name"].as_str()?;
    tools
        .iter()
        .filter(function)
        .map(|t| &t["function"])
        .find(|f| f["name"] == name)
}

fn offers_tool(body: &Value, name: &str) -> bool {
    body["tools"]
        .as_array()
        .is_some_and(|tools| tools.iter().any(|t| t["function"]["name"] == name))
}

pub fn bearer(req: &MockRequest<'_>) -> Option<String> {
    let value = std::str::from_utf8(req.header("authorization")?).ok()?;
    let key = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    (!key.is_empty()).then(|| key.to_owned())
}

/// The error OpenAI answers with for a given status.
pub fn key_error(status: u16, key: &str) -> Reply {
    match status {
        401 => error(401, "invalid_api_key", "invalid_request_error", &format!("Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.", mask(key))),
        403 => error(403, "unsupported_country_region_territory", "request_forbidden", "Country, region, or territory not supported"),
        404 => error(404, "model_not_found", "invalid_request_error", "The model does not exist or you do not have access to it."),
        429 => error(429, "rate_limit_exceeded", "requests", "Rate limit reached for requests. Please try again in 1s."),
        500 => error(500, "server_error", "server_error", "The server had an error while processing your request. Sorry about that!"),
        503 => error(503, "server_overloaded", "server_error", "The server is overloaded or not ready yet."),
        s => error(s, "mock_status", "api_error", &format!("Mock provider answered with status {s}.")),
    }
}

pub fn error(status: u16, code: &str, error_type: &str, message: &str) -> Reply {
    let body =
        json!({"error": {"message": message, "type": error_type, "param": null, "code": code}});
    Reply::Full {
        status,
        body: body.to_string().into_bytes(),
        delay: Duration::ZERO,
    }
}
