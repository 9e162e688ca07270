//! Request and response head parsing: httparse into a stack header array, then offsets only.
//!
//! Position in the request path: first step after bytes arrive on a connection (`conn`), and the
//! first step after bytes arrive from a provider (`upstream::client`).
//!
//! Invariants: a head larger than the limit is 431 (requests) or an upstream protocol error
//! (responses); body framing follows RFC 9112 §6 strictly — Content-Length together with
//! Transfer-Encoding, duplicate or malformed Content-Length, and any transfer coding other than a
//! lone `chunked` are refused, because a proxy that frames a body differently from its peer is a
//! request-smuggling vector.

use super::Span;

/// httparse's header array size; `Limits::max_headers` may lower it, never raise it.
pub const MAX_HEADERS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Other,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Other => "OTHER",
        }
    }
}

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (requests without Content-Length/Transfer-Encoding; 1xx/204/304 responses).
    Empty,
    Length(u64),
    Chunked,
    /// Responses only: the body runs until the peer closes.
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// The head exceeds the size limit (431 for requests).
    TooLarge,
    /// More header fields than allowed (431 for requests).
    TooManyHeaders,
    /// Not HTTP/1.x syntax (400).
    Malformed(&'static str),
    /// Ambiguous body framing (400 and close).
    Framing(&'static str),
    /// Not HTTP/1.0 or 1.1 (505).
    Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_head: usize,
    pub max_headers: usize,
}

/// A parsed request head; every field is an offset into the buffer it was parsed from.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead {
    pub method: Method,
    pub path: Span,
    /// Length of the head including the blank line: where the body starts.
    pub len: usize,
    pub framing: Framing,
    pub keep_alive: bool,
    pub expect_continue: bool,
    pub authorization: Option<Span>,
    pub x_api_key: Option<Span>,
    pub x_goog_api_key: Option<Span>,
    pub request_id: Option<Span>,
    pub anthropic_version: Option<Span>,
    pub anthropic_beta: Option<Span>,
    /// `anthropic-version` or `anthropic-beta` came twice: the Anthropic route refuses it
    /// rather than pick one (`proxy/front/anthropic_headers.rs`).
    pub anthropic_repeated: bool,
    /// W3C `traceparent`; sent twice, it is empty (the context is invalid and ignored).
    pub traceparent: Option<Span>,
    /// `Cache-Control: no-store` / `no-cache` (and `Pragma: no-cache`), for the answer cache.
    pub cache: crate::cache::Directives,
    /// The body is content-coded (`Content-Encoding` other than `identity`): the guardrails
    /// cannot read it, so the request is refused before it is read.
    pub content_coded: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct ResponseHead {
    pub status: u16,
    pub len: usize,
    pub framing: Framing,
    pub keep_alive: bool,
    pub event_stream: bool,
    /// `retry-after` in whole seconds, when the provider sent one in that form.
    pub retry_after_s: Option<u32>,
}

/// Every CR in `head` is followed by LF and every LF follows a CR.
fn crlf_only(head: &[u8]) -> bool {
    memchr::memchr2_iter(b'\r', b'\n', head).all(|i| match head[i] {
        b'\r' => head.get(i + 1) == Some(&b'\n'),
        _ => i > 0 && head[i - 1] == b'\r',
    })
}

/// Parse a request head from the start of `buf`. `Ok(None)`: incomplete, read more.
pub fn parse_request(buf: &[u8], limits: Limits) -> Result<Option<RequestHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers[..limits.max_headers.min(MAX_HEADERS)]);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return incomplete(buf, limits),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(HeadError::Version),
        Err(e) => return Err(HeadError::Malformed(parse_error_text(e))),
    };
    if len > limits.max_head {
        return Err(HeadError::TooLarge);
    }
    // CRLF only (RFC 9112 §2.2): a bare LF or CR is how one parser's line becomes another's two.
    if !crlf_only(&buf[..len]) {
        return Err(HeadError::Malformed("line endings must be CRLF"));
    }
    let minor = req
        .version
        .ok_or(HeadError::Malformed("missing HTTP version"))?;
    let method = match req.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        Some("DELETE") => Method::Delete,
        Some(_) => Method::Other,
        None => return Err(HeadError::Malformed("missing method")),
    };
    let path = Span::of(
        buf,
        req.path
            .ok_or(HeadError::Malformed("missing path"))?
            .as_bytes(),
    );
    let mut fields = Fields::default();
    let mut head = RequestHead {
        method,
        path,
        len,
        framing: Framing::Empty,
        keep_alive: minor == 1,
        expect_continue: false,
        authorization: None,
        x_api_key: None,
        x_goog_api_key: None,
        request_id: None,
        anthropic_version: None,
        anthropic_beta: None,
        anthropic_repeated: false,
        traceparent: None,
        cache: Default::default(),
        content_coded: false,
    };
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        if fields.observe(name, h.value)? {
            continue;
        }
        let value = Span::of(buf, h.value);
        // A credential sent twice is refused: which copy counts is never a guess.
        let once = |slot: &mut Option<Span>| match slot.replace(value) {
            None => Ok(()),
            Some(_) => Err(HeadError::Malformed("a credential header appears twice")),
        };
        if name.eq_ignore_ascii_case(b"authorization") {
            once(&mut head.authorization)?;
        } else if name.eq_ignore_ascii_case(b"x-api-key") {
            once(&mut head.x_api_key)?;
        } else if name.eq_ignore_ascii_case(b"x-goog-api-key") {
            once(&mut head.x_goog_api_key)?;
        } else if name.eq_ignore_ascii_case(b"x-request-id") {
            head.request_id = Some(value);
        } else if name.eq_ignore_ascii_case(b"anthropic-version") {
            head.anthropic_repeated |= head.anthropic_version.replace(value).is_some();
        } else if name.eq_ignore_ascii_case(b"anthropic-beta") {
            head.anthropic_repeated |= head.anthropic_beta.replace(value).is_some();
        } else if name.eq_ignore_ascii_case(b"traceparent") {
            head.traceparent = Some(match head.traceparent {
                None => value,
                Some(_) => Span::default(),
            });
        } else if name.eq_ignore_ascii_case(b"cache-control")
            || name.eq_ignore_ascii_case(b"pragma")
        {
            head.cache.observe(h.value);
        } else if name.eq_ignore_ascii_case(b"expect") {
            if !h.value.eq_ignore_ascii_case(b"100-continue") {
                return Err(HeadError::Malformed("unsupported Expect value"));
            }
            head.expect_continue = true;
        }
    }
    if minor == 0 && fields.chunked {
        return Err(HeadError::Framing(
            "Transfer-Encoding is not allowed in HTTP/1.0",
        ));
    }
    head.framing = fields.framing()?.unwrap_or(Framing::Empty);
    head.keep_alive = fields.keep_alive(minor);
    head.content_coded = fields.coded;
    Ok(Some(head))
}

/// Parse a response head from the start of `buf`. `Ok(None)`: incomplete, read more.
pub fn parse_response(
    buf: &[u8],
    limits: Limits,
    request_was_head: bool,
) -> Result<Option<ResponseHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers[..limits.max_headers.min(MAX_HEADERS)]);
    let len = match res.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return incomplete(buf, limits),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(HeadError::Version),
        Err(e) => return Err(HeadError::Malformed(parse_error_text(e))),
    };
    if len > limits.max_head {
        return Err(HeadError::TooLarge);
    }
    // CRLF only (RFC 9112 §2.2): a bare LF or CR is how one parser's line becomes another's two.
    if !crlf_only(&buf[..len]) {
        return Err(HeadError::Malformed("line endings must be CRLF"));
    }
    let minor = res
        .version
        .ok_or(HeadError::Malformed("missing HTTP version"))?;
    let status = res.code.ok_or(HeadError::Malformed("missing status"))?;
    let mut fields = Fields::default();
    let mut event_stream = false;
    let mut retry_after_s = None;
    for h in res.headers.iter() {
        let name = h.name.as_bytes();
        if fields.observe(name, h.value)? {
            continue;
        }
        if name.eq_ignore_ascii_case(b"content-type") {
            event_stream = starts_with_ignore_case(h.value, b"text/event-stream");
        } else if name.eq_ignore_ascii_case(b"retry-after") {
            retry_after_s = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok());
        }
    }
    let no_body =
        request_was_head || (100..200).contains(&status) || status == 204 || status == 304;
    let framing = match fields.framing()? {
        _ if no_body => Framing::Empty,
        Some(f) => f,
        None => Framing::UntilClose,
    };
    // Warden asks for `identity`; an answer compressed anyway would pass the response
    // guardrails unread (they would scan compressed bytes), so it is not taken.
    if fields.coded && framing != Framing::Empty {
        return Err(HeadError::Malformed(
            "the provider's answer is content-coded (Content-Encoding), which Warden does not read",
        ));
    }
    let keep_alive = fields.keep_alive(minor) && framing != Framing::UntilClose;
    Ok(Some(ResponseHead {
        status,
        len,
        framing,
        keep_alive,
        event_stream,
        retry_after_s,
    }))
}

fn incomplete<T>(buf: &[u8], limits: Limits) -> Result<Option<T>, HeadError> {
    if buf.len() >= limits.max_head {
        Err(HeadError::TooLarge)
    } else {
        Ok(None)
    }
}

fn parse_error_text(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid token in request line",
        _ => "malformed HTTP head",
    }
}

fn starts_with_ignore_case(value: &[u8], prefix: &[u8]) -> bool {
    value.len() >= prefix.len() && value[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The framing- and connection-relevant header fields, collected strictly.
#[derive(Default)]
struct Fields {
    content_length: Option<u64>,
    chunked: bool,
    transfer_encoding_seen: bool,
    close: bool,
    keep_alive: bool,
    /// A `Content-Encoding` other than `identity` (gzip, br, zstd, a list of them).
    coded: bool,
}

impl Fields {
    /// Returns true when the header was one of ours.
    fn observe(&mut self, name: &[u8], value: &[u8]) -> Result<bool, HeadError> {
        if name.eq_ignore_ascii_case(b"content-length") {
            if self.content_length.is_some() {
                return Err(HeadError::Framing("duplicate Content-Length"));
            }
            self.content_length = Some(parse_content_length(value)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Only a single, lone `chunked` is accepted: any other coding, a list, or a repeated
            // header would make our framing differ from someone else's.
            if self.transfer_encoding_seen || !trim(value).eq_ignore_ascii_case(b"chunked") {
                return Err(HeadError::Framing("unsupported Transfer-Encoding"));
            }
            self.transfer_encoding_seen = true;
            self.chunked = true;
        } else if name.eq_ignore_ascii_case(b"content-encoding") {
            self.coded |= value
                .split(|b| *b == b',')
                .map(trim)
                .any(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case(b"identity"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|b| *b == b',') {
                let token = trim(token);
                self.close |= token.eq_ignore_ascii_case(b"close");
                self.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    fn framing(&self) -> Result<Option<Framing>, HeadError> {
        match (self.content_length, self.chunked) {
            (Some(_), true) => Err(HeadError::Framing(
                "both Content-Length and Transfer-Encoding",
            )),
            (Some(0), false) => Ok(Some(Framing::Empty)),
            (Some(n), false) => Ok(Some(Framing::Length(n))),
            (None, true) => Ok(Some(Framing::Chunked)),
            (None, false) => Ok(None),
        }
    }

    fn keep_alive(&self, minor: u8) -> bool {
        !self.close && (minor == 1 || self.keep_alive)
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// 1*DIGIT, nothing else (no sign, no list, no whitespace inside), at most 18 digits.
fn parse_content_length(value: &[u8]) -> Result<u64, HeadError> {
    let v = trim(value);
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return Err(HeadError::Framing("malformed Content-Length"));
    }
    Ok(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

impl From<HeadError> for crate::error::Error {
    fn from(e: HeadError) -> crate::error::Error {
        match e {
            HeadError::TooLarge => crate::error::Error::new(
                crate::error::Kind::HeadTooLarge,
                "request head exceeds the size limit",
            ),
            HeadError::TooManyHeaders => crate::error::Error::new(
                crate::error::Kind::HeadTooLarge,
                "request has too many header fields",
            ),
            HeadError::Malformed(why) => {
                crate::error::Error::new(crate::error::Kind::Malformed, why)
            }
            HeadError::Framing(why) => crate::error::Error::new(crate::error::Kind::Framing, why),
            HeadError::Version => crate::error::Error::new(
                crate::error::Kind::HttpVersion,
                "only HTTP/1.0 and HTTP/1.1 are served",
            ),
        }
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
