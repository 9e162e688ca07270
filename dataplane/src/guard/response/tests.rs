//! Tests of the response guard's release logic, dialect-free.

use super::*;

/// A guard that redacts personal data in answers in `dialect`, with the engine and scratch to run
/// it (the dialect tests' setup).
pub(super) fn redacting(
    dialect: Dialect,
) -> (
    &'static Engine,
    crate::guard::engine::Scratch,
    ResponseGuard,
) {
    let engine = Engine::for_tests();
    let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
    let policy = GuardrailPolicy {
        response_pii: GuardAction::Redact,
        ..GuardrailPolicy::default()
    };
    let g = ResponseGuard::for_policy(&policy).unwrap_or_else(|| panic!("active"));
    (engine, scratch, g.in_dialect(dialect))
}

/// A guard that puts `jane@example.com` back for the request's `[EMAIL_1]` and redacts new
/// personal data, in `dialect`.
pub(super) fn restoring(dialect: Dialect) -> ResponseGuard {
    restoring_value(dialect, "jane@example.com", "[EMAIL_1]")
}

/// A guard that puts `value` back for the request's `placeholder` (an operator pattern's value
/// may hold any character) and redacts new personal data, in `dialect`.
pub(super) fn restoring_value(dialect: Dialect, value: &str, placeholder: &str) -> ResponseGuard {
    let pair = (value.as_bytes().to_vec(), placeholder.as_bytes().to_vec());
    let request = crate::guard::apply::Plan {
        replacements: vec![pair.clone()],
        restore: vec![pair],
        ..crate::guard::apply::Plan::default()
    };
    let policy = GuardrailPolicy {
        response_pii: GuardAction::Redact,
        ..GuardrailPolicy::default()
    };
    ResponseGuard::with_request(&policy, &request, None)
        .unwrap_or_else(|| panic!("active"))
        .in_dialect(dialect)
}

/// Named events (name, data) through `g`; the events it sends instead.
pub(super) fn named_through(g: &mut ResponseGuard, events: &[(&str, &str)]) -> String {
    let engine = crate::guard::engine::Engine::for_tests();
    let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for (name, data) in events {
        g.filter_event(
            engine,
            &scratch,
            Some(name.as_bytes()),
            data.as_bytes(),
            &mut None,
            &mut out,
        );
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Each event's data (unnamed) through `g`; the events it sends instead.
pub(super) fn through(
    engine: &Engine,
    scratch: &crate::guard::engine::Scratch,
    g: &mut ResponseGuard,
    events: &[&str],
) -> String {
    let (mut template, mut out) = (None, Vec::new());
    for e in events {
        g.filter_event(engine, scratch, None, e.as_bytes(), &mut template, &mut out);
    }
    String::from_utf8(out).unwrap_or_default()
}

fn policy(pii: GuardAction, secrets: GuardAction) -> GuardrailPolicy {
    GuardrailPolicy {
        response_pii: pii,
        response_secrets: secrets,
        ..GuardrailPolicy::default()
    }
}

/// Feed `text` in pieces of `step` bytes; return what was released, in order.
fn stream(text: &str, step: usize, p: &GuardrailPolicy) -> (String, ResponseGuard) {
    let engine = Engine::for_tests();
    let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
    let mut g = ResponseGuard::for_policy(p).unwrap_or_else(|| panic!("active"));
    let mut out = String::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let mut j = (i + step).min(bytes.len());
        while !text.is_char_boundary(j) {
            j += 1;
        }
        out.push_str(&g.push(engine, &scratch, &text[i..j]));
        i = j;
    }
    out.push_str(&g.finish(engine, &scratch));
    (out, g)
}

const TEXT: &str = "Sure — write to jane.doe@example.com, or pay with 4111 1111 1111 1111. Thanks, jane.doe@example.com!";

#[test]
fn values_split_across_any_deltas_are_redacted() {
    let p = policy(GuardAction::Redact, GuardAction::Off);
    for step in [1, 2, 3, 5, 7, 13, 40, 1000] {
        let (out, g) = stream(TEXT, step, &p);
        assert_eq!(
            out, "Sure — write to [EMAIL_1], or pay with [CARD_1]. Thanks, [EMAIL_1]!",
            "step {step}"
        );
        assert_eq!(g.verdicts.iter().map(|v| v.count).sum::<u32>(), 3);
    }
}

#[test]
fn values_written_in_fullwidth_other_digits_or_with_invisible_characters_are_held_and_redacted() {
    let p = policy(GuardAction::Redact, GuardAction::Off);
    let text = "Pay with ４１１１ １１１１ １１１１ １１１１ or 5555\u{200b}5555\u{200b}5555\u{200b}4444; \
                call ٠١٥٣٥٢٤٦٦٢ or 555–123–4567, mail bob＠example.com, \
                IBAN DE89\u{a0}3704\u{a0}0044\u{a0}0532\u{a0}0130\u{a0}00.";
    for step in [1, 2, 3, 5, 7, 13, 1000] {
        let (out, _) = stream(text, step, &p);
        assert_eq!(
            out,
            "Pay with [CARD_1] or [CARD_2]; call [PHONE_1] or [PHONE_2], mail [EMAIL_1], IBAN [IBAN_1].",
            "step {step}"
        );
    }
}

#[test]
fn addresses_with_letters_beyond_ascii_are_held_whole_across_any_split() {
    let p = policy(GuardAction::Redact, GuardAction::Off);
    let text = "Schreib an jürgen.müller@beispiel.de oder иван@пример.рф, tel:+14155552671.";
    for step in [1, 2, 3, 5, 7, 13, 1000] {
        let (out, _) = stream(text, step, &p);
        assert_eq!(
            out, "Schreib an [EMAIL_1] oder [EMAIL_2], tel:[PHONE_1].",
            "step {step}"
        );
    }
}

#[test]
fn context_words_already_released_still_confirm_a_value() {
    let p = policy(GuardAction::Redact, GuardAction::Off);
    let text = "Your social security number is 123456789 and your passport no. X1234567 is on file; call +44 20 7946 0958.";
    for step in [1, 4, 9, 31, 1000] {
        let (out, _) = stream(text, step, &p);
        assert_eq!(
            out,
            "Your social security number is [SSN_1] and your passport no. [PASSPORT_1] is on file; call [PHONE_1].",
            "step {step}"
        );
    }
}

#[test]
fn custom_patterns_act_on_responses_across_any_split() {
    use std::rc::Rc;
    use warden_shared::snapshot::CustomPattern;
    let engine = Engine::for_tests();
    let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
    let pattern = |id: &str, pattern: &str, response_action| CustomPattern {
        id: id.into(),
        pattern: pattern.into(),
        caseless: true,
        action: GuardAction::Off,
        response_action,
    };
    let state = Rc::new(crate::state::tests::state_with_custom(vec![
        pattern("employee_id", r"\bEMP-\d{6}\b", GuardAction::Redact),
        pattern("codename", r"project (?:falcon|osprey)", GuardAction::Block),
    ]));
    let text = "Ask EMP-123456 or EMP-654321, then EMP-123456 again. Then Project Osprey starts.";
    for step in [1, 2, 3, 7, 1000] {
        let custom = state.custom_scan(&state.projects[0]);
        let mut g = ResponseGuard::with_request(
            &GuardrailPolicy::default(),
            &crate::guard::apply::Plan::default(),
            custom,
        )
        .unwrap_or_else(|| panic!("active"));
        let mut out = String::new();
        for piece in text.as_bytes().chunks(step) {
            out.push_str(&g.push(engine, &scratch, std::str::from_utf8(piece).unwrap_or("")));
        }
        out.push_str(&g.finish(engine, &scratch));
        assert_eq!(
            out, "Ask [EMPLOYEE_ID_1] or [EMPLOYEE_ID_2], then [EMPLOYEE_ID_1] again. Then ",
            "step {step}"
        );
        assert_eq!(g.blocked, Some("custom"));
        assert_eq!(g.verdicts[0].detector, "employee_id");
        assert_eq!(g.verdicts[0].count, 3);
    }
}

#[test]
fn a_block_releases_only_what_came_before() {
    let p = policy(GuardAction::Block, GuardAction::Off);
    for step in [1, 4, 1000] {
        let (out, g) = stream(TEXT, step, &p);
        assert_eq!(out, "Sure — write to ", "step {step}");
        assert_eq!(g.blocked, Some("pii"));
    }
}

#[test]
fn ordinary_text_is_released_without_waiting() {
    let engine = Engine::for_tests();
    let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
    let mut g = ResponseGuard::for_policy(&policy(GuardAction::Redact, GuardAction::Redact))
        .unwrap_or_else(|| panic!());
    assert_eq!(g.push(engine, &scratch, "Hello there, "), "Hello there, ");
    // A word in progress is held until it ends.
    assert_eq!(g.push(engine, &scratch, "how are yo"), "how are ");
    assert_eq!(g.push(engine, &scratch, "u? "), "you? ");
}

/// OpenAI's own Responses events through a redacting guard.
#[test]
fn responses_api_events_carry_what_was_released_in_every_event_that_repeats_it() {
    let (engine, scratch, g) = redacting(Dialect::OpenAi);
    let mut g = g.reading_responses_api();
    let text = "mail jane.doe@example.com now";
    let mut events = vec![
        r#"{"type":"response.created","response":{"id":"resp_1","object":"response","status":"in_progress","output":[]},"sequence_number":0}"#.to_owned(),
    ];
    let mut n = 1;
    for piece in ["mail jane.d", "oe@exam", "ple.com now"] {
        events.push(format!(r#"{{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"{piece}","sequence_number":{n}}}"#));
        n += 1;
    }
    let part = format!(r#"{{"type":"output_text","text":"{text}","annotations":[]}}"#);
    let item =
        format!(r#"{{"type":"message","id":"msg_1","role":"assistant","content":[{part}]}}"#);
    events.push(format!(r#"{{"type":"response.output_text.done","item_id":"msg_1","output_index":0,"content_index":0,"text":"{text}","sequence_number":{n}}}"#));
    events.push(format!(r#"{{"type":"response.content_part.done","item_id":"msg_1","output_index":0,"content_index":0,"part":{part},"sequence_number":{}}}"#, n + 1));
    events.push(format!(r#"{{"type":"response.output_item.done","output_index":0,"item":{item},"sequence_number":{}}}"#, n + 2));
    events.push(format!(r#"{{"type":"response.completed","response":{{"id":"resp_1","status":"completed","output":[{item}]}},"sequence_number":{}}}"#, n + 3));
    let mut out = Vec::new();
    for e in &events {
        let outcome = g.filter_event(engine, &scratch, None, e.as_bytes(), &mut None, &mut out);
        assert_eq!(outcome, ChunkOutcome::Continue);
    }
    let out = String::from_utf8(out).unwrap_or_default();
    assert!(!out.contains("jane.d"), "{out}");
    let datas: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or_default())
        .collect();
    let streamed: String = datas
        .iter()
        .filter(|d| d["type"] == "response.output_text.delta")
        .filter_map(|d| d["delta"].as_str())
        .collect();
    assert_eq!(streamed, "mail [EMAIL_1] now");
    let last = datas.last().unwrap_or_else(|| panic!("events"));
    assert_eq!(
        last["response"]["output"][0]["content"][0]["text"],
        streamed
    );
    // Renumbered without gaps, whatever was added or held.
    let seq: Vec<u64> = datas
        .iter()
        .filter_map(|d| d["sequence_number"].as_u64())
        .collect();
    assert_eq!(seq, (0..datas.len() as u64).collect::<Vec<_>>());
    // A whole answer: the text checked, the rest as it was.
    let (engine, scratch, g) = redacting(Dialect::OpenAi);
    let mut g = g.reading_responses_api();
    let body = format!(
        r#"{{"id":"resp_2","status":"completed","output":[{item}],"usage":{{"input_tokens":3}}}}"#
    );
    let filtered = g
        .filter_body(engine, &scratch, body.as_bytes())
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&filtered).unwrap_or_default();
    assert_eq!(v["output"][0]["content"][0]["text"], "mail [EMAIL_1] now");
    assert_eq!(v["usage"]["input_tokens"], 3);
}

#[test]
fn an_event_whose_data_spans_lines_goes_on_as_that_many_data_lines() {
    let (engine, scratch, mut g) = redacting(Dialect::OpenAi);
    let data = "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi \"},\n\"finish_reason\":null}]}";
    let out = through(engine, &scratch, &mut g, &[data]);
    // Framed again as a client frames it, the event's data is what the provider sent.
    let framed: Vec<Vec<u8>> = crate::sse::events_in(out.as_bytes())
        .map(|e| e.data.into_owned())
        .collect();
    assert_eq!(framed, [data.as_bytes().to_vec()], "{out}");
}

#[test]
fn a_label_after_a_number_is_waited_for_in_a_stream() {
    // "2025550142" alone is a bare number; "(office)" after it names it a phone number, however
    // the stream cuts the two apart.
    let p = policy(GuardAction::Redact, GuardAction::Off);
    for step in [1, 2, 3, 5, 7, 64] {
        let (out, _) = stream(
            "Jane Doe\n2025550142 (office)\n2025550143 - Mobile",
            step,
            &p,
        );
        assert_eq!(
            out, "Jane Doe\n[PHONE_1] (office)\n[PHONE_2] - Mobile",
            "step {step}"
        );
        // A word that is no label goes on once it ends; the number stays as written.
        let (out, _) = stream("Shipped 2025550142 office chairs today.", step, &p);
        assert_eq!(
            out, "Shipped 2025550142 office chairs today.",
            "step {step}"
        );
    }
}
