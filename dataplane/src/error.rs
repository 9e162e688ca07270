//! The data plane's one error type: a kind (which decides the status, the OpenAI error `type`
//! and `code`, and the metric label), the side at fault, and a static context naming the step.
//!
//! Invariant: nothing in an `Error` is built from a key or from request content. The optional
//! detail is an I/O error's text or a parser's message, both free of secrets.

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Unparseable request line or headers.
    Malformed,
    /// Ambiguous body framing (smuggling-shaped); the connection is closed.
    Framing,
    HeadTooLarge,
    BodyTooLarge,
    HttpVersion,
    /// The client was too slow sending its head or body.
    ClientTimeout,
    InvalidJson,
    /// The body is content-coded (gzip, br, …): no guardrail could read it.
    UnsupportedEncoding,
    /// Valid JSON, but not a request we can serve (missing or mistyped field).
    InvalidRequest,
    MissingApiKey,
    InvalidApiKey,
    UnknownRoute,
    MethodNotAllowed,
    ModelNotFound,
    NoProviderKey,
    /// A guardrail refused the request (the detail names the category, never the value).
    GuardrailBlocked,
    /// The project's requests or tokens per minute are used up.
    RateLimited,
    /// The project's monthly spend cap is reached.
    BudgetExceeded,
    /// Shard at its connection limit, or draining.
    Overloaded,
    /// The shard's audit ring stayed full: records would otherwise be lost.
    AuditFull,
    /// The audit log cannot be written (disk error, disk full).
    AuditUnavailable,
    UpstreamConnect,
    UpstreamTimeout,
    UpstreamProtocol,
    UpstreamClosed,
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Upstream,
    Internal,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    pub context: &'static str,
    pub detail: Option<Cow<'static, str>>,
    /// Seconds for a `retry-after` header (rate limits).
    pub retry_after_s: Option<u32>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, context: &'static str) -> Error {
        Error {
            kind,
            context,
            detail: None,
            retry_after_s: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u32) -> Error {
        self.retry_after_s = Some(seconds);
        self
    }

    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    /// The detail names something the client sent (a key of its JSON, a block or tool type), when
    /// that has the shape of a schema's name: an ASCII letter, then at most 63 letters, digits and
    /// `_-.:`, with at most four digits, and not a Warden key's prefix. Anything else — a card or a
    /// key where a name goes — is not repeated into the error body and the log.
    pub fn with_name(self, name: &str) -> Error {
        let digits = name.bytes().filter(u8::is_ascii_digit).count();
        let named = name.len() <= 64
            && name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
            && digits <= 4
            && !name.starts_with("wdn_");
        if named {
            self.with_detail(format!("{name:?}"))
        } else {
            self.with_detail("(the name sent is not repeated)")
        }
    }

    pub fn side(&self) -> Side {
        match self.kind {
            Kind::UpstreamConnect
            | Kind::UpstreamTimeout
            | Kind::UpstreamProtocol
            | Kind::UpstreamClosed => Side::Upstream,
            Kind::Internal | Kind::Overloaded | Kind::AuditFull | Kind::AuditUnavailable => {
                Side::Internal
            }
            _ => Side::Client,
        }
    }

    pub fn status(&self) -> u16 {
        match self.kind {
            Kind::Malformed
            | Kind::Framing
            | Kind::InvalidJson
            | Kind::InvalidRequest
            | Kind::NoProviderKey
            | Kind::GuardrailBlocked => 400,
            Kind::HeadTooLarge => 431,
            Kind::BodyTooLarge => 413,
            Kind::HttpVersion => 505,
            Kind::UnsupportedEncoding => 415,
            Kind::ClientTimeout => 408,
            Kind::MissingApiKey | Kind::InvalidApiKey => 401,
            Kind::UnknownRoute | Kind::ModelNotFound => 404,
            Kind::MethodNotAllowed => 405,
            Kind::RateLimited | Kind::BudgetExceeded => 429,
            Kind::Overloaded | Kind::AuditFull | Kind::AuditUnavailable => 503,
            Kind::UpstreamConnect | Kind::UpstreamProtocol | Kind::UpstreamClosed => 502,
            Kind::UpstreamTimeout => 504,
            Kind::Internal => 500,
        }
    }

    /// OpenAI's error `type`.
    pub fn error_type(&self) -> &'static str {
        match self.side() {
            Side::Client => "invalid_request_error",
            Side::Upstream => "upstream_error",
            Side::Internal => "server_error",
        }
    }

    /// OpenAI-style `code`; also the low-cardinality metric label.
    pub fn code(&self) -> &'static str {
        match self.kind {
            Kind::Malformed => "malformed_request",
            Kind::Framing => "invalid_body_framing",
            Kind::HeadTooLarge => "request_header_fields_too_large",
            Kind::BodyTooLarge => "request_too_large",
            Kind::HttpVersion => "http_version_not_supported",
            Kind::ClientTimeout => "request_timeout",
            Kind::InvalidJson => "invalid_json",
            Kind::UnsupportedEncoding => "unsupported_content_encoding",
            Kind::InvalidRequest => "invalid_request",
            Kind::MissingApiKey => "missing_api_key",
            Kind::InvalidApiKey => "invalid_api_key",
            Kind::UnknownRoute => "unknown_url",
            Kind::MethodNotAllowed => "method_not_allowed",
            Kind::ModelNotFound => "model_not_found",
            Kind::NoProviderKey => "provider_key_missing",
            Kind::GuardrailBlocked => "guardrail_blocked",
            Kind::RateLimited => "rate_limit_exceeded",
            Kind::BudgetExceeded => "budget_exceeded",
            Kind::Overloaded => "overloaded",
            Kind::AuditFull => "audit_backpressure",
            Kind::AuditUnavailable => "audit_unavailable",
            Kind::UpstreamConnect => "upstream_connect_failed",
            Kind::UpstreamTimeout => "upstream_timeout",
            Kind::UpstreamProtocol => "upstream_protocol_error",
            Kind::UpstreamClosed => "upstream_closed",
            Kind::Internal => "internal_error",
        }
    }

    /// The request field at fault, for OpenAI's `param`.
    pub fn param(&self) -> Option<&'static str> {
        match self.kind {
            Kind::ModelNotFound | Kind::NoProviderKey => Some("model"),
            _ => None,
        }
    }

    /// Whether the connection must be closed after answering (framing is unknown or untrusted).
    pub fn closes_connection(&self) -> bool {
        matches!(
            self.kind,
            Kind::Malformed
                | Kind::Framing
                | Kind::HeadTooLarge
                | Kind::BodyTooLarge
                | Kind::HttpVersion
                | Kind::ClientTimeout
                | Kind::Overloaded
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.context)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// pingora-style context attachment: `io_result.or_err(Kind::UpstreamConnect, "while connecting")?`.
pub trait OrErr<T> {
    fn or_err(self, kind: Kind, context: &'static str) -> Result<T>;
}

impl<T> OrErr<T> for std::io::Result<T> {
    fn or_err(self, kind: Kind, context: &'static str) -> Result<T> {
        self.map_err(|e| Error::new(kind, context).with_detail(e.to_string()))
    }
}

impl<T> OrErr<T> for Option<T> {
    fn or_err(self, kind: Kind, context: &'static str) -> Result<T> {
        self.ok_or(Error::new(kind, context))
    }
}
