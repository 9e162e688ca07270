//! Reasoning in OpenAI's terms ⇄ Anthropic's extended thinking.
//!
//! Out: `reasoning_effort` becomes `thinking: {type: enabled, budget_tokens}` ([`budget_for`];
//! a `thinking` object in the body is taken as Anthropic's own). Anthropic counts the budget
//! inside `max_tokens`, as OpenAI counts reasoning inside `max_completion_tokens`: the client's
//! limit stays the limit (it must leave room for the 1024-token minimum budget), and without one
//! the default answer room is added to the budget. While thinking, Anthropic takes no
//! `temperature` (dropped), `top_p` only from 0.95 (dropped below) and no forced tool use (a
//! `tool_choice` that forces a tool, and structured output, which forces the JSON tool, get 400).
//! An assistant message's `thinking_blocks` go back first in its content, signatures intact, as
//! Anthropic requires on the turn after a tool call.
//!
//! Back: thinking text as `reasoning_content` and the blocks (with signatures, and
//! `redacted_thinking` as it came) as `thinking_blocks` — unless response guardrails read the
//! answer: they cannot scan or redact signed thinking, so then it is not passed on at all.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use crate::error::Result;
use crate::translate::json::{Arr, Obj};
use crate::translate::openai_in::{self as oai, invalid};

/// Anthropic's smallest thinking budget.
pub const MIN_BUDGET: u64 = 1024;

/// The thinking budget for an OpenAI `reasoning_effort`.
pub fn budget_for(effort: &str) -> Option<u64> {
    match effort {
        "minimal" => Some(1024),
        "low" => Some(2048),
        "medium" => Some(8192),
        "high" => Some(24576),
        _ => None,
    }
}

/// The thinking budget a request asks for, if any: Anthropic's own `thinking` object, else
/// `reasoning_effort`.
pub fn requested(req: &Value<'_>) -> Result<Option<u64>> {
    if let Some(t) = req.get("thinking").filter(|t| !t.is_null()) {
        return match oai::str_field(t, "type") {
            Some("enabled") => match t.get("budget_tokens").and_then(|b| b.as_u64()) {
                Some(b) if b >= MIN_BUDGET => Ok(Some(b)),
                _ => Err(invalid("thinking.budget_tokens must be at least 1024")),
            },
            Some("disabled") => Ok(None),
            _ => Err(invalid("thinking.type must be enabled or disabled")),
        };
    }
    match oai::str_field(req, "reasoning_effort") {
        None | Some("none") => Ok(None),
        Some(effort) => budget_for(effort)
            .map(Some)
            .ok_or_else(|| invalid("reasoning_effort must be minimal, low, medium or high")),
    }
}

/// `max_tokens` and the budget for a thinking request.
pub fn limits(client_max: Option<u64>, budget: u64) -> Result<(u64, u64)> {
    match client_max {
        None => Ok((super::DEFAULT_MAX_TOKENS + budget, budget)),
        Some(max) if max > MIN_BUDGET => Ok((max, budget.min(max - 1))),
        Some(_) => Err(invalid(
            "max_completion_tokens must exceed 1024 for a Claude model to think",
        )),
    }
}

/// Write `thinking: {type: enabled, budget_tokens}`.
pub fn write_config(body: &mut Obj<'_>, budget: u64) {
    let mut t = Obj::new(body.key("thinking"));
    t.str("type", "enabled");
    t.num("budget_tokens", budget);
    t.end();
}

/// An assistant message's `thinking_blocks`, as the first blocks of its content.
pub fn write_blocks(blocks: &mut Arr<'_>, m: &Value<'_>) {
    for b in m
        .get("thinking_blocks")
        .and_then(|b| b.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if matches!(
            oai::str_field(b, "type"),
            Some("thinking" | "redacted_thinking")
        ) {
            write_block(blocks.item(), b);
        }
    }
}

/// One thinking block, the same in both directions: `{type: thinking, thinking, signature}` or
/// `{type: redacted_thinking, data}`.
pub fn write_block(out: &mut Vec<u8>, block: &Value<'_>) {
    let mut o = Obj::new(out);
    match oai::str_field(block, "type") {
        Some("redacted_thinking") => {
            o.str("type", "redacted_thinking");
            o.str("data", oai::str_field(block, "data").unwrap_or_default());
        }
        _ => {
            o.str("type", "thinking");
            o.str(
                "thinking",
                oai::str_field(block, "thinking").unwrap_or_default(),
            );
            o.str(
                "signature",
                oai::str_field(block, "signature").unwrap_or_default(),
            );
        }
    }
    o.end();
}
