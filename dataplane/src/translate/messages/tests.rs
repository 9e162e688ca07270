//! Anthropic Messages over chat: the request as a chat request, the chat answer back as a
//! message, whole and streamed.

use simd_json::prelude::*;
use simd_json::OwnedValue;

use super::*;
use crate::sse::events_in;

fn json(bytes: &[u8]) -> OwnedValue {
    let mut copy = bytes.to_vec();
    simd_json::to_owned_value(&mut copy)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn chat_of(body: &str) -> Result<OwnedValue> {
    let mut bytes = body.as_bytes().to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).expect("json");
    let mut out = Vec::new();
    request(&v, &mut out)?;
    Ok(json(&out))
}

fn echo() -> Echo {
    Echo {
        id: "msg_1".into(),
        model: "gpt-4o".into(),
    }
}

#[test]
fn a_conversation_with_tools_becomes_a_chat_request() {
    let c = chat_of(
        r#"{"model":"gpt-4o","max_tokens":100,"temperature":0,"stop_sequences":["END"],
        "metadata":{"user_id":"u1"},"stream":true,"top_k":5,
        "system":[{"type":"text","text":"be brief"},{"type":"text","text":"be kind"}],
        "tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object"}}],
        "tool_choice":{"type":"tool","name":"get_weather","disable_parallel_tool_use":true},
        "messages":[
          {"role":"user","content":[{"type":"text","text":"look"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]},
          {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"text","text":"Checking."},
            {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
          {"role":"user","content":[{"type":"text","text":"and?"},{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"15C"}]}]}]}"#,
    )
    .expect("converts");
    let m = c["messages"].as_array().expect("messages");
    assert_eq!(
        m[0],
        json(br#"{"role":"system","content":"be brief\nbe kind"}"#)
    );
    assert_eq!(
        m[1]["content"][1]["image_url"]["url"],
        "data:image/png;base64,AAAA"
    );
    assert_eq!(m[2]["content"], "Checking.", "thinking left out");
    assert_eq!(m[2]["tool_calls"][0]["id"], "toolu_1");
    assert_eq!(
        m[2]["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Paris"}"#
    );
    // The tool result answers the call before any other part of its turn.
    assert_eq!(
        m[3],
        json(br#"{"role":"tool","tool_call_id":"toolu_1","content":"15C"}"#)
    );
    assert_eq!(m[4]["content"][0]["text"], "and?");
    assert_eq!(c["tools"][0]["function"]["parameters"]["type"], "object");
    assert_eq!(c["tool_choice"]["function"]["name"], "get_weather");
    assert_eq!(c["parallel_tool_calls"], false);
    assert_eq!(c["stop"][0], "END");
    assert_eq!(c["user"], "u1");
    assert_eq!(c["temperature"], 0);
    assert_eq!(c["max_tokens"], 100);
    assert_eq!(c["stream_options"]["include_usage"], true);
    assert!(c.get("top_k").is_none());
}

#[test]
fn what_only_anthropic_runs_is_refused() {
    for body in [
        r#"{"model":"m","max_tokens":1,"messages":[],"tools":[{"type":"web_search_20250305","name":"web_search"}]}"#,
        r#"{"model":"m","max_tokens":1,"messages":[],"mcp_servers":[{"type":"url","url":"https://x"}]}"#,
        r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","data":"x"}}]}]}"#,
        r#"{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]}"#,
        r#"{"model":"m","max_tokens":1}"#,
    ] {
        let e = chat_of(body).expect_err(body);
        assert_eq!(e.status(), 400, "{body}: {e}");
    }
}

#[test]
fn a_chat_answer_becomes_a_message() {
    let mut body = br#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant",
        "content":"Checking.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
        "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14,
        "prompt_tokens_details":{"cached_tokens":6}}}"#
        .to_vec();
    let mut out = Vec::new();
    answer::response(&mut body, &echo(), &mut out).expect("converts");
    let m = json(&out);
    assert_eq!(m["id"], "msg_1");
    assert_eq!(m["model"], "gpt-4o");
    assert_eq!(
        m["content"][0],
        json(br#"{"type":"text","text":"Checking."}"#)
    );
    assert_eq!(
        m["content"][1],
        json(br#"{"type":"tool_use","id":"call_1","name":"f","input":{"a":1}}"#)
    );
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(
        m["usage"],
        json(br#"{"input_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":6,"output_tokens":4}"#)
    );
    // Arguments that are not an object cannot be an Anthropic `input`.
    let mut bad = br#"{"choices":[{"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":"[1"}}]}}]}"#.to_vec();
    assert!(answer::response(&mut bad, &echo(), &mut Vec::new()).is_err());
}

/// The Anthropic events for chat `chunks` (data payloads), read `step` events at a time.
fn stream_of(chunks: &[&str], step: usize) -> Vec<(String, OwnedValue)> {
    let mut s = stream::Stream::new(echo());
    let mut out = Vec::new();
    let events: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    for group in events.chunks(step) {
        s.events(group.concat().as_bytes(), &mut out);
    }
    events_in(&out)
        .map(|e| {
            (
                String::from_utf8_lossy(e.name.unwrap_or_default()).into_owned(),
                json(&e.data),
            )
        })
        .collect()
}

const CHUNKS: [&str; 6] = [
    r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"content":"lo"}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"tool_calls"}]}"#,
    r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}"#,
];

#[test]
fn chat_chunks_become_anthropics_events_however_they_are_read() {
    let mut chunks = CHUNKS.to_vec();
    chunks.push("[DONE]");
    for step in [1, 2, 7] {
        let events = stream_of(&chunks, step);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ],
            "step {step}"
        );
        for (_, data) in &events {
            assert!(data["type"].is_str());
        }
        assert_eq!(events[0].1["message"]["id"], "msg_1");
        assert_eq!(events[2].1["delta"]["text"], "Hel");
        assert_eq!(events[5].1["index"], 1);
        assert_eq!(events[5].1["content_block"]["type"], "tool_use");
        assert_eq!(events[5].1["content_block"]["id"], "call_1");
        let json_text: String = events[6..8]
            .iter()
            .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(json_text, r#"{"a":1}"#);
        assert_eq!(events[9].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(events[9].1["usage"]["output_tokens"], 3);
        assert_eq!(events[9].1["usage"]["input_tokens"], 9);
    }
}

#[test]
fn a_stopped_or_broken_stream_ends_in_anthropics_terms() {
    // A guardrail stopped it after some text: the block closes and the message ends refused.
    let mut s = stream::Stream::new(echo());
    let mut out = Vec::new();
    let first: String = CHUNKS[..2]
        .iter()
        .map(|c| format!("data: {c}\n\n"))
        .collect();
    s.events(first.as_bytes(), &mut out);
    s.stopped(&mut out);
    s.stopped(&mut out);
    let events: Vec<OwnedValue> = events_in(&out).map(|e| json(&e.data)).collect();
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[4]["delta"]["stop_reason"], "refusal");
    // A provider error mid-stream is Anthropic's error event, and the end.
    let mut s = stream::Stream::new(echo());
    let mut out = Vec::new();
    s.events(
        b"data: {\"error\":{\"message\":\"overloaded\"}}\n\ndata: [DONE]\n\n",
        &mut out,
    );
    let events: Vec<OwnedValue> = events_in(&out).map(|e| json(&e.data)).collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "error");
    assert_eq!(events[0]["error"]["message"], "overloaded");
}
