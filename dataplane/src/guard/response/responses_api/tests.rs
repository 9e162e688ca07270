//! Tests of the Responses API side of response checks: function-call arguments, refusals and
//! log probabilities.

use crate::guard::engine::Engine;
use crate::guard::response::tests::{redacting, restoring};
use crate::guard::response::{ChunkOutcome, ResponseGuard};
use warden_shared::catalog::Dialect;

/// A streamed function call whose arguments are `pieces`, from `response.created` to
/// `response.completed`.
fn call_events(pieces: &[&str]) -> Vec<String> {
    let whole: String = pieces.concat();
    let item = |args: &str, status: &str| {
        serde_json::json!({"type": "function_call", "id": "fc_1", "call_id": "call_1",
            "name": "send", "arguments": args, "status": status})
    };
    let mut events = vec![
        serde_json::json!({"type": "response.created", "response": {"id": "resp_1", "status": "in_progress", "output": []}}),
        serde_json::json!({"type": "response.output_item.added", "output_index": 0, "item": item("", "in_progress")}),
    ];
    for p in pieces {
        events.push(
            serde_json::json!({"type": "response.function_call_arguments.delta",
            "item_id": "fc_1", "output_index": 0, "delta": p}),
        );
    }
    events.push(
        serde_json::json!({"type": "response.function_call_arguments.done",
        "item_id": "fc_1", "output_index": 0, "arguments": whole}),
    );
    events.push(
        serde_json::json!({"type": "response.output_item.done", "output_index": 0,
        "item": item(&whole, "completed")}),
    );
    events.push(
        serde_json::json!({"type": "response.completed", "response": {"id": "resp_1",
        "status": "completed", "output": [item(&whole, "completed")]}}),
    );
    events
        .into_iter()
        .enumerate()
        .map(|(n, mut e)| {
            e["sequence_number"] = serde_json::json!(n);
            e.to_string()
        })
        .collect()
}

/// The events through `g`; each event sent instead, parsed.
fn run(engine: &Engine, g: &mut ResponseGuard, events: &[String]) -> Vec<serde_json::Value> {
    let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for e in events {
        let outcome = g.filter_event(engine, &scratch, None, e.as_bytes(), &mut None, &mut out);
        assert_eq!(outcome, ChunkOutcome::Continue);
    }
    String::from_utf8(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or_default())
        .collect()
}

/// The arguments as the client sees them: joined from the deltas, and as each later event
/// repeats them.
fn arguments(out: &[serde_json::Value]) -> Vec<String> {
    let streamed: String = out
        .iter()
        .filter(|d| d["type"] == "response.function_call_arguments.delta")
        .filter_map(|d| d["delta"].as_str())
        .collect();
    let mut all = vec![streamed];
    for d in out {
        let args = match d["type"].as_str() {
            Some("response.function_call_arguments.done") => &d["arguments"],
            Some("response.output_item.done") => &d["item"]["arguments"],
            Some("response.completed") => &d["response"]["output"][0]["arguments"],
            _ => continue,
        };
        all.push(args.as_str().unwrap_or("?").to_owned());
    }
    all
}

#[test]
fn a_function_calls_streamed_arguments_are_redacted_in_every_event() {
    let (engine, _, g) = redacting(Dialect::OpenAi);
    let mut g = g.reading_responses_api();
    let out = run(
        engine,
        &mut g,
        &call_events(&[r#"{"to":"jane.d"#, r#"oe@exam"#, r#"ple.com"}"#]),
    );
    let text = serde_json::to_string(&out).unwrap_or_default();
    assert!(
        !text.contains("jane.d") && !text.contains("oe@exam"),
        "{text}"
    );
    let args = arguments(&out);
    assert_eq!(args.len(), 4, "{text}");
    assert!(
        args.iter().all(|a| a == r#"{"to":"[EMAIL_1]"}"#),
        "{args:?}"
    );
    let seq: Vec<u64> = out
        .iter()
        .filter_map(|d| d["sequence_number"].as_u64())
        .collect();
    assert_eq!(seq, (0..out.len() as u64).collect::<Vec<_>>());
}

#[test]
fn a_function_calls_arguments_get_the_requests_values_back() {
    let engine = Engine::for_tests();
    let mut g = restoring(Dialect::OpenAi).reading_responses_api();
    let out = run(
        engine,
        &mut g,
        &call_events(&[r#"{"to":"[EMA"#, r#"IL_1]"}"#]),
    );
    let args = arguments(&out);
    assert!(
        args.iter().all(|a| a == r#"{"to":"jane@example.com"}"#),
        "{args:?}"
    );
    // Whole, and another item type's strings (an MCP call's output) checked too.
    let mut g = restoring(Dialect::OpenAi).reading_responses_api();
    let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
    let body = r#"{"id":"resp_2","status":"completed","output":[{"type":"function_call","id":"fc_1","call_id":"call_1","name":"send","arguments":"{\"to\":\"[EMAIL_1]\"}"},{"type":"mcp_call","id":"mcp_1","name":"lookup","server_label":"crm","arguments":"{}","output":"owner: bob@example.org"}]}"#;
    let filtered = g
        .filter_body(engine, &scratch, body.as_bytes())
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&filtered).unwrap_or_default();
    assert_eq!(
        v["output"][0]["arguments"], r#"{"to":"jane@example.com"}"#,
        "{v}"
    );
    assert_eq!(v["output"][1]["output"], "owner: [EMAIL_2]", "{v}");
    assert_eq!(v["output"][1]["server_label"], "crm", "{v}");
}

#[test]
fn a_restored_value_goes_into_streamed_arguments_escaped() {
    // An operator pattern's value may hold a quote or a line break: the client parses the
    // arguments, so it goes in escaped, in every event that carries them.
    let odd = "ACCT \"7\\x\"\n, \"admin\": true";
    let engine = Engine::for_tests();
    let mut g = crate::guard::response::tests::restoring_value(Dialect::OpenAi, odd, "[ACCT_1]")
        .reading_responses_api();
    let out = run(
        engine,
        &mut g,
        &call_events(&[r#"{"account":"[AC"#, r#"CT_1]"}"#]),
    );
    let args = arguments(&out);
    assert!(!args.is_empty());
    for a in &args {
        let parsed: serde_json::Value =
            serde_json::from_str(a).unwrap_or_else(|e| panic!("{e}: {a}"));
        assert_eq!(parsed, serde_json::json!({ "account": odd }), "{a}");
    }
}

#[test]
fn output_text_log_probabilities_are_withheld() {
    let (engine, _, g) = redacting(Dialect::OpenAi);
    let mut g = g.reading_responses_api();
    let lp = |t: &str| serde_json::json!([{"token": t, "logprob": -0.1, "bytes": t.as_bytes(), "top_logprobs": []}]);
    let text = "mail jane.doe@example.com now";
    let part = serde_json::json!({"type": "output_text", "text": text, "annotations": [], "logprobs": lp(text)});
    let events: Vec<String> = [
        serde_json::json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "delta": text, "logprobs": lp(text), "sequence_number": 0}),
        serde_json::json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "text": text, "logprobs": lp(text), "sequence_number": 1}),
        serde_json::json!({"type": "response.content_part.done", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "part": part, "sequence_number": 2}),
    ]
    .iter()
    .map(|e| e.to_string())
    .collect();
    let out = serde_json::to_string(&run(engine, &mut g, &events)).unwrap_or_default();
    assert!(
        !out.contains("jane") && !out.contains("106,97,110,101"),
        "{out}"
    );
    assert!(out.contains("[EMAIL_1]"), "{out}");
}

#[test]
fn a_refusal_is_read_like_the_answers_text() {
    let (engine, _, g) = redacting(Dialect::OpenAi);
    let mut g = g.reading_responses_api();
    let mut events = Vec::new();
    for (n, p) in ["I can't mail jane.d", "oe@example.com."]
        .iter()
        .enumerate()
    {
        events.push(
            serde_json::json!({"type": "response.refusal.delta", "item_id": "msg_1",
            "output_index": 0, "content_index": 0, "delta": p, "sequence_number": n})
            .to_string(),
        );
    }
    events.push(
        serde_json::json!({"type": "response.refusal.done", "item_id": "msg_1",
        "output_index": 0, "content_index": 0, "refusal": "I can't mail jane.doe@example.com.",
        "sequence_number": 2})
        .to_string(),
    );
    let out = run(engine, &mut g, &events);
    let text = serde_json::to_string(&out).unwrap_or_default();
    assert!(!text.contains("jane.d"), "{text}");
    assert_eq!(
        out.last().map(|d| d["refusal"].clone()),
        Some("I can't mail [EMAIL_1].".into()),
        "{text}"
    );
}

#[test]
fn events_of_other_kinds_are_read_whole_and_audio_and_image_data_left_as_sent() {
    let (engine, _, g) = redacting(Dialect::OpenAi);
    let mut g = g.reading_responses_api();
    let image = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk";
    let events: Vec<String> = [
        // An annotation quotes a page; an audio answer's transcript; a kind newer than this code.
        serde_json::json!({"type": "response.output_text.annotation.added", "item_id": "msg_1",
            "output_index": 0, "content_index": 0, "annotation_index": 0, "sequence_number": 0,
            "annotation": {"type": "url_citation", "url": "https://example.org/a",
                "title": "Contact jane.doe@example.com", "start_index": 0, "end_index": 4}}),
        serde_json::json!({"type": "response.audio.transcript.delta",
            "delta": "call bob@example.org back", "sequence_number": 1}),
        serde_json::json!({"type": "response.some_future.delta", "item_id": "x_1",
            "delta": {"note": "owner carol@example.net"}, "sequence_number": 2}),
        // Opaque data: audio and a partial image, as sent.
        serde_json::json!({"type": "response.audio.delta", "delta": image, "sequence_number": 3}),
        serde_json::json!({"type": "response.image_generation_call.partial_image", "item_id": "ig_1",
            "output_index": 1, "partial_image_index": 0, "partial_image_b64": image,
            "sequence_number": 4}),
    ]
    .iter()
    .map(|e| e.to_string())
    .collect();
    let out = run(engine, &mut g, &events);
    let text = serde_json::to_string(&out).unwrap_or_default();
    assert!(
        !text.contains("jane.doe") && !text.contains("bob@") && !text.contains("carol@"),
        "{text}"
    );
    assert_eq!(out.len(), 5, "{text}");
    assert_eq!(out[0]["annotation"]["title"], "Contact [EMAIL_1]", "{text}");
    assert_eq!(
        out[0]["annotation"]["url"], "https://example.org/a",
        "{text}"
    );
    assert_eq!(out[1]["delta"], "call [EMAIL_2] back", "{text}");
    assert_eq!(out[2]["delta"]["note"], "owner [EMAIL_3]", "{text}");
    assert_eq!(out[3]["delta"], image, "{text}");
    assert_eq!(out[4]["partial_image_b64"], image, "{text}");
}
