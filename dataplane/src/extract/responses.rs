//! The Responses API's body (`POST /v1/responses`), read as OpenAI reads it: Warden passes it
//! through to OpenAI as the client wrote it, so the guardrails read it as written, not as the
//! chat request it becomes for other providers (reasoning sent back and OpenAI-only items
//! included).

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::{
    array, array_texts, definition, file, keys_and_strings_as, opaque_free_strings,
    rest_of_definition, unknown_keys, unread, Source, NULL,
};
use crate::translate::openai_in::str_field;

/// A `/v1/responses` body, as OpenAI reads it when Warden passes it through: `instructions`,
/// `input` (a string, or items: messages and their text parts, function calls and their
/// outputs, reasoning summaries sent back, and every other item type's strings — custom and MCP
/// tool calls and outputs, shell output, file-search results, …), the tools' definitions, the
/// output schema and a stored prompt's variables. An item type this reader does not know is read
/// whole, as a tool result: a new item type must not be a way past the guardrails.
pub fn responses<'v>(body: &'v Value<'v>, f: &mut impl FnMut(Source, &str)) {
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
        // An MCP server's description of itself, a custom tool's grammar, a tool type newer
        // than this reader.
        rest_of_definition(tool, &["parameters"], f);
    }
    if let Some(format) = body.get("text").and_then(|t| t.get("format")) {
        definition(format, "schema", f);
    }
    // A stored prompt's variables are filled into the prompt the model reads.
    if let Some(vars) = body.get("prompt").and_then(|p| p.get("variables")) {
        keys_and_strings_as(vars, Source::User, f);
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

fn response_items<'v>(items: &'v Value<'v>, role: Source, f: &mut impl FnMut(Source, &str)) {
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
                    Some(c) => c
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .for_each(|p| content_part(p, source, f)),
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
            Some(_) => opaque_free_strings(item, Source::ToolResult, f),
        }
    }
}

/// One part of a message's content: its text or refusal; a file's data when it is a text
/// document, and its name; an image or audio as unread; every string outside [`OPAQUE`] keys of
/// a part type this reader does not know.
fn content_part<'v>(p: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &str)) {
    match str_field(p, "type") {
        Some("input_file") => file(p, source, f),
        Some("input_image") => f(Source::Unread, unread::IMAGE),
        Some("input_audio") => f(Source::Unread, unread::AUDIO),
        Some("refusal") => str_field(p, "refusal")
            .into_iter()
            .for_each(|t| f(source, t)),
        Some(t) if t.ends_with("text") => {
            str_field(p, "text").into_iter().for_each(|t| f(source, t))
        }
        _ => opaque_free_strings(p, source, f),
    }
}
