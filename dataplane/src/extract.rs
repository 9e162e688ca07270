//! The text a model will read in a request, per dialect, for the guardrails: message contents
//! and text parts, system prompts, tool-call arguments and tool results, and the definitions
//! the model is shown — tool and function names, descriptions and parameter schemas (legacy
//! `functions` included), structured-output schemas, predicted outputs — never roles, ids,
//! image data or sampling parameters inside the parts it knows; and, whole, every top-level key
//! it does not know (`user`, `metadata`, a caller's own key), which goes upstream too. Whatever
//! leaves unscanned is a way around every guardrail: a secret or an instruction in a tool
//! description goes upstream as well as one in a message.
//!
//! Texts come from the parsed body (simd-json has already JSON-unescaped them), each labelled
//! with where it came from, in document order (the keys a reader does not know last). The
//! guardrails scan them; a value to rewrite is replaced wherever its bytes occur in the
//! outgoing body (`guard/apply.rs`).

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;
use warden_shared::catalog::Dialect;

use crate::translate::openai_in::str_field;

/// Where a text sits in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    System,
    User,
    Assistant,
    ToolArguments,
    ToolResult,
    /// Tool and function definitions and output schemas: names, descriptions, property names,
    /// enum values — written by the application, read by the model as instructions.
    Definition,
}

/// Call `f` with every model-visible text of a request body in `dialect`.
pub fn texts<'v>(dialect: Dialect, body: &'v Value<'v>, f: &mut impl FnMut(Source, &'v str)) {
    match dialect {
        Dialect::OpenAi => openai(body, f),
        Dialect::Anthropic => anthropic(body, f),
        Dialect::Gemini => gemini(body, f),
    }
}

fn array<'v>(v: &'v Value<'v>, key: &str) -> &'v [Value<'v>] {
    v.get(key)
        .and_then(|x| x.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn openai<'v>(body: &'v Value<'v>, f: &mut impl FnMut(Source, &'v str)) {
    for m in array(body, "messages") {
        let source = match str_field(m, "role") {
            Some("system" | "developer") => Source::System,
            Some("assistant") => Source::Assistant,
            Some("tool") => Source::ToolResult,
            _ => Source::User,
        };
        match m.get("content") {
            Some(c) if c.as_str().is_some() => c.as_str().into_iter().for_each(|t| f(source, t)),
            Some(c) => {
                for p in c.as_array().map(Vec::as_slice).unwrap_or_default() {
                    if let Some(t) = str_field(p, "text") {
                        f(source, t);
                    }
                }
            }
            None => {}
        }
        for call in array(m, "tool_calls") {
            if let Some(args) = call
                .get("function")
                .and_then(|fun| str_field(fun, "arguments"))
            {
                f(Source::ToolArguments, args);
            }
        }
        // The legacy single call on an assistant message.
        if let Some(args) = m
            .get("function_call")
            .and_then(|fun| str_field(fun, "arguments"))
        {
            f(Source::ToolArguments, args);
        }
    }
    for tool in array(body, "tools") {
        if let Some(fun) = tool.get("function") {
            definition(fun, "parameters", f);
        }
    }
    for fun in array(body, "functions") {
        definition(fun, "parameters", f);
    }
    if let Some(format) = body.get("response_format") {
        if let Some(schema) = format.get("json_schema") {
            definition(schema, "schema", f);
        }
    }
    // An embeddings request's `input`: a string or a list of strings (token ids carry no text;
    // the embeddings front refuses them while guardrails are on).
    match body.get("input") {
        Some(i) if i.as_str().is_some() => i.as_str().into_iter().for_each(|t| f(Source::User, t)),
        Some(i) => {
            for t in i.as_array().map(Vec::as_slice).unwrap_or_default() {
                if let Some(t) = t.as_str() {
                    f(Source::User, t);
                }
            }
        }
        None => {}
    }
    // Predicted outputs are read by the model as the text it is about to write.
    match body.get("prediction").and_then(|p| p.get("content")) {
        Some(c) if c.as_str().is_some() => c.as_str().into_iter().for_each(|t| f(Source::User, t)),
        Some(c) => array_texts(c, Source::User, f),
        None => {}
    }
    unknown_keys(
        body,
        &[
            "messages",
            "tools",
            "functions",
            "response_format",
            "input",
            "prediction",
        ],
        f,
    );
}

/// A tool, function or schema definition: its name, description and the schema under `schema`
/// (every key and string in it).
fn definition<'v>(def: &'v Value<'v>, schema: &str, f: &mut impl FnMut(Source, &'v str)) {
    for field in ["name", "description"] {
        if let Some(t) = str_field(def, field) {
            f(Source::Definition, t);
        }
    }
    if let Some(s) = def.get(schema) {
        keys_and_strings_in(s, f);
    }
}

/// Every object key and string value in a schema: property names are read by the model too.
fn keys_and_strings_in<'v>(v: &'v Value<'v>, f: &mut impl FnMut(Source, &'v str)) {
    keys_and_strings_as(v, Source::Definition, f);
}

/// Every object key and string value in `v`, as texts from `source`.
fn keys_and_strings_as<'v>(v: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &'v str)) {
    if let Some(s) = v.as_str() {
        f(source, s);
    } else if let Some(items) = v.as_array() {
        items.iter().for_each(|i| keys_and_strings_as(i, source, f));
    } else if let Some(obj) = v.as_object() {
        for (k, i) in obj.iter() {
            f(source, k);
            keys_and_strings_as(i, source, f);
        }
    }
}

/// Every key of `body` that its dialect's reader does not read above — `user`, `metadata`,
/// `stop`, a provider's own extension, a key no schema names (a JSON-RPC or MCP caller's
/// `session_note`) — read whole (its strings, and the keys inside it) as a tool result: it goes
/// upstream with the rest of the body, so it is scanned with the rest. `known` are the keys
/// already read; [`SETTINGS`] and `model` hold no text.
fn unknown_keys<'v>(body: &'v Value<'v>, known: &[&str], f: &mut impl FnMut(Source, &'v str)) {
    for (k, v) in body.as_object().into_iter().flat_map(|o| o.iter()) {
        if !known.contains(&k.as_ref()) && !SETTINGS.contains(&k.as_ref()) {
            keys_and_strings_as(v, Source::ToolResult, f);
        }
    }
}

/// Keys whose values are settings of fixed vocabularies (`"tool_choice": "auto"`,
/// `"reasoning_effort": "high"`, Gemini's safety categories), never text.
const SETTINGS: [&str; 16] = [
    "model",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "service_tier",
    "modalities",
    "verbosity",
    "stream_options",
    "logit_bias",
    "thinking",
    "toolConfig",
    "safetySettings",
    "responseMimeType",
    "responseModalities",
    "thinkingConfig",
    "mediaResolution",
];

/// A `/v1/responses` body, as OpenAI reads it when Warden passes it through: `instructions`,
/// `input` (a string, or items: messages and their text parts, function calls and their
/// outputs, reasoning summaries sent back, and every other item type's strings — custom and MCP
/// tool calls and outputs, shell output, file-search results, …), the tools' definitions, the
/// output schema and a stored prompt's variables. An item type this reader does not know is read
/// whole, as a tool result: a new item type must not be a way past the guardrails.
pub fn responses<'v>(body: &'v Value<'v>, f: &mut impl FnMut(Source, &'v str)) {
    match body.get("instructions") {
        Some(i) if i.as_str().is_some() => {
            i.as_str().into_iter().for_each(|t| f(Source::System, t))
        }
        Some(i) => response_items(i, Source::System, f),
        None => {}
    }
    match body.get("input") {
        Some(i) if i.as_str().is_some() => i.as_str().into_iter().for_each(|t| f(Source::User, t)),
        Some(i) => response_items(i, Source::User, f),
        None => {}
    }
    for tool in array(body, "tools") {
        definition(tool, "parameters", f);
        // An MCP server's description of itself.
        if let Some(t) = str_field(tool, "server_description") {
            f(Source::Definition, t);
        }
        // A custom tool's grammar or free-form format.
        if let Some(d) = tool.get("format").and_then(|g| str_field(g, "definition")) {
            f(Source::Definition, d);
        }
    }
    if let Some(format) = body.get("text").and_then(|t| t.get("format")) {
        definition(format, "schema", f);
    }
    // A stored prompt's variables are filled into the prompt the model reads.
    if let Some(vars) = body.get("prompt").and_then(|p| p.get("variables")) {
        strings_in(vars, Source::User, f);
    }
    unknown_keys(
        body,
        &["instructions", "input", "tools", "text", "prompt"],
        f,
    );
}

/// [`responses`] over the raw bytes of a body already validated (the caller parsed it once).
pub fn responses_body(body: &[u8], f: &mut dyn FnMut(Source, &str)) {
    let mut copy = body.to_vec();
    let Ok(v) = simd_json::to_borrowed_value(&mut copy) else {
        return;
    };
    responses(&v, &mut |s, t| f(s, t));
}

/// Keys of Responses items that hold ids, states or opaque data, never text a model reads.
const OPAQUE: [&str; 9] = [
    "type",
    "id",
    "call_id",
    "status",
    "encrypted_content",
    "approval_request_id",
    "image_url",
    "file_id",
    "file_data",
];

fn response_items<'v>(items: &'v Value<'v>, role: Source, f: &mut impl FnMut(Source, &'v str)) {
    for item in items.as_array().map(Vec::as_slice).unwrap_or_default() {
        match str_field(item, "type") {
            Some("message") | None => {
                let source = match str_field(item, "role") {
                    Some("system" | "developer") => Source::System,
                    Some("assistant") => Source::Assistant,
                    Some("user") => Source::User,
                    _ => role,
                };
                match item.get("content") {
                    Some(c) if c.as_str().is_some() => {
                        c.as_str().into_iter().for_each(|t| f(source, t))
                    }
                    Some(c) => {
                        for p in c.as_array().map(Vec::as_slice).unwrap_or_default() {
                            for k in ["text", "refusal"] {
                                str_field(p, k).into_iter().for_each(|t| f(source, t));
                            }
                        }
                    }
                    None => {}
                }
            }
            Some("function_call" | "custom_tool_call") => {
                for k in ["arguments", "input"] {
                    str_field(item, k)
                        .into_iter()
                        .for_each(|t| f(Source::ToolArguments, t));
                }
            }
            Some("reasoning") => {
                for k in ["summary", "content"] {
                    array_texts(item.get(k).unwrap_or(&NULL), Source::Assistant, f);
                }
            }
            // A stored item, by id: its text was screened when it was sent.
            Some("item_reference") => {}
            Some(_) => opaque_free_strings(item, f),
        }
    }
}

static NULL: Value<'static> = Value::Static(simd_json::StaticNode::Null);

/// Every string in an item outside its [`OPAQUE`] keys, as a tool result.
fn opaque_free_strings<'v>(v: &'v Value<'v>, f: &mut impl FnMut(Source, &'v str)) {
    if let Some(s) = v.as_str() {
        f(Source::ToolResult, s);
    } else if let Some(items) = v.as_array() {
        items.iter().for_each(|i| opaque_free_strings(i, f));
    } else if let Some(obj) = v.as_object() {
        for (k, i) in obj.iter() {
            if !OPAQUE.contains(&k.as_ref()) {
                opaque_free_strings(i, f);
            }
        }
    }
}

fn anthropic<'v>(body: &'v Value<'v>, f: &mut impl FnMut(Source, &'v str)) {
    match body.get("system") {
        Some(s) if s.as_str().is_some() => {
            s.as_str().into_iter().for_each(|t| f(Source::System, t))
        }
        Some(s) => array_texts(s, Source::System, f),
        None => {}
    }
    for m in array(body, "messages") {
        let source = if str_field(m, "role") == Some("assistant") {
            Source::Assistant
        } else {
            Source::User
        };
        match m.get("content") {
            Some(c) if c.as_str().is_some() => c.as_str().into_iter().for_each(|t| f(source, t)),
            Some(c) => anthropic_blocks(c, source, f),
            None => {}
        }
    }
    for tool in array(body, "tools") {
        definition(tool, "input_schema", f);
    }
    unknown_keys(body, &["system", "messages", "tools"], f);
}

fn anthropic_blocks<'v>(
    blocks: &'v Value<'v>,
    source: Source,
    f: &mut impl FnMut(Source, &'v str),
) {
    for b in blocks.as_array().map(Vec::as_slice).unwrap_or_default() {
        match str_field(b, "type") {
            Some("text") => str_field(b, "text").into_iter().for_each(|t| f(source, t)),
            Some("tool_use") => {
                if let Some(input) = b.get("input") {
                    strings_in(input, Source::ToolArguments, f);
                }
            }
            Some("tool_result") => match b.get("content") {
                Some(c) if c.as_str().is_some() => c
                    .as_str()
                    .into_iter()
                    .for_each(|t| f(Source::ToolResult, t)),
                Some(c) => array_texts(c, Source::ToolResult, f),
                None => {}
            },
            // Retrieved documents are read by the model like tool results.
            Some("document") => {
                if let Some(data) = b.get("source").and_then(|s| str_field(s, "data")) {
                    f(Source::ToolResult, data);
                }
            }
            _ => {}
        }
    }
}

fn gemini<'v>(body: &'v Value<'v>, f: &mut impl FnMut(Source, &'v str)) {
    gemini_in(body, true, f);
}

/// A Gemini body; `outer`: the body itself, where `countTokens` may carry a whole
/// generateContent request, read as one (nested in that, it is an unknown key's strings).
fn gemini_in<'v>(body: &'v Value<'v>, outer: bool, f: &mut impl FnMut(Source, &'v str)) {
    let nested = body
        .get("generateContentRequest")
        .filter(|r| outer && r.as_object().is_some());
    if let Some(inner) = nested {
        gemini_in(inner, false, f);
    }
    if let Some(si) = body.get("systemInstruction") {
        parts(si, Source::System, f);
    }
    for c in array(body, "contents") {
        let source = if str_field(c, "role") == Some("model") {
            Source::Assistant
        } else {
            Source::User
        };
        parts(c, source, f);
    }
    for tool in array(body, "tools") {
        for fun in array(tool, "functionDeclarations") {
            definition(fun, "parameters", f);
            if let Some(s) = fun.get("parametersJsonSchema") {
                keys_and_strings_in(s, f);
            }
        }
    }
    if let Some(config) = body.get("generationConfig") {
        for schema in ["responseSchema", "responseJsonSchema"] {
            if let Some(s) = config.get(schema) {
                keys_and_strings_in(s, f);
            }
        }
        unknown_keys(config, &["responseSchema", "responseJsonSchema"], f);
    }
    // `embedContent` (one `content`) and `batchEmbedContents` (`requests[]`): the text to embed
    // and a document's `title`.
    for r in std::iter::once(body).chain(array(body, "requests")) {
        if let Some(c) = r.get("content") {
            parts(c, Source::User, f);
        }
        if let Some(t) = str_field(r, "title") {
            f(Source::User, t);
        }
    }
    let known: &[&str] = &[
        "systemInstruction",
        "contents",
        "tools",
        "generationConfig",
        "requests",
        "content",
        "title",
        "generateContentRequest",
    ];
    // The nested request's key is known only where it was read as a request.
    unknown_keys(
        body,
        &known[..known.len() - usize::from(nested.is_none())],
        f,
    );
}

fn parts<'v>(content: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &'v str)) {
    for p in array(content, "parts") {
        if let Some(t) = str_field(p, "text") {
            f(source, t);
        } else if let Some(call) = p.get("functionCall").and_then(|c| c.get("args")) {
            strings_in(call, Source::ToolArguments, f);
        } else if let Some(resp) = p.get("functionResponse").and_then(|r| r.get("response")) {
            strings_in(resp, Source::ToolResult, f);
        }
    }
}

/// `[{"type":"text","text":…}]`-style arrays.
fn array_texts<'v>(v: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &'v str)) {
    for b in v.as_array().map(Vec::as_slice).unwrap_or_default() {
        if let Some(t) = str_field(b, "text") {
            f(source, t);
        }
    }
}

/// Every string value inside a structured value (tool inputs, function responses).
fn strings_in<'v>(v: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &'v str)) {
    if let Some(s) = v.as_str() {
        f(source, s);
    } else if let Some(items) = v.as_array() {
        items.iter().for_each(|i| strings_in(i, source, f));
    } else if let Some(obj) = v.as_object() {
        obj.values().for_each(|i| strings_in(i, source, f));
    }
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
