//! The text a model will read in a request, per dialect, for the guardrails: message contents
//! and text parts, system prompts, tool-call arguments and tool results — never roles, ids,
//! schemas, image data or parameters.
//!
//! Texts come from the parsed body (simd-json has already JSON-unescaped them), each labelled
//! with where it came from, in document order. The guardrails scan them and, to rewrite one,
//! find its raw span in the original body by that order (the n-th string of its kind).

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
mod tests {
    use super::*;

    fn collect(dialect: Dialect, file: &str) -> Vec<(Source, String)> {
        let path = format!(
            "{}/../tests/fixtures/wire/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut bytes = std::fs::read(&path).unwrap_or_default();
        let Ok(v) = simd_json::to_borrowed_value(&mut bytes) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        texts(dialect, &v, &mut |s, t| out.push((s, t.to_owned())));
        out
    }

    #[test]
    fn the_same_conversation_reads_the_same_in_every_dialect() {
        let openai = collect(Dialect::OpenAi, "openai-chat-request.json");
        assert_eq!(
            openai,
            vec![
                (Source::System, "Be brief".into()),
                (Source::User, "Weather in Paris?".into()),
                (Source::ToolArguments, r#"{"city":"Paris"}"#.into()),
                (Source::ToolResult, "15C".into()),
            ]
        );
        let anthropic = collect(Dialect::Anthropic, "anthropic-messages-request.json");
        assert_eq!(
            anthropic,
            vec![
                (Source::System, "Be brief".into()),
                (Source::User, "Weather in Paris?".into()),
                (Source::ToolArguments, "Paris".into()),
                (Source::ToolResult, "15C".into()),
            ]
        );
        let gemini = collect(Dialect::Gemini, "gemini-request.json");
        assert_eq!(
            gemini,
            vec![
                (Source::System, "Be brief".into()),
                (Source::User, "Weather in Paris?".into()),
                (Source::ToolArguments, "Paris".into()),
                (Source::ToolResult, "15C".into()),
            ]
        );
    }
}
