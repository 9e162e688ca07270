//! A Gemini body (`generateContent`, its stream, `countTokens`, `embedContent`,
//! `batchEmbedContents`), read as Google's JSON reader reads it, not only as the SDKs write it:
//! every field under either spelling (`systemInstruction` or `system_instruction`, both read when
//! both are given), and one object where a list is expected (`"parts": {"text": …}`, as Google's
//! own curl examples write it). A part is read member by member: text, a text document sent
//! inline (decoded), function calls and responses, code and its output, and every member this
//! reader does not know but for signatures and ids; images, audio, video, PDFs and files by
//! URI are named as unread.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::{
    definition, encoded, keys_and_strings_as, keys_and_strings_in, opaque_free_strings,
    rest_of_definition, unknown_keys, unread, Source,
};

/// A field's two spellings: protobuf JSON's lowerCamelCase name and the proto field name.
type Field = (&'static str, &'static str);

const SYSTEM: Field = ("systemInstruction", "system_instruction");
const CONTENTS: Field = ("contents", "contents");
const PARTS: Field = ("parts", "parts");
const TOOLS: Field = ("tools", "tools");
const DECLARATIONS: Field = ("functionDeclarations", "function_declarations");
const CONFIG: Field = ("generationConfig", "generation_config");
const SCHEMAS: [Field; 2] = [
    ("responseSchema", "response_schema"),
    ("responseJsonSchema", "response_json_schema"),
];
const REQUESTS: Field = ("requests", "requests");
const CONTENT: Field = ("content", "content");
const TITLE: Field = ("title", "title");
const NESTED: Field = ("generateContentRequest", "generate_content_request");

/// The values of `field` in `v`, under each spelling given.
fn each<'v>(v: &'v Value<'v>, (camel, snake): Field) -> impl Iterator<Item = &'v Value<'v>> {
    let other = (snake != camel).then(|| v.get(snake)).flatten();
    v.get(camel).into_iter().chain(other)
}

/// The items of a list field: an array's items, or any other value given in its place as the
/// one item (an object; a string, which Google refuses but a reader must not skip: `parts` reads
/// a string where a content or a part is expected).
fn items<'v>(v: &'v Value<'v>, field: Field) -> impl Iterator<Item = &'v Value<'v>> {
    each(v, field).flat_map(|x| match x {
        Value::Array(a) => a.as_slice(),
        _ => std::slice::from_ref(x),
    })
}

fn str_of<'v>(v: &'v Value<'v>, field: Field) -> impl Iterator<Item = &'v str> {
    each(v, field).filter_map(|x| x.as_str())
}

pub(super) fn body<'v>(body: &'v Value<'v>, f: &mut impl FnMut(Source, &str)) {
    read(body, true, f);
}

/// A Gemini body; `outer`: the body itself, where `countTokens` may carry a whole
/// generateContent request, read as one (nested in that, it is an unknown key's strings).
fn read<'v>(body: &'v Value<'v>, outer: bool, f: &mut impl FnMut(Source, &str)) {
    // The spellings under which a whole request was found and read as one.
    let mut nested: [Option<&str>; 2] = [None, None];
    if outer {
        for (i, name) in [NESTED.0, NESTED.1].into_iter().enumerate() {
            if let Some(inner) = body.get(name).filter(|r| r.as_object().is_some()) {
                nested[i] = Some(name);
                read(inner, false, f);
            }
        }
    }
    for si in each(body, SYSTEM) {
        parts(si, Source::System, f);
    }
    for c in items(body, CONTENTS) {
        let source = if c.get("role").and_then(|r| r.as_str()) == Some("model") {
            Source::Assistant
        } else {
            Source::User
        };
        parts(c, source, f);
    }
    for tool in items(body, TOOLS) {
        for fun in items(tool, DECLARATIONS) {
            definition(fun, "parameters", f);
            // The JSON-schema form of the parameters, the response schema, and what else a
            // declaration may carry.
            rest_of_definition(fun, &["parameters"], f);
        }
    }
    for config in each(body, CONFIG) {
        let mut known = Vec::with_capacity(4);
        for field in SCHEMAS {
            for s in each(config, field) {
                keys_and_strings_in(s, f);
            }
            known.extend([field.0, field.1]);
        }
        unknown_keys(config, &known, f);
    }
    // `embedContent` (one `content`) and `batchEmbedContents` (`requests[]`): the text to embed
    // and a document's `title`.
    for r in std::iter::once(body).chain(items(body, REQUESTS)) {
        for c in each(r, CONTENT) {
            parts(c, Source::User, f);
        }
        for t in str_of(r, TITLE) {
            f(Source::User, t);
        }
    }
    let mut known: Vec<&str> = Vec::with_capacity(18);
    for (camel, snake) in [SYSTEM, CONTENTS, TOOLS, CONFIG, REQUESTS, CONTENT, TITLE] {
        known.extend([camel, snake]);
    }
    // The nested request's key is known only where it was read as a request.
    known.extend(nested.into_iter().flatten());
    unknown_keys(body, &known, f);
}

/// The parts of a content (`source`: whose turn it is); a string in its place, read as one.
fn parts<'v>(content: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &str)) {
    if let Some(t) = content.as_str() {
        f(source, t);
    }
    for p in items(content, PARTS) {
        part(p, source, f);
    }
}

/// One part, member by member (a part holds one kind of data, but a reader must not stop at
/// the first member it knows).
fn part<'v>(p: &'v Value<'v>, source: Source, f: &mut impl FnMut(Source, &str)) {
    let Some(members) = p.as_object() else {
        p.as_str().into_iter().for_each(|t| f(source, t));
        return;
    };
    for (k, v) in members.iter() {
        match k.as_ref() {
            "text" => v.as_str().into_iter().for_each(|t| f(source, t)),
            "inlineData" | "inline_data" => inline(v, f),
            "functionCall" | "function_call" => each(v, ("args", "args"))
                .for_each(|a| keys_and_strings_as(a, Source::ToolArguments, f)),
            "functionResponse" | "function_response" => {
                for r in each(v, ("response", "response")) {
                    keys_and_strings_as(r, Source::ToolResult, f);
                }
                // Data a function returns beside its response (a file it read, inline or by
                // URI).
                for p in items(v, PARTS) {
                    for d in each(p, ("inlineData", "inline_data")) {
                        inline(d, f);
                    }
                    for d in each(p, ("fileData", "file_data")) {
                        file_data(d, f);
                    }
                }
            }
            "executableCode" | "executable_code" => {
                str_of(v, ("code", "code")).for_each(|t| f(Source::ToolArguments, t))
            }
            "codeExecutionResult" | "code_execution_result" => {
                str_of(v, ("output", "output")).for_each(|t| f(Source::ToolResult, t))
            }
            "fileData" | "file_data" => file_data(v, f),
            // Settings, not text: a video's offsets, the model's own signature of its thought.
            "videoMetadata" | "video_metadata" | "thought" | "thoughtSignature"
            | "thought_signature" => {}
            _ => opaque_free_strings(v, Source::ToolResult, f),
        }
    }
}

/// A file by URI: unread, by the type it gives.
fn file_data<'v>(v: &'v Value<'v>, f: &mut impl FnMut(Source, &str)) {
    let media_type = str_of(v, ("mimeType", "mime_type")).next().unwrap_or("");
    f(Source::Unread, unread::of(media_type));
}

/// Inline data: decoded and read when its type is text (a document sent inline), unread
/// otherwise (an image, audio, a PDF).
fn inline<'v>(blob: &'v Value<'v>, f: &mut impl FnMut(Source, &str)) {
    let media_type = str_of(blob, ("mimeType", "mime_type")).next().unwrap_or("");
    for data in str_of(blob, ("data", "data")) {
        encoded(media_type, data, f);
    }
}
