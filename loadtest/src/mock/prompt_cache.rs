//! Anthropic prompt caching in the mock: blocks marked `cache_control` (in `tools`, `system`,
//! then `messages`, Anthropic's order) end a cacheable prefix. The first request with a prefix
//! writes it (`cache_creation_input_tokens`), later ones read it (`cache_read_input_tokens`);
//! `input_tokens` is what is left. Tokens are whitespace-separated words, as elsewhere in the
//! mock; Anthropic's minimum cacheable length is not modelled. The cache lives as long as the
//! mock process and is shared by its threads.

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::Value;

static WRITTEN: Mutex<Option<HashSet<u64>>> = Mutex::new(None);

/// (input, cache creation, cache read) tokens for a request whose whole prompt is `total`
/// tokens.
pub fn usage(body: &Value, total: usize) -> (usize, usize, usize) {
    // The last breakpoint's prefix: its hash and its length in tokens.
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut tokens = 0;
    let mut prefix = None;
    let tools = body["tools"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let system = match &body["system"] {
        Value::Array(blocks) => blocks.as_slice(),
        _ => &[],
    };
    let messages = body["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let blocks = messages.iter().flat_map(|m| match &m["content"] {
        Value::Array(blocks) => blocks.iter().collect::<Vec<_>>(),
        _ => Vec::new(),
    });
    for block in tools.iter().chain(system).chain(blocks) {
        let text = block.to_string();
        hash = text.bytes().fold(hash, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        tokens += block["text"]
            .as_str()
            .map_or(0, |t| t.split_whitespace().count());
        if block.get("cache_control").is_some() {
            prefix = Some((hash, tokens));
        }
    }
    let Some((hash, cached)) = prefix else {
        return (total, 0, 0);
    };
    let cached = cached.min(total);
    let mut written = WRITTEN.lock().unwrap_or_else(|e| e.into_inner());
    if written.get_or_insert_with(HashSet::new).insert(hash) {
        (total - cached, cached, 0)
    } else {
        (total - cached, 0, cached)
    }
}
