//! The pieces of an Anthropic answer the guard holds per block besides its text (a tool's
//! input, thinking), and the shape of the delta events they travel in.

use simd_json::prelude::*;
use simd_json::BorrowedValue;

/// A `content_block_delta` as it came: its event name and data, its block, and the member of its
/// delta the guard releases.
pub(super) struct Delta<'a> {
    pub(super) name: &'a [u8],
    pub(super) data: &'a [u8],
    pub(super) index: u64,
    pub(super) field: &'a str,
}

/// The text of a `thinking_delta`, if `v` carries one.
pub(super) fn thinking_delta(v: &BorrowedValue<'_>) -> Option<String> {
    v.get("delta")
        .filter(|d| d.get("type").and_then(|t| t.as_str()) == Some("thinking_delta"))
        .and_then(|d| d.get("thinking"))
        .and_then(|t| t.as_str())
        .map(str::to_owned)
}

/// A stream an Anthropic answer holds per block besides its text.
#[derive(Debug, Clone, Copy)]
pub(super) enum BlockStream {
    /// A tool_use block's input, streamed as JSON text.
    ToolInput,
    /// A thinking block's text (read while the guard reads answers).
    Thinking,
}

impl BlockStream {
    /// The field stream block `index`'s text is held in.
    pub(super) fn path(self, index: u64) -> Vec<crate::guard::response::fields::Step> {
        let elem = crate::guard::response::fields::Step::Elem {
            at: 0,
            index: Some(index),
        };
        match self {
            // Keyed by the member it streams in: JSON source, where restored values go in
            // escaped (`fields.rs` `json_source`).
            BlockStream::ToolInput => vec![
                crate::guard::response::fields::Step::Key("partial_json".into()),
                elem,
            ],
            BlockStream::Thinking => vec![
                crate::guard::response::fields::Step::Key("thinking".into()),
                elem,
            ],
        }
    }

    /// The delta type its pieces travel in, and the member that carries them.
    pub(super) fn delta(self) -> (&'static str, &'static str) {
        match self {
            BlockStream::ToolInput => ("input_json_delta", "partial_json"),
            BlockStream::Thinking => ("thinking_delta", "thinking"),
        }
    }
}
