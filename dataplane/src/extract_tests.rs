//! Tests of `extract.rs`: what each dialect's reader reports, and where from.

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
            // A stop sequence goes upstream as text.
            (Source::ToolResult, "END".into()),
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
            (Source::ToolResult, "END".into()),
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
            (Source::ToolResult, "END".into()),
        ]
    );
}

#[test]
fn a_responses_body_is_read_with_every_item_type_chat_would_drop() {
    let body = r#"{"model":"m","instructions":"Be brief",
        "input":[{"role":"user","content":[{"type":"input_text","text":"hi"},{"type":"input_image","image_url":"data:x"}]},
          {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"thought"}],"encrypted_content":"opaque"},
          {"type":"function_call","call_id":"c1","name":"f","arguments":"{\"q\":1}"},
          {"type":"function_call_output","call_id":"c1","output":"tool said"},
          {"type":"mcp_call","id":"m1","name":"x","arguments":"mcp args","output":"mcp said"},
          {"type":"brand_new_item","id":"n1","nested":{"words":["new text"]}},
          {"type":"item_reference","id":"msg_1"}],
        "tools":[{"type":"function","name":"f","description":"fn description","parameters":{"type":"object"}},
          {"type":"custom","name":"g","description":"custom description","format":{"type":"grammar","definition":"start: x"}}],
        "text":{"format":{"type":"json_schema","name":"out","schema":{"properties":{"k":{"description":"schema text"}}}}},
        "prompt":{"id":"p","variables":{"city":"Paris"}}}"#;
    let mut bytes = body.as_bytes().to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut seen = Vec::new();
    responses(&v, &mut |s, t| seen.push((s, t.to_owned())));
    for want in [
        (Source::System, "Be brief"),
        (Source::User, "hi"),
        (Source::Assistant, "thought"),
        (Source::ToolArguments, r#"{"q":1}"#),
        (Source::ToolResult, "tool said"),
        (Source::ToolResult, "mcp args"),
        (Source::ToolResult, "mcp said"),
        (Source::ToolResult, "new text"),
        (Source::Definition, "fn description"),
        (Source::Definition, "custom description"),
        (Source::Definition, "start: x"),
        (Source::Definition, "schema text"),
        (Source::User, "Paris"),
    ] {
        assert!(
            seen.contains(&(want.0, want.1.to_string())),
            "{want:?} not in {seen:?}"
        );
    }
    // Ids, states and opaque data are not text.
    for never in [
        "opaque",
        "rs_1",
        "c1",
        "n1",
        "msg_1",
        "data:x",
        "function_call_output",
    ] {
        assert!(!seen.iter().any(|(_, t)| t == never), "{never} in {seen:?}");
    }
}

#[test]
fn keys_a_reader_does_not_know_are_read_whole_and_the_model_is_not() {
    let cases: [(Dialect, &str); 3] = [
        (
            Dialect::OpenAi,
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"user":"jane@example.com","session_note":"SSN 123-45-6789","metadata":{"ref":"card 4111"}}"#,
        ),
        (
            Dialect::Anthropic,
            r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"session_note":"SSN 123-45-6789","metadata":{"user_id":"jane@example.com"}}"#,
        ),
        (
            Dialect::Gemini,
            r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"session_note":"SSN 123-45-6789","generationConfig":{"stopSequences":["jane@example.com"]}}"#,
        ),
    ];
    for (dialect, body) in cases {
        let mut bytes = body.as_bytes().to_vec();
        let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        texts(dialect, &v, &mut |s, t| out.push((s, t.to_owned())));
        let read = |t: &str| out.iter().any(|(s, x)| *s == Source::ToolResult && x == t);
        // The value goes upstream; the key's name is the caller's field, not data.
        assert!(
            read("SSN 123-45-6789") && !read("session_note"),
            "{dialect:?}: {out:?}"
        );
        assert!(read("jane@example.com"), "{dialect:?}: {out:?}");
        assert!(
            !out.iter().any(|(_, x)| x == "m"),
            "{dialect:?}: the model is not text"
        );
        assert_eq!(
            out.first(),
            Some(&(Source::User, "hi".to_owned())),
            "{dialect:?}"
        );
    }
}

#[test]
fn a_token_count_reads_the_request_it_carries_and_nothing_escapes_the_nesting() {
    // Gemini's countTokens takes `contents`, or a whole request under `generateContentRequest`.
    let body = r#"{"generateContentRequest":{"model":"models/m","systemInstruction":{"parts":[{"text":"be brief"}]},
        "contents":[{"role":"user","parts":[{"text":"mail jane@example.com"}]}],
        "generateContentRequest":{"contents":[{"parts":[{"text":"SSN 123-45-6789"}]}]}}}"#;
    let mut bytes = body.as_bytes().to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    texts(Dialect::Gemini, &v, &mut |s, t| out.push((s, t.to_owned())));
    let has = |s: Source, t: &str| out.iter().any(|(x, y)| *x == s && y == t);
    assert!(has(Source::System, "be brief"), "{out:?}");
    assert!(has(Source::User, "mail jane@example.com"), "{out:?}");
    // A request nested in the nested one is not read as a request, and not skipped either.
    assert!(has(Source::ToolResult, "SSN 123-45-6789"), "{out:?}");
    // Not an object: read as the unknown key's value it is.
    let mut bytes = br#"{"generateContentRequest":"card 4111 1111 1111 1111"}"#.to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    texts(Dialect::Gemini, &v, &mut |s, t| out.push((s, t.to_owned())));
    assert!(
        out.iter().any(|(_, t)| t == "card 4111 1111 1111 1111"),
        "{out:?}"
    );
}
