//! A request as the semantic cache sees it: the text of its last user turn, compared by meaning,
//! and everything else — system prompt, earlier turns, sampling parameters — hashed, so that only
//! requests identical in all of it are compared at all. The stream flag is hashed too, unless the
//! answer can be served in either shape (`cache/reshape.rs`).
//!
//! Only plain conversations qualify: the last message is the user's and is text (a string, or
//! one text part); no tools or functions are offered (an answer that calls a tool depends on
//! more than the question); at most one choice is asked for.

use simd_json::{BorrowedValue as Value, StaticNode};
use warden_shared::catalog::Dialect;

use crate::cache::KeyHasher;

/// Keys whose presence (other than `null`) keeps a request out of the semantic cache.
const TOOL_KEYS: &[&str] = &[
    "tools",
    "functions",
    "tool_choice",
    "function_call",
    "toolConfig",
    "tool_config",
];

/// Top-level members left out of the partition when an answer serves either shape.
const STREAM_FLAGS: &[&str] = &["stream", "stream_options"];

/// The last user turn's text, and the request without it fed to `partition` (without its stream
/// flags when `either_shape`). `None`: the request does not qualify — among other reasons, its
/// temperature (1.0 when it names none, the providers' default) is above `max_temperature`, in
/// hundredths.
pub fn split<'v>(
    value: &'v Value<'v>,
    (dialect, either_shape): (Dialect, bool),
    max_temperature: u16,
    partition: &mut KeyHasher,
) -> Option<&'v str> {
    let Value::Object(obj) = value else {
        return None;
    };
    // Gemini's sampling settings sit in its generation config, under either spelling.
    let config = match dialect {
        Dialect::Gemini => match obj
            .get("generationConfig")
            .or_else(|| obj.get("generation_config"))
        {
            Some(Value::Object(g)) => Some(g),
            _ => None,
        },
        _ => None,
    };
    let temperature = match dialect {
        Dialect::Gemini => config.and_then(|g| g.get("temperature")),
        _ => obj.get("temperature"),
    };
    let temperature = match temperature {
        None | Some(Value::Static(StaticNode::Null)) => 1.0,
        Some(Value::Static(StaticNode::F64(t))) => *t,
        Some(Value::Static(StaticNode::I64(t))) => *t as f64,
        Some(Value::Static(StaticNode::U64(t))) => *t as f64,
        Some(_) => return None,
    };
    if temperature * 100.0 > f64::from(max_temperature) + 1e-9 {
        return None;
    }
    for k in TOOL_KEYS {
        if obj
            .get(*k)
            .is_some_and(|v| !matches!(v, Value::Static(StaticNode::Null)))
        {
            return None;
        }
    }
    let choices = match dialect {
        Dialect::Gemini => {
            config.and_then(|g| g.get("candidateCount").or_else(|| g.get("candidate_count")))
        }
        _ => obj.get("n"),
    };
    if let Some(n) = choices {
        if !matches!(n, Value::Static(StaticNode::I64(1) | StaticNode::U64(1))) {
            return None;
        }
    }
    let (list, role_key, user, parts_key) = match dialect {
        Dialect::OpenAi | Dialect::Anthropic => ("messages", "role", "user", "content"),
        Dialect::Gemini => ("contents", "role", "user", "parts"),
    };
    let Some(Value::Array(turns)) = obj.get(list) else {
        return None;
    };
    let last = turns.last()?;
    let Value::Object(turn) = last else {
        return None;
    };
    match turn.get(role_key) {
        Some(Value::String(r)) if r == user => {}
        // Gemini's role is optional on a user turn.
        None if dialect == Dialect::Gemini => {}
        _ => return None,
    }
    let node = text_node(turn.get(parts_key)?, dialect)?;
    let Value::String(text) = node else {
        return None;
    };
    if text.trim().is_empty() {
        return None;
    }
    let leave_out = if either_shape { STREAM_FLAGS } else { &[] };
    feed_object(obj, node, leave_out, partition);
    Some(text)
}

/// The node holding the turn's text: the content string itself, or the one text part's text.
fn text_node<'v>(content: &'v Value<'v>, dialect: Dialect) -> Option<&'v Value<'v>> {
    match content {
        Value::String(_) if dialect != Dialect::Gemini => Some(content),
        Value::Array(parts) if parts.len() == 1 => {
            let Value::Object(part) = &parts[0] else {
                return None;
            };
            let text = part.get("text")?;
            let only_text = match dialect {
                Dialect::Gemini => part.len() == 1,
                _ => {
                    part.len() == 2
                        && matches!(part.get("type"), Some(Value::String(t)) if t == "text")
                }
            };
            only_text.then_some(text)
        }
        _ => None,
    }
}

/// Hash `value` in a canonical form (object keys sorted), with `skip` — the compared text —
/// standing in as a marker.
fn feed(value: &Value<'_>, skip: &Value<'_>, h: &mut KeyHasher) {
    if std::ptr::eq(value, skip) {
        h.part(b"\0last-user-turn");
        return;
    }
    match value {
        Value::Static(s) => match s {
            StaticNode::Null => h.part(b"n"),
            StaticNode::Bool(b) => h.part(if *b { b"t" } else { b"f" }),
            StaticNode::I64(i) => {
                h.part(b"i");
                h.part(&i.to_le_bytes());
            }
            StaticNode::U64(u) => {
                h.part(b"u");
                h.part(&u.to_le_bytes());
            }
            StaticNode::F64(f) => {
                h.part(b"d");
                h.part(&f.to_le_bytes());
            }
        },
        Value::String(s) => {
            h.part(b"s");
            h.part(s.as_bytes());
        }
        Value::Array(items) => {
            h.part(b"[");
            h.part(&(items.len() as u64).to_le_bytes());
            for item in items.iter() {
                feed(item, skip, h);
            }
        }
        Value::Object(obj) => feed_object(obj, skip, &[], h),
    }
}

/// Hash an object's members but those named in `leave_out`, keys sorted.
fn feed_object(
    obj: &simd_json::borrowed::Object<'_>,
    skip: &Value<'_>,
    leave_out: &[&str],
    h: &mut KeyHasher,
) {
    let mut keys: Vec<_> = obj
        .iter()
        .filter(|(k, _)| !leave_out.contains(&k.as_ref()))
        .collect();
    keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
    h.part(b"{");
    h.part(&(keys.len() as u64).to_le_bytes());
    for (k, v) in keys {
        h.part(k.as_bytes());
        feed(v, skip, h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Key, KeyHasher};
    use sha2::Digest;

    fn run(body: &str, dialect: Dialect) -> Option<(String, Key)> {
        let mut bytes = body.as_bytes().to_vec();
        let value = simd_json::to_borrowed_value(&mut bytes).unwrap();
        let mut h = KeyHasher(sha2::Sha256::new());
        let text = split(&value, (dialect, true), u16::MAX, &mut h)?.to_string();
        Some((text, h.finish()))
    }

    #[test]
    fn only_the_last_user_turn_may_differ() {
        let a = run(
            r#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"how do I boil an egg"}]}"#,
            Dialect::OpenAi,
        )
        .unwrap();
        let b = run(
            r#"{"messages":[{"content":"be brief","role":"system"},{"role":"user","content":"what's the way to boil an egg?"}],"model":"m"}"#,
            Dialect::OpenAi,
        )
        .unwrap();
        assert_eq!(a.0, "how do I boil an egg");
        assert_eq!(
            a.1, b.1,
            "same partition: keys in another order, another last turn"
        );
        let c = run(
            r#"{"model":"m","messages":[{"role":"system","content":"be long"},{"role":"user","content":"how do I boil an egg"}]}"#,
            Dialect::OpenAi,
        )
        .unwrap();
        assert_ne!(a.1, c.1, "another system prompt is another partition");
        let d = run(
            r#"{"model":"m","temperature":0.5,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"how do I boil an egg"}]}"#,
            Dialect::OpenAi,
        )
        .unwrap();
        assert_ne!(a.1, d.1, "another temperature is another partition");
    }

    #[test]
    fn the_stream_flags_part_partitions_only_where_the_answer_has_one_shape() {
        let part = |body: &str, either_shape: bool| {
            let mut bytes = body.as_bytes().to_vec();
            let value = simd_json::to_borrowed_value(&mut bytes).unwrap();
            let mut h = KeyHasher(sha2::Sha256::new());
            split(&value, (Dialect::OpenAi, either_shape), u16::MAX, &mut h).unwrap();
            h.finish()
        };
        let msgs = r#""messages":[{"role":"user","content":"hi"}]"#;
        let whole = format!(r#"{{"model":"m",{msgs}}}"#);
        let streamed = format!(
            r#"{{"model":"m","stream":true,"stream_options":{{"include_usage":true}},{msgs}}}"#
        );
        assert_eq!(part(&whole, true), part(&streamed, true));
        assert_ne!(part(&whole, false), part(&streamed, false));
        // Only the top level's flags: the same names deeper in are part of the request.
        let nested = format!(r#"{{"model":"m","metadata":{{"stream":"x"}},{msgs}}}"#);
        assert_ne!(part(&whole, true), part(&nested, true));
    }

    #[test]
    fn tools_other_last_turns_and_many_parts_do_not_qualify() {
        for body in [
            r#"{"model":"m","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"hi"}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x"}]}"#,
            r#"{"model":"m","n":2,"messages":[{"role":"user","content":"hi"}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"u"}}]}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":"   "}]}"#,
            r#"{"model":"m","messages":[]}"#,
        ] {
            assert_eq!(run(body, Dialect::OpenAi), None, "{body}");
        }
        assert!(run(
            r#"{"model":"m","tools":null,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#,
            Dialect::OpenAi
        )
        .is_some());
    }

    #[test]
    fn the_projects_temperature_limit_counts_a_missing_temperature_as_one() {
        let limited = |body: &str, max: u16| {
            let mut bytes = body.as_bytes().to_vec();
            let value = simd_json::to_borrowed_value(&mut bytes).unwrap();
            let mut h = KeyHasher(sha2::Sha256::new());
            split(&value, (Dialect::OpenAi, true), max, &mut h).is_some()
        };
        let msgs = r#""messages":[{"role":"user","content":"hi"}]"#;
        assert!(limited(&format!(r#"{{"temperature":0,{msgs}}}"#), 0));
        assert!(!limited(&format!(r#"{{"temperature":0.2,{msgs}}}"#), 0));
        assert!(!limited(&format!("{{{msgs}}}"), 50));
        assert!(limited(&format!("{{{msgs}}}"), 100));
        assert!(limited(&format!(r#"{{"temperature":0.5,{msgs}}}"#), 50));
        let mut gemini =
            br#"{"generationConfig":{"temperature":1.5},"contents":[{"parts":[{"text":"x"}]}]}"#
                .to_vec();
        let value = simd_json::to_borrowed_value(&mut gemini).unwrap();
        let mut h = KeyHasher(sha2::Sha256::new());
        assert!(split(&value, (Dialect::Gemini, true), 100, &mut h).is_none());
        // Gemini also takes the proto field names.
        let mut gemini =
            br#"{"generation_config":{"temperature":1.5},"contents":[{"parts":[{"text":"x"}]}]}"#
                .to_vec();
        let value = simd_json::to_borrowed_value(&mut gemini).unwrap();
        assert!(split(&value, (Dialect::Gemini, true), 100, &mut h).is_none());
    }

    #[test]
    fn anthropic_and_gemini_shapes() {
        let (text, _) = run(
            r#"{"model":"m","max_tokens":10,"system":"s","messages":[{"role":"user","content":[{"type":"text","text":"hello there"}]}]}"#,
            Dialect::Anthropic,
        )
        .unwrap();
        assert_eq!(text, "hello there");
        let (text, _) = run(
            r#"{"contents":[{"role":"user","parts":[{"text":"hallo"}]}]}"#,
            Dialect::Gemini,
        )
        .unwrap();
        assert_eq!(text, "hallo");
        assert!(run(
            r#"{"contents":[{"parts":[{"text":"hallo"}]}],"tools":[{}]}"#,
            Dialect::Gemini
        )
        .is_none());
        // Several candidates are asked for in the generation config, under either spelling.
        for config in [
            r#""generationConfig":{"candidateCount":2}"#,
            r#""generation_config":{"candidate_count":2}"#,
        ] {
            let body = format!(r#"{{{config},"contents":[{{"parts":[{{"text":"hallo"}}]}}]}}"#);
            assert!(run(&body, Dialect::Gemini).is_none(), "{body}");
        }
        let one = r#"{"generationConfig":{"candidateCount":1},"contents":[{"parts":[{"text":"hallo"}]}]}"#;
        assert!(run(one, Dialect::Gemini).is_some());
    }
}
