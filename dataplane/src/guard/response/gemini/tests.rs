//! Tests of the Gemini side of response checks: chunks, candidates, parts other than text,
//! metadata and log probabilities.

use warden_shared::catalog::Dialect;

/// One Gemini chunk through a redacting guard as a streamed event, and as a whole answer: what
/// each sends on.
fn streamed_and_whole(chunk: &str) -> (String, String) {
    let (engine, scratch, mut g) = crate::guard::response::tests::redacting(Dialect::Gemini);
    let streamed = crate::guard::response::tests::through(engine, &scratch, &mut g, &[chunk]);
    let (engine, scratch, mut g) = crate::guard::response::tests::redacting(Dialect::Gemini);
    let whole = g
        .filter_body(engine, &scratch, chunk.as_bytes())
        .unwrap_or_default();
    (streamed, String::from_utf8(whole).unwrap_or_default())
}

#[test]
fn code_and_what_it_printed_are_read() {
    let (engine, scratch, mut g) = crate::guard::response::tests::redacting(Dialect::Gemini);
    let chunk = r#"{"candidates":[{"content":{"parts":[{"executableCode":{"language":"PYTHON","code":"print(lookup('jane.doe@example.com'))"}},{"codeExecutionResult":{"outcome":"OUTCOME_OK","output":"bob@example.org\n"}},{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}],"role":"model"},"index":0}]}"#;
    let out = crate::guard::response::tests::through(engine, &scratch, &mut g, &[chunk]);
    assert!(!out.contains("jane.doe") && !out.contains("bob@"), "{out}");
    assert!(
        out.contains("[EMAIL_1]") && out.contains("iVBORw0KGgo="),
        "{out}"
    );
}

#[test]
fn grounding_and_citations_are_read() {
    let chunk = r#"{"candidates":[{"content":{"parts":[{"text":"ok "}],"role":"model"},"index":0,"groundingMetadata":{"webSearchQueries":["jane.doe@example.com owner"],"groundingChunks":[{"web":{"uri":"https://example.org","title":"bob@example.org"}}]},"citationMetadata":{"citations":[{"startIndex":0,"endIndex":2,"uri":"https://example.org","title":"x"}]}}]}"#;
    let (out, whole) = streamed_and_whole(chunk);
    assert!(!out.contains("jane.doe") && !out.contains("bob@"), "{out}");
    assert!(out.contains("https://example.org"), "{out}");
    assert!(
        !whole.contains("jane.doe") && !whole.contains("bob@"),
        "{whole}"
    );
}

#[test]
fn a_candidates_log_probabilities_are_withheld() {
    let chunk = r#"{"candidates":[{"content":{"parts":[{"text":"mail jane.doe@example.com "}],"role":"model"},"index":0,"logprobsResult":{"chosenCandidates":[{"token":"jane.doe@example.com","logProbability":-0.1}],"topCandidates":[]},"avgLogprobs":-0.1}]}"#;
    let (out, whole) = streamed_and_whole(chunk);
    assert!(
        !out.contains("jane") && !out.contains("logprobsResult"),
        "{out}"
    );
    assert!(
        !whole.contains("jane") && !whole.contains("logprobsResult"),
        "{whole}"
    );
}

#[test]
fn gemini_chunks_go_on_as_sent_or_with_only_the_changed_texts_spliced() {
    let (engine, scratch, mut g) = crate::guard::response::tests::redacting(Dialect::Gemini);
    let chunk = |parts: &str, finish: &str| {
        format!(
            r#"{{"candidates":[{{"content":{{"parts":{parts},"role":"model"}},"index":0{finish}}}],"modelVersion":"m"}}"#
        )
    };
    let first = chunk(r#"[{"text":"Hello there, "}]"#, "");
    let second = chunk(
        r#"[{"text":"mail jane.doe@example.com"},{"inlineData":{"mimeType":"a/b","data":"AA=="}},{"text":" or me. "}]"#,
        r#","finishReason":"STOP""#,
    );
    let (mut template, mut out) = (None, Vec::new());
    for c in [&first, &second] {
        g.filter_event(
            engine,
            &scratch,
            None,
            c.as_bytes(),
            &mut template,
            &mut out,
        );
    }
    let out = String::from_utf8(out).unwrap_or_default();
    assert!(out.starts_with(&format!("data: {first}\n\n")), "{out}");
    assert!(!out.contains("jane.doe"), "{out}");
    // A value at the end of one part is held (the parts are one text to the guard) and
    // released, replaced, with the next; the other part and every other field as sent.
    let spliced = chunk(
        r#"[{"text":"mail "},{"inlineData":{"mimeType":"a/b","data":"AA=="}},{"text":"[EMAIL_1] or me. "}]"#,
        r#","finishReason":"STOP""#,
    );
    assert!(out.contains(&spliced), "{out}");
}
