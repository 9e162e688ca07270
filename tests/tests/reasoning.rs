//! OpenAI's reasoning models get `max_completion_tokens` for the `max_tokens` older clients send
//! (they refuse `max_tokens`). Reasoning a provider sends beside the answer — DeepSeek's `reasoning_content`, passed through
//! from an OpenAI-compatible provider — reaches the client as it came, but not where the
//! project's response guardrails read answers: they do not read it, so it would be a way around
//! them (whole answers and streams).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use warden_tests::{chat_body, config, Gateway, Mock, DRIVERS};

const REASONER: &str = "[[models]]\nalias = \"reasoner\"\nprovider = \"openai\"\nupstream_model = \"deepseek-reasoner\"\n";

/// (reasoning, content) of a whole answer and of a stream.
fn reasoning_and_content(gw: &Gateway) -> [(String, String); 2] {
    let whole = gw
        .chat(&chat_body("reasoner", "card 4111 1111 1111 1111", false))
        .json();
    let m = &whole["choices"][0]["message"];
    let streamed = gw.chat(&chat_body("reasoner", "card 4111 1111 1111 1111", true));
    let (mut reasoning, mut content) = (String::new(), String::new());
    for e in streamed.events().iter().filter(|e| e.as_str() != "[DONE]") {
        let v: Value = serde_json::from_str(e).unwrap();
        let d = &v["choices"][0]["delta"];
        reasoning.push_str(d["reasoning_content"].as_str().unwrap_or(""));
        content.push_str(d["content"].as_str().unwrap_or(""));
    }
    [
        (
            m["reasoning_content"].as_str().unwrap_or("").to_owned(),
            m["content"].as_str().unwrap().to_owned(),
        ),
        (reasoning, content),
    ]
}

#[test]
fn passed_through_reasoning_is_withheld_where_response_guardrails_read_answers() {
    let mock = Mock::start(&[]);
    let open = Gateway::start(DRIVERS[0], &config(mock.addr, 1, REASONER));
    for (reasoning, content) in reasoning_and_content(&open) {
        assert_eq!(reasoning, "Thinking about: card 4111 1111 1111 1111");
        assert_eq!(content, "echo: card 4111 1111 1111 1111");
    }
    let guarded = config(mock.addr, 1, REASONER).replace(
        "  { provider = \"google\", key = \"gm-key-5555\" },\n]",
        "  { provider = \"google\", key = \"gm-key-5555\" },\n]\n[tenants.projects.guardrails]\nresponse_pii = \"redact\"\n",
    );
    let gw = Gateway::start(DRIVERS[0], &guarded);
    for (reasoning, content) in reasoning_and_content(&gw) {
        assert_eq!(reasoning, "", "reasoning withheld");
        assert_eq!(content, "echo: card [CARD_1]");
    }
}

#[test]
fn reasoning_models_get_max_completion_tokens_for_max_tokens() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(DRIVERS[0], &config(mock.addr, 1, ""));
    for (model, stream) in [("o3", false), ("o3-mini", true), ("gpt-4o", false)] {
        let mut body = chat_body(model, "hi", stream);
        body["max_tokens"] = 50.into();
        let r = gw.chat(&body);
        assert_eq!(r.status, 200, "{model}: {}", r.text());
    }
    let sent: Vec<Value> = mock
        .captured()
        .into_iter()
        .map(|c| c["body"].clone())
        .collect();
    for b in &sent[..2] {
        assert_eq!(b["max_completion_tokens"], 50, "{b}");
        assert!(b.get("max_tokens").is_none(), "{b}");
    }
    assert_eq!(
        sent[2]["max_tokens"], 50,
        "other models keep what the client sent"
    );
}
