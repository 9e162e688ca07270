//! The Gemini dialect of the mock: `POST /v1beta/models/{model}:generateContent` (or `/v1/…`) and
//! `:streamGenerateContent?alt=sse`, with `x-goog-api-key` (or `?key=`, which real Gemini also
//! takes); SSE events separated by CRLF pairs and no `[DONE]`; functionCall parts without ids;
//! the final event carries finishReason and the full usageMetadata; `candidateCount` candidates
//! (1 to 8), all in each event; `:countTokens` (`contents` or a `generateContentRequest`) answers
//! `totalTokens`, the words of its text; Google's error bodies.
//! `:batchEmbedContents` and `:embedContent` are answered by `mock/embeddings.rs`. Fields are
//! read under either of the spellings Google takes, lists given as one object too
//! (`gemini/proto_json.rs`).

use std::time::Duration;

use serde_json::{json, Value};

use super::{MockConfig, MockRequest, Plan, Reply};

mod proto_json;

pub fn generate(config: &MockConfig, req: &MockRequest<'_>) -> Reply {
    let (path, query) = req.path.split_once('?').unwrap_or((req.path, ""));
    let name = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))
        .unwrap_or("");
    let Some((model, method)) = name.split_once(':') else {
        return error(404, "NOT_FOUND", "Requested entity was not found.");
    };
    let (stream, embed) = match method {
        "generateContent" | "countTokens" => (false, None),
        "streamGenerateContent" => (true, None),
        "batchEmbedContents" => (false, Some(true)),
        "embedContent" => (false, Some(false)),
        _ => return error(404, "NOT_FOUND", "Requested entity was not found."),
    };
    let sse = query.split('&').any(|p| p == "alt=sse");
    let header_key = req
        .header("x-goog-api-key")
        .and_then(|v| std::str::from_utf8(v).ok());
    let query_key = query.split('&').find_map(|p| p.strip_prefix("key="));
    let Some(key) = header_key.or(query_key).filter(|k| !k.is_empty()) else {
        return error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    };
    if let Some(status) = config.key_status.get(key) {
        return status_error(*status);
    }
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    let body = proto_json::canonical(body);
    if let Some(batch) = embed {
        return super::embeddings::gemini(model, batch, &body);
    }
    if method == "countTokens" {
        return count_tokens(&body);
    }
    let Some(contents) = body["contents"].as_array() else {
        return error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents: contents is not specified",
        );
    };
    // Gemini 3 signs its function calls and refuses its own calls sent back unsigned.
    let signs = model.starts_with("gemini-3");
    if signs {
        if let Some(call) = unsigned_call(contents) {
            return error(400, "INVALID_ARGUMENT", &format!("Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:{call}` , position 2. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."));
        }
    }
    let is_user = |c: &&Value| c["role"].as_str().is_none_or(|r| r == "user");
    let last_user = contents
        .iter()
        .rev()
        .find(is_user)
        .map(parts_text)
        .unwrap_or_default();
    let mut prompt: Vec<String> = contents.iter().map(parts_text).collect();
    prompt.push(parts_text(&body["systemInstruction"]));
    let offers = |name: &str| {
        body["tools"].as_array().is_some_and(|tools| {
            tools.iter().any(|t| {
                t["functionDeclarations"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|f| f["name"] == name))
            })
        })
    };
    let mut plan = Plan::new(&last_user, &prompt.join(" "), offers);
    // Structured output: JSON that follows the schema, as constrained decoding gives.
    let config = &body["generationConfig"];
    if config["responseMimeType"] == "application/json" {
        let schema = config
            .get("responseJsonSchema")
            .or_else(|| config.get("responseSchema"));
        plan.answer_json(&super::schema::instance(schema, &last_user));
    }
    if let Some(status) = plan.knobs.status {
        return status_error(status);
    }
    // `candidateCount` candidates (1 to 8), each answering the same here.
    let count = config
        .get("candidateCount")
        .or_else(|| config.get("candidate_count"));
    let candidates = match count {
        None => 1,
        Some(c) => match c.as_u64().filter(|c| (1..=8).contains(c)) {
            Some(c) => c,
            None => {
                return error(
                    400,
                    "INVALID_ARGUMENT",
                    "Only candidate_count between 1 and 8 is supported.",
                )
            }
        },
    };
    let response_id = format!("mock-{}", plan.serial);
    // Thinking: with `includeThoughts`, a thought part before the answer; its tokens are
    // reported apart, as `thoughtsTokenCount`.
    // Protobuf JSON: either spelling of a field name (the google-genai SDK sends snake_case here).
    let thinking = &config["thinkingConfig"];
    let field = |camel: &str, snake: &str| {
        thinking
            .get(camel)
            .or_else(|| thinking.get(snake))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let thought = (field("includeThoughts", "include_thoughts") == true
        && field("thinkingBudget", "thinking_budget") != 0)
        .then(|| super::thinking::text(plan.topic(&last_user)));
    let thoughts = thought
        .as_deref()
        .map_or(0, |t| t.split_whitespace().count());
    let usage = |candidates: Option<usize>| match candidates {
        Some(n) if thoughts > 0 => {
            json!({"promptTokenCount": plan.prompt_tokens, "candidatesTokenCount": n,
            "thoughtsTokenCount": thoughts, "totalTokenCount": plan.prompt_tokens + n + thoughts})
        }
        Some(n) => json!({"promptTokenCount": plan.prompt_tokens, "candidatesTokenCount": n,
                          "totalTokenCount": plan.prompt_tokens + n}),
        None => {
            json!({"promptTokenCount": plan.prompt_tokens, "totalTokenCount": plan.prompt_tokens})
        }
    };
    let chunk = |parts: Value, finish: Option<&str>, usage: Value| {
        let list: Vec<Value> = (0..candidates)
            .map(|i| {
                let mut c = json!({"content": {"role": "model", "parts": parts}, "index": i});
                if let Some(f) = finish {
                    c["finishReason"] = json!(f);
                }
                c
            })
            .collect();
        json!({"candidates": list, "usageMetadata": usage, "modelVersion": model, "responseId": response_id})
    };
    let mut parts = match &plan.tool {
        Some(name) if signs => json!([{"functionCall": {"name": name, "args": {}},
                                       "thoughtSignature": signature(name)}]),
        Some(name) => json!([{"functionCall": {"name": name, "args": {}}}]),
        None => json!([{"text": plan.text}]),
    };
    let thought_part = thought
        .as_ref()
        .map(|t| json!({"text": t, "thought": true}));
    if let (Some(p), Some(list)) = (&thought_part, parts.as_array_mut()) {
        list.insert(0, p.clone());
    }
    if !stream {
        let whole = chunk(parts, Some("STOP"), usage(Some(plan.completion_tokens)));
        return plan.reply(false, Vec::new(), whole.to_string().into_bytes());
    }
    let mut chunks: Vec<Value> = match &plan.tool {
        Some(_) => vec![chunk(parts, None, usage(None))],
        None => thought_part
            .iter()
            .map(|p| chunk(json!([p]), None, usage(None)))
            .chain(
                plan.pieces()
                    .into_iter()
                    .map(|p| chunk(json!([{"text": p}]), None, usage(None))),
            )
            .collect(),
    };
    chunks.push(chunk(
        json!([{"text": ""}]),
        Some("STOP"),
        usage(Some(plan.completion_tokens)),
    ));
    if !sse {
        // Without alt=sse the stream is one JSON array.
        return plan.reply(
            false,
            Vec::new(),
            Value::Array(chunks).to_string().into_bytes(),
        );
    }
    let events = chunks
        .into_iter()
        .map(|c| format!("data: {c}\r\n\r\n").into_bytes())
        .collect();
    plan.reply(true, events, Vec::new())
}

/// `:countTokens`: `contents`, or a whole request under `generateContentRequest`; the words of
/// its contents and system instruction.
fn count_tokens(body: &Value) -> Reply {
    let request = body.get("generateContentRequest").unwrap_or(body);
    let Some(contents) = request["contents"].as_array() else {
        return error(
            400,
            "INVALID_ARGUMENT",
            "* CountTokensRequest.contents: contents is not specified",
        );
    };
    let mut texts: Vec<String> = contents.iter().map(parts_text).collect();
    texts.push(parts_text(&request["systemInstruction"]));
    super::word_count(
        &texts,
        |n| json!({"totalTokens": n, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n}]}),
    )
}

fn parts_text(content: &Value) -> String {
    content["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| {
                    p["text"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| p.get("functionResponse").map(|r| r["response"].to_string()))
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

pub fn status_error(status: u16) -> Reply {
    let (code, message) = match status {
        400 => (
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        ),
        401 => (
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ),
        403 => ("PERMISSION_DENIED", "The caller does not have permission."),
        404 => ("NOT_FOUND", "Requested entity was not found."),
        429 => (
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        ),
        503 => (
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        504 => (
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        ),
        _ => ("INTERNAL", "An internal error has occurred."),
    };
    error(status, code, message)
}

pub fn error(status: u16, code: &str, message: &str) -> Reply {
    let mut err = json!({"code": status, "message": message, "status": code});
    if status == 400 && message.starts_with("API key not valid") {
        err["details"] = json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                "domain": "googleapis.com"}]);
    }
    Reply::Full {
        status,
        body: json!({"error": err}).to_string().into_bytes(),
        delay: Duration::ZERO,
    }
}

/// The thought signature the mock gives a call of `name` (standard base64 with `+`, `/` and
/// padding in it, as real signatures have).
fn signature(name: &str) -> String {
    use base64::Engine;
    let mut bytes = vec![0xfb, 0xff, 0xbf];
    bytes.extend_from_slice(b"mock-signature:");
    bytes.extend_from_slice(name.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The name of the first model call in `contents` sent back without the signature the mock gave
/// it.
fn unsigned_call(contents: &[Value]) -> Option<String> {
    contents
        .iter()
        .filter(|c| c["role"] == "model")
        .flat_map(|c| c["parts"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| {
            let name = p["functionCall"]["name"].as_str()?.to_owned();
            (p["thoughtSignature"].as_str() != Some(signature(&name).as_str())).then_some(name)
        })
        .next()
}
