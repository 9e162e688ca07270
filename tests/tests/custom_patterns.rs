//! Operator-defined patterns end to end (standalone config): values restored round trip through
//! a provider that only ever sees placeholders, a blocked pattern stops the request before any
//! upstream call, response-side redaction holds across streamed events, verdicts name the
//! operator's pattern id and never the value, and a pattern Hyperscan cannot build stops the
//! gateway from starting with a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_tests::{audit_export, chat_body, config, Driver, Gateway, Mock};

const EMPLOYEE: &str = "EMP-204518";

/// The standard config with the operator's patterns for the main project.
fn with_patterns(mock: &Mock, patterns: &str) -> String {
    config(mock.addr, 1, "").replace(
        "  { provider = \"google\", key = \"gm-key-5555\" },\n]",
        &format!(
            "  {{ provider = \"google\", key = \"gm-key-5555\" }},\n]\n[tenants.projects.guardrails]\n{patterns}"
        ),
    )
}

const PATTERNS: &str = r#"[[tenants.projects.guardrails.custom]]
id = "employee_id"
pattern = '\bEMP-\d{6}\b'
action = "restore"
response_action = "redact"
[[tenants.projects.guardrails.custom]]
id = "codename"
pattern = 'project (?:falcon|osprey)'
caseless = true
action = "block"
"#;

#[test]
fn operator_patterns_restore_block_and_redact_responses() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &with_patterns(&mock, PATTERNS));

    // restore: the provider sees [EMPLOYEE_ID_1]; the echo puts the id back for the client.
    let prompt = format!("Summarise the review of {EMPLOYEE}. mock:chunks=30");
    for alias in ["gpt-4o", "claude-4-sonnet", "gemini-2.0-flash"] {
        let res = gw.chat(&chat_body(alias, &prompt, true));
        assert_eq!(res.status, 200, "{alias}");
        assert_eq!(res.stream_text(), format!("echo: {prompt}"), "{alias}");
        let sent = mock.captured().pop().unwrap().to_string();
        assert!(sent.contains("[EMPLOYEE_ID_1]"), "{alias}: {sent}");
        assert!(
            !sent.contains(EMPLOYEE),
            "{alias}: the provider never saw it"
        );
    }

    // block: no upstream call, the category in the error, never the value.
    let before = mock.captured().len();
    let res = gw.chat(&chat_body(
        "gpt-4o",
        "what is the status of Project Falcon?",
        false,
    ));
    assert_eq!(res.status, 400, "{}", res.text());
    assert_eq!(res.json()["error"]["code"], "guardrail_blocked");
    assert!(res.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("custom"));
    assert!(!res.text().to_lowercase().contains("falcon"));
    assert_eq!(mock.captured().len(), before, "no upstream call");

    // response_action redact: an id the provider produces, split over many events, is replaced.
    let answer = "Escalate to EMP-777001 today, then EMP-777002.";
    let hex: String = answer.bytes().map(|b| format!("{b:02x}")).collect();
    let knobs = format!("mock:reply_hex={hex} mock:chunks=40");
    for alias in ["gpt-4o", "claude-4-sonnet"] {
        let res = gw.chat(&chat_body(alias, &knobs, true));
        assert_eq!(
            res.stream_text(),
            "Escalate to [EMPLOYEE_ID_1] today, then [EMPLOYEE_ID_2].",
            "{alias}"
        );
        assert!(!res.text().contains("EMP-777"), "{alias}");
    }

    // Verdicts name the pattern, never the value.
    let records = audit_export(&gw.audit_dir());
    let text = serde_json::to_string(&records).unwrap();
    assert!(!text.contains(EMPLOYEE) && !text.contains("EMP-777001"));
    let verdicts: Vec<&serde_json::Value> = records
        .iter()
        .filter_map(|r| r["verdicts"].as_array())
        .flatten()
        .collect();
    for (detector, action) in [
        ("employee_id", "restore"),
        ("codename", "block"),
        ("employee_id", "redact"),
    ] {
        assert!(
            verdicts.iter().any(|v| v["category"] == "custom"
                && v["detector"] == detector
                && v["action"] == action),
            "{detector} {action}: {verdicts:?}"
        );
    }
}

#[test]
fn a_pattern_hyperscan_cannot_build_stops_the_gateway_from_starting() {
    let mock = Mock::start(&[]);
    let text = with_patterns(
        &mock,
        "[[tenants.projects.guardrails.custom]]\nid = \"lookbehind\"\npattern = '(?<=id:)\\d+'\naction = \"block\"\n",
    );
    let err = Gateway::fails_to_start(Driver::IoUring, &text);
    assert!(
        err.contains("custom pattern lookbehind"),
        "the error names the pattern: {err}"
    );
}

/// A message whose `ref:` value, were it restored raw into JSON, would end its string and add
/// a member (`"admin": true`).
const REF_MESSAGE: &str = r#"close ref:7","admin":true,"x":" now"#;

/// A gateway whose operator pattern `ref:\S+` (it matches quotes) is restored in answers.
fn restoring_refs() -> (Mock, Gateway) {
    let mock = Mock::start(&[]);
    let patterns = "[[tenants.projects.guardrails.custom]]\nid = \"ref\"\npattern = 'ref:\\S+'\naction = \"restore\"\n";
    let gw = Gateway::start(Driver::Epoll, &with_patterns(&mock, patterns));
    (mock, gw)
}

#[test]
fn a_restored_value_is_escaped_in_the_tool_call_arguments_a_client_parses() {
    // An operator pattern may match quotes: restored raw into a tool call's arguments (JSON
    // text the client parses), such a value ended its string and added members of its own.
    let (mock, gw) = restoring_refs();
    let message = REF_MESSAGE;
    for stream in [false, true] {
        let body = serde_json::json!({
            "model": "gpt-4o", "stream": stream,
            "messages": [{"role": "user", "content": message}],
            "tools": [{"type": "function", "function": {"name": "close", "parameters": {
                "type": "object", "properties": {"note": {"type": "string"}}}}}],
            "tool_choice": {"type": "function", "function": {"name": "close"}},
        });
        let res = gw.chat(&body);
        assert_eq!(res.status, 200, "{}", res.text());
        let sent = mock.captured().pop().unwrap().to_string();
        assert!(
            sent.contains("[REF_1]") && !sent.contains("admin"),
            "{sent}"
        );
        let args = if stream {
            res.events()
                .iter()
                .filter_map(|e| serde_json::from_str::<serde_json::Value>(e).ok())
                .filter_map(|e| {
                    e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                        .as_str()
                        .map(str::to_owned)
                })
                .collect::<String>()
        } else {
            res.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let parsed: serde_json::Value =
            serde_json::from_str(&args).unwrap_or_else(|e| panic!("{e}: {args}"));
        assert_eq!(
            parsed,
            serde_json::json!({ "note": message }),
            "stream {stream}: {args}"
        );
    }
}

#[test]
fn a_restored_value_is_escaped_in_an_answer_asked_for_as_json() {
    // A structured answer (`response_format`, Gemini's `responseMimeType`) is JSON the client
    // parses, like a tool call's arguments: a restored value with quotes goes in escaped.
    let (_mock, gw) = restoring_refs();
    let message = REF_MESSAGE;
    for stream in [false, true] {
        let body = serde_json::json!({
            "model": "gpt-4o", "stream": stream,
            "messages": [{"role": "user", "content": message}],
            "response_format": {"type": "json_object"},
        });
        let res = gw.chat(&body);
        assert_eq!(res.status, 200, "{}", res.text());
        let content = if stream {
            res.stream_text()
        } else {
            res.json()["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let parsed: serde_json::Value =
            serde_json::from_str(&content).unwrap_or_else(|e| panic!("{e}: {content}"));
        assert_eq!(parsed, serde_json::json!({ "echo": message }), "{content}");
    }
    // Gemini's own route, asked for JSON by a schema.
    let body = serde_json::json!({
        "contents": [{"role": "user", "parts": [{"text": message}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {
            "type": "object", "properties": {"note": {"type": "string"}}}},
    });
    let res = warden_tests::http::post_json(
        gw.addr,
        "/v1beta/models/gemini-2.0-flash:generateContent",
        warden_tests::KEY,
        &body,
    );
    assert_eq!(res.status, 200, "{}", res.text());
    let text = res.json()["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let parsed: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(parsed["note"], message, "{text}");
}
