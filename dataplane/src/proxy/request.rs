//! The bytes of an upstream request, per provider dialect: the request line, our headers (the
//! tenant's provider key, never anything of the client's), and the body. Everything goes into a
//! [`SecretBuf`], which wipes itself once written.

use std::io::Write;

use crate::route::{removals, split_at_model, ChatFields};
use crate::state::RouteTarget;
use crate::translate::anthropic::API_VERSION;
use crate::upstream::io::SecretBuf;
use crate::upstream::origin::Origin;
use warden_shared::catalog::Provider;

/// Top-level parameters a provider rejects, dropped before forwarding (docs/providers.md).
pub fn unsupported_params(provider: Provider, upstream_model: &str) -> &'static [&'static str] {
    match provider {
        // Groq answers 400 to these.
        Provider::Groq => &["logprobs", "top_logprobs", "logit_bias"],
        // deepseek-reasoner rejects logprobs and ignores the sampling parameters.
        Provider::DeepSeek if upstream_model.contains("reasoner") => &[
            "logprobs",
            "top_logprobs",
            "temperature",
            "top_p",
            "presence_penalty",
            "frequency_penalty",
        ],
        _ => &[],
    }
}

/// An OpenAI-compatible provider: the client's body with `model` replaced and the provider's
/// unsupported parameters removed — spliced, not re-serialised — and, when guardrails redact,
/// the values replaced by placeholders.
pub fn openai(
    (origin, traceparent, path): (&Origin, Option<&[u8; 55]>, &str),
    key: &[u8],
    body: &[u8],
    fields: &ChatFields,
    target: &RouteTarget,
    redactions: &[(Vec<u8>, Vec<u8>)],
) -> crate::error::Result<SecretBuf> {
    let spliced = Spliced::new(body, fields, target);
    let head_for = |len: usize| {
        let mut req = head((origin, traceparent), path, len, key.len());
        req.extend(b"authorization: Bearer ");
        req.extend(key);
        req.extend(b"\r\naccept: ");
        req.extend(if fields.stream {
            b"text/event-stream" as &[u8]
        } else {
            b"application/json"
        });
        req.extend(b"\r\n\r\n");
        req
    };
    if !redactions.is_empty() {
        let redacted = crate::guard::apply::rewrite(&spliced.to_vec(), redactions)?;
        let mut req = head_for(redacted.len());
        req.extend(&redacted);
        return Ok(req);
    }
    let mut req = head_for(spliced.len());
    spliced.emit(|part| req.extend(part));
    Ok(req)
}

/// The body an OpenAI-compatible provider gets, as the answer cache keys it: what [`openai`]
/// sends after the head, fed to `part` (its total length first, then its pieces). With
/// `either_shape`, without the stream flags (`Spliced::either_shape`): a streamed and an
/// unstreamed request have one key.
pub fn openai_body_key(
    body: &[u8],
    fields: &ChatFields,
    target: &RouteTarget,
    redactions: &[(Vec<u8>, Vec<u8>)],
    either_shape: bool,
    key: &mut crate::cache::KeyHasher,
) -> crate::error::Result<()> {
    use sha2::Digest;
    let spliced = if either_shape {
        Spliced::either_shape(body, fields, target)
    } else {
        Spliced::new(body, fields, target)
    };
    if !redactions.is_empty() {
        key.part(&crate::guard::apply::rewrite(
            &spliced.to_vec(),
            redactions,
        )?);
        return Ok(());
    }
    let sha = key.pieces(spliced.len());
    spliced.emit(|part| sha.update(part));
    Ok(())
}

/// The client's body as an OpenAI-compatible provider gets it: the route's model in place of the
/// client's, the provider's unsupported parameters cut, usage asked for on streams, a reasoning
/// model's `max_tokens` renamed.
struct Spliced<'b> {
    body: &'b [u8],
    fields: &'b ChatFields,
    model: Vec<u8>,
    cuts: Vec<std::ops::Range<usize>>,
    edits: Vec<Edit>,
}

impl<'b> Spliced<'b> {
    fn new(body: &'b [u8], fields: &'b ChatFields, target: &RouteTarget) -> Spliced<'b> {
        let mut model = Vec::with_capacity(target.upstream_model.len() + 2);
        crate::http::respond::json_string(&mut model, &target.upstream_model);
        let drop = unsupported_params(target.provider, &target.upstream_model);
        let cuts = if drop.is_empty() {
            Vec::new()
        } else {
            removals(body, drop)
        };
        // Every stream is asked for its usage (to meter it), whatever the client's
        // stream_options say; the pump drops that chunk again for a client that did not ask.
        let edits: Vec<Edit> = ask_usage(body, fields)
            .into_iter()
            .chain(reasoning_limit(body, target))
            .collect();
        Spliced {
            body,
            fields,
            model,
            cuts,
            edits,
        }
    }

    /// As the cache keys it for either shape: also without `stream`, a stream's
    /// `stream_options` and the usage asked for on streams. (An unstreamed request that sends
    /// `stream_options`, which OpenAI refuses, keeps it: it is not the same request.)
    fn either_shape(body: &'b [u8], fields: &'b ChatFields, target: &RouteTarget) -> Spliced<'b> {
        let mut spliced = Spliced::new(body, fields, target);
        let mut cut: Vec<&str> =
            unsupported_params(target.provider, &target.upstream_model).to_vec();
        cut.push("stream");
        if fields.stream {
            cut.push("stream_options");
        }
        spliced.cuts = removals(body, &cut);
        spliced.edits = reasoning_limit(body, target).into_iter().collect();
        spliced
    }

    fn len(&self) -> usize {
        let removed: usize = self.cuts.iter().map(|c| c.len()).sum();
        let replaced: usize = self.edits.iter().map(|(r, _)| r.len()).sum();
        let added: usize = self.edits.iter().map(|(_, b)| b.len()).sum();
        self.body.len() - self.fields.model_span.len() + self.model.len() - removed - replaced
            + added
    }

    fn emit(&self, emit: impl FnMut(&[u8])) {
        splice(
            self.body,
            self.fields,
            &self.model,
            &self.cuts,
            &self.edits,
            emit,
        );
    }

    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.emit(|part| out.extend_from_slice(part));
        out
    }
}

/// One replacement in the client's body: a range and the bytes that take its place.
type Edit = (std::ops::Range<usize>, Vec<u8>);

/// OpenAI's reasoning models (o1, o3, o4, gpt-5 families), which take `max_completion_tokens`
/// and answer 400 to `max_tokens`.
pub fn is_reasoning_model(provider: Provider, upstream_model: &str) -> bool {
    provider == Provider::OpenAi
        && ["o1", "o3", "o4", "gpt-5"]
            .iter()
            .any(|p| upstream_model.starts_with(p))
}

/// For a reasoning model, the client's `max_tokens` renamed `max_completion_tokens` (what
/// older clients send for every model) — unless it sent both, which the provider refuses as it
/// would without Warden.
fn reasoning_limit(body: &[u8], target: &RouteTarget) -> Option<Edit> {
    if !is_reasoning_model(target.provider, &target.upstream_model)
        || crate::route::top_level_key(body, "max_completion_tokens").is_some()
    {
        return None;
    }
    let key = crate::route::top_level_key(body, "max_tokens")?;
    Some((key, b"max_completion_tokens".to_vec()))
}

/// Inserted after a streamed request's opening brace when it has no `stream_options`.
const ASK_USAGE: &[u8] = b"\"stream_options\":{\"include_usage\":true},";

/// The edit that makes a streamed request ask for usage, unless the client asked already: a
/// `stream_options` inserted, or the client's rewritten with `include_usage` on.
fn ask_usage(body: &[u8], fields: &ChatFields) -> Option<(std::ops::Range<usize>, Vec<u8>)> {
    if !fields.stream || fields.include_usage {
        return None;
    }
    match &fields.stream_options_span {
        None => {
            let at = body.iter().position(|b| *b == b'{')? + 1;
            Some((at..at, ASK_USAGE.to_vec()))
        }
        Some(span) => {
            let rewritten = crate::route::stream_options_with_usage(&body[span.clone()])?;
            Some((span.clone(), rewritten))
        }
    }
}

/// Emit `body` with the model replaced, the `cuts` (disjoint from it) left out, and the other
/// `edits` (usage asked for, a key renamed) applied.
fn splice(
    body: &[u8],
    fields: &ChatFields,
    model: &[u8],
    cuts: &[std::ops::Range<usize>],
    extra: &[Edit],
    mut emit: impl FnMut(&[u8]),
) {
    if cuts.is_empty() && extra.is_empty() {
        let (before, after) = split_at_model(body, &fields.model_span);
        emit(before);
        emit(model);
        emit(after);
        return;
    }
    let mut at = 0;
    let mut edits: Vec<(std::ops::Range<usize>, &[u8])> =
        cuts.iter().map(|c| (c.clone(), &[][..])).collect();
    edits.push((fields.model_span.clone(), model));
    edits.extend(
        extra
            .iter()
            .map(|(range, bytes)| (range.clone(), bytes.as_slice())),
    );
    edits.sort_by_key(|(r, _)| r.start);
    for (range, replacement) in edits {
        emit(&body[at..range.start]);
        emit(replacement);
        at = range.end;
    }
    emit(&body[at..]);
}

/// An Anthropic body as the answer cache keys it for either shape: without its top-level
/// `stream`, fed to `key` as one part.
pub fn without_stream_flag(body: &[u8], key: &mut crate::cache::KeyHasher) {
    use sha2::Digest;
    let cuts = removals(body, &["stream"]);
    let removed: usize = cuts.iter().map(|c| c.len()).sum();
    let sha = key.pieces(body.len() - removed);
    let mut at = 0;
    for cut in cuts {
        sha.update(&body[at..cut.start]);
        at = cut.end;
    }
    sha.update(&body[at..]);
}

/// An OpenAI request passed through as the client wrote it (its model already the upstream
/// one), to `path` under the provider's base URL: `/responses/input_tokens`.
pub fn openai_native(origin: Target<'_>, key: &[u8], path: &str, body: &[u8]) -> SecretBuf {
    let mut req = head(origin, path, body.len(), key.len());
    req.extend(b"authorization: Bearer ");
    req.extend(key);
    req.extend(b"\r\naccept: application/json\r\n\r\n");
    req.extend(body);
    req
}

/// Anthropic's Messages path, and its token count's.
pub const MESSAGES: &str = "/v1/messages";
pub const MESSAGES_COUNT_TOKENS: &str = "/v1/messages/count_tokens";

/// Anthropic Messages (or its token count, at `path`): `x-api-key`, `anthropic-version` (the
/// client's on the native route).
pub fn anthropic(
    (origin, path): (Target<'_>, &str),
    key: &[u8],
    client_headers: Option<(&[u8], Option<&[u8]>)>,
    body: &[u8],
) -> SecretBuf {
    let mut req = head(origin, path, body.len(), key.len());
    req.extend(b"x-api-key: ");
    req.extend(key);
    req.extend(b"\r\nanthropic-version: ");
    let (version, beta) = client_headers.unwrap_or((API_VERSION.as_bytes(), None));
    req.extend(version);
    if let Some(beta) = beta {
        req.extend(b"\r\nanthropic-beta: ");
        req.extend(beta);
    }
    req.extend(b"\r\naccept: application/json, text/event-stream\r\n\r\n");
    req.extend(body);
    req
}

/// Gemini: the model in the path, the key in `x-goog-api-key` (never the `?key=` query).
/// `method`: `:generateContent`, `:streamGenerateContent?alt=sse` or `:streamGenerateContent`.
pub fn gemini(
    origin: Target<'_>,
    key: &[u8],
    upstream_model: &str,
    method: &str,
    body: &[u8],
) -> SecretBuf {
    let path = format!("/v1beta/models/{upstream_model}{method}");
    let mut req = head(origin, &path, body.len(), key.len());
    req.extend(b"x-goog-api-key: ");
    req.extend(key);
    req.extend(b"\r\n\r\n");
    req.extend(body);
    req
}

/// Where a request goes, and the `traceparent` it carries (the request's trace, with this
/// attempt's span) when there is one.
pub type Target<'a> = (&'a Origin, Option<&'a [u8; 55]>);

/// Request line and the headers every provider gets; the caller adds auth and ends the head.
/// `accept-encoding: identity`: the response guardrails read the answer's bytes, so it must not
/// come compressed (without the header a server may pick any coding; one that does is refused).
fn head(
    (origin, traceparent): Target<'_>,
    path: &str,
    body_len: usize,
    key_len: usize,
) -> SecretBuf {
    let mut req = SecretBuf::with_capacity(body_len + 400 + path.len() + key_len);
    let mut line = Vec::with_capacity(256);
    let _ = write!(
        line,
        "POST {}{path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\naccept-encoding: identity\r\nuser-agent: warden/{}\r\ncontent-length: {body_len}\r\n",
        origin.base_path,
        origin.authority,
        env!("CARGO_PKG_VERSION"),
    );
    req.extend(&line);
    if let Some(t) = traceparent {
        req.extend(b"traceparent: ");
        req.extend(t);
        req.extend(b"\r\n");
    }
    req
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
