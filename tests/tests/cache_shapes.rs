//! One kept answer for a streamed and an unstreamed request of the same conversation: whichever
//! came first, the other is a hit served in its own shape — a real event stream in the client's
//! dialect, or one body — on every chat provider's format and on the native routes, with the
//! usage the provider reported, OpenAI's Responses API included; Gemini's JSON-array stream keeps
//! its own entry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use warden_tests::http::{post_json, Response};
use warden_tests::{chat_body, config, Driver, Gateway, Mock, KEY};

fn cached(mock: &Mock) -> String {
    config(mock.addr, 1, "").replace(
        "  { provider = \"google\", key = \"gm-key-5555\" },\n]",
        "  { provider = \"google\", key = \"gm-key-5555\" },\n]\n[tenants.projects.cache]\nmode = \"exact\"",
    )
}

fn is_stream(r: &Response) -> bool {
    r.header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream"))
}

/// The usage chunk of a stream whose client asked for it.
fn stream_usage(r: &Response) -> Value {
    r.events()
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .find(|c| c["usage"].is_object())
        .map(|c| c["usage"].clone())
        .unwrap_or_else(|| panic!("no usage chunk: {}", r.text()))
}

#[test]
fn a_stream_and_a_whole_answer_share_one_entry_on_every_chat_provider() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &cached(&mock));
    for alias in ["gpt-4o", "claude-4-sonnet", "gemini-2.0-flash"] {
        // Whole first, then streamed: the stream is the kept body, as events.
        let prompt = format!("kept whole for {alias} mock:chunks=3");
        let whole = gw.chat(&chat_body(alias, &prompt, false));
        assert_eq!(whole.header("x-warden-cache"), Some("miss"), "{alias}");
        let streamed = gw.chat(&chat_body(alias, &prompt, true));
        assert_eq!(streamed.status, 200, "{alias}: {}", streamed.text());
        assert_eq!(streamed.header("x-warden-cache"), Some("hit"), "{alias}");
        assert!(is_stream(&streamed), "{alias}: {:?}", streamed.headers);
        assert_eq!(streamed.stream_text(), whole.content(), "{alias}");
        assert_eq!(streamed.events().last().map(String::as_str), Some("[DONE]"));
        assert!(
            !streamed.text().contains("\"usage\":{"),
            "{alias}: no usage chunk for a client that did not ask: {}",
            streamed.text()
        );
        let mut with_usage = chat_body(alias, &prompt, true);
        with_usage["stream_options"] = json!({"include_usage": true});
        let asked = gw.chat(&with_usage);
        assert_eq!(asked.header("x-warden-cache"), Some("hit"), "{alias}");
        assert_eq!(stream_usage(&asked), whole.json()["usage"], "{alias}");

        // Streamed first, then whole: the body is the kept stream, joined.
        let prompt = format!("kept streamed for {alias} one two three mock:chunks=4");
        let mut first = chat_body(alias, &prompt, true);
        first["stream_options"] = json!({"include_usage": true});
        let first = gw.chat(&first);
        assert_eq!(first.header("x-warden-cache"), Some("miss"), "{alias}");
        let whole = gw.chat(&chat_body(alias, &prompt, false));
        assert_eq!(whole.status, 200, "{alias}: {}", whole.text());
        assert_eq!(whole.header("x-warden-cache"), Some("hit"), "{alias}");
        assert!(!is_stream(&whole), "{alias}");
        assert_eq!(whole.content(), first.stream_text(), "{alias}");
        assert!(
            whole.content().starts_with("echo: kept streamed"),
            "{alias}"
        );
        assert_eq!(whole.json()["usage"], stream_usage(&first), "{alias}");
    }
    assert_eq!(
        mock.captured().len(),
        6,
        "the provider was asked once a prompt"
    );
    let m = gw.metrics();
    assert!(m.contains("warden_cache_reshaped_total 9"), "{m}");
    assert!(m.contains("warden_cache_reshape_failed_total 0"), "{m}");
}

/// Every `data:` line of an event stream, parsed (Gemini ends its events with CRLF CRLF).
fn data_lines(r: &Response) -> Vec<Value> {
    r.text()
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

/// The text of an Anthropic event stream's text deltas, and of a Gemini stream's parts.
fn native_stream_text(r: &Response) -> String {
    data_lines(r)
        .iter()
        .map(|e| {
            let delta = e["delta"]["text"].as_str().unwrap_or_default().to_owned();
            let parts = e["candidates"][0]["content"]["parts"]
                .as_array()
                .map(|p| p.iter().filter_map(|p| p["text"].as_str()).collect())
                .unwrap_or_else(String::new);
            delta + &parts
        })
        .collect()
}

#[test]
fn native_routes_share_too_and_the_responses_api_serves_either_shape() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &cached(&mock));
    let messages = json!({"model": "claude-4-sonnet", "max_tokens": 64,
        "messages": [{"role": "user", "content": "native shapes mock:chunks=3"}]});
    let whole = post_json(gw.addr, "/v1/messages", KEY, &messages);
    assert_eq!(whole.header("x-warden-cache"), Some("miss"));
    let mut streamed = messages.clone();
    streamed["stream"] = json!(true);
    let streamed = post_json(gw.addr, "/v1/messages", KEY, &streamed);
    assert_eq!(streamed.header("x-warden-cache"), Some("hit"));
    assert!(is_stream(&streamed), "{:?}", streamed.headers);
    assert_eq!(
        native_stream_text(&streamed),
        whole.json()["content"][0]["text"].as_str().unwrap()
    );
    assert!(streamed.text().contains("event: message_stop"));

    let contents =
        json!({"contents": [{"role": "user", "parts": [{"text": "gemini shapes mock:chunks=3"}]}]});
    let sse = "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse";
    let first = post_json(gw.addr, sse, KEY, &contents);
    assert_eq!(first.header("x-warden-cache"), Some("miss"));
    let whole = post_json(
        gw.addr,
        "/v1beta/models/gemini-2.0-flash:generateContent",
        KEY,
        &contents,
    );
    assert_eq!(whole.header("x-warden-cache"), Some("hit"));
    let parts = whole.json()["candidates"][0]["content"]["parts"].clone();
    assert_eq!(parts.as_array().map(Vec::len), Some(1), "joined: {parts}");
    assert_eq!(
        parts[0]["text"].as_str(),
        Some(native_stream_text(&first).as_str())
    );
    assert_eq!(
        whole.json()["usageMetadata"]["candidatesTokenCount"],
        data_lines(&first).last().unwrap()["usageMetadata"]["candidatesTokenCount"]
    );
    // Without alt=sse Gemini streams a JSON array: its own entry.
    let array = post_json(
        gw.addr,
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
        KEY,
        &contents,
    );
    assert_eq!(array.header("x-warden-cache"), Some("miss"));
    assert!(array.json().is_array(), "{}", array.text());

    // OpenAI's Responses API: a kept response is served as the API's typed events, and a kept
    // stream answers a request for the whole response with its last event's.
    let input = json!({"model": "gpt-4o", "input": "responses shapes mock:chunks=3"});
    let whole = post_json(gw.addr, "/v1/responses", KEY, &input);
    assert_eq!(whole.header("x-warden-cache"), Some("miss"));
    let mut streamed = input.clone();
    streamed["stream"] = json!(true);
    let streamed = post_json(gw.addr, "/v1/responses", KEY, &streamed);
    assert_eq!(streamed.header("x-warden-cache"), Some("hit"));
    assert!(is_stream(&streamed), "{:?}", streamed.headers);
    let events = data_lines(&streamed);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"response.created"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"response.completed"), "{kinds:?}");
    let deltas: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    let text = |v: &Value| v["output"][0]["content"][0]["text"].clone();
    assert_eq!(json!(deltas), text(&whole.json()));
    assert_eq!(
        text(&events[events.len() - 1]["response"]),
        text(&whole.json())
    );
    for (n, e) in events.iter().enumerate() {
        assert_eq!(e["sequence_number"], json!(n), "{e}");
    }
    assert_eq!(gw.metric("warden_cache_reshape_failed_total"), Some(0));

    let input = json!({"model": "gpt-4o", "input": "responses streamed first"});
    let mut streamed = input.clone();
    streamed["stream"] = json!(true);
    let streamed = post_json(gw.addr, "/v1/responses", KEY, &streamed);
    assert_eq!(streamed.header("x-warden-cache"), Some("miss"));
    let again = post_json(gw.addr, "/v1/responses", KEY, &input);
    assert_eq!(again.header("x-warden-cache"), Some("hit"));
    assert!(!is_stream(&again));
    let completed = data_lines(&streamed)
        .into_iter()
        .find(|e| e["type"] == "response.completed")
        .unwrap();
    assert_eq!(again.json()["output"], completed["response"]["output"]);
    assert_eq!(text(&again.json()), json!("echo: responses streamed first"));
    // Anthropic once, Gemini twice (SSE, then the array), the Responses API twice.
    assert_eq!(mock.captured().len(), 5);
}
