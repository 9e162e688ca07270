//! Several choices through Gemini: `n` as `candidateCount`, candidates back as choices.

use simd_json::prelude::*;
use simd_json::OwnedValue;

use super::*;
use crate::translate::Meta;

fn meta() -> Meta {
    Meta {
        id: "chatcmpl-test".into(),
        model: "alias".into(),
        created: 1,
        include_usage: false,
        json_tool: false,
        show_reasoning: true,
    }
}

fn json(bytes: &[u8]) -> OwnedValue {
    let mut copy = bytes.to_vec();
    simd_json::to_owned_value(&mut copy)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

#[test]
fn n_goes_out_as_candidate_count_within_what_gemini_answers() {
    for (n, count) in [("null", None), ("1", None), ("2", Some(2)), ("8", Some(8))] {
        let mut body =
            format!(r#"{{"model":"m","n":{n},"messages":[{{"role":"user","content":"hi"}}]}}"#)
                .into_bytes();
        let v = simd_json::to_borrowed_value(&mut body).expect("json");
        let mut out = Vec::new();
        request(&v, &mut out).expect("translates");
        let g = json(&out);
        let sent = g
            .get("generationConfig")
            .and_then(|c| c.get("candidateCount"))
            .and_then(|c| c.as_u64());
        assert_eq!(sent, count, "n = {n}");
    }
    for n in ["0", "9", "129", "-1", "1.5", "\"2\""] {
        let mut body =
            format!(r#"{{"model":"m","n":{n},"messages":[{{"role":"user","content":"hi"}}]}}"#)
                .into_bytes();
        let v = simd_json::to_borrowed_value(&mut body).expect("json");
        let err = request(&v, &mut Vec::new()).expect_err(n);
        assert!(
            err.to_string().contains("'n' must be between 1 and 8"),
            "{err}"
        );
    }
}

const TWO: &str = r#"{"candidates":[
 {"content":{"role":"model","parts":[{"text":"One."},{"functionCall":{"name":"f","args":{"a":1}}}]},"finishReason":"STOP"},
 {"content":{"role":"model","parts":[{"text":"Deep","thought":true},{"text":"Two."}]},"finishReason":"MAX_TOKENS","index":1}],
 "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7}}"#;

#[test]
fn every_candidate_of_a_whole_answer_is_a_choice_of_its_own() {
    let mut body = TWO.as_bytes().to_vec();
    let mut out = Vec::new();
    let usage = response(&mut body, &meta(), "req", &mut out).expect("translates");
    assert_eq!((usage.prompt, usage.completion), (5, 7));
    let o = json(&out);
    let choices = o["choices"].as_array().expect("choices");
    assert_eq!(choices.len(), 2);
    let first = &choices[0];
    assert_eq!(first["index"], 0);
    assert_eq!(first["message"]["content"], "One.");
    assert_eq!(first["message"]["tool_calls"][0]["id"], "call_req_0");
    assert_eq!(
        first["message"]["tool_calls"][0]["function"]["arguments"],
        r#"{"a":1}"#
    );
    assert_eq!(first["finish_reason"], "tool_calls");
    let second = &choices[1];
    assert_eq!(second["index"], 1);
    assert_eq!(second["message"]["content"], "Two.");
    assert_eq!(second["message"]["reasoning_content"], "Deep");
    assert!(second["message"].get("tool_calls").is_none());
    assert_eq!(second["finish_reason"], "length");
}

#[test]
fn candidates_arrive_out_of_order_and_tool_ids_stay_apart() {
    let mut body = br#"{"candidates":[
      {"content":{"parts":[{"functionCall":{"name":"g"}}]},"finishReason":"STOP","index":1},
      {"content":{"parts":[{"functionCall":{"name":"g"}}]},"finishReason":"STOP","index":0}]}"#
        .to_vec();
    let mut out = Vec::new();
    response(&mut body, &meta(), "req", &mut out).expect("translates");
    let o = json(&out);
    let ids: Vec<&str> = (0..2)
        .map(|i| {
            assert_eq!(o["choices"][i]["index"], i as u64);
            o["choices"][i]["message"]["tool_calls"][0]["id"]
                .as_str()
                .expect("id")
        })
        .collect();
    assert_eq!(ids, ["call_req_0", "call_req_1_0"]);
}

#[test]
fn a_candidate_numbered_past_eight_is_a_protocol_error() {
    for index in ["8", "1000000", "\"1\""] {
        let mut body = format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"x"}}]}},"index":{index}}}]}}"#
        )
        .into_bytes();
        assert!(response(&mut body.clone(), &meta(), "req", &mut Vec::new()).is_err());
        let mut s = Stream::new(meta(), "req".into());
        assert!(s.event(&body, &mut Vec::new()).is_err(), "{index}");
        body.clear();
    }
}

#[test]
fn a_stream_of_two_candidates_is_two_choices() {
    let events = [
        r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}]},"index":0},{"content":{"parts":[{"text":"Bon"}]},"index":1}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"jour"}]},"index":1}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"lo"}]},"finishReason":"STOP","index":0},{"content":{"parts":[{"functionCall":{"name":"f"}}]},"finishReason":"STOP","index":1}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4}}"#,
    ];
    let mut s = Stream::new(meta(), "req".into());
    let mut out = Vec::new();
    for e in events {
        assert!(s.event(e.as_bytes(), &mut out).expect("translates"));
    }
    s.finish(&mut out);
    let text = String::from_utf8(out).expect("utf-8");
    let chunks: Vec<OwnedValue> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| json(d.as_bytes()))
        .collect();
    assert!(text.ends_with("data: [DONE]\n\n"));
    let mut content = [String::new(), String::new()];
    let mut roles = [0, 0];
    let mut finishes = [Vec::new(), Vec::new()];
    let mut calls = Vec::new();
    for c in &chunks {
        let choice = &c["choices"][0];
        let i = choice["index"].as_usize().expect("index");
        let delta = &choice["delta"];
        if delta.get("role").is_some() {
            roles[i] += 1;
            // The role comes before anything else of its choice.
            assert!(content[i].is_empty() && finishes[i].is_empty());
        }
        if let Some(t) = delta.get("content").and_then(|t| t.as_str()) {
            content[i].push_str(t);
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            finishes[i].push(f.to_owned());
        }
        if let Some(t) = delta.get("tool_calls") {
            calls.push((i, t[0]["index"].clone(), t[0]["id"].clone()));
        }
    }
    assert_eq!(roles, [1, 1]);
    assert_eq!(content, ["Hello".to_owned(), "Bonjour".to_owned()]);
    assert_eq!(finishes, [vec!["stop"], vec!["tool_calls"]]);
    assert_eq!(
        calls,
        vec![(1, OwnedValue::from(0u64), OwnedValue::from("call_req_1_0"))]
    );
    assert_eq!((s.usage().prompt, s.usage().completion), (3, 4));
}

#[test]
fn seed_and_penalties_reach_generation_config() {
    let mut body =
        br#"{"model":"m","seed":4294967297,"presence_penalty":0.5,"frequency_penalty":-1,
        "messages":[{"role":"user","content":"hi"}]}"#
            .to_vec();
    let v = simd_json::to_borrowed_value(&mut body).expect("json");
    let mut out = Vec::new();
    request(&v, &mut out).expect("translates");
    let g = json(&out);
    let config = &g["generationConfig"];
    // 2^32 + 1 folded into Gemini's 32 bits.
    assert_eq!(config["seed"], 1);
    assert_eq!(config["presencePenalty"], 0.5);
    assert_eq!(config["frequencyPenalty"], -1);
    let mut plain =
        br#"{"model":"m","seed":-7,"messages":[{"role":"user","content":"hi"}]}"#.to_vec();
    let v = simd_json::to_borrowed_value(&mut plain).expect("json");
    let mut out = Vec::new();
    request(&v, &mut out).expect("translates");
    let g = json(&out);
    assert_eq!(g["generationConfig"]["seed"], -7);
    assert!(g["generationConfig"].get("presencePenalty").is_none());
}
