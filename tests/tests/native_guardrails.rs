//! Response-side guardrails on the native routes (`/v1/messages`, Gemini `generateContent` and
//! `streamGenerateContent`): values the provider produces are redacted across event boundaries,
//! restore gives the client its own values back, and a blocked value ends the answer in the
//! route's own dialect — streamed and whole.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use warden_tests::http::{post_json, Response};
use warden_tests::{audit_export, config, shows_test_card, Driver, Gateway, Mock, KEY};

fn policy(mock: &Mock, pii: &str, response_pii: &str) -> String {
    config(mock.addr, 1, "").replace(
        "  { provider = \"google\", key = \"gm-key-5555\" },\n]",
        &format!(
            "  {{ provider = \"google\", key = \"gm-key-5555\" }},\n]\n[tenants.projects.guardrails]\npii = \"{pii}\"\nresponse_pii = \"{response_pii}\"\n"
        ),
    )
}

const ANSWER: &str =
    "Your card 4111 1111 1111 1111 is on file; we will write to jane.doe@example.com soon.";
const REDACTED: &str = "Your card [CARD_1] is on file; we will write to [EMAIL_1] soon.";

fn knobs() -> String {
    let hex: String = ANSWER.bytes().map(|b| format!("{b:02x}")).collect();
    format!("mock:reply_hex={hex} mock:chunks=30")
}

fn anthropic(gw: &Gateway, text: &str, stream: bool) -> Response {
    let body = json!({"model": "claude-4-sonnet", "max_tokens": 64, "stream": stream,
        "messages": [{"role": "user", "content": text}]});
    post_json(gw.addr, "/v1/messages", KEY, &body)
}

fn gemini(gw: &Gateway, text: &str, method: &str) -> Response {
    let body = json!({"contents": [{"role": "user", "parts": [{"text": text}]}]});
    post_json(
        gw.addr,
        &format!("/v1beta/models/gemini-2.0-flash:{method}"),
        KEY,
        &body,
    )
}

/// The text of an Anthropic stream's `text_delta` events, and the events' data.
fn anthropic_text(res: &Response) -> (String, Vec<Value>) {
    let events: Vec<Value> = res
        .events()
        .iter()
        .filter_map(|e| serde_json::from_str(e).ok())
        .collect();
    let text = events
        .iter()
        .filter(|e| e["type"] == "content_block_delta")
        .filter_map(|e| e["delta"]["text"].as_str())
        .collect();
    (text, events)
}

/// The text of a Gemini stream's chunks (or of a JSON array of responses), and the chunks.
fn gemini_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["candidates"][0]["content"]["parts"].as_array())
        .flatten()
        .filter_map(|p| p["text"].as_str())
        .collect()
}

fn gemini_chunks(res: &Response) -> Vec<Value> {
    res.events()
        .iter()
        .filter_map(|e| serde_json::from_str(e).ok())
        .collect()
}

#[test]
fn native_answers_are_redacted_streamed_and_whole() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &policy(&mock, "off", "redact"));

    let res = anthropic(&gw, &knobs(), true);
    assert_eq!(res.status, 200, "{}", res.text());
    let (text, events) = anthropic_text(&res);
    assert_eq!(text, REDACTED);
    assert!(events.len() > 10, "still streamed event by event");
    assert_eq!(events.last().unwrap()["type"], "message_stop");
    assert!(!shows_test_card(&res.text()));

    let res = anthropic(&gw, &knobs(), false);
    assert_eq!(res.json()["content"][0]["text"], REDACTED);

    let res = gemini(&gw, &knobs(), "streamGenerateContent?alt=sse");
    assert_eq!(res.status, 200, "{}", res.text());
    let chunks = gemini_chunks(&res);
    assert_eq!(gemini_text(&chunks), REDACTED);
    assert!(chunks.len() > 10, "still streamed chunk by chunk");

    let res = gemini(&gw, &knobs(), "generateContent");
    assert_eq!(
        res.json()["candidates"][0]["content"]["parts"][0]["text"],
        REDACTED
    );

    let records = audit_export(&gw.audit_dir());
    let redactions = records
        .iter()
        .filter(|r| {
            r["verdicts"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x["action"] == "redact"))
        })
        .count();
    assert_eq!(redactions, 4, "one record per answer carries the verdicts");
    assert!(!shows_test_card(&serde_json::to_string(&records).unwrap()));
}

#[test]
fn native_restore_gives_the_client_its_values_back() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::Epoll, &policy(&mock, "restore", "off"));
    let prompt = "Reply to jane.doe@example.com about card 4111 1111 1111 1111. mock:chunks=40";
    let echo = format!("echo: {prompt}");

    let (text, _) = anthropic_text(&anthropic(&gw, prompt, true));
    assert_eq!(text, echo);
    let sent = mock.captured().pop().unwrap().to_string();
    assert!(
        sent.contains("[EMAIL_1]") && !sent.contains("jane.doe"),
        "{sent}"
    );
    assert_eq!(
        anthropic(&gw, prompt, false).json()["content"][0]["text"],
        echo
    );

    let chunks = gemini_chunks(&gemini(&gw, prompt, "streamGenerateContent?alt=sse"));
    assert_eq!(gemini_text(&chunks), echo);
    let sent = mock.captured().pop().unwrap().to_string();
    assert!(
        sent.contains("[CARD_1]") && !shows_test_card(&sent),
        "{sent}"
    );
    // Without alt=sse the stream is one JSON array of responses.
    let whole = gemini(&gw, prompt, "streamGenerateContent").json();
    assert_eq!(gemini_text(whole.as_array().unwrap()), echo);
}

#[test]
fn a_blocked_value_ends_native_answers_in_their_dialect() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &policy(&mock, "off", "block"));

    let res = anthropic(&gw, &knobs(), true);
    let (text, events) = anthropic_text(&res);
    assert_eq!(text, "Your card ", "nothing from the blocked value on");
    assert!(events
        .iter()
        .any(|e| e["type"] == "message_delta" && e["delta"]["stop_reason"] == "refusal"));
    let last = events.last().unwrap();
    assert_eq!(last["type"], "error");
    assert!(last["error"]["message"]
        .as_str()
        .unwrap()
        .contains("guardrail_blocked"));
    assert!(!shows_test_card(&res.text()));

    let whole = anthropic(&gw, &knobs(), false).json();
    assert_eq!(whole["stop_reason"], "refusal");
    assert_eq!(whole["content"][0]["text"], "");

    let res = gemini(&gw, &knobs(), "streamGenerateContent?alt=sse");
    let chunks = gemini_chunks(&res);
    assert_eq!(gemini_text(&chunks), "Your card ");
    assert!(chunks
        .iter()
        .any(|c| c["candidates"][0]["finishReason"] == "SPII"));
    assert_eq!(chunks.last().unwrap()["error"]["code"], 400);
    assert!(!shows_test_card(&res.text()));

    let whole = gemini(&gw, &knobs(), "generateContent").json();
    assert_eq!(whole["candidates"][0]["finishReason"], "SPII");
    assert_eq!(whole["candidates"][0]["content"]["parts"][0]["text"], "");
}
