//! Numbers in structured values: a card or phone number given as a JSON number is read as text.

use super::*;

fn read(dialect: Dialect, json: &str) -> Vec<(Source, String)> {
    let mut bytes = json.as_bytes().to_vec();
    let v = simd_json::to_borrowed_value(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    texts(dialect, &v, &mut |s, t| out.push((s, t.to_owned())));
    out
}

#[test]
fn long_integers_in_structured_values_are_read_and_short_ones_are_not() {
    // A Gemini function's response and call arguments, structured.
    let gemini = read(
        Dialect::Gemini,
        r#"{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":{"account":-98765432101,"n":3}}}]},
            {"role":"user","parts":[{"functionResponse":{"name":"f","response":{"card":4111111111111111,"count":12,"ok":true}}}]}]}"#,
    );
    assert!(
        gemini.contains(&(Source::ToolResult, "4111111111111111".into())),
        "{gemini:?}"
    );
    assert!(
        gemini.contains(&(Source::ToolArguments, "98765432101".into())),
        "{gemini:?}"
    );
    assert!(
        !gemini.iter().any(|(_, t)| t == "12" || t == "3"),
        "{gemini:?}"
    );
    // A member no reader knows, and an Anthropic tool's input.
    let openai = read(
        Dialect::OpenAi,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"payment":{"card":4111111111111111}}"#,
    );
    assert!(
        openai.contains(&(Source::ToolResult, "4111111111111111".into())),
        "{openai:?}"
    );
    let anthropic = read(
        Dialect::Anthropic,
        r#"{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"pay","input":{"phone":4155550100}}]}]}"#,
    );
    assert!(
        anthropic.contains(&(Source::ToolArguments, "4155550100".into())),
        "{anthropic:?}"
    );
}

#[test]
fn whole_numbers_written_with_an_exponent_or_a_fraction_are_read_as_their_digits() {
    let gemini = read(
        Dialect::Gemini,
        r#"{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"card":4.111111111111111e15,"phone":4155550100.0,"rate":0.25,"big":1e3,"part":4111111111111.5}}}]}]}"#,
    );
    let numbers: Vec<&str> = gemini
        .iter()
        .filter(|(_, t)| t.bytes().all(|b| b.is_ascii_digit()))
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(numbers, ["4111111111111111", "4155550100"], "{gemini:?}");
}
