//! The body scanners of `route.rs` on hand-written bodies: spans, repeated keys, removals.

use super::*;

fn inspect(body: &str) -> Result<ChatFields> {
    inspect_chat(body.as_bytes(), &mut Vec::new())
}

#[test]
fn a_member_is_found_only_where_it_is_unambiguous() {
    let b = br#"{"a": 1, "delta" : {"content":"hi \"there\"","x":[1,{"content":2}]}}"#;
    let delta = unique_member(b, 0, b"delta").unwrap_or_default();
    let content = unique_member(b, delta.start, b"content").unwrap_or_default();
    assert_eq!(&b[content], br#""hi \"there\"""#);
    assert_eq!(unique_member(b, 0, b"missing"), None);
    let twice = br#"{"content":"a","content":"b"}"#;
    assert_eq!(unique_member(twice, 0, b"content"), None);
    let escaped = br#"{"content":"a","con\u0074ent":"b"}"#;
    assert_eq!(unique_member(escaped, 0, b"content"), None);
    let arr = br#"[ {"k":1}, 2]"#;
    assert_eq!(first_element(arr, 0), Some(2));
    assert_eq!(array_elements(arr, 0), Some(vec![2..9, 11..12]));
    assert_eq!(first_element(b"[ ]", 0), None);
}

#[test]
fn finds_fields_and_rewrites_only_the_model() -> Result<()> {
    let body = r#"{"messages":[{"role":"user","content":"say \"model\": {x}"}], "model" : "gpt-4o", "stream":true,
        "stream_options":{"include_usage":true},"temperature":0.2}"#;
    let f = inspect(body)?;
    assert_eq!(
        (f.model.as_str(), f.stream, f.include_usage),
        ("gpt-4o", true, true)
    );
    let (before, after) = split_at_model(body.as_bytes(), &f.model_span);
    let rebuilt = [before, b"\"gpt-4o-2024-08-06\"", after].concat();
    assert_eq!(
        String::from_utf8_lossy(&rebuilt),
        body.replace("\"gpt-4o\"", "\"gpt-4o-2024-08-06\"")
    );
    Ok(())
}

#[test]
fn removals_keep_the_json_valid() -> Result<()> {
    let cases = [
        (r#"{"a":1,"logprobs":true,"b":2}"#, r#"{"a":1,"b":2}"#),
        (r#"{"logprobs":true,"a":1}"#, r#"{"a":1}"#),
        (r#"{"a":1, "logprobs" : true }"#, r#"{"a":1 }"#),
        (r#"{"a":1,"logprobs":true,"top_logprobs":3}"#, r#"{"a":1}"#),
        (
            r#"{"logprobs":true,"top_logprobs":3,"a":{"x":[1,"}"]}}"#,
            r#"{"a":{"x":[1,"}"]}}"#,
        ),
        (r#"{"logprobs":true}"#, r#"{}"#),
    ];
    for (body, want) in cases {
        let cuts = removals(body.as_bytes(), &["logprobs", "top_logprobs"]);
        let mut out = Vec::new();
        let mut at = 0;
        for r in cuts {
            out.extend_from_slice(&body.as_bytes()[at..r.start]);
            at = r.end;
        }
        out.extend_from_slice(&body.as_bytes()[at..]);
        assert_eq!(String::from_utf8_lossy(&out), want, "{body}");
    }
    Ok(())
}

#[test]
fn stream_options_always_ask_for_usage_and_keep_the_rest() {
    let cases = [
        (r#"null"#, Some(r#"{"include_usage":true}"#)),
        (r#"{}"#, Some(r#"{"include_usage":true}"#)),
        (
            r#"{"include_usage":false}"#,
            Some(r#"{"include_usage":true}"#),
        ),
        (
            r#"{ "x" : [1, {"y":2}] , "include_usage" : false }"#,
            Some(r#"{"include_usage":true,"x":[1, {"y":2}]}"#),
        ),
        (r#""yes""#, None),
    ];
    for (value, want) in cases {
        let got = stream_options_with_usage(value.as_bytes());
        assert_eq!(
            got.as_deref().map(String::from_utf8_lossy).as_deref(),
            want,
            "{value}"
        );
    }
}

#[test]
fn refuses_ambiguous_or_invalid_bodies() {
    let cases = [
        (
            r#"{"model":"a","model":"b","messages":[1]}"#,
            Kind::InvalidRequest,
        ),
        (r#"{"mod\u0065l":"a","messages":[1]}"#, Kind::InvalidRequest),
        (
            r#"{"model":"a","mod\u0065l":"b","messages":[1]}"#,
            Kind::InvalidRequest,
        ),
        (
            r#"{"model":"g\u0070t","messages":[1]}"#,
            Kind::InvalidRequest,
        ),
        (r#"{"model":"a","messages":[]}"#, Kind::InvalidRequest),
        (r#"{"model":7,"messages":[1]}"#, Kind::InvalidRequest),
        (
            r#"{"model":"a","messages":[1],"stream":"yes"}"#,
            Kind::InvalidRequest,
        ),
        (r#"["model"]"#, Kind::InvalidRequest),
        (r#"{"model":"a","messages":[1]"#, Kind::InvalidJson),
        ("", Kind::InvalidJson),
    ];
    for (body, kind) in cases {
        assert_eq!(inspect(body).err().map(|e| e.kind), Some(kind), "{body}");
    }
}
