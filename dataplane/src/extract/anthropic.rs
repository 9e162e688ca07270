//! An Anthropic Messages body, as the model reads it: the system prompt, every turn's text, tool
//! inputs and results, retrieved documents and search results (given in a turn or returned by a
//! tool), the tools' definitions, and every block type this reader does not know, read whole.
//!
//! Left unread, named as such (`Source::Unread`): images and PDFs (binary, or a URL or file id).
//! Left out, on purpose: `thinking` and
//! `redacted_thinking` blocks sent back — the model's own output, already screened as it
//! streamed out (`guard/response`), signed by Anthropic so that a changed one is refused, and so
//! never a place a value could be redacted.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::{
    array, array_texts, definition, encoded, keys_and_strings_as, rest_of_definition, scalar,
    unknown_keys, unread, unread_member, Source, OPAQUE,
};
use crate::translate::openai_in::str_field;

pub(super) fn body<'v>(body: &'v Value<'v>, f: &mut impl FnMut(Source, &str)) {
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
            Some(c) => blocks(c, source, f),
            None => {}
        }
    }
    for tool in array(body, "tools") {
        definition(tool, "input_schema", f);
        rest_of_definition(tool, &["input_schema"], f);
    }
    unknown_keys(body, &["system", "messages", "tools"], f);
}

/// A list of content blocks, in a turn (`source`: whose turn) or a tool result.
fn blocks<'v>(blocks: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &str)) {
    for b in blocks.as_array().map(Vec::as_slice).unwrap_or_default() {
        match str_field(b, "type") {
            Some("text") => str_field(b, "text").into_iter().for_each(|t| f(source, t)),
            Some("tool_use" | "server_tool_use" | "mcp_tool_use") => {
                if let Some(input) = b.get("input") {
                    keys_and_strings_as(input, Source::ToolArguments, f);
                }
            }
            // A tool's answer: a string, or blocks — text, documents, search results.
            Some("tool_result" | "mcp_tool_result") => match b.get("content") {
                Some(c) if c.as_str().is_some() => c
                    .as_str()
                    .into_iter()
                    .for_each(|t| f(Source::ToolResult, t)),
                Some(c) => self::blocks(c, Source::ToolResult, f),
                None => {}
            },
            // Retrieved documents and search results are read by the model like tool results.
            Some("document") => document(b, f),
            Some("search_result") => {
                for k in ["title", "source"] {
                    str_field(b, k)
                        .into_iter()
                        .for_each(|t| f(Source::ToolResult, t));
                }
                if let Some(c) = b.get("content") {
                    self::blocks(c, Source::ToolResult, f);
                }
            }
            Some("image") => f(Source::Unread, unread::IMAGE),
            Some("thinking" | "redacted_thinking") => {}
            // A server tool's result (web search, web fetch, code execution), a block type
            // newer than this reader: its strings, but for ids, signatures and encrypted data.
            _ => whole(b, f),
        }
    }
}

/// Every key and string in `v` but for [`OPAQUE`](super::OPAQUE) keys, as a tool result, with the
/// documents inside read as documents (a web fetch's result holds the page as one).
fn whole<'v>(v: &'v Value<'v>, f: &mut impl FnMut(Source, &str)) {
    match v {
        Value::Object(_) if str_field(v, "type") == Some("document") => document(v, f),
        Value::Object(o) => {
            for (k, i) in o.iter() {
                if OPAQUE.contains(&k.as_ref()) {
                    unread_member(k, i, f);
                } else {
                    f(Source::ToolResult, k);
                    whole(i, f);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|i| whole(i, f)),
        _ => scalar(v, Source::ToolResult, f),
    }
}

/// A document block: its title and context, and its source when that is text — plain text
/// (`data`), content blocks, or base64 of a text type; a PDF (base64, URL or file) is unread.
fn document<'v>(b: &'v Value<'v>, f: &mut impl FnMut(Source, &str)) {
    for k in ["title", "context"] {
        str_field(b, k)
            .into_iter()
            .for_each(|t| f(Source::ToolResult, t));
    }
    let Some(src) = b.get("source") else {
        return;
    };
    match (str_field(src, "type"), str_field(src, "data")) {
        (Some("text"), Some(data)) => f(Source::ToolResult, data),
        (Some("base64"), Some(data)) => {
            encoded(str_field(src, "media_type").unwrap_or(""), data, f);
        }
        (Some("content"), _) => match src.get("content") {
            Some(c) if c.as_str().is_some() => c
                .as_str()
                .into_iter()
                .for_each(|t| f(Source::ToolResult, t)),
            Some(c) => blocks(c, Source::ToolResult, f),
            None => {}
        },
        // A PDF by URL.
        (Some("url"), _) => {
            f(Source::Unread, unread::DOCUMENT);
            whole(src, f);
        }
        // A file by id, or a source type newer than this reader: its strings, but for binary
        // data and ids (a file id is unread).
        _ => whole(src, f),
    }
}
