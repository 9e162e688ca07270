//! Anthropic extended thinking in the mock, with the API's own rules: `thinking: {type:
//! enabled, budget_tokens}` needs a budget of at least 1024 below `max_tokens`, no temperature
//! but 1 and no forced tool use; while thinking, the final assistant message — when it called a
//! tool — must start with the thinking block the mock gave it, signature intact. Answers start
//! with a `thinking` block (`Thinking about: …`) signed by [`sign`]; streams send it as
//! `thinking_delta` events and a `signature_delta`.

use serde_json::Value;

/// A thinking request's budget, or the error Anthropic answers with.
pub fn check(body: &Value) -> Result<Option<u64>, &'static str> {
    let t = &body["thinking"];
    if t["type"] != "enabled" {
        return Ok(None);
    }
    let budget = match t["budget_tokens"].as_u64() {
        Some(b) if b >= 1024 => b,
        _ => {
            return Err(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
            )
        }
    };
    if body["max_tokens"].as_u64().is_none_or(|m| m <= budget) {
        return Err("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size");
    }
    if body["temperature"].as_f64().is_some_and(|t| t != 1.0) {
        return Err("`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#important-considerations-when-using-extended-thinking");
    }
    if matches!(body["tool_choice"]["type"].as_str(), Some("any" | "tool")) {
        return Err("Thinking may not be enabled when tool_choice forces tool use.");
    }
    let last_assistant = body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "assistant"));
    if let Some(blocks) = last_assistant.and_then(|m| m["content"].as_array()) {
        let calls_tool = blocks.iter().any(|b| b["type"] == "tool_use");
        let first = blocks.first();
        match first.and_then(|b| b["type"].as_str()) {
            Some("thinking") => {
                let b = first.unwrap_or(&Value::Null);
                if b["signature"].as_str() != Some(&sign(b["thinking"].as_str().unwrap_or(""))) {
                    return Err("messages.1.content.0: Invalid `signature` in `thinking` block");
                }
            }
            Some("redacted_thinking") => {}
            _ if calls_tool => return Err("messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"),
            _ => {}
        }
    }
    Ok(Some(budget))
}

/// The thinking text the mock gives for a prompt.
pub fn text(last_user: &str) -> String {
    format!("Thinking about: {last_user}")
}

/// The signature of a thinking text (FNV-1a, hex): what the mock checks when it comes back.
pub fn sign(thinking: &str) -> String {
    let h = thinking.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("EqMockSig{h:016x}")
}
