//! Gemini's thought signatures, carried across turns in the OpenAI dialect.
//!
//! Gemini 3 signs the function calls it makes (`thoughtSignature` on the call's part) and
//! refuses a later request whose history holds such a call without its signature. Chat
//! completions have no field for it, so Warden carries it in the tool-call id it makes up for
//! the call (Gemini's calls have none) — the one thing every client sends back with a call:
//! chat's `tool_calls[].id` and `tool_call_id`, the Responses API's `call_id`. The id is
//! `call_…` + [`MARK`] + the signature in URL-safe base64, so it stays within `[A-Za-z0-9_-]`
//! (what Anthropic requires of tool ids, should the conversation move there). Google's own
//! OpenAI-compatible shape, `extra_content.google.thought_signature` on the call, is read too.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

/// Between the id Warden made up and the signature.
pub const MARK: &str = "__ts_";

/// `id` with the part's signature appended, when the part carries one (standard base64, as
/// Gemini writes it; anything else is left out rather than mangled).
pub fn seal(mut id: String, part: &Value<'_>) -> String {
    let signature = part
        .get("thoughtSignature")
        .or_else(|| part.get("thought_signature"))
        .and_then(|s| s.as_str());
    if let Some(bytes) = signature.and_then(|s| STANDARD.decode(s).ok()) {
        id.push_str(MARK);
        id.push_str(&URL_SAFE_NO_PAD.encode(bytes));
    }
    id
}

/// The signature to send back with a call: Google's `extra_content` field on the call, or the
/// one sealed into its id, as standard base64.
pub fn open(id: &str, call: Option<&Value<'_>>) -> Option<String> {
    let extra = call
        .and_then(|c| c.get("extra_content"))
        .and_then(|e| e.get("google"))
        .and_then(|g| g.get("thought_signature"))
        .and_then(|s| s.as_str());
    if let Some(s) = extra {
        return Some(s.to_owned());
    }
    let (_, sealed) = id.rsplit_once(MARK)?;
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    Some(STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_goes_out_in_the_id_and_comes_back_as_it_was() {
        // `+`, `/` and padding: the characters an id must not carry.
        let signature = STANDARD.encode([0xfb_u8, 0xff, 0xbf, 0x01, 0x02]);
        assert!(signature.contains('+') && signature.contains('/') && signature.ends_with('='));
        let mut part =
            format!(r#"{{"functionCall":{{"name":"f"}},"thoughtSignature":"{signature}"}}"#)
                .into_bytes();
        let part = simd_json::to_borrowed_value(&mut part).unwrap_or_else(|e| panic!("{e}"));
        let id = seal("call_r1_0".into(), &part);
        assert!(id.starts_with("call_r1_0__ts_"), "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "{id}"
        );
        assert_eq!(open(&id, None).as_deref(), Some(signature.as_str()));
        // No signature: the id as it was; nothing to send back.
        let mut plain = br#"{"functionCall":{"name":"f"}}"#.to_vec();
        let plain = simd_json::to_borrowed_value(&mut plain).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seal("call_r1_1".into(), &plain), "call_r1_1");
        assert_eq!(open("call_r1_1", None), None);
        // Google's own field wins.
        let mut call =
            br#"{"id":"x","extra_content":{"google":{"thought_signature":"c2ln"}}}"#.to_vec();
        let call = simd_json::to_borrowed_value(&mut call).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(open(&id, Some(&call)).as_deref(), Some("c2ln"));
    }
}
