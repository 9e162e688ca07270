//! Tests of the Anthropic side of response checks: deltas, thinking, server tool results and
//! citations.

use crate::guard::response::tests::named_through;
use warden_shared::catalog::Dialect;

/// A thinking block streamed in `pieces`, its signature, then a text block.
fn thinking_events(pieces: &[&str]) -> Vec<(String, String)> {
    let mut events = vec![(
        "content_block_start".to_owned(),
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#.to_owned(),
    )];
    for p in pieces {
        let delta = serde_json::json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "thinking_delta", "thinking": p}});
        events.push(("content_block_delta".to_owned(), delta.to_string()));
    }
    events.push((
        "content_block_delta".to_owned(),
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"c2ln"}}"#.to_owned(),
    ));
    events.push((
        "content_block_stop".to_owned(),
        r#"{"type":"content_block_stop","index":0}"#.to_owned(),
    ));
    events.push((
        "message_stop".to_owned(),
        r#"{"type":"message_stop"}"#.to_owned(),
    ));
    events
}

/// The thinking a client joins from the events `g` sends.
fn thinking_through(g: &mut crate::guard::response::ResponseGuard, pieces: &[&str]) -> String {
    let events = thinking_events(pieces);
    let events: Vec<(&str, &str)> = events
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_str()))
        .collect();
    named_through(g, &events)
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| v["delta"]["thinking"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn server_tool_results_and_citations_are_read_whole() {
    let (_, _, mut g) = crate::guard::response::tests::redacting(Dialect::Anthropic);
    let events = [
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"mcp_tool_result","tool_use_id":"mcptoolu_1","is_error":false,"content":[{"type":"text","text":"owner: jane.doe@example.com"}]}}"#,
        ),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","cited_text":"write to bob@example.org","url":"https://example.org/a","title":"A","encrypted_index":"Eo8BCioIAhgBIiQ="}}}"#,
        ),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":1}"#,
        ),
    ];
    let out = named_through(&mut g, &events);
    assert!(!out.contains("jane.doe") && !out.contains("bob@"), "{out}");
    assert!(
        out.contains("owner: [EMAIL_1]") && out.contains("write to [EMAIL_2]"),
        "{out}"
    );
    assert!(
        out.contains("Eo8BCioIAhgBIiQ=") && out.contains("mcptoolu_1"),
        "{out}"
    );
    // A whole message: the same blocks.
    let (engine, scratch, mut g) = crate::guard::response::tests::redacting(Dialect::Anthropic);
    let body = br#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"web_fetch_tool_result","tool_use_id":"srvtoolu_1","content":{"type":"web_fetch_result","url":"https://example.org","content":{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"},"title":"contact jane.doe@example.com"}}},{"type":"text","text":"ok","citations":[{"type":"char_location","cited_text":"bob@example.org","document_index":0,"start_char_index":0,"end_char_index":15}]}],"stop_reason":"end_turn"}"#;
    let out = g.filter_body(engine, &scratch, body).unwrap_or_default();
    let out = String::from_utf8(out).unwrap_or_default();
    assert!(!out.contains("jane.doe") && !out.contains("bob@"), "{out}");
    assert!(out.contains(r#""text":"ok""#), "{out}");
}

#[test]
fn thinking_is_read_while_the_guard_reads_answers_and_nothing_is_put_back_in_it() {
    let (_, _, mut g) = crate::guard::response::tests::redacting(Dialect::Anthropic);
    let seen = thinking_through(&mut g, &["The user is jane.d", "oe@example.com; reply."]);
    assert_eq!(seen, "The user is [EMAIL_1]; reply.");
    // Signed as the provider wrote it: a request's placeholder stays as it is there.
    let mut g = crate::guard::response::tests::restoring(Dialect::Anthropic);
    let seen = thinking_through(&mut g, &["Write to [EMA", "IL_1] now."]);
    assert_eq!(seen, "Write to [EMAIL_1] now.");
    // A whole message: the same.
    let (engine, scratch, mut g) = crate::guard::response::tests::redacting(Dialect::Anthropic);
    let body = br#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"thinking","thinking":"The user is jane.doe@example.com.","signature":"c2ln"},{"type":"text","text":"ok"}],"stop_reason":"end_turn"}"#;
    let out = g.filter_body(engine, &scratch, body).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    assert_eq!(v["content"][0]["thinking"], "The user is [EMAIL_1].", "{v}");
    assert_eq!(v["content"][0]["signature"], "c2ln", "{v}");
}

#[test]
fn anthropic_deltas_go_on_as_sent_or_with_only_the_text_spliced() {
    let (engine, scratch, mut g) = crate::guard::response::tests::redacting(Dialect::Anthropic);
    let delta = |text: &str| {
        format!(
            r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{text}"}},"x":1}}"#
        )
    };
    let (first, second) = (
        delta("Hello there, "),
        delta("mail jane.doe@example.com now"),
    );
    let (mut template, mut out) = (None, Vec::new());
    for e in [&first, &second] {
        let name = Some(&b"content_block_delta"[..]);
        g.filter_event(
            engine,
            &scratch,
            name,
            e.as_bytes(),
            &mut template,
            &mut out,
        );
    }
    let stop = br#"{"type":"content_block_stop","index":0}"#;
    let name = Some(&b"content_block_stop"[..]);
    g.filter_event(engine, &scratch, name, stop, &mut template, &mut out);
    let out = String::from_utf8(out).unwrap_or_default();
    assert!(out.starts_with(&format!("event: content_block_delta\ndata: {first}\n\n")));
    assert!(out.contains(r#""text":"mail [EMAIL_1] "},"x":1}"#), "{out}");
    assert!(!out.contains("jane.doe"), "{out}");
}

/// The text a client joins from the events `g` sends: each block start's text or thinking, then
/// its deltas'.
fn joined(out: &str, field: &str) -> String {
    out.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| {
            v["content_block"][field]
                .as_str()
                .or_else(|| v["delta"][field].as_str())
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn a_block_start_that_carries_its_first_text_is_read_with_the_block() {
    // Anthropic starts a block with its text, thinking or input empty; a provider (or a proxy on
    // the way) that puts them there must not walk them past the guard.
    let text_start = |text: &str| {
        format!(
            r#"{{"type":"content_block_start","index":0,"content_block":{{"type":"text","text":"{text}"}}}}"#
        )
    };
    let text_delta = |text: &str| {
        format!(
            r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{text}"}}}}"#
        )
    };
    let stop = r#"{"type":"content_block_stop","index":0}"#;
    // Whole in the start, and cut between the start and the first delta.
    for (start, delta) in [
        ("Mail jane.doe@example.com today.", " Bye."),
        ("Mail jane.d", "oe@example.com today. Bye."),
    ] {
        let (_, _, mut g) = crate::guard::response::tests::redacting(Dialect::Anthropic);
        let events = [
            ("content_block_start", text_start(start)),
            ("content_block_delta", text_delta(delta)),
            ("content_block_stop", stop.to_owned()),
        ];
        let events: Vec<(&str, &str)> = events.iter().map(|(n, d)| (*n, d.as_str())).collect();
        let out = named_through(&mut g, &events);
        assert!(!out.contains("jane.d"), "{out}");
        assert_eq!(joined(&out, "text"), "Mail [EMAIL_1] today. Bye.", "{out}");
    }
    // Restore mode: a request's placeholder in the start comes back as its value.
    let mut g = crate::guard::response::tests::restoring(Dialect::Anthropic);
    let events = [
        ("content_block_start", text_start("Write to [EMAIL_1] now.")),
        ("content_block_stop", stop.to_owned()),
    ];
    let events: Vec<(&str, &str)> = events.iter().map(|(n, d)| (*n, d.as_str())).collect();
    let out = named_through(&mut g, &events);
    assert_eq!(
        joined(&out, "text"),
        "Write to jane@example.com now.",
        "{out}"
    );
    // Thinking in its start: read, nothing put back.
    let (_, _, mut g) = crate::guard::response::tests::redacting(Dialect::Anthropic);
    let events = [
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"The user is jane.doe@example.com.","signature":""}}"#,
        ),
        ("content_block_stop", stop),
    ];
    let out = named_through(&mut g, &events);
    assert!(!out.contains("jane.doe"), "{out}");
    assert_eq!(joined(&out, "thinking"), "The user is [EMAIL_1].", "{out}");
    // A tool call whose input comes whole in its start.
    let (_, _, mut g) = crate::guard::response::tests::redacting(Dialect::Anthropic);
    let events = [
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"send","input":{"to":"jane.doe@example.com"}}}"#,
        ),
        ("content_block_stop", stop),
    ];
    let out = named_through(&mut g, &events);
    assert!(!out.contains("jane.doe"), "{out}");
    assert!(
        out.contains(r#""to":"[EMAIL_1]""#) && out.contains("toolu_1"),
        "{out}"
    );
}
