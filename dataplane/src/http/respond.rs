//! Response writing: status line and headers into a reused buffer, OpenAI error bodies, and
//! chunked-encoding frames for streams.
//!
//! Every response carries `x-request-id`. Error bodies follow OpenAI's shape
//! `{"error":{"message","type","param","code"}}` so the official SDKs raise their own exception
//! types for them.

use std::io::Write;

use warden_shared::catalog::Dialect;

use crate::error::Error;

pub enum BodyLen {
    Fixed(usize),
    Chunked,
}

pub const JSON: &str = "application/json";
pub const EVENT_STREAM: &str = "text/event-stream";

/// Append a status line and headers to `out`.
pub fn head(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &str,
    len: BodyLen,
    request_id: &[u8],
    keep_alive: bool,
    extra: &[(&str, &[u8])],
) {
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\n",
        reason(status)
    );
    match len {
        BodyLen::Fixed(n) => {
            let _ = write!(out, "content-length: {n}\r\n");
        }
        BodyLen::Chunked => {
            out.extend_from_slice(b"transfer-encoding: chunked\r\ncache-control: no-cache\r\n")
        }
    }
    out.extend_from_slice(b"x-request-id: ");
    out.extend_from_slice(request_id);
    out.extend_from_slice(b"\r\n");
    for (name, value) in extra {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A complete response with a fixed body.
pub fn full(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &str,
    body: &[u8],
    request_id: &[u8],
    keep_alive: bool,
) {
    head(
        out,
        status,
        content_type,
        BodyLen::Fixed(body.len()),
        request_id,
        keep_alive,
        &[],
    );
    out.extend_from_slice(body);
}

/// A complete OpenAI-dialect error response.
pub fn error(out: &mut Vec<u8>, err: &Error, request_id: &[u8], keep_alive: bool) {
    error_in(out, err, Dialect::OpenAi, request_id, keep_alive);
}

/// A complete error response in the caller's dialect.
pub fn error_in(
    out: &mut Vec<u8>,
    err: &Error,
    dialect: Dialect,
    request_id: &[u8],
    keep_alive: bool,
) {
    let mut body = Vec::with_capacity(160);
    let message = err.to_string();
    match dialect {
        Dialect::OpenAi => error_body(
            &mut body,
            &message,
            err.error_type(),
            err.param(),
            err.code(),
        ),
        Dialect::Anthropic => {
            anthropic_error_body(&mut body, anthropic_error_type(err.status()), &message)
        }
        Dialect::Gemini => gemini_error_body(&mut body, err.status(), &message),
    }
    let keep_alive = keep_alive && !err.closes_connection();
    match err.retry_after_s {
        Some(s) => {
            let s = s.to_string();
            head(
                out,
                err.status(),
                JSON,
                BodyLen::Fixed(body.len()),
                request_id,
                keep_alive,
                &[("retry-after", s.as_bytes())],
            );
            out.extend_from_slice(&body);
        }
        None => full(out, err.status(), JSON, &body, request_id, keep_alive),
    }
}

/// `{"type":"error","error":{"type":..,"message":..}}`
pub fn anthropic_error_body(out: &mut Vec<u8>, error_type: &str, message: &str) {
    out.extend_from_slice(b"{\"type\":\"error\",\"error\":{\"type\":");
    json_string(out, error_type);
    out.extend_from_slice(b",\"message\":");
    json_string(out, message);
    out.extend_from_slice(b"}}");
}

/// Anthropic's error type for a status.
pub fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        400 | 405 | 408 | 415 | 431 | 505 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// `{"error":{"code":..,"message":..,"status":..}}`
pub fn gemini_error_body(out: &mut Vec<u8>, status: u16, message: &str) {
    let _ = write!(out, "{{\"error\":{{\"code\":{status},\"message\":");
    json_string(out, message);
    out.extend_from_slice(b",\"status\":");
    json_string(out, gemini_status(status));
    out.extend_from_slice(b"}}");
}

/// Google's canonical status name for an HTTP status.
pub fn gemini_status(status: u16) -> &'static str {
    match status {
        400 | 405 | 413 | 415 | 431 | 505 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        408 | 504 => "DEADLINE_EXCEEDED",
        429 => "RESOURCE_EXHAUSTED",
        502 | 503 => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

/// `{"error":{"message":..,"type":..,"param":..,"code":..}}`
pub fn error_body(
    out: &mut Vec<u8>,
    message: &str,
    error_type: &str,
    param: Option<&str>,
    code: &str,
) {
    out.extend_from_slice(b"{\"error\":{\"message\":");
    json_string(out, message);
    out.extend_from_slice(b",\"type\":");
    json_string(out, error_type);
    out.extend_from_slice(b",\"param\":");
    match param {
        Some(p) => json_string(out, p),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"code\":");
    json_string(out, code);
    out.extend_from_slice(b"}}");
}

/// One chunk of a chunked body.
pub fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let _ = write!(out, "{:x}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A JSON string literal with the escapes RFC 8259 requires. Runs that need no escaping are
/// copied whole.
pub fn json_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A decimal number, without the formatting machinery.
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        529 => "Overloaded",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn error_response_is_openai_shaped() {
        let mut out = Vec::new();
        let err = Error::new(Kind::ModelNotFound, "unknown model").with_detail("\"x\"\n");
        error(&mut out, &err, b"req_1", true);
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("x-request-id: req_1\r\n"));
        assert!(text.ends_with(
            r#"{"error":{"message":"unknown model: \"x\"\n","type":"invalid_request_error","param":"model","code":"model_not_found"}}"#
        ));
    }

    #[test]
    fn json_strings_and_numbers() {
        let mut out = Vec::new();
        json_string(&mut out, "plain \"q\" \\ \n\t\u{1} é");
        assert_eq!(
            String::from_utf8_lossy(&out),
            r#""plain \"q\" \\ \n\t\u0001 é""#
        );
        for v in [0u64, 7, 10, 12345, u64::MAX] {
            let mut n = Vec::new();
            push_u64(&mut n, v);
            assert_eq!(n, v.to_string().into_bytes());
        }
    }

    #[test]
    fn framing_errors_close_the_connection() {
        let mut out = Vec::new();
        error(&mut out, &Error::new(Kind::Framing, "x"), b"r", true);
        assert!(String::from_utf8_lossy(&out).contains("connection: close\r\n"));
    }
}
