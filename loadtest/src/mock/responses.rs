//! OpenAI's Responses API in the mock (`POST /v1/responses`), as OpenAI answers it: a
//! `response` object whose `output` holds a reasoning item (reasoning models asked for a
//! summary), then a message with one `output_text` part or a function call; streams as the typed
//! events (`event:` lines, `type` and `sequence_number` in each, no `[DONE]`), ending with
//! `response.completed` and the whole response. Usage in the Responses API's names
//! (`input_tokens`, `output_tokens`, `output_tokens_details.reasoning_tokens`).
//!
//! What OpenAI refuses, the mock refuses with OpenAI's error: a chat body's `messages`, a
//! `stream_options.include_usage` (chat's usage switch, unknown here) and a
//! `previous_response_id` that is not a response id. A valid one is echoed back (the mock keeps
//! no state), which lets tests see that it reached the provider. `POST /v1/responses/input_tokens`
//! counts the words of the instructions and input.

use serde_json::{json, Value};

use super::openai::{authorized_json, error};
use super::{MockConfig, MockRequest, Plan, Reply};

pub fn create(config: &MockConfig, req: &MockRequest<'_>) -> Reply {
    let (key, body) = match authorized_json(config, req) {
        Ok(both) => both,
        Err(reply) => return reply,
    };
    let Some(model) = body["model"].as_str() else {
        return error(
            400,
            "missing_required_parameter",
            "invalid_request_error",
            "Missing required parameter: 'model'.",
        );
    };
    for unknown in ["messages", "stream_options.include_usage"] {
        let (outer, inner) = unknown.split_once('.').unwrap_or((unknown, ""));
        let present = if inner.is_empty() {
            body.get(outer).is_some()
        } else {
            body[outer].get(inner).is_some()
        };
        if present {
            return error(
                400,
                "unknown_parameter",
                "invalid_request_error",
                &format!("Unknown parameter: '{unknown}'."),
            );
        }
    }
    let previous = &body["previous_response_id"];
    if !previous.is_null() && !previous.as_str().is_some_and(|p| p.starts_with("resp_")) {
        return error(
            400,
            "invalid_value",
            "invalid_request_error",
            "Invalid 'previous_response_id': expected an ID that begins with 'resp'.",
        );
    }
    let (last_user, prompt) = input_texts(&body);
    let mut plan = Plan::new(&last_user, &prompt, |name| {
        body["tools"].as_array().is_some_and(|tools| {
            tools
                .iter()
                .any(|t| t["type"] == "function" && t["name"] == name)
        })
    });
    let format = &body["text"]["format"];
    match format["type"].as_str() {
        Some("json_schema") => {
            plan.answer_json(&super::schema::instance(format.get("schema"), &last_user))
        }
        Some("json_object") => plan.answer_json(&super::schema::instance(None, &last_user)),
        _ => {}
    }
    if let Some(status) = plan.knobs.status {
        return super::openai::key_error(status, &key);
    }
    let reasoning_model = ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|p| model.starts_with(p));
    let summary = (reasoning_model && !body["reasoning"]["summary"].is_null())
        .then(|| super::thinking::text(plan.topic(&last_user)));
    let ids = Ids {
        response: format!("resp_mock{}", plan.serial),
        serial: plan.serial,
    };
    let reasoning_tokens = summary
        .as_deref()
        .map_or(0, |s| s.split_whitespace().count());
    let output_tokens = plan.completion_tokens + reasoning_tokens;
    let usage = json!({
        "input_tokens": plan.prompt_tokens, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": plan.prompt_tokens + output_tokens
    });
    let encrypted = body["include"]
        .as_array()
        .is_some_and(|i| i.iter().any(|x| x == "reasoning.encrypted_content"));
    let mut output = Vec::new();
    if let Some(s) = &summary {
        let mut item = json!({"type": "reasoning", "id": ids.item("rs"),
                              "summary": [{"type": "summary_text", "text": s}]});
        if encrypted {
            item["encrypted_content"] = json!(format!("gAAAAmock{}", plan.serial));
        }
        output.push(item);
    }
    // The tool called (a knob's, or the one `tool_choice` forces), and its arguments.
    let call = plan.call(forced_function(&body), &last_user);
    output.push(match &call {
        Some((name, args)) => json!({"type": "function_call", "id": ids.item("fc"), "call_id": "call_mock_1",
                             "name": name, "arguments": args, "status": "completed"}),
        None => json!({"type": "message", "id": ids.item("msg"), "status": "completed", "role": "assistant",
                       "content": [{"type": "output_text", "text": plan.text, "annotations": [], "logprobs": []}]}),
    });
    let echo = |key: &str, default: Value| match &body[key] {
        Value::Null => default,
        v => v.clone(),
    };
    let response = |status: &str, output: Value, usage: Value| {
        json!({
            "id": ids.response, "object": "response", "created_at": plan.created, "status": status,
            "background": false, "error": null, "incomplete_details": null,
            "instructions": body["instructions"], "max_output_tokens": body["max_output_tokens"],
            "model": model, "output": output,
            "parallel_tool_calls": echo("parallel_tool_calls", json!(true)),
            "previous_response_id": previous,
            "reasoning": {"effort": body["reasoning"]["effort"], "summary": body["reasoning"]["summary"]},
            "store": echo("store", json!(true)), "temperature": echo("temperature", json!(1.0)),
            "text": echo("text", json!({"format": {"type": "text"}})),
            "tool_choice": echo("tool_choice", json!("auto")),
            "tools": echo("tools", json!([])), "top_p": echo("top_p", json!(1.0)),
            "truncation": "disabled", "usage": usage, "user": body["user"],
            "metadata": echo("metadata", json!({}))
        })
    };
    let whole = response("completed", Value::Array(output.clone()), usage);
    let stream = body["stream"].as_bool() == Some(true);
    let events = if stream {
        let opening = response("in_progress", json!([]), Value::Null);
        stream_events(&plan, &opening, &output, &whole)
    } else {
        Vec::new()
    };
    plan.reply(stream, events, whole.to_string().into_bytes())
}

/// The function `tool_choice` forces: named (`{"type":"function","name":…}`), or the first one
/// offered for `"required"`.
fn forced_function(body: &Value) -> Option<&Value> {
    let mut functions = body["tools"]
        .as_array()?
        .iter()
        .filter(|t| t["type"] == "function");
    let choice = &body["tool_choice"];
    if choice == "required" {
        return functions.next();
    }
    let name = choice["name"]
        .as_str()
        .filter(|_| choice["type"] == "function")?;
    functions.find(|t| t["name"] == name)
}

/// `POST /v1/responses/input_tokens`: the words of the instructions and input, as
/// `{"object": "response.input_tokens", "input_tokens": n}`.
pub fn input_tokens(config: &MockConfig, req: &MockRequest<'_>) -> Reply {
    let body = match authorized_json(config, req) {
        Ok((_, body)) => body,
        Err(reply) => return reply,
    };
    let (_, all) = input_texts(&body);
    super::word_count(
        &[all],
        |n| json!({"object": "response.input_tokens", "input_tokens": n}),
    )
}

/// The text of the last user turn (or the input string), and all the text the model reads.
fn input_texts(body: &Value) -> (String, String) {
    let mut all = Vec::new();
    if let Some(i) = body["instructions"].as_str() {
        all.push(i.to_owned());
    }
    let mut last_user = String::new();
    match &body["input"] {
        Value::String(s) => {
            last_user = s.clone();
            all.push(s.clone());
        }
        Value::Array(items) => {
            for item in items {
                let text = match &item["content"] {
                    Value::String(s) => s.clone(),
                    Value::Array(parts) => parts
                        .iter()
                        .filter_map(|p| p["text"].as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                    _ => item["output"].as_str().unwrap_or_default().to_owned(),
                };
                if item["role"] == "user" {
                    last_user = text.clone();
                }
                all.push(text);
            }
        }
        _ => {}
    }
    (last_user, all.join(" "))
}

struct Ids {
    response: String,
    serial: u64,
}

impl Ids {
    fn item(&self, prefix: &str) -> String {
        format!("{prefix}_mock{}", self.serial)
    }
}

/// The typed events of a streamed answer, `response.created` to `response.completed`.
fn stream_events(plan: &Plan, opening: &Value, output: &[Value], whole: &Value) -> Vec<Vec<u8>> {
    let mut events: Vec<Value> = vec![
        json!({"type": "response.created", "response": opening}),
        json!({"type": "response.in_progress", "response": opening}),
    ];
    for (index, item) in output.iter().enumerate() {
        let id = item["id"].clone();
        let mut added = item.clone();
        match item["type"].as_str() {
            Some("reasoning") => {
                let text = item["summary"][0]["text"].as_str().unwrap_or_default();
                added["summary"] = json!([]);
                events.push(json!({"type": "response.output_item.added", "output_index": index, "item": added}));
                let part = |text: &str| json!({"type": "summary_text", "text": text});
                events.push(
                    json!({"type": "response.reasoning_summary_part.added", "item_id": id,
                                   "output_index": index, "summary_index": 0, "part": part("")}),
                );
                for piece in crate::knobs::split(text, 2) {
                    events.push(
                        json!({"type": "response.reasoning_summary_text.delta", "item_id": id,
                                       "output_index": index, "summary_index": 0, "delta": piece}),
                    );
                }
                events.push(
                    json!({"type": "response.reasoning_summary_text.done", "item_id": id,
                                   "output_index": index, "summary_index": 0, "text": text}),
                );
                events.push(
                    json!({"type": "response.reasoning_summary_part.done", "item_id": id,
                                   "output_index": index, "summary_index": 0, "part": part(text)}),
                );
            }
            Some("function_call") => {
                added["arguments"] = json!("");
                added["status"] = json!("in_progress");
                events.push(json!({"type": "response.output_item.added", "output_index": index, "item": added}));
                let args = item["arguments"].as_str().unwrap_or_default();
                for piece in crate::knobs::split(args, plan.knobs.chunks.unwrap_or(1)) {
                    events.push(
                        json!({"type": "response.function_call_arguments.delta", "item_id": id,
                                       "output_index": index, "delta": piece}),
                    );
                }
                events.push(
                    json!({"type": "response.function_call_arguments.done", "item_id": id,
                                   "output_index": index, "arguments": item["arguments"]}),
                );
            }
            _ => {
                added["content"] = json!([]);
                added["status"] = json!("in_progress");
                events.push(json!({"type": "response.output_item.added", "output_index": index, "item": added}));
                let part = |text: &str| json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
                events.push(json!({"type": "response.content_part.added", "item_id": id, "output_index": index,
                                   "content_index": 0, "part": part("")}));
                for piece in plan.pieces() {
                    events.push(json!({"type": "response.output_text.delta", "item_id": id, "output_index": index,
                                       "content_index": 0, "delta": piece, "logprobs": []}));
                }
                events.push(json!({"type": "response.output_text.done", "item_id": id, "output_index": index,
                                   "content_index": 0, "text": plan.text, "logprobs": []}));
                events.push(json!({"type": "response.content_part.done", "item_id": id, "output_index": index,
                                   "content_index": 0, "part": part(&plan.text)}));
            }
        }
        events.push(
            json!({"type": "response.output_item.done", "output_index": index, "item": item}),
        );
    }
    events.push(json!({"type": "response.completed", "response": whole}));
    events
        .into_iter()
        .enumerate()
        .map(|(n, mut e)| {
            e["sequence_number"] = json!(n);
            format!(
                "event: {}\ndata: {e}\n\n",
                e["type"].as_str().unwrap_or_default()
            )
            .into_bytes()
        })
        .collect()
}
