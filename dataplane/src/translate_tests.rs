//! Table-driven translation tests from the wire fixtures (tests/fixtures/wire), both directions.

use simd_json::prelude::*;
use simd_json::OwnedValue;

use super::*;
use crate::sse::EventFramer;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/wire/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(bytes: &[u8]) -> OwnedValue {
    let mut copy = bytes.to_vec();
    simd_json::to_owned_value(&mut copy)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

/// The first choice of an OpenAI chunk, if it has one.
fn choice(e: &OwnedValue) -> Option<&OwnedValue> {
    e.get("choices")?.as_array()?.first()
}

fn delta_str<'a>(e: &'a OwnedValue, field: &str) -> Option<&'a str> {
    choice(e)?.get("delta")?.get(field)?.as_str()
}

fn finish_of(e: &OwnedValue) -> Option<&str> {
    choice(e)?.get("finish_reason")?.as_str()
}

fn meta(include_usage: bool) -> Meta {
    Meta {
        id: "chatcmpl-test".into(),
        model: "alias".into(),
        created: 1,
        include_usage,
        json_tool: false,
        show_reasoning: true,
    }
}

/// The OpenAI request fixture, parsed as the gateway parses it.
fn with_openai_request<T>(f: impl FnOnce(&simd_json::BorrowedValue<'_>) -> T) -> T {
    let mut body = fixture("openai-chat-request.json");
    let v = simd_json::to_borrowed_value(&mut body).expect("fixture parses");
    f(&v)
}

/// Feed an SSE fixture through a translator in pieces of `step` bytes; return the OpenAI events.
fn translate_stream(stream: &[u8], mut t: StreamTranslator, step: usize) -> Vec<OwnedValue> {
    let mut framer = EventFramer::new(1 << 20);
    let mut out = Vec::new();
    for piece in stream.chunks(step) {
        framer.push(piece).expect("event fits");
        for e in framer.events() {
            t.event(e.name, &e.data, &mut out)
                .expect("event translates");
        }
        framer.take_complete();
    }
    t.finish(&mut out);
    let text = String::from_utf8(out).expect("utf-8");
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").expect("data event"))
        .map(|d| {
            if d == "[DONE]" {
                OwnedValue::from("[DONE]")
            } else {
                json(d.as_bytes())
            }
        })
        .collect()
}

#[test]
fn openai_request_to_anthropic() {
    let mut out = Vec::new();
    with_openai_request(|v| anthropic::request(v, "claude-sonnet-4-6", true, &mut out))
        .expect("translates");
    let a = json(&out);
    assert_eq!(a["model"], "claude-sonnet-4-6");
    assert_eq!(a["system"], "Be brief");
    assert_eq!(a["max_tokens"], 256);
    assert_eq!(a["stop_sequences"][0], "END");
    assert_eq!(a["stream"], true);
    assert_eq!(a["tool_choice"]["type"], "auto");
    assert_eq!(a["tools"][0]["name"], "get_weather");
    assert_eq!(a["tools"][0]["input_schema"]["required"][0], "city");
    let m = a["messages"].as_array().expect("messages");
    assert_eq!(m.len(), 3, "system lifted out; tool result is a user turn");
    assert_eq!(m[0]["content"], "Weather in Paris?");
    assert_eq!(m[1]["content"][0]["type"], "tool_use");
    assert_eq!(m[1]["content"][0]["input"]["city"], "Paris");
    assert_eq!(m[2]["role"], "user");
    assert_eq!(m[2]["content"][0]["type"], "tool_result");
    assert_eq!(m[2]["content"][0]["tool_use_id"], "call_1");
    assert_eq!(m[2]["content"][0]["content"], "15C");
}

#[test]
fn openai_request_to_gemini() {
    let mut out = Vec::new();
    with_openai_request(|v| gemini::request(v, &mut out)).expect("translates");
    let g = json(&out);
    assert_eq!(g["systemInstruction"]["parts"][0]["text"], "Be brief");
    let c = g["contents"].as_array().expect("contents");
    assert_eq!(c[0]["role"], "user");
    assert_eq!(c[1]["role"], "model");
    assert_eq!(c[1]["parts"][0]["functionCall"]["name"], "get_weather");
    assert_eq!(c[1]["parts"][0]["functionCall"]["args"]["city"], "Paris");
    assert_eq!(
        c[2]["parts"][0]["functionResponse"]["name"], "get_weather",
        "named after the call it answers"
    );
    assert_eq!(
        c[2]["parts"][0]["functionResponse"]["response"]["content"],
        "15C"
    );
    assert_eq!(
        g["tools"][0]["functionDeclarations"][0]["name"],
        "get_weather"
    );
    assert_eq!(g["toolConfig"]["functionCallingConfig"]["mode"], "AUTO");
    assert_eq!(g["generationConfig"]["maxOutputTokens"], 256);
    assert_eq!(g["generationConfig"]["stopSequences"][0], "END");
}

#[test]
fn images_become_provider_blocks() {
    let mut body = br#"{"model":"x","messages":[{"role":"user","content":[{"type":"text","text":"what is this"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
        {"type":"image_url","image_url":{"url":"https://example.com/cat.webp"}}]}]}"#
        .to_vec();
    let v = simd_json::to_borrowed_value(&mut body).expect("parses");
    let mut out = Vec::new();
    anthropic::request(&v, "m", false, &mut out).expect("translates");
    let a = json(&out);
    let blocks = &a["messages"][0]["content"];
    assert_eq!(blocks[1]["source"]["type"], "base64");
    assert_eq!(blocks[1]["source"]["media_type"], "image/png");
    assert_eq!(blocks[2]["source"]["url"], "https://example.com/cat.webp");
    assert_eq!(
        a["max_tokens"],
        anthropic::DEFAULT_MAX_TOKENS,
        "Anthropic requires max_tokens"
    );
    let mut out = Vec::new();
    gemini::request(&v, &mut out).expect("translates");
    let g = json(&out);
    assert_eq!(
        g["contents"][0]["parts"][1]["inlineData"]["mimeType"],
        "image/png"
    );
    assert_eq!(
        g["contents"][0]["parts"][2]["fileData"]["mimeType"],
        "image/webp"
    );
}

#[test]
fn anthropic_response_to_openai() {
    let mut body = fixture("anthropic-messages-response.json");
    let mut out = Vec::new();
    let usage = anthropic::response(&mut body, &meta(false), &mut out).expect("translates");
    let o = json(&out);
    assert_eq!(o["object"], "chat.completion");
    assert_eq!(o["model"], "alias");
    let m = &o["choices"][0]["message"];
    assert_eq!(m["content"], "Checking.");
    assert_eq!(m["tool_calls"][0]["id"], "toolu_1");
    assert_eq!(
        m["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Paris"}"#
    );
    assert_eq!(o["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!((usage.prompt, usage.completion), (40, 25));
    assert_eq!(o["usage"]["total_tokens"], 65);
}

#[test]
fn gemini_response_to_openai() {
    let mut body = fixture("gemini-response.json");
    let mut out = Vec::new();
    gemini::response(&mut body, &meta(false), "req", &mut out).expect("translates");
    let o = json(&out);
    assert_eq!(o["choices"][0]["message"]["content"], "15C and sunny.");
    assert_eq!(o["choices"][0]["finish_reason"], "stop");
    assert_eq!(o["usage"]["prompt_tokens"], 40);
    assert_eq!(o["usage"]["completion_tokens"], 5);
}

#[test]
fn anthropic_stream_to_openai_at_every_read_size() {
    let stream = fixture("anthropic-messages-stream.sse");
    for step in [1, 7, 64, 4096] {
        let t = StreamTranslator::Anthropic(Box::new(anthropic::Stream::new(meta(true))));
        let events = translate_stream(&stream, t, step);
        assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(events[0]["id"], "msg_01");
        let text: String = events
            .iter()
            .filter_map(|e| delta_str(e, "content"))
            .collect();
        assert_eq!(text, "Checking.");
        let calls: Vec<&OwnedValue> = events
            .iter()
            .filter_map(|e| choice(e)?.get("delta")?.get("tool_calls"))
            .collect();
        assert_eq!(
            calls[0][0]["index"], 0,
            "running tool index, not Anthropic's block index 1"
        );
        assert_eq!(calls[0][0]["id"], "toolu_1");
        assert_eq!(calls[0][0]["function"]["name"], "get_weather");
        let args: String = calls
            .iter()
            .filter_map(|c| c[0]["function"]["arguments"].as_str())
            .collect();
        assert_eq!(args, r#"{"city": "Paris"}"#);
        let finish: Vec<&str> = events.iter().filter_map(finish_of).collect();
        assert_eq!(finish, vec!["tool_calls"]);
        let usage = &events[events.len() - 2];
        assert_eq!(usage["choices"].as_array().map(Vec::len), Some(0));
        assert_eq!(
            (
                usage["usage"]["prompt_tokens"].as_u64(),
                usage["usage"]["completion_tokens"].as_u64()
            ),
            (Some(40), Some(25))
        );
        assert_eq!(events.last().and_then(|e| e.as_str()), Some("[DONE]"));
        assert!(
            !events.iter().any(|e| e.to_string().contains("ping")),
            "ping dropped"
        );
    }
}

#[test]
fn gemini_stream_to_openai_adds_done() {
    let stream = fixture("gemini-stream.sse");
    for step in [1, 33, 4096] {
        let t = StreamTranslator::Gemini(Box::new(gemini::Stream::new(meta(false), "req".into())));
        let events = translate_stream(&stream, t, step);
        let text: String = events
            .iter()
            .filter_map(|e| delta_str(e, "content"))
            .collect();
        assert_eq!(text, "15C and sunny.");
        let finish: Vec<&str> = events.iter().filter_map(finish_of).collect();
        assert_eq!(finish, vec!["stop"]);
        assert_eq!(events.last().and_then(|e| e.as_str()), Some("[DONE]"));
        assert!(
            events.iter().all(|e| e.get("usage").is_none()),
            "no usage fields without include_usage"
        );
    }
}

#[test]
fn mid_stream_provider_errors_surface() {
    let mut t = StreamTranslator::Anthropic(Box::new(anthropic::Stream::new(meta(false))));
    let err = t.event(
        Some(b"error"),
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        &mut Vec::new(),
    );
    assert!(err.is_err_and(|e| e.to_string().contains("overloaded_error")));
    let mut t = StreamTranslator::Anthropic(Box::new(anthropic::Stream::new(meta(false))));
    let unknown = t.event(
        Some(b"brand_new"),
        br#"{"type":"brand_new","x":1}"#,
        &mut Vec::new(),
    );
    assert!(unknown.is_ok(), "unknown events are ignored");
}

#[test]
fn usage_is_read_from_the_usage_object_alone() {
    let body = br#"{"id":"x","choices":[{"message":{"content":"the word \"usage\":{ in text"}}],"usage":{"prompt_tokens":60,"completion_tokens":5,"total_tokens":65,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":1}}}"#;
    assert_eq!(
        openai_usage(body),
        Some(Usage {
            prompt: 60,
            completion: 5,
            cached: 2,
            reasoning: 1
        })
    );
    assert_eq!(openai_usage(br#"{"usage":null}"#), None);
}

#[test]
fn structured_output_goes_to_anthropic_as_a_forced_tool_and_comes_back_as_content() {
    let schema = r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#;
    let request = |extra: &str| {
        let mut body = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":"hi"}}],"response_format":{{"type":"json_schema","json_schema":{{"name":"w","schema":{schema}}}}}{extra}}}"#
        )
        .into_bytes();
        let v = simd_json::to_borrowed_value(&mut body).unwrap();
        let mut out = Vec::new();
        anthropic::request(&v, "claude-x", false, &mut out).map(|()| json(&out))
    };
    let alone = request("").unwrap();
    let tools = alone.get("tools").unwrap().as_array().unwrap();
    assert_eq!(
        tools[0].get("name").unwrap().as_str(),
        Some(anthropic::JSON_TOOL)
    );
    assert_eq!(
        tools[0].get("input_schema").unwrap(),
        &json(schema.as_bytes())
    );
    assert_eq!(
        alone.get("tool_choice").unwrap(),
        &json(br#"{"type":"tool","name":"json_response"}"#)
    );
    let with_tools =
        request(r#","tools":[{"type":"function","function":{"name":"lookup","parameters":{}}}]"#)
            .unwrap();
    assert_eq!(
        with_tools.get("tools").unwrap().as_array().unwrap().len(),
        2
    );
    assert_eq!(
        with_tools.get("tool_choice").unwrap(),
        &json(br#"{"type":"any"}"#)
    );
    let clash = r#","tools":[{"type":"function","function":{"name":"json_response"}}]"#;
    assert!(request(clash).is_err());

    let mut m = meta(false);
    m.json_tool = true;
    let mut whole = br#"{"id":"msg_1","content":[{"type":"tool_use","id":"t","name":"json_response","input":{"city":"Oslo"}}],"stop_reason":"tool_use","usage":{"input_tokens":3,"output_tokens":4}}"#.to_vec();
    let mut out = Vec::new();
    anthropic::response(&mut whole, &m, &mut out).unwrap();
    let v = json(&out);
    let c = choice(&v).unwrap();
    assert_eq!(c.get("finish_reason").unwrap().as_str(), Some("stop"));
    let message = c.get("message").unwrap();
    assert_eq!(
        message.get("content").unwrap().as_str(),
        Some(r#"{"city":"Oslo"}"#)
    );
    assert!(message.get("tool_calls").is_none());

    let stream = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":3}}}\n\n\
event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"json_response\",\"input\":{}}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Oslo\\\"}\"}}\n\n\
event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":4}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    let events = translate_stream(
        stream,
        StreamTranslator::Anthropic(Box::new(anthropic::Stream::new(m))),
        7,
    );
    let text: String = events
        .iter()
        .filter_map(|e| delta_str(e, "content"))
        .collect();
    assert_eq!(text, r#"{"city":"Oslo"}"#);
    assert!(events.iter().all(|e| choice(e)
        .and_then(|c| c.get("delta"))
        .and_then(|d| d.get("tool_calls"))
        .is_none()));
    assert_eq!(
        events.iter().filter_map(finish_of).collect::<Vec<_>>(),
        vec!["stop"]
    );
}

#[test]
fn reasoning_effort_becomes_extended_thinking_inside_the_token_limit() {
    let out = |body: &str| {
        let mut body = body.as_bytes().to_vec();
        let v = simd_json::to_borrowed_value(&mut body).unwrap();
        let mut out = Vec::new();
        anthropic::request(&v, "claude-x", false, &mut out).map(|()| json(&out))
    };
    let msgs = r#""messages":[{"role":"user","content":"hi"}]"#;
    let low = out(&format!(
        r#"{{{msgs},"reasoning_effort":"low","temperature":0.2,"top_p":0.5}}"#
    ))
    .unwrap();
    assert_eq!(
        low.get("thinking").unwrap(),
        &json(br#"{"type":"enabled","budget_tokens":2048}"#)
    );
    assert_eq!(low.get("max_tokens").unwrap().as_u64(), Some(4096 + 2048));
    assert!(low.get("temperature").is_none() && low.get("top_p").is_none());
    let capped = out(&format!(
        r#"{{{msgs},"reasoning_effort":"high","max_completion_tokens":3000}}"#
    ))
    .unwrap();
    assert_eq!(capped.get("max_tokens").unwrap().as_u64(), Some(3000));
    assert_eq!(
        capped
            .get("thinking")
            .unwrap()
            .get("budget_tokens")
            .unwrap()
            .as_u64(),
        Some(2999)
    );
    for refused in [
        r#","reasoning_effort":"low","max_tokens":1000"#,
        r#","reasoning_effort":"extreme""#,
        r#","reasoning_effort":"low","response_format":{"type":"json_object"}"#,
        r#","thinking":{"type":"enabled","budget_tokens":100}"#,
    ] {
        assert!(out(&format!("{{{msgs}{refused}}}")).is_err(), "{refused}");
    }
    // Signed blocks from the last turn go back first, untouched.
    let turn = out(r#"{"reasoning_effort":"low","messages":[{"role":"user","content":"q"},
        {"role":"assistant","content":null,"thinking_blocks":[{"type":"thinking","thinking":"t","signature":"s"}],
         "tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"c","content":"r"}]}"#)
    .unwrap();
    let assistant = &turn.get("messages").unwrap().as_array().unwrap()[1];
    let blocks = assistant.get("content").unwrap().as_array().unwrap();
    assert_eq!(
        blocks[0],
        json(br#"{"type":"thinking","thinking":"t","signature":"s"}"#)
    );
    assert_eq!(blocks[1].get("type").unwrap().as_str(), Some("tool_use"));
}

#[test]
fn cache_control_breakpoints_reach_anthropic_blocks() {
    let mut body = br#"{"model":"m","messages":[
        {"role":"system","content":[{"type":"text","text":"long manual","cache_control":{"type":"ephemeral"}}]},
        {"role":"system","content":"be brief"},
        {"role":"user","content":[{"type":"text","text":"doc"},{"type":"text","text":"q","cache_control":{"type":"ephemeral","ttl":"1h"}}]},
        {"role":"assistant","content":"a"},
        {"role":"user","content":"again","cache_control":{"type":"ephemeral"}}]}"#
        .to_vec();
    let v = simd_json::to_borrowed_value(&mut body).unwrap();
    let mut out = Vec::new();
    anthropic::request(&v, "claude-x", false, &mut out).unwrap();
    let sent = json(&out);
    assert_eq!(
        sent.get("system").unwrap(),
        &json(br#"[{"type":"text","text":"long manual","cache_control":{"type":"ephemeral"}},{"type":"text","text":"be brief"}]"#)
    );
    let messages = sent.get("messages").unwrap().as_array().unwrap();
    assert_eq!(
        messages[0].get("content").unwrap(),
        &json(br#"[{"type":"text","text":"doc"},{"type":"text","text":"q","cache_control":{"type":"ephemeral","ttl":"1h"}}]"#)
    );
    assert_eq!(
        messages[2].get("content").unwrap(),
        &json(br#"[{"type":"text","text":"again","cache_control":{"type":"ephemeral"}}]"#)
    );
}
