//! The text a model will read in a request, per dialect, for the guardrails: message contents
//! and text parts, system prompts, tool-call arguments and tool results, retrieved documents and
//! search results, and the definitions the model is shown — tool and function names,
//! descriptions and parameter schemas (legacy `functions` included), structured-output schemas,
//! predicted outputs — never roles, ids, signatures, image data or sampling parameters inside
//! the parts it knows; and, whole, every top-level key and every part or block type it does not
//! know (`user`, `metadata`, a caller's own key, a content block type newer than this reader),
//! which go upstream too. Whatever leaves unscanned is a way around every guardrail: a secret or
//! an instruction in a tool description goes upstream as well as one in a message.
//!
//! Each reader accepts what its provider accepts, not only what its SDK writes: Gemini's JSON
//! takes both spellings of a field (`systemInstruction`, `system_instruction`) and one object
//! where a list is expected (`"parts": {"text": …}`). A text document sent encoded — a Gemini
//! `inlineData` of a text type, a `data:text/…;base64,` URL — is decoded and read as an
//! [`Source::Attachment`]. What no reader can read — an image, audio, video, a PDF or another
//! binary file, content given by reference (a file id, a URL) — is named by its kind as a
//! [`Source::Unread`] text, so that a project can refuse what its guardrails cannot screen.
//!
//! Texts come from the parsed body (simd-json has already JSON-unescaped them), each labelled
//! with where it came from, in document order (the keys a reader does not know last). The
//! guardrails scan them; a value to rewrite is replaced wherever its bytes occur in the
//! outgoing body (`guard/apply.rs`).

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;
use warden_shared::catalog::Dialect;

use crate::translate::openai_in::str_field;

mod anthropic;
mod gemini;
mod keys;
mod responses;

use keys::{OPAQUE, SETTINGS};

pub use responses::{responses, responses_body};

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
    /// A text document the request carries encoded (base64), decoded: read like a tool result,
    /// but its bytes are not in the body as text, so a value in it cannot be replaced there.
    Attachment,
    /// Not a text: the kind of content the request carries that no guardrail reads, one of
    /// [`unread`]'s names.
    Unread,
}

/// The kinds of content no guardrail reads, as [`Source::Unread`] names them (and verdicts of
/// the `unscanned` category record them).
pub mod unread {
    pub const IMAGE: &str = "image";
    pub const AUDIO: &str = "audio";
    pub const VIDEO: &str = "video";
    /// A PDF or any other file of a type that is not text.
    pub const DOCUMENT: &str = "document";
    /// Content given by reference (a file id, a URL) whose type the request does not say.
    pub const FILE: &str = "file";

    /// The kind of a file of `media_type` (`""`: not said).
    pub fn of(media_type: &str) -> &'static str {
        let media_type = media_type.trim().to_ascii_lowercase();
        match media_type.split('/').next().unwrap_or("") {
            "" => FILE,
            "image" => IMAGE,
            "audio" => AUDIO,
            "video" => VIDEO,
            _ => DOCUMENT,
        }
    }

    /// `name` as the static name it is (any other: [`FILE`]).
    pub fn named(name: &str) -> &'static str {
        [IMAGE, AUDIO, VIDEO, DOCUMENT]
            .into_iter()
            .find(|k| *k == name)
            .unwrap_or(FILE)
    }
}

/// Call `f` with every model-visible text of a request body in `dialect`.
pub fn texts<'v>(dialect: Dialect, body: &'v Value<'v>, f: &mut impl FnMut(Source, &str)) {
    match dialect {
        Dialect::OpenAi => openai(body, f),
        Dialect::Anthropic => anthropic::body(body, f),
        Dialect::Gemini => gemini::body(body, f),
    }
}

fn array<'v>(v: &'v Value<'v>, key: &str) -> &'v [Value<'v>] {
    v.get(key)
        .and_then(|x| x.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn openai<'v>(body: &'v Value<'v>, f: &mut impl FnMut(Source, &str)) {
    for m in array(body, "messages") {
        let source = match str_field(m, "role") {
            Some("system" | "developer") => Source::System,
            Some("assistant") => Source::Assistant,
            Some("tool") => Source::ToolResult,
            _ => Source::User,
        };
        match m.get("content") {
            Some(c) if c.as_str().is_some() => c.as_str().into_iter().for_each(|t| f(source, t)),
            // One part given where a list is expected is read as one.
            Some(c) if c.as_object().is_some() => openai_part(c, source, f),
            Some(c) => c
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .for_each(|p| openai_part(p, source, f)),
            None => {}
        }
        // An assistant turn's refusal, sent back as history.
        if let Some(t) = str_field(m, "refusal") {
            f(Source::Assistant, t);
        }
        for call in array(m, "tool_calls") {
            match call.get("function").or_else(|| call.get("custom")) {
                // A function's arguments, a custom tool's free-form input.
                Some(c) => ["arguments", "input"]
                    .into_iter()
                    .filter_map(|k| str_field(c, k))
                    .for_each(|t| f(Source::ToolArguments, t)),
                None => opaque_free_strings(call, Source::ToolArguments, f),
            }
        }
        // The legacy single call on an assistant message.
        if let Some(args) = m
            .get("function_call")
            .and_then(|fun| str_field(fun, "arguments"))
        {
            f(Source::ToolArguments, args);
        }
        // Members the chat schema does not name — a participant's `name`, a provider's own
        // (DeepSeek's `reasoning_content`, Groq's `reasoning`) — go upstream with the message.
        for (k, v) in m.as_object().into_iter().flat_map(|o| o.iter()) {
            if !MESSAGE_FIELDS.contains(&k.as_ref()) {
                keys_and_strings_as(v, source, f);
            }
        }
    }
    for tool in array(body, "tools") {
        match tool.get("function") {
            Some(fun) => {
                definition(fun, "parameters", f);
                rest_of_definition(fun, &["parameters"], f);
            }
            // A custom tool (its description and grammar), a tool type newer than this reader.
            None => rest_of_definition(tool, &[], f),
        }
    }
    for fun in array(body, "functions") {
        definition(fun, "parameters", f);
        rest_of_definition(fun, &["parameters"], f);
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

/// The members of a chat message read above, or holding no text (ids, an audio reference).
const MESSAGE_FIELDS: [&str; 7] = [
    "role",
    "content",
    "refusal",
    "tool_calls",
    "function_call",
    "tool_call_id",
    "audio",
];

/// One part of a chat message's content: its text or refusal; a file's data when it is a text
/// document; an image or audio (binary, or a URL) only as unread; every string outside
/// [`OPAQUE`] keys of a part type this reader does not know.
fn openai_part<'v>(p: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &str)) {
    match str_field(p, "type") {
        Some("text") => str_field(p, "text").into_iter().for_each(|t| f(source, t)),
        Some("refusal") => str_field(p, "refusal")
            .into_iter()
            .for_each(|t| f(source, t)),
        Some("file") => file(p.get("file").unwrap_or(&NULL), source, f),
        Some("image_url") => f(Source::Unread, unread::IMAGE),
        Some("input_audio") => f(Source::Unread, unread::AUDIO),
        _ => opaque_free_strings(p, source, f),
    }
}

/// A file sent in a message (chat's `file` part, Responses' `input_file`): its data when it is
/// a text document, and its name; one by id or URL is unread.
fn file<'v>(file: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &str)) {
    if let Some(url) = str_field(file, "file_data") {
        data_url(url, source, f);
    }
    if str_field(file, "file_id").is_some() || str_field(file, "file_url").is_some() {
        f(Source::Unread, unread::FILE);
    }
    str_field(file, "filename")
        .into_iter()
        .for_each(|t| f(source, t));
}

/// A tool, function or schema definition: its name, description and the schema under `schema`
/// (every key and string in it).
fn definition<'v>(def: &'v Value<'v>, schema: &str, f: &mut impl FnMut(Source, &str)) {
    for field in ["name", "description"] {
        if let Some(t) = str_field(def, field) {
            f(Source::Definition, t);
        }
    }
    if let Some(s) = def.get(schema) {
        keys_and_strings_in(s, f);
    }
}

/// The members of a definition [`definition`] does not read (besides `schema`, the names in
/// `schema_keys`): a custom tool's grammar, a function's response schema, examples of its input
/// — every key and string in them. Its type and settings are not text; neither are an MCP
/// server's `headers` and `authorization` (credentials the application gives the provider for
/// its own server).
fn rest_of_definition<'v>(
    def: &'v Value<'v>,
    schema_keys: &[&str],
    f: &mut impl FnMut(Source, &str),
) {
    for (k, v) in def.as_object().into_iter().flat_map(|o| o.iter()) {
        let k = k.as_ref();
        if !schema_keys.contains(&k) && !DEFINITION_READ.contains(&k) {
            keys_and_strings_as(v, Source::Definition, f);
        }
    }
}

/// The members of a definition read by [`definition`] or holding no text.
const DEFINITION_READ: [&str; 7] = [
    "name",
    "description",
    "type",
    "strict",
    "cache_control",
    "headers",
    "authorization",
];

/// A leaf of a structured value as text from `source`: a string, or a whole number long enough
/// to be a value the detectors look for (a card or phone number a tool returned as a JSON
/// number, `{"card": 4111111111111111}`, also written `4.111111111111111e15` or with `.0`);
/// shorter numbers, fractions, booleans and null hold none.
fn scalar(v: &Value<'_>, source: Source, f: &mut impl FnMut(Source, &str)) {
    if let Some(s) = v.as_str() {
        f(source, s);
    } else if let Some(n) = v.as_u64().filter(|n| *n >= 1_000_000) {
        f(source, &n.to_string());
    } else if let Some(n) = v.as_i64().filter(|n| *n <= -1_000_000) {
        f(source, &n.unsigned_abs().to_string());
    } else if let Some(digits) = v.as_f64().and_then(whole_digits) {
        f(source, &digits);
    }
}

/// The digits of a number written with a fraction or an exponent whose value is whole and at
/// least a million (`4.111111111111111e15` → `4111111111111111`), as a provider reading the
/// JSON would take it. Past 2^53 a double holds only the nearest of such numbers, and the digits
/// are that one's. The redaction step reads the body's numbers the same way.
pub(crate) fn whole_digits(x: f64) -> Option<String> {
    let x = x.abs();
    (x.fract() == 0.0 && (1e6..1e20).contains(&x)).then(|| format!("{x:.0}"))
}

/// Every object key and string value in a schema: property names are read by the model too.
fn keys_and_strings_in<'v>(v: &'v Value<'v>, f: &mut impl FnMut(Source, &str)) {
    keys_and_strings_as(v, Source::Definition, f);
}

/// Every object key, string and long integer in `v`, as texts from `source`: tool inputs and
/// function responses too — a map keyed by e-mail address (`{"scores": {"jane@example.com": 3}}`)
/// goes upstream as much as its values do.
fn keys_and_strings_as<'v>(v: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &str)) {
    if let Some(items) = v.as_array() {
        items.iter().for_each(|i| keys_and_strings_as(i, source, f));
    } else if let Some(obj) = v.as_object() {
        for (k, i) in obj.iter() {
            f(source, k);
            keys_and_strings_as(i, source, f);
        }
    } else {
        scalar(v, source, f);
    }
}

/// Every key of `body` that its dialect's reader does not read above — `user`, `metadata`,
/// `stop`, a provider's own extension, a key no schema names (a JSON-RPC or MCP caller's
/// `session_note`) — read whole (its strings, and the keys inside it) as a tool result: it goes
/// upstream with the rest of the body, so it is scanned with the rest. `known` are the keys
/// already read; [`SETTINGS`] and `model` hold no text.
fn unknown_keys<'v>(body: &'v Value<'v>, known: &[&str], f: &mut impl FnMut(Source, &str)) {
    for (k, v) in body.as_object().into_iter().flat_map(|o| o.iter()) {
        if !known.contains(&k.as_ref()) && !SETTINGS.contains(&k.as_ref()) {
            keys_and_strings_as(v, Source::ToolResult, f);
        }
    }
}

static NULL: Value<'static> = Value::Static(simd_json::StaticNode::Null);

/// Every key and string in `v` outside its [`OPAQUE`] keys (at any depth), as texts from `source`; a
/// `file_data` URL of a text document decoded (a file a tool returned); an image, a file by id
/// or by URL, unread.
fn opaque_free_strings<'v>(v: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &str)) {
    if let Some(items) = v.as_array() {
        items.iter().for_each(|i| opaque_free_strings(i, source, f));
    } else if let Some(obj) = v.as_object() {
        for (k, i) in obj.iter() {
            match (k.as_ref(), i.as_str()) {
                ("file_data", Some(url)) => data_url(url, source, f),
                // A file the provider fetches; its URL is read as text too.
                ("file_url", Some(url)) => {
                    f(Source::Unread, unread::FILE);
                    f(source, url);
                }
                (k, _) if OPAQUE.contains(&k) => unread_member(k, i, f),
                (k, _) => {
                    f(source, k);
                    opaque_free_strings(i, source, f);
                }
            }
        }
    } else {
        scalar(v, source, f);
    }
}

/// An [`OPAQUE`] member that is content no guardrail reads: an image (`image_url`) or a file by
/// id (`file_id`), whatever else the part holds.
fn unread_member<'v>(key: &str, v: &'v Value<'v>, f: &mut impl FnMut(Source, &str)) {
    let given = !matches!(v, Value::Static(simd_json::StaticNode::Null));
    match key {
        "image_url" if given => f(Source::Unread, unread::IMAGE),
        "file_id" if given => f(Source::Unread, unread::FILE),
        _ => {}
    }
}

/// A document sent as base64 (`data`) of `media_type`: decoded and read as an
/// [`Source::Attachment`] when it is text; unread, by its kind, when it is not (an image, audio,
/// a PDF) or its bytes are not base64.
fn encoded(media_type: &str, data: &str, f: &mut impl FnMut(Source, &str)) {
    match decoded_text(media_type, data) {
        Some(text) => f(Source::Attachment, &text),
        None => f(Source::Unread, unread::of(media_type)),
    }
}

/// The text of a document sent as base64 under a media type a model reads as text; `None` for
/// any other type (images, PDFs, audio: not text this reader can scan) or bytes that are not
/// base64. Either alphabet, padded or not (protobuf's JSON takes both).
fn decoded_text(media_type: &str, data: &str) -> Option<String> {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::{DecodePaddingMode, Engine as _};
    let media_type = media_type.split(';').next().unwrap_or("").trim();
    let media_type = media_type.to_ascii_lowercase();
    let texty = media_type.starts_with("text/")
        || media_type.ends_with("+json")
        || media_type.ends_with("+xml")
        || TEXT_TYPES.contains(&media_type.as_str());
    if !texty {
        return None;
    }
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let data = data.trim();
    let bytes = GeneralPurpose::new(&base64::alphabet::STANDARD, config)
        .decode(data)
        .or_else(|_| GeneralPurpose::new(&base64::alphabet::URL_SAFE, config).decode(data))
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Media types outside `text/` that carry text (Gemini's document types among them).
const TEXT_TYPES: [&str; 9] = [
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-javascript",
    "application/x-typescript",
    "application/x-python",
    "application/x-python-code",
    "application/rtf",
    "application/x-yaml",
];

/// A `data:` URL's document: base64 of a text type decoded as an [`Source::Attachment`] (see
/// [`decoded_text`]); a percent-encoded text one read as written, as `source` (the scan's
/// percent-decoded view finds values there, in place); any other, unread.
fn data_url(url: &str, source: Source, f: &mut impl FnMut(Source, &str)) {
    let Some((meta, data)) = url.strip_prefix("data:").and_then(|r| r.split_once(',')) else {
        // Not a data URL: a file the provider fetches.
        f(Source::Unread, unread::FILE);
        return;
    };
    match meta.strip_suffix(";base64") {
        Some(media_type) => encoded(media_type, data, f),
        None if meta.is_empty() || meta.starts_with("text/") => f(source, url),
        None => f(
            Source::Unread,
            unread::of(meta.split(';').next().unwrap_or("")),
        ),
    }
}

/// `[{"type":"text","text":…}]`-style arrays.
fn array_texts<'v>(v: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &str)) {
    for b in v.as_array().map(Vec::as_slice).unwrap_or_default() {
        if let Some(t) = str_field(b, "text") {
            f(source, t);
        }
    }
}

#[cfg(test)]
mod scalar_tests;
#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
#[cfg(test)]
mod unread_tests;
