use super::{parse, reshape, Wire};
use crate::sse::events_in;
use simd_json::prelude::*;

fn json(text: &str) -> simd_json::OwnedValue {
    parse(text.as_bytes()).unwrap_or_else(|| panic!("not JSON: {text}"))
}

fn round_trip(wire: Wire, body: &str) -> Vec<u8> {
    let stream = reshape(wire, false, body.as_bytes()).expect("a body becomes a stream");
    let back = reshape(wire, true, &stream).expect("that stream becomes a body again");
    assert_eq!(
        parse(&back),
        Some(json(body)),
        "{}",
        String::from_utf8_lossy(&stream)
    );
    stream
}

const OPENAI_BODY: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"message":{"role":"assistant","content":"Paris is the capital.","refusal":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"city\":\"Paris\"}"}}]},"logprobs":{"content":[{"token":"Paris","logprob":-0.1,"bytes":[80],"top_logprobs":[]}],"refusal":null},"finish_reason":"tool_calls"},{"index":1,"message":{"role":"assistant","content":"Paris.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}"#;

#[test]
fn openai_a_body_streams_as_chunks_and_joins_back() {
    let stream = round_trip(Wire::OpenAiChat, OPENAI_BODY);
    let events: Vec<Vec<u8>> = events_in(&stream).map(|e| e.data.into_owned()).collect();
    // Two chunks a choice, the usage chunk, [DONE].
    assert_eq!(events.len(), 6);
    assert!(events[..5].iter().all(|e| memchr::memmem::find(
        e,
        b"\"object\":\"chat.completion.chunk\""
    )
    .is_some()));
    // The pump recognises the usage chunk by its empty choices.
    assert!(memchr::memmem::find(&events[4], b"\"choices\":[]").is_some());
    assert_eq!(events[5], b"[DONE]");
}

#[test]
fn openai_a_provider_stream_joins_as_the_sdk_joins_it() {
    let stream = concat!(
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"xy\"}\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\",\"tool_calls\":[{\"index\":0,\"id\":\"call_9\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,\"total_tokens\":9}}\n\n",
        "data: [DONE]\n\n",
    );
    let body = reshape(Wire::OpenAiChat, true, stream.as_bytes()).expect("a whole stream");
    assert_eq!(
        parse(&body),
        Some(json(
            r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null,"tool_calls":[{"id":"call_9","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9}}"#
        ))
    );
    // Without its [DONE] the stream broke off; an error event is no answer.
    let cut = stream.trim_end_matches("data: [DONE]\n\n");
    assert_eq!(reshape(Wire::OpenAiChat, true, cut.as_bytes()), None);
    let error = "data: {\"error\":{\"message\":\"overloaded\"}}\n\ndata: [DONE]\n\n";
    assert_eq!(reshape(Wire::OpenAiChat, true, error.as_bytes()), None);
}

const ANTHROPIC_BODY: &str = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"thinking","thinking":"The user asks about Paris.","signature":"sig=="},{"type":"redacted_thinking","data":"opaque"},{"type":"text","text":"Paris is the capital.","citations":[{"type":"char_location","cited_text":"Paris","document_index":0,"start_char_index":0,"end_char_index":5}]},{"type":"tool_use","id":"toolu_1","name":"lookup","input":{"city":"Paris","n":[1,2]}},{"type":"tool_use","id":"toolu_2","name":"now","input":{}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":30,"cache_read_input_tokens":10,"output_tokens":42}}"#;

#[test]
fn anthropic_a_message_streams_as_its_events_and_joins_back() {
    let stream = round_trip(Wire::Anthropic, ANTHROPIC_BODY);
    let names: Vec<String> = events_in(&stream)
        .map(|e| String::from_utf8_lossy(e.name.unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    assert_eq!(
        names.iter().filter(|n| *n == "content_block_start").count(),
        5
    );
}

#[test]
fn anthropic_a_provider_stream_joins_into_its_message() {
    let stream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\":\"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"!\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_3\",\"name\":\"get\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\": \\\"x\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"y\\\"}\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let body = reshape(Wire::Anthropic, true, stream.as_bytes()).expect("a whole stream");
    assert_eq!(
        parse(&body),
        Some(json(
            r#"{"id":"msg_2","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"Hello!"},{"type":"tool_use","id":"toolu_3","name":"get","input":{"q":"xy"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":15}}"#
        ))
    );
    let cut = stream.trim_end_matches("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    assert_eq!(reshape(Wire::Anthropic, true, cut.as_bytes()), None);
    let unknown = stream.replace("text_delta", "future_delta");
    assert_eq!(reshape(Wire::Anthropic, true, unknown.as_bytes()), None);
    let error = stream.replace(
        "event: ping\ndata: {\"type\":\"ping\"}",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}",
    );
    assert_eq!(reshape(Wire::Anthropic, true, error.as_bytes()), None);
}

const GEMINI_BODY: &str = "{\n  \"candidates\": [\n    {\n      \"content\": {\n        \"parts\": [\n          {\n            \"text\": \"Paris is\\nthe capital.\"\n          }\n        ],\n        \"role\": \"model\"\n      },\n      \"finishReason\": \"STOP\",\n      \"index\": 0\n    }\n  ],\n  \"usageMetadata\": {\n    \"promptTokenCount\": 8,\n    \"candidatesTokenCount\": 6,\n    \"totalTokenCount\": 14\n  },\n  \"modelVersion\": \"gemini-2.5-flash\",\n  \"responseId\": \"r1\"\n}\n";

#[test]
fn gemini_a_pretty_printed_body_streams_as_one_event_on_one_line() {
    let stream = round_trip(Wire::Gemini, GEMINI_BODY);
    assert!(stream.starts_with(b"data: {") && stream.ends_with(b"}\r\n\r\n"));
    assert_eq!(memchr::memchr_iter(b'\n', &stream).count(), 2);
}

#[test]
fn gemini_a_provider_stream_joins_its_parts() {
    let stream = concat!(
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Thinking\",\"thought\":true}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r2\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Par\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 9},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r2\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"is.\"},{\"functionCall\":{\"name\":\"f\",\"args\":{}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 3,\"totalTokenCount\": 11},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r2\"}\r\n\r\n",
    );
    let body = reshape(Wire::Gemini, true, stream.as_bytes()).expect("a whole stream");
    assert_eq!(
        parse(&body),
        Some(json(
            r#"{"candidates":[{"content":{"parts":[{"text":"Thinking","thought":true},{"text":"Paris."},{"functionCall":{"name":"f","args":{}}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":3,"totalTokenCount":11},"modelVersion":"gemini-2.5-flash","responseId":"r2"}"#
        ))
    );
    // Without the finish reason the stream broke off.
    let cut: String = stream.split_inclusive("\r\n\r\n").take(2).collect();
    assert_eq!(reshape(Wire::Gemini, true, cut.as_bytes()), None);
}

#[test]
fn malformed_bytes_are_a_miss_never_a_panic() {
    for wire in [
        Wire::OpenAiChat,
        Wire::OpenAiResponses,
        Wire::Anthropic,
        Wire::Gemini,
    ] {
        for stream in [false, true] {
            for bytes in [
                &b""[..],
                b"{",
                b"[]",
                b"null",
                b"data: {\n\n",
                b"data: [DONE]\n\n",
                b"{\"choices\":[{\"message\":7}]}",
                b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":9,\"delta\":{}}\n\n",
            ] {
                assert_eq!(reshape(wire, stream, bytes), None, "{wire:?} {stream}");
            }
        }
    }
}

#[test]
fn a_provider_cannot_make_a_conversion_grow_without_bound() {
    // A large member copied onto every chunk of 128 choices would be 256 copies of it.
    let big = "x".repeat(100 << 10);
    let choice =
        r#"{"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"stop"}"#;
    let choices = vec![choice; 128].join(",");
    let body = format!(r#"{{"id":"c","padding":"{big}","choices":[{choices}]}}"#);
    assert_eq!(reshape(Wire::OpenAiChat, false, body.as_bytes()), None);
    // Without the padding the same answer converts.
    let body = format!(r#"{{"id":"c","choices":[{choices}]}}"#);
    assert!(reshape(Wire::OpenAiChat, false, body.as_bytes()).is_some());
    // Choices and indexed items past their bounds end the join.
    let chunk = |i: usize, delta: &str| {
        format!(
            "data: {{\"choices\":[{{\"index\":{i},\"delta\":{delta},\"finish_reason\":\"stop\"}}]}}\n\n"
        )
    };
    let many: String = (0..129).map(|i| chunk(i, "{}")).collect();
    assert_eq!(
        reshape(
            Wire::OpenAiChat,
            true,
            format!("{many}data: [DONE]\n\n").as_bytes()
        ),
        None
    );
    // One choice calling `n` tools, one delta each.
    let tools = |n: usize| -> String {
        let calls: String = (0..n)
            .map(|i| {
                chunk(
                    0,
                    &format!(r#"{{"tool_calls":[{{"index":{i},"id":"t"}}]}}"#),
                )
            })
            .collect();
        format!("{calls}data: [DONE]\n\n")
    };
    assert_eq!(
        reshape(Wire::OpenAiChat, true, tools(1025).as_bytes()),
        None
    );
    assert!(reshape(Wire::OpenAiChat, true, tools(1024).as_bytes()).is_some());
}

#[test]
fn responses_a_kept_stream_serves_its_completed_response() {
    let response = r#"{"id":"resp_1","object":"response","status":"completed","output":[{"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"Hello!","annotations":[]}]}],"usage":{"input_tokens":5,"output_tokens":2,"total_tokens":7}}"#;
    let stream = format!(
        concat!(
            "event: response.created\ndata: {{\"type\":\"response.created\",\"sequence_number\":0,\"response\":{{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}}}\n\n",
            "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hello!\"}}\n\n",
            "event: response.completed\ndata: {{\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{}}}\n\n",
        ),
        response
    );
    let body = reshape(Wire::OpenAiResponses, true, stream.as_bytes()).expect("an ending");
    assert_eq!(parse(&body), Some(json(response)));
    // Events without names say their type in their data.
    let nameless: String = stream
        .lines()
        .filter(|l| !l.starts_with("event: "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        reshape(Wire::OpenAiResponses, true, nameless.as_bytes()).and_then(|b| parse(&b)),
        Some(json(response))
    );
    // Without its ending, or failed: no answer.
    let cut = &stream[..stream.find("event: response.completed").unwrap()];
    assert_eq!(reshape(Wire::OpenAiResponses, true, cut.as_bytes()), None);
    let failed = stream.replace("response.completed", "response.failed");
    assert_eq!(
        reshape(Wire::OpenAiResponses, true, failed.as_bytes()),
        None
    );
}

const RESPONSES_BODY: &str = r#"{"id":"resp_2","object":"response","created_at":1700000000,"status":"completed","model":"gpt-4o","incomplete_details":null,"output":[{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Thought."}]},{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello!","annotations":[{"type":"url_citation","url":"https://example.com/","title":"e","start_index":0,"end_index":5}],"logprobs":[]},{"type":"refusal","refusal":"No."}]},{"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":"{\"a\":1}","status":"completed"}],"usage":{"input_tokens":5,"output_tokens":2,"total_tokens":7}}"#;

#[test]
fn responses_a_kept_response_streams_as_the_apis_events() {
    let stream = round_trip(Wire::OpenAiResponses, RESPONSES_BODY);
    let events: Vec<(String, simd_json::OwnedValue)> = events_in(&stream)
        .map(|e| {
            let name = String::from_utf8(e.name.unwrap_or_default().to_vec()).unwrap();
            (name, json(std::str::from_utf8(&e.data).unwrap()))
        })
        .collect();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.annotation.added",
            "response.output_text.done",
            "response.content_part.done",
            "response.content_part.added",
            "response.refusal.delta",
            "response.refusal.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (n, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"].as_str(), Some(name.as_str()));
        assert_eq!(data["sequence_number"].as_u64(), Some(n as u64), "{name}");
    }
    // The opening response has no output and no usage yet; items open without their text.
    assert_eq!(
        events[0].1["response"]["status"].as_str(),
        Some("in_progress")
    );
    assert_eq!(events[0].1["response"]["output"], json("[]"));
    assert!(events[0].1["response"]["usage"].is_null());
    let message = &events[8].1["item"];
    assert_eq!(message["content"], json("[]"));
    assert_eq!(message["status"].as_str(), Some("in_progress"));
    assert_eq!(events[9].1["part"]["text"].as_str(), Some(""));
    assert_eq!(events[10].1["delta"].as_str(), Some("Hello!"));
    assert_eq!(events[10].1["item_id"].as_str(), Some("msg_1"));
    assert_eq!(events[10].1["output_index"].as_u64(), Some(1));
    assert_eq!(
        events[11].1["annotation"]["url"].as_str(),
        Some("https://example.com/")
    );
    assert_eq!(events[15].1["delta"].as_str(), Some("No."));
    assert_eq!(events[15].1["content_index"].as_u64(), Some(1));
    assert_eq!(events[19].1["item"]["arguments"].as_str(), Some(""));
    assert_eq!(events[20].1["delta"].as_str(), Some("{\"a\":1}"));
    assert_eq!(events[23].1["response"], json(RESPONSES_BODY));

    // A web search: its progress events around the call, whole at its `done`.
    let searched = RESPONSES_BODY.replace(
        r#""output":[{"type":"reasoning""#,
        r#""output":[{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"q"}},{"type":"reasoning""#,
    );
    let stream = round_trip(Wire::OpenAiResponses, &searched);
    let search: Vec<(Option<&[u8]>, simd_json::OwnedValue)> = events_in(&stream)
        .take(7)
        .skip(2)
        .map(|e| (e.name, json(std::str::from_utf8(&e.data).unwrap())))
        .collect();
    let names: Vec<&[u8]> = search.iter().filter_map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            &b"response.output_item.added"[..],
            b"response.web_search_call.in_progress",
            b"response.web_search_call.searching",
            b"response.web_search_call.completed",
            b"response.output_item.done",
        ]
    );
    assert_eq!(search[0].1["item"]["status"].as_str(), Some("in_progress"));
    assert_eq!(search[2].1["item_id"].as_str(), Some("ws_1"));
    assert_eq!(search[4].1["item"]["action"]["query"].as_str(), Some("q"));

    // The code interpreter, an MCP call (failed) and a custom tool: their own events.
    let tools = RESPONSES_BODY.replace(
        r#""output":[{"type":"reasoning""#,
        r#""output":[{"type":"code_interpreter_call","id":"ci_1","code":"print(1)","container_id":"c","outputs":null,"status":"completed"},{"type":"mcp_call","id":"mcp_1","server_label":"s","name":"n","arguments":"{}","output":null,"error":"down"},{"type":"custom_tool_call","id":"ct_1","call_id":"call_2","name":"grammar","input":"x = 1"},{"type":"reasoning""#,
    );
    let stream = round_trip(Wire::OpenAiResponses, &tools);
    let events: Vec<(Vec<u8>, simd_json::OwnedValue)> = events_in(&stream)
        .take(19)
        .skip(2)
        .map(|e| {
            let name = e.name.unwrap_or_default().to_vec();
            (name, json(std::str::from_utf8(&e.data).unwrap()))
        })
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|(n, _)| std::str::from_utf8(n).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "response.output_item.added",
            "response.code_interpreter_call.in_progress",
            "response.code_interpreter_call_code.delta",
            "response.code_interpreter_call_code.done",
            "response.code_interpreter_call.interpreting",
            "response.code_interpreter_call.completed",
            "response.output_item.done",
            "response.output_item.added",
            "response.mcp_call.in_progress",
            "response.mcp_call_arguments.delta",
            "response.mcp_call_arguments.done",
            "response.mcp_call.failed",
            "response.output_item.done",
            "response.output_item.added",
            "response.custom_tool_call_input.delta",
            "response.custom_tool_call_input.done",
            "response.output_item.done",
        ]
    );
    assert_eq!(events[0].1["item"]["code"].as_str(), Some(""));
    assert_eq!(events[2].1["delta"].as_str(), Some("print(1)"));
    assert_eq!(events[14].1["delta"].as_str(), Some("x = 1"));
    assert_eq!(events[15].1["item_id"].as_str(), Some("ct_1"));

    // An incomplete response ends as one; a failed one, the other hosted tools' calls and
    // unknown parts are not made into events.
    let incomplete = RESPONSES_BODY.replace(
        r#""status":"completed","model""#,
        r#""status":"incomplete","model""#,
    );
    let stream = reshape(Wire::OpenAiResponses, false, incomplete.as_bytes()).unwrap();
    let last = events_in(&stream).last().unwrap();
    assert_eq!(last.name, Some(&b"response.incomplete"[..]));
    for bad in [
        RESPONSES_BODY.replace(
            r#""status":"completed","model""#,
            r#""status":"failed","model""#,
        ),
        RESPONSES_BODY.replace(
            r#""type":"function_call""#,
            r#""type":"image_generation_call""#,
        ),
        RESPONSES_BODY.replace(
            r#""type":"refusal","refusal""#,
            r#""type":"audio","refusal""#,
        ),
        RESPONSES_BODY.replace(r#""object":"response""#, r#""object":"chat.completion""#),
    ] {
        assert_eq!(
            reshape(Wire::OpenAiResponses, false, bad.as_bytes()),
            None,
            "{bad}"
        );
    }
}
