//! The strings of a Responses API answer that stream in delta events ([`Streamed`]), and the
//! events and members each travels in.

/// A string of a Responses API answer that streams in delta events, and where each of its
/// events and items keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::guard::response) enum Streamed {
    /// A message's `output_text` part.
    Text,
    /// A message's `refusal` part.
    Refusal,
    /// A function call's `arguments`.
    Arguments,
    /// A custom tool call's `input`.
    Input,
    /// An MCP call's `arguments`.
    McpArguments,
    /// A code interpreter call's `code`.
    Code,
}

impl Streamed {
    const ALL: [Streamed; 6] = [
        Streamed::Text,
        Streamed::Refusal,
        Streamed::Arguments,
        Streamed::Input,
        Streamed::McpArguments,
        Streamed::Code,
    ];

    /// The event that carries a piece of it.
    pub(super) fn delta_event(self) -> &'static str {
        match self {
            Streamed::Text => "response.output_text.delta",
            Streamed::Refusal => "response.refusal.delta",
            Streamed::Arguments => "response.function_call_arguments.delta",
            Streamed::Input => "response.custom_tool_call_input.delta",
            Streamed::McpArguments => "response.mcp_call_arguments.delta",
            Streamed::Code => "response.code_interpreter_call_code.delta",
        }
    }

    /// The event that repeats it whole.
    pub(super) fn done_event(self) -> &'static str {
        match self {
            Streamed::Text => "response.output_text.done",
            Streamed::Refusal => "response.refusal.done",
            Streamed::Arguments => "response.function_call_arguments.done",
            Streamed::Input => "response.custom_tool_call_input.done",
            Streamed::McpArguments => "response.mcp_call_arguments.done",
            Streamed::Code => "response.code_interpreter_call_code.done",
        }
    }

    /// Its member in the `done` event, the content part or the output item.
    pub(super) fn field(self) -> &'static str {
        match self {
            Streamed::Text => "text",
            Streamed::Refusal => "refusal",
            Streamed::Arguments | Streamed::McpArguments => "arguments",
            Streamed::Input => "input",
            Streamed::Code => "code",
        }
    }

    /// Whether it is JSON source the client parses (a call's arguments): restored values go
    /// in escaped.
    pub(super) fn json(self) -> bool {
        matches!(self, Streamed::Arguments | Streamed::McpArguments)
    }

    /// Whether it is a message's content part (its events carry `content_index`).
    pub(super) fn in_content(self) -> bool {
        matches!(self, Streamed::Text | Streamed::Refusal)
    }

    pub(super) fn delta(kind: &str) -> Option<Streamed> {
        Streamed::ALL.into_iter().find(|s| s.delta_event() == kind)
    }

    pub(super) fn done(kind: &str) -> Option<Streamed> {
        Streamed::ALL.into_iter().find(|s| s.done_event() == kind)
    }

    /// The streamed string of an output item of `kind`, if it has one.
    pub(super) fn of_item(kind: &str) -> Option<Streamed> {
        match kind {
            "function_call" => Some(Streamed::Arguments),
            "custom_tool_call" => Some(Streamed::Input),
            "mcp_call" => Some(Streamed::McpArguments),
            "code_interpreter_call" => Some(Streamed::Code),
            _ => None,
        }
    }
}
