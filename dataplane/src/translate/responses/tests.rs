//! Tests of the Responses → chat conversion (`responses.rs`).

use super::*;

fn convert(json: &str) -> Result<(serde_json::Value, serde_json::Value)> {
    let mut body = json.as_bytes().to_vec();
    let v = simd_json::to_borrowed_value(&mut body).unwrap();
    let mut chat = Vec::new();
    let fields = request(&v, &mut chat)?;
    let echoed = format!("{{{}}}", String::from_utf8(fields).unwrap());
    Ok((
        serde_json::from_slice(&chat).unwrap(),
        serde_json::from_str(&echoed).unwrap(),
    ))
}

#[test]
fn a_conversation_with_tool_calls_becomes_chat_messages() {
    let (chat, echoed) = convert(
        r#"{"model":"m","instructions":"sys","input":[
            {"role":"user","content":"q"},
            {"type":"reasoning","id":"rs_1","summary":[]},
            {"type":"message","role":"assistant","content":[{"type":"output_text","text":"let me "},{"type":"output_text","text":"check"}]},
            {"type":"function_call","call_id":"c1","name":"a","arguments":"{\"x\":1}"},
            {"type":"function_call","call_id":"c2","name":"b","arguments":"{}"},
            {"type":"function_call_output","call_id":"c1","output":"one"},
            {"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"two"}]}],
          "tool_choice":{"type":"function","name":"a"},"reasoning":{"effort":"low"},"metadata":{"k":"v"}}"#,
    )
    .unwrap();
    assert_eq!(
        chat,
        serde_json::json!({"model": "m", "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "let me check", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}},
                {"id": "c2", "type": "function", "function": {"name": "b", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": "two"}],
          "tool_choice": {"type": "function", "function": {"name": "a"}},
          "reasoning_effort": "low"})
    );
    assert_eq!(echoed["instructions"], "sys");
    assert_eq!(echoed["metadata"], serde_json::json!({"k": "v"}));
    assert_eq!(
        echoed["reasoning"],
        serde_json::json!({"effort": "low", "summary": null})
    );
    assert_eq!(echoed["store"], false);
}

#[test]
fn signed_thinking_sent_back_goes_to_the_next_assistant_turn() {
    let sealed = format!(
        "{THINKING_MARK}[{{\"type\":\"thinking\",\"thinking\":\"hm\",\"signature\":\"sig\"}}]"
    );
    let body = serde_json::json!({"model": "m", "input": [
        {"role": "user", "content": "q"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": sealed},
        {"type": "function_call", "call_id": "c1", "name": "a", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAA-openai-own"},
        {"role": "assistant", "content": "done"}]});
    let (chat, _) = convert(&body.to_string()).unwrap();
    assert_eq!(
        chat["messages"][1]["thinking_blocks"],
        serde_json::json!([{"type": "thinking", "thinking": "hm", "signature": "sig"}])
    );
    assert_eq!(chat["messages"][1]["tool_calls"][0]["id"], "c1");
    assert!(
        chat["messages"][3].get("thinking_blocks").is_none(),
        "{chat}"
    );
}

#[test]
fn what_chat_cannot_carry_is_refused() {
    // Chat cannot carry these; OpenAI's own Responses API can (only_openai).
    for body in [
        r#"{"model":"m","input":"x","previous_response_id":"resp_1"}"#,
        r#"{"model":"m","input":"x","tools":[{"type":"web_search_preview"}]}"#,
        r#"{"model":"m","input":"x","background":true}"#,
        r#"{"model":"m","input":[{"type":"item_reference","id":"x"}]}"#,
        r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}"#,
    ] {
        let e = convert(body).unwrap_err();
        assert!(only_openai(&e), "{body}: {e}");
    }
    // Malformed for every provider.
    for body in [
        r#"{"model":"m","input":[]}"#,
        r#"{"model":"m"}"#,
        r#"{"model":"m","input":[{"role":"tool","content":"x"}]}"#,
    ] {
        let e = convert(body).unwrap_err();
        assert!(
            e.kind == Kind::InvalidRequest && !only_openai(&e),
            "{body}: {e}"
        );
    }
    // Null is as good as absent.
    assert!(convert(r#"{"model":"m","input":"x","previous_response_id":null}"#).is_ok());
}
