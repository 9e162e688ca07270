//! Tests of `fields.rs`: the strings of an answer besides its content, streamed and whole.

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

/// A chunk carrying a piece of tool call 0's arguments.
fn arguments_chunk(args: &str) -> String {
    chunk(
        &format!(r#"{{"tool_calls":[{{"index":0,"function":{{"arguments":"{args}"}}}}]}}"#),
        "null",
    )
}

/// An Anthropic `input_json_delta` event of block 1 carrying `json`.
fn input_json_delta(json: &str) -> String {
    format!(
        r#"{{"type":"content_block_delta","index":1,"delta":{{"type":"input_json_delta","partial_json":"{json}"}}}}"#
    )
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
    let chunks = vec![
        chunk(
            r#"{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"send","arguments":""}}]}"#,
            "null",
        ),
        arguments_chunk(r#"{\"to\":\"[EMA"#),
        arguments_chunk(r#"IL_1]\",\"card\":\"4111 1111 "#),
        arguments_chunk(r#"1111 1111\"}"#),
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
    let mut g = restoring(Dialect::Anthropic);
    let events = [
        ("content_block_start", r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"send","input":{}}}"#.to_owned()),
        ("content_block_delta", input_json_delta(r#"{\"to\": \"[EMAIL"#)),
        ("content_block_delta", input_json_delta(r#"_1]\", \"cc\": \"bob@exa"#)),
        ("content_block_delta", input_json_delta(r#"mple.org"#)),
        ("content_block_stop", r#"{"type":"content_block_stop","index":1}"#.to_owned()),
        ("message_stop", r#"{"type":"message_stop"}"#.to_owned()),
    ];
    let events: Vec<(&str, &str)> = events.iter().map(|(n, d)| (*n, d.as_str())).collect();
    let out = crate::guard::response::tests::named_through(&mut g, &events);
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

/// An operator pattern's value with characters JSON must escape, and what a client that parses a
/// tool call's arguments must get back.
const ODD: &str = "ACCT \"7\\x\"\n, \"admin\": true";

#[test]
fn a_restored_value_goes_into_streamed_arguments_escaped_and_into_content_as_it_is() {
    let mut g = crate::guard::response::tests::restoring_value(Dialect::OpenAi, ODD, "[ACCT_1]");
    let chunks = vec![
        chunk(
            r#"{"role":"assistant","content":"Account [ACCT_1].","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"close","arguments":""}}]}"#,
            "null",
        ),
        arguments_chunk(r#"{\"account\":\"[AC"#),
        arguments_chunk(r#"CT_1]\"}"#),
        chunk("{}", r#""tool_calls""#),
        "[DONE]".to_owned(),
    ];
    let out = run(&mut g, &chunks);
    let args = rebuilt(&out, "/choices/0/delta/tool_calls/0/function/arguments");
    let parsed: serde_json::Value =
        serde_json::from_str(&args).unwrap_or_else(|e| panic!("{e}: {args}"));
    assert_eq!(parsed, serde_json::json!({ "account": ODD }), "{args}");
    assert_eq!(
        rebuilt(&out, "/choices/0/delta/content"),
        format!("Account {ODD}.")
    );
}

#[test]
fn a_restored_value_goes_into_a_whole_answers_arguments_escaped() {
    let engine = Engine::for_tests();
    let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
    let mut g = crate::guard::response::tests::restoring_value(Dialect::OpenAi, ODD, "[ACCT_1]");
    let body = br#"{"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"close","arguments":"{\"account\":\"[ACCT_1]\"}"}}]},"finish_reason":"tool_calls"}]}"#;
    let out = g
        .filter_body(engine, &scratch, body)
        .unwrap_or_else(|| panic!("rewritten"));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    let args = v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap_or_default();
    let parsed: serde_json::Value =
        serde_json::from_str(args).unwrap_or_else(|e| panic!("{e}: {args}"));
    assert_eq!(parsed["account"], ODD, "{args}");
    assert!(parsed.get("admin").is_none(), "{args}");
}

#[test]
fn a_restored_value_goes_into_an_anthropic_tools_streamed_input_escaped() {
    let mut g = crate::guard::response::tests::restoring_value(Dialect::Anthropic, ODD, "[ACCT_1]");
    let events = [
        ("content_block_start", r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"close","input":{}}}"#.to_owned()),
        ("content_block_delta", input_json_delta(r#"{\"account\": \"[ACCT"#)),
        ("content_block_delta", input_json_delta(r#"_1]\"}"#)),
        ("content_block_stop", r#"{"type":"content_block_stop","index":1}"#.to_owned()),
        ("message_stop", r#"{"type":"message_stop"}"#.to_owned()),
    ];
    let events: Vec<(&str, &str)> = events.iter().map(|(n, d)| (*n, d.as_str())).collect();
    let out = crate::guard::response::tests::named_through(&mut g, &events);
    let input = rebuilt(&out, "/delta/partial_json");
    let parsed: serde_json::Value =
        serde_json::from_str(&input).unwrap_or_else(|e| panic!("{e}: {input}"));
    assert_eq!(parsed, serde_json::json!({ "account": ODD }), "{out}");
}

#[test]
fn a_value_written_with_json_escapes_in_streamed_arguments_is_found_across_chunks() {
    // The client parses the arguments and reads `\u0040` as `@`: the model wrote the address.
    let (_, _, mut g) = crate::guard::response::tests::redacting(Dialect::OpenAi);
    let chunks = vec![
        chunk(
            r#"{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"send","arguments":""}}]}"#,
            "null",
        ),
        arguments_chunk(r#"{\"to\":\"jane\\u00"#),
        arguments_chunk(r#"40example.com\"}"#),
        chunk("{}", r#""tool_calls""#),
        "[DONE]".to_owned(),
    ];
    let out = run(&mut g, &chunks);
    let args = rebuilt(&out, "/choices/0/delta/tool_calls/0/function/arguments");
    assert_eq!(args, r#"{"to":"[EMAIL_1]"}"#, "{out}");
}
