//! Tools out to Anthropic: the client's function tools as `name`, `description` and
//! `input_schema`; `tool_choice` (`required` → `any`, a function → `tool`,
//! `parallel_tool_calls: false` → `disable_parallel_tool_use`); and structured output as the
//! [`JSON_TOOL`] the model is made to call (see the parent module).

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use super::JSON_TOOL;
use crate::error::Result;
use crate::translate::json::{Arr, Obj};
use crate::translate::openai_in::{self as oai, invalid, ToolChoice};

/// The schema a request's `response_format` asks the answer to follow, with its description:
/// `json_schema`'s own, or any object for `json_object`. `None` for text.
pub fn structured_output<'v>(
    req: &'v Value<'v>,
) -> Option<(Option<&'v Value<'v>>, Option<&'v str>)> {
    let format = req.get("response_format")?;
    match oai::str_field(format, "type") {
        Some("json_schema") => {
            let s = format.get("json_schema");
            Some((
                s.and_then(|s| s.get("schema")),
                s.and_then(|s| oai::str_field(s, "description")),
            ))
        }
        Some("json_object") => Some((None, None)),
        _ => None,
    }
}

pub fn write_tools(body: &mut Obj<'_>, req: &Value<'_>, thinks: bool) -> Result<()> {
    let tools = oai::tools(req);
    let structured = structured_output(req);
    if structured.is_some() && tools.iter().any(|(name, ..)| *name == JSON_TOOL) {
        return Err(invalid(
            "a tool may not be named json_response when response_format asks for JSON",
        ));
    }
    let client_tools = !tools.is_empty();
    if client_tools || structured.is_some() {
        let mut arr = Arr::new(body.key("tools"));
        if let Some((schema, description)) = structured {
            let mut t = Obj::new(arr.item());
            t.str("name", JSON_TOOL);
            t.str(
                "description",
                description.unwrap_or("Give the final answer as JSON that follows this schema."),
            );
            match schema.filter(|s| s.is_object()) {
                Some(s) => t.value("input_schema", s),
                None => t.raw("input_schema", b"{\"type\":\"object\"}"),
            }
            t.end();
        }
        for (name, description, parameters) in tools {
            let mut t = Obj::new(arr.item());
            t.str("name", name);
            if let Some(d) = description {
                t.str("description", d);
            }
            match parameters {
                Some(p) => t.value("input_schema", p),
                None => t.raw("input_schema", b"{\"type\":\"object\",\"properties\":{}}"),
            }
            t.end();
        }
        arr.end();
    }
    let parallel_off = req.get("parallel_tool_calls").and_then(|v| v.as_bool()) == Some(false);
    let choice = oai::tool_choice(req);
    if choice.is_none() && !parallel_off && structured.is_none() {
        return Ok(());
    }
    let forced = matches!(choice, Some(ToolChoice::Required | ToolChoice::Function(_)));
    if thinks && forced {
        return Err(invalid(
            "a Claude model cannot think while tool_choice forces a tool; use auto or none",
        ));
    }
    let mut c = Obj::new(body.key("tool_choice"));
    match (choice.unwrap_or(ToolChoice::Auto), structured.is_some()) {
        (ToolChoice::Function(name), _) => {
            c.str("type", "tool");
            c.str("name", name);
        }
        // JSON wanted: the model answers through the JSON tool, or one of the client's.
        (ToolChoice::Auto | ToolChoice::Required, true) if client_tools => c.str("type", "any"),
        (_, true) => {
            c.str("type", "tool");
            c.str("name", JSON_TOOL);
        }
        (ToolChoice::Auto, false) => c.str("type", "auto"),
        (ToolChoice::None, false) => c.str("type", "none"),
        (ToolChoice::Required, false) => c.str("type", "any"),
    }
    if parallel_off {
        c.raw("disable_parallel_tool_use", b"true");
    }
    c.end();
    Ok(())
}
