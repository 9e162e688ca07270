//! Strings of an OpenAI answer other than the message content: tool-call arguments, a refusal,
//! and any field a provider adds (`{"delta":{"content":"","record_field":"…"}}`). Each goes to
//! the client as much as the content does, so each is checked and restored the same way —
//! streamed ones each through a stream of their own (its own held-back tail, the guard's shared
//! placeholders and restore pairs), so a value split across chunks is found whole. What is
//! still held when the answer ends goes out in a chunk of its own, in the field it came from.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::{Engine, ResponseGuard};

/// One step of a field's path: an object key, or an array element (with its `index` member,
/// which a streamed tool call names itself by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    Elem { at: usize, index: Option<u64> },
}

/// Where a field sits under the message or delta.
pub(super) type Path = Vec<Step>;

/// Members that name, type or number things, or carry opaque data (audio, signatures), never
/// text: left as they are.
const STRUCTURAL: [&str; 14] = [
    "role",
    "type",
    "id",
    "name",
    "index",
    "call_id",
    "tool_call_id",
    "tool_use_id",
    "encrypted_index",
    "data",
    "signature",
    "encrypted_content",
    "thought_signature",
    "thoughtSignature",
];

/// Every string under `v` (a message or a delta) outside `content`, the reasoning the guard
/// drops and the [`STRUCTURAL`] members, with its path.
pub(super) fn other_strings(v: &Value<'_>) -> Vec<(Path, String)> {
    let mut out = Vec::new();
    if let Some(obj) = v.as_object() {
        for (k, x) in obj.iter() {
            if !matches!(
                k.as_ref(),
                "content" | "reasoning_content" | "thinking_blocks"
            ) && !STRUCTURAL.contains(&k.as_ref())
            {
                walk(x, &mut vec![Step::Key(k.to_string())], &mut out);
            }
        }
    }
    out
}

fn walk(v: &Value<'_>, path: &mut Path, out: &mut Vec<(Path, String)>) {
    if let Some(s) = v.as_str() {
        out.push((path.clone(), s.to_owned()));
    } else if let Some(items) = v.as_array() {
        for (at, x) in items.iter().enumerate() {
            let index = x.get("index").and_then(|i| i.as_u64());
            path.push(Step::Elem { at, index });
            walk(x, path, out);
            path.pop();
        }
    } else if let Some(obj) = v.as_object() {
        for (k, x) in obj.iter() {
            if !STRUCTURAL.contains(&k.as_ref()) {
                path.push(Step::Key(k.to_string()));
                walk(x, path, out);
                path.pop();
            }
        }
    }
}

/// The string at `path` under `v`, replaced by `text`.
pub(super) fn set(v: &mut Value<'_>, path: &[Step], text: String) {
    let mut at = v;
    for step in path {
        let next = match step {
            Step::Key(k) => at.get_mut(k.as_str()),
            Step::Elem { at: i, .. } => at.get_idx_mut(*i),
        };
        match next {
            Some(n) => at = n,
            None => return,
        }
    }
    *at = Value::from(text);
}

/// Whether the field at `path` holds JSON source the client parses: a function call's
/// `arguments` (OpenAI's chat and Responses answers, MCP calls, the legacy `function_call`) and
/// an Anthropic tool's input streamed as `partial_json`.
fn json_source(path: &[Step]) -> bool {
    matches!(path.last(), Some(Step::Key(k)) if k == "arguments")
        || matches!(path.first(), Some(Step::Key(k)) if k == "partial_json")
}

/// The key a streamed field's state is kept under: array elements by their `index` (a tool
/// call's later chunks name it by index, at position 0).
fn stream_key(path: &[Step]) -> Path {
    path.iter()
        .map(|s| match s {
            Step::Elem { at, index } => Step::Elem {
                at: 0,
                index: Some(index.unwrap_or(*at as u64)),
            },
            k => k.clone(),
        })
        .collect()
}

/// A delta holding `text` at `path` (array elements carry their `index`), as JSON.
fn delta_at(path: &[Step], text: &str) -> serde_json::Value {
    let mut v = serde_json::Value::String(text.to_owned());
    for step in path.iter().rev() {
        v = match step {
            Step::Key(k) => {
                let mut obj = serde_json::Map::new();
                obj.insert(k.clone(), v);
                serde_json::Value::Object(obj)
            }
            Step::Elem { index, .. } => {
                let mut elem = v;
                if let (Some(i), Some(obj)) = (index, elem.as_object_mut()) {
                    obj.insert("index".into(), serde_json::json!(i));
                }
                serde_json::json!([elem])
            }
        };
    }
    v
}

/// The held text of one field's stream.
#[derive(Default)]
pub(super) struct FieldStream {
    path: Path,
    pending: String,
    context: usize,
}

impl ResponseGuard {
    /// Run `f` with the guard's text state switched to the stream of `path`'s field.
    pub(super) fn in_field<T>(
        &mut self,
        path: &[Step],
        f: impl FnOnce(&mut ResponseGuard) -> T,
    ) -> T {
        let key = stream_key(path);
        let found = self.fields.iter().position(|s| s.path == key);
        let at = match found {
            Some(at) => at,
            None => {
                self.fields.push(FieldStream {
                    path: key,
                    ..FieldStream::default()
                });
                self.fields.len() - 1
            }
        };
        std::mem::swap(&mut self.pending, &mut self.fields[at].pending);
        std::mem::swap(&mut self.context, &mut self.fields[at].context);
        let outer = std::mem::replace(&mut self.json_text, json_source(path));
        let out = f(self);
        self.json_text = outer;
        std::mem::swap(&mut self.pending, &mut self.fields[at].pending);
        std::mem::swap(&mut self.context, &mut self.fields[at].context);
        out
    }

    /// `v`'s other fields through their streams, each released whole when `whole`; whether any
    /// changed.
    pub(super) fn through_fields(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        v: &mut Value<'_>,
        whole: bool,
    ) -> bool {
        let strings = other_strings(v);
        self.release_strings(engine, scratch, v, strings, whole)
    }

    /// Each of `strings` (found under `v`) through the stream of its path, finished too when
    /// `whole`, and set back where it changed; whether any did.
    fn release_strings(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        v: &mut Value<'_>,
        strings: Vec<(Path, String)>,
        whole: bool,
    ) -> bool {
        let mut changed = false;
        for (path, text) in strings {
            let released = self.in_field(&path, |g| {
                let mut out = g.push(engine, scratch, &text);
                if whole {
                    out.push_str(&g.finish(engine, scratch));
                }
                out
            });
            if released != text {
                set(v, &path, released);
                changed = true;
            }
        }
        changed
    }

    /// What the fields' streams still hold, each as a delta of its own (for chunks after the
    /// last one).
    pub(super) fn finish_fields(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
    ) -> Vec<serde_json::Value> {
        let paths: Vec<Path> = self.fields.iter().map(|s| s.path.clone()).collect();
        let mut out = Vec::new();
        for path in paths {
            let rest = self.in_field(&path, |g| g.finish(engine, scratch));
            if !rest.is_empty() {
                out.push(delta_at(&path, &rest));
            }
        }
        self.fields.clear();
        out
    }

    /// What the stream of the field at `path` still holds, and the stream closed; `None` when
    /// there is none.
    pub(super) fn finish_field(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        path: &[Step],
    ) -> Option<String> {
        let key = stream_key(path);
        let at = self.fields.iter().position(|s| s.path == key)?;
        let rest = self.in_field(path, |g| g.finish(engine, scratch));
        self.fields.remove(at);
        Some(rest)
    }

    /// The block indexes of the streams keyed by one array element (Anthropic tool inputs).
    pub(super) fn tool_input_blocks(&self) -> Vec<u64> {
        self.fields
            .iter()
            .filter_map(|s| match s.path.as_slice() {
                [Step::Key(k), Step::Elem { index: Some(i), .. }] if k == "partial_json" => {
                    Some(*i)
                }
                _ => None,
            })
            .collect()
    }

    /// The block indexes of the Anthropic thinking streams (`native.rs`).
    pub(super) fn thinking_blocks(&self) -> Vec<u64> {
        self.fields
            .iter()
            .filter_map(|s| match s.path.as_slice() {
                [Step::Key(k), Step::Elem { index: Some(i), .. }] if k == "thinking" => Some(*i),
                _ => None,
            })
            .collect()
    }

    /// Every string in `v` (content included; the [`STRUCTURAL`] members aside) checked whole,
    /// the streams open for other fields left as they are: a tool's result, a citation, a part
    /// of a kind the dialect's reader does not know. Whether any changed.
    pub(super) fn check_whole(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        v: &mut Value<'_>,
    ) -> bool {
        let open = std::mem::take(&mut self.fields);
        let mut strings = Vec::new();
        walk(v, &mut Vec::new(), &mut strings);
        strings.retain(|(p, _)| !p.is_empty());
        let changed = self.release_strings(engine, scratch, v, strings, true);
        self.fields = open;
        changed
    }

    /// A whole message's other fields, each checked whole; whether any changed.
    pub(super) fn check_fields(
        &mut self,
        engine: &Engine,
        scratch: &crate::guard::engine::Scratch,
        message: &mut Value<'_>,
    ) -> bool {
        let changed = self.through_fields(engine, scratch, message, true);
        self.fields.clear();
        changed
    }
}

#[cfg(test)]
mod tests;
