//! A provider's error response, as the client gets it.
//!
//! OpenAI-dialect clients get an OpenAI error body with the provider's message, type and code,
//! and a status their SDK maps to the right exception: Anthropic's 529 (overloaded) becomes
//! 503; Gemini's 400 with `API_KEY_INVALID` becomes 401. Native-route clients get the provider's
//! body unchanged. Either way, the message of an authentication failure is replaced: providers
//! echo part of the rejected key there, and the client is told the key's fingerprint instead.

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;
use warden_shared::catalog::{Dialect, Provider};

use crate::http::respond::{
    anthropic_error_body, anthropic_error_type, error_body, gemini_error_body,
};
use crate::translate::openai_in::str_field;

pub struct Mapped {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What a provider's error body says, whatever its dialect.
#[derive(Default)]
struct Said {
    message: Option<String>,
    error_type: Option<String>,
    code: Option<String>,
    param: Option<String>,
    api_key_invalid: bool,
}

pub fn map(
    client: Dialect,
    provider: Provider,
    status: u16,
    body: &[u8],
    fingerprint: &str,
) -> Mapped {
    let said = read(provider.dialect(), body);
    let (status, auth) = match status {
        401 | 403 => (status, true),
        400 if said.api_key_invalid => (401, true),
        s => (s, false),
    };
    let auth_message = || {
        format!(
            "{} rejected the project's provider key ({fingerprint}) with status {status}",
            provider.name()
        )
    };
    let mut out = Vec::with_capacity(256);
    if client == provider.dialect() {
        if !auth {
            return Mapped {
                status,
                body: body.to_vec(),
            };
        }
        match client {
            Dialect::Anthropic => {
                anthropic_error_body(&mut out, anthropic_error_type(status), &auth_message())
            }
            Dialect::Gemini => gemini_error_body(&mut out, status, &auth_message()),
            Dialect::OpenAi => {
                let code = said.code.as_deref().unwrap_or("invalid_api_key");
                error_body(&mut out, &auth_message(), default_type(status), None, code)
            }
        }
        return Mapped { status, body: out };
    }
    let status = if status == 529 { 503 } else { status };
    let message = if auth {
        auth_message()
    } else {
        said.message
            .clone()
            .unwrap_or_else(|| format!("{} returned status {status}", provider.name()))
    };
    let error_type = said
        .error_type
        .as_deref()
        .unwrap_or_else(|| default_type(status));
    let fallback_code = format!("provider_status_{status}");
    let code = said.code.as_deref().unwrap_or(&fallback_code);
    error_body(&mut out, &message, error_type, said.param.as_deref(), code);
    Mapped { status, body: out }
}

/// Replace every secret the guardrail detectors find in an error body (provider keys, tokens)
/// with `[REDACTED]`, whatever the status: a provider, or a compromised or misconfigured
/// OpenAI-compatible endpoint, may echo a key in any error. The detectors' values are ASCII
/// without quotes or backslashes, so the JSON stays valid.
pub fn scrub_secrets(
    engine: &crate::guard::engine::Engine,
    scratch: &crate::guard::engine::Scratch,
    body: Vec<u8>,
) -> Vec<u8> {
    let mut found = Vec::new();
    engine.scan(scratch, &body, &mut found);
    found.retain(|f| f.detector().category == crate::guard::Category::Secrets);
    if found.is_empty() {
        return body;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    for f in found {
        out.extend_from_slice(&body[at..f.start]);
        out.extend_from_slice(b"[REDACTED]");
        at = f.end;
    }
    out.extend_from_slice(&body[at..]);
    out
}

fn read(dialect: Dialect, body: &[u8]) -> Said {
    let mut copy = body.to_vec();
    let Ok(v) = simd_json::to_borrowed_value(&mut copy) else {
        return Said::default();
    };
    let Some(err) = v.get("error") else {
        return Said::default();
    };
    let owned = |k: &str| str_field(err, k).map(str::to_owned);
    match dialect {
        Dialect::OpenAi => Said {
            message: owned("message"),
            error_type: owned("type"),
            code: owned("code"),
            param: owned("param"),
            api_key_invalid: false,
        },
        Dialect::Anthropic => Said {
            message: owned("message"),
            error_type: owned("type"),
            code: owned("type"),
            param: None,
            api_key_invalid: false,
        },
        Dialect::Gemini => Said {
            message: owned("message"),
            error_type: None,
            code: owned("status"),
            param: None,
            api_key_invalid: api_key_invalid(err),
        },
    }
}

fn api_key_invalid(err: &Value<'_>) -> bool {
    err.get("details")
        .and_then(|d| d.as_array())
        .is_some_and(|d| {
            d.iter()
                .any(|x| str_field(x, "reason") == Some("API_KEY_INVALID"))
        })
}

/// OpenAI's error type for a status, when the provider gave none.
pub fn default_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(m: &Mapped) -> String {
        String::from_utf8_lossy(&m.body).into_owned()
    }

    #[test]
    fn a_key_echoed_in_any_error_is_scrubbed() {
        let engine = crate::guard::engine::Engine::for_tests();
        let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
        let key = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
        for (status, dialect) in [
            (429, Dialect::OpenAi),
            (500, Dialect::OpenAi),
            (400, Dialect::Anthropic),
        ] {
            let body = format!(
                r#"{{"error":{{"message":"quota exceeded for {key}","type":"rate_limit","code":"x"}}}}"#
            );
            let m = map(dialect, Provider::OpenAi, status, body.as_bytes(), "fp");
            let out = scrub_secrets(engine, &scratch, m.body);
            let text = String::from_utf8_lossy(&out);
            assert!(
                !text.contains(key) && text.contains("[REDACTED]"),
                "{status}: {text}"
            );
            let _: serde_json::Value =
                serde_json::from_slice(&out).unwrap_or_else(|e| panic!("still JSON: {e}"));
        }
    }

    #[test]
    fn openai_clients_get_statuses_their_sdk_understands() {
        let overloaded =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let m = map(Dialect::OpenAi, Provider::Anthropic, 529, overloaded, "fp");
        assert_eq!(m.status, 503);
        assert!(json(&m).contains(r#""type":"overloaded_error""#));

        let exhausted = br#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}"#;
        let m = map(Dialect::OpenAi, Provider::Google, 429, exhausted, "fp");
        assert_eq!(m.status, 429);
        assert!(
            json(&m).contains(r#""code":"RESOURCE_EXHAUSTED""#),
            "{}",
            json(&m)
        );

        let bad_key = br#"{"error":{"code":400,"message":"API key not valid. AIza...","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#;
        let m = map(
            Dialect::OpenAi,
            Provider::Google,
            400,
            bad_key,
            "sha256:abc",
        );
        assert_eq!(m.status, 401);
        assert!(json(&m).contains("sha256:abc") && !json(&m).contains("AIza"));
    }

    #[test]
    fn native_clients_get_the_provider_body_but_never_an_auth_message() {
        let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#;
        let m = map(Dialect::Anthropic, Provider::Anthropic, 429, body, "fp");
        assert_eq!((m.status, m.body.as_slice()), (429, &body[..]));
        let auth = br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-...xyz"}}"#;
        let m = map(Dialect::Anthropic, Provider::Anthropic, 401, auth, "fp");
        assert!(!json(&m).contains("sk-ant") && json(&m).contains("authentication_error"));
    }
}
