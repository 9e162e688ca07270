//! The text a model will read in a request, per dialect, for the guardrails: message contents
//! and text parts, system prompts, tool-call arguments and tool results, and the definitions
//! the model is shown — tool and function names, descriptions and parameter schemas (legacy
//! `functions` included), structured-output schemas, predicted outputs — never roles, ids,
//! image data or sampling parameters. Whatever reaches the model unscanned is a way around
//! every guardrail: a secret or an instruction in a tool description goes upstream as well as
//! one in a message.
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
    if let Some(s) = v.as_str() {
        f(Source::Definition, s);
    } else if let Some(items) = v.as_array() {
        items.iter().for_each(|i| keys_and_strings_in(i, f));
    } else if let Some(obj) = v.as_object() {
        for (k, i) in obj.iter() {
            f(Source::Definition, k);
            keys_and_strings_in(i, f);
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

    /// The weather tool every fixture defines, as the model reads it.
    fn weather_tool() -> Vec<(Source, String)> {
        [
            "get_weather",
            "Current weather",
            "type",
            "object",
            "properties",
            "city",
            "type",
            "string",
            "required",
            "city",
        ]
        .iter()
        .map(|t| (Source::Definition, t.to_string()))
        .collect()
    }

    /// The texts of a fixture, without its tool definitions (checked once against
    /// [`weather_tool`]).
    fn conversation(dialect: Dialect, file: &str) -> Vec<(Source, String)> {
        let all = collect(dialect, file);
        let (defs, rest): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|(s, _)| *s == Source::Definition);
        assert_eq!(defs, weather_tool(), "{file}");
        rest
    }

    #[test]
    fn tool_descriptions_schemas_and_output_formats_are_read() {
        let body = r#"{"model":"m","messages":[{"role":"assistant","content":null,
            "function_call":{"name":"f","arguments":"{\"a\":\"legacy args\"}"}}],
            "functions":[{"name":"lookup","description":"legacy description",
              "parameters":{"type":"object","properties":{"secret field":{"enum":["e1"]}}}}],
            "response_format":{"type":"json_schema","json_schema":{"name":"out",
              "description":"format description","schema":{"properties":{"k":{"description":"deep"}}}}},
            "prediction":{"type":"content","content":"predicted text"}}"#;
        let mut bytes = body.as_bytes().to_vec();
        let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
        let mut seen = Vec::new();
        texts(Dialect::OpenAi, &v, &mut |s, t| {
            seen.push((s, t.to_owned()))
        });
        for want in [
            (Source::ToolArguments, r#"{"a":"legacy args"}"#),
            (Source::Definition, "legacy description"),
            (Source::Definition, "secret field"),
            (Source::Definition, "e1"),
            (Source::Definition, "format description"),
            (Source::Definition, "deep"),
            (Source::User, "predicted text"),
        ] {
            assert!(
                seen.contains(&(want.0, want.1.to_string())),
                "{want:?} not in {seen:?}"
            );
        }
        let mut bytes = br#"{"contents":[],"generationConfig":{"responseSchema":
            {"properties":{"x":{"description":"gemini schema text"}}}}}"#
            .to_vec();
        let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
        let mut seen = Vec::new();
        texts(Dialect::Gemini, &v, &mut |s, t| {
            seen.push((s, t.to_owned()))
        });
        assert!(seen.contains(&(Source::Definition, "gemini schema text".into())));
    }

    #[test]
    fn the_same_conversation_reads_the_same_in_every_dialect() {
        let openai = conversation(Dialect::OpenAi, "openai-chat-request.json");
        assert_eq!(
            openai,
            vec![
                (Source::System, "Be brief".into()),
                (Source::User, "Weather in Paris?".into()),
                (Source::ToolArguments, r#"{"city":"Paris"}"#.into()),
                (Source::ToolResult, "15C".into()),
            ]
        );
        let anthropic = conversation(Dialect::Anthropic, "anthropic-messages-request.json");
        assert_eq!(
            anthropic,
            vec![
                (Source::System, "Be brief".into()),
                (Source::User, "Weather in Paris?".into()),
                (Source::ToolArguments, "Paris".into()),
                (Source::ToolResult, "15C".into()),
            ]
        );
        let gemini = conversation(Dialect::Gemini, "gemini-request.json");
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
