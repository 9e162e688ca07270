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
        let out = f(self);
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
                [Step::Elem { index: Some(i), .. }] => Some(*i),
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
mod tests {
    use super::*;
    use crate::guard::response::tests::restoring;
    use warden_shared::catalog::Dialect;

    fn chunk(delta: &str, finish: &str) -> String {
        format!(
            r#"{{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{{"index":0,"delta":{delta},"finish_reason":{finish}}}]}}"#
        )
    }

    /// The chunks through `g`; the events sent instead.
    fn run(g: &mut ResponseGuard, chunks: &[String]) -> String {
        let engine = Engine::for_tests();
        let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
        let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
        crate::guard::response::tests::through(engine, &scratch, g, &chunks)
    }

    /// What a client rebuilds from the events: the content, and each other field joined.
    fn rebuilt(events: &str, pointer: &str) -> String {
        events
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .filter_map(|v| {
                v.pointer(pointer)
                    .and_then(|x| x.as_str())
                    .map(str::to_owned)
            })
            .collect()
    }

    #[test]
    fn a_value_split_across_a_providers_own_field_is_redacted() {
        let (_, _, mut g) = crate::guard::response::tests::redacting(Dialect::OpenAi);
        let pieces = ["write to jane.d", "oe@examp", "le.com now"];
        let mut chunks = vec![chunk(r#"{"content":"Record attached."}"#, "null")];
        chunks.extend(
            pieces
                .iter()
                .map(|p| chunk(&format!(r#"{{"content":"","record_field":"{p}"}}"#), "null")),
        );
        chunks.push(chunk("{}", r#""stop""#));
        chunks.push("[DONE]".to_owned());
        let out = run(&mut g, &chunks);
        assert!(!out.replace("\\", "").contains("jane.d"), "{out}");
        assert_eq!(
            rebuilt(&out, "/choices/0/delta/record_field"),
            "write to [EMAIL_1] now"
        );
        assert!(out.ends_with("data: [DONE]\n\n"), "{out}");
    }

    #[test]
    fn streamed_tool_call_arguments_are_redacted_and_restored() {
        // The request's email went up as [EMAIL_1]; the model calls a tool with it and with a
        // card number of its own.
        let mut g = restoring(Dialect::OpenAi);
        let call = |args: &str| {
            chunk(
                &format!(r#"{{"tool_calls":[{{"index":0,"function":{{"arguments":"{args}"}}}}]}}"#),
                "null",
            )
        };
        let chunks = vec![
            chunk(
                r#"{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"send","arguments":""}}]}"#,
                "null",
            ),
            call(r#"{\"to\":\"[EMA"#),
            call(r#"IL_1]\",\"card\":\"4111 1111 "#),
            call(r#"1111 1111\"}"#),
            chunk("{}", r#""tool_calls""#),
            "[DONE]".to_owned(),
        ];
        let out = run(&mut g, &chunks);
        let args = rebuilt(&out, "/choices/0/delta/tool_calls/0/function/arguments");
        assert_eq!(
            args, r#"{"to":"jane@example.com","card":"[CARD_1]"}"#,
            "{out}"
        );
        assert!(
            out.contains(r#""name":"send""#) && out.contains(r#""id":"call_1""#),
            "{out}"
        );
    }

    #[test]
    fn anthropic_tool_input_streamed_as_json_text_is_restored_and_redacted() {
        let engine = Engine::for_tests();
        let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
        let mut g = restoring(Dialect::Anthropic);
        let delta = |json: &str| {
            format!(
                r#"{{"type":"content_block_delta","index":1,"delta":{{"type":"input_json_delta","partial_json":"{json}"}}}}"#
            )
        };
        let events = [
            ("content_block_start", r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"send","input":{}}}"#.to_owned()),
            ("content_block_delta", delta(r#"{\"to\": \"[EMAIL"#)),
            ("content_block_delta", delta(r#"_1]\", \"cc\": \"bob@exa"#)),
            ("content_block_delta", delta(r#"mple.org"#)),
            ("content_block_stop", r#"{"type":"content_block_stop","index":1}"#.to_owned()),
            ("message_stop", r#"{"type":"message_stop"}"#.to_owned()),
        ];
        let (mut template, mut out) = (None, Vec::new());
        for (name, data) in &events {
            g.filter_event(
                engine,
                &scratch,
                Some(name.as_bytes()),
                data.as_bytes(),
                &mut template,
                &mut out,
            );
        }
        let out = String::from_utf8(out).unwrap_or_default();
        let input = rebuilt(&out, "/delta/partial_json");
        assert_eq!(
            input, r#"{"to": "jane@example.com", "cc": "[EMAIL_2]"#,
            "{out}"
        );
        // The input's rest goes out before its block stops.
        let rest = out.rfind("input_json_delta").unwrap_or(usize::MAX);
        assert!(rest < out.find("content_block_stop").unwrap_or(0), "{out}");
    }

    #[test]
    fn a_whole_anthropic_messages_tool_input_is_restored_and_redacted() {
        let engine = Engine::for_tests();
        let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
        let mut g = restoring(Dialect::Anthropic);
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Sending."},{"type":"tool_use","id":"toolu_1","name":"send","input":{"to":"[EMAIL_1]","cc":"bob@example.org"}}],"stop_reason":"tool_use"}"#;
        let out = g
            .filter_body(engine, &scratch, body)
            .unwrap_or_else(|| panic!("rewritten"));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(v["content"][1]["input"]["to"], "jane@example.com");
        assert_eq!(v["content"][1]["input"]["cc"], "[EMAIL_2]");
        assert_eq!(v["stop_reason"], "tool_use");
    }

    #[test]
    fn a_gemini_function_calls_arguments_are_restored_and_redacted() {
        let engine = Engine::for_tests();
        let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
        let mut g = restoring(Dialect::Gemini);
        let chunk = br#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"send","args":{"to":"[EMAIL_1]","cc":["bob@example.org"]}},"thoughtSignature":"c2lnbmF0dXJl"}]},"finishReason":"STOP"}]}"#;
        let (mut template, mut out) = (None, Vec::new());
        g.filter_event(engine, &scratch, None, chunk, &mut template, &mut out);
        let out = String::from_utf8(out).unwrap_or_default();
        let v: serde_json::Value = out
            .strip_prefix("data: ")
            .and_then(|d| serde_json::from_str(d.trim()).ok())
            .unwrap_or_default();
        let part = &v["candidates"][0]["content"]["parts"][0];
        assert_eq!(
            part["functionCall"]["args"]["to"], "jane@example.com",
            "{out}"
        );
        assert_eq!(part["functionCall"]["args"]["cc"][0], "[EMAIL_2]", "{out}");
        assert_eq!(part["functionCall"]["name"], "send");
        assert_eq!(part["thoughtSignature"], "c2lnbmF0dXJl");
    }

    #[test]
    fn a_whole_answers_tool_call_arguments_and_refusal_are_checked() {
        let (engine, scratch, mut g) = crate::guard::response::tests::redacting(Dialect::OpenAi);
        let body = br#"{"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"ask jane.doe@example.com","tool_calls":[{"id":"call_1","type":"function","function":{"name":"send","arguments":"{\"to\":\"bob@example.org\"}"}}]},"finish_reason":"tool_calls"}]}"#;
        let out = g
            .filter_body(engine, &scratch, body)
            .unwrap_or_else(|| panic!("rewritten"));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
        let message = &v["choices"][0]["message"];
        assert_eq!(message["refusal"], "ask [EMAIL_1]");
        assert_eq!(
            message["tool_calls"][0]["function"]["arguments"],
            r#"{"to":"[EMAIL_2]"}"#
        );
        assert_eq!(message["tool_calls"][0]["function"]["name"], "send");
    }

    #[test]
    fn paths_skip_structure_and_deltas_rebuild_it() {
        let mut bytes = br#"{"role":"assistant","content":"x","refusal":"no","tool_calls":[{"index":1,"id":"c","type":"function","function":{"name":"f","arguments":"{\"to\":\""}}]}"#.to_vec();
        let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
        let found = other_strings(&v);
        let texts: Vec<&str> = found.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["no", "{\"to\":\""]);
        let (path, _) = &found[1];
        assert_eq!(
            delta_at(path, "rest").to_string(),
            r#"{"tool_calls":[{"function":{"arguments":"rest"},"index":1}]}"#
        );
    }
}
