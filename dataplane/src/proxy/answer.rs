//! The answer to the client from the attempt that won: streamed through the [`super::pump`],
//! or read whole, translated to the client's dialect when the provider speaks another, filtered
//! by the response guardrails, and sent after its `response` audit record is committed.
//! Provider errors are mapped to the client's dialect and scrubbed of secrets.

use monoio::io::AsyncWriteRent;
use warden_shared::catalog::Dialect;

use super::attempt::Translation;
use super::attempt::{self, Winner};
use super::{provider_error, pump, Delivery};
use crate::client::Client;
use crate::context::{Outcome, Request};
use crate::error::Result;
use crate::http::respond::{self, BodyLen};
use crate::shard::Shard;
use crate::translate::{anthropic, embeddings, gemini, StreamTranslator};

/// Answer the client from the provider's response to the attempt that won: streamed through
/// the pump, or whole. The `response` record is committed before the answer's last bytes go out.
pub async fn answer<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut Client<S>,
    req: &Request<'_>,
    winner: Winner<'_>,
    delivery: Delivery,
) -> Result<Outcome> {
    let Winner {
        attempt: a,
        mut exchange,
        sent_at,
    } = winner;
    let Delivery {
        stream,
        dialect,
        mut response_guard,
        responses,
        messages,
        cache,
    } = delivery;
    // The dialect the answer is read in: a Messages request that took the chat path gets a
    // chat answer, written back in Anthropic's dialect (errors included) on the way out.
    let reading = if messages.is_some() {
        Dialect::OpenAi
    } else {
        dialect
    };
    let replayed = exchange.replayed;
    // Usage was asked for on the client's behalf (to meter the stream): its chunk is dropped.
    let strip_usage =
        matches!(&a.body, attempt::Body::OpenAi { fields, .. } if !fields.include_usage);
    let (provider, fingerprint, translation) = (a.provider, &a.key.key.fingerprint, a.translation);
    // OpenAI answered a Responses request in its own API: no conversion, and the guard reads
    // the Responses API's shapes.
    let native_responses = matches!(translation, Translation::ResponsesApi);
    let responses = responses.filter(|_| !native_responses);
    if native_responses {
        response_guard = response_guard.map(|g| g.reading_responses_api());
    }
    {
        let mut e = req.audit.borrow_mut();
        e.first_byte_us = Some(e.received_us + req.started.elapsed().as_micros() as u64);
    }
    let status = exchange.head.status;
    if stream && status == 200 && exchange.head.event_stream {
        let translator = match translation {
            Translation::None | Translation::ResponsesApi => StreamTranslator::Passthrough,
            Translation::Anthropic(meta) => {
                StreamTranslator::Anthropic(Box::new(anthropic::Stream::new(meta)))
            }
            Translation::Gemini(meta, prefix) => {
                StreamTranslator::Gemini(Box::new(gemini::Stream::new(meta, prefix)))
            }
            // Embeddings never ask for a stream; this arm is never taken.
            Translation::GeminiEmbeddings(_) => StreamTranslator::Passthrough,
        };
        let end = pump::run(
            shard,
            client,
            &mut exchange,
            req,
            pump::Stream {
                translator,
                dialect: reading,
                sent_at,
                guard: response_guard.as_mut(),
                strip_usage,
                egress: match (responses, messages) {
                    (Some(echo), _) => pump::Egress::Responses(Box::new(
                        crate::translate::responses::stream::Stream::new(echo),
                    )),
                    (None, Some(echo)) => pump::Egress::Messages(Box::new(
                        crate::translate::messages::stream::Stream::new(echo),
                    )),
                    (None, None) if native_responses => pump::Egress::ResponsesApi {
                        sequence: 0,
                        created: None,
                    },
                    (None, None) => pump::Egress::Same,
                },
                cache,
            },
        )
        .await;
        let upstream = sent_at.elapsed();
        if !replayed {
            shard
                .metrics
                .upstream
                .observe_us(upstream.as_micros() as u64);
        }
        let complete = matches!(end, pump::End::Complete);
        if complete {
            exchange.release(&shard.upstream);
        }
        return Ok(Outcome {
            status: 200,
            provider: Some(provider),
            upstream,
            keep_alive: complete && req.keep_alive,
        });
    }
    let mut body = exchange
        .read_to_end(
            shard.limits.max_response_bytes,
            shard.timeouts.upstream_idle,
        )
        .await?;
    let upstream = sent_at.elapsed();
    if !replayed {
        shard
            .metrics
            .upstream
            .observe_us(upstream.as_micros() as u64);
    }
    let retry_after = exchange.head.retry_after_s;
    exchange.release(&shard.upstream);
    req.audit.borrow_mut().answer_bytes = body.len() as u64;
    // What the provider said, before translation parses it in place: the cache keeps that.
    let mut kept = cache
        .filter(|_| status == 200)
        .map(|fill| (fill, body.clone()));
    let (status, answer, error) = if (200..300).contains(&status) {
        let (usage, translated) = match &translation {
            Translation::None | Translation::ResponsesApi => {
                (passthrough_usage(reading, &body), None)
            }
            Translation::Anthropic(meta) => {
                let (u, t) = translate_whole(&mut body, |b, o| anthropic::response(b, meta, o))?;
                (Some(u), Some(t))
            }
            Translation::Gemini(meta, prefix) => {
                let (u, t) =
                    translate_whole(&mut body, |b, o| gemini::response(b, meta, prefix, o))?;
                (Some(u), Some(t))
            }
            Translation::GeminiEmbeddings(meta) => {
                let mut estimated = false;
                let (u, t) = translate_whole(&mut body, |b, o| {
                    let (u, e) = embeddings::gemini_response(b, meta, o)?;
                    estimated = e;
                    Ok(u)
                })?;
                if estimated {
                    req.audit.borrow_mut().usage_estimated = true;
                    shard.metrics.usage_estimated.inc();
                }
                (Some(u), Some(t))
            }
        };
        req.audit.borrow_mut().usage = usage.map(Into::into);
        let mut answer = translated.unwrap_or(body);
        if let Some(g) = response_guard.as_mut() {
            if let Some(filtered) = g.filter_body(&shard.guard, &shard.guard_scratch, &answer) {
                answer = filtered;
            }
            req.note_verdicts(shard, &g.verdicts);
            if g.blocked_any() {
                kept = None;
            }
        }
        if let Some(echo) = &responses {
            let mut converted = Vec::with_capacity(answer.len() + 1024);
            crate::translate::responses::response(&mut answer, echo, &mut converted)?;
            answer = converted;
        }
        if let Some(echo) = &messages {
            let mut converted = Vec::with_capacity(answer.len() + 256);
            crate::translate::messages::answer::response(&mut answer, echo, &mut converted)?;
            answer = converted;
        }
        (status, answer, None)
    } else {
        let mapped = provider_error::map(dialect, provider, status, &body, fingerprint);
        let body = provider_error::scrub_secrets(&shard.guard, &shard.guard_scratch, mapped.body);
        (mapped.status, body, Some("provider_error"))
    };
    req.commit_response(shard, status, error, upstream).await?;
    // Kept before the client has the answer, so its next request finds it on any shard.
    if let Some((fill, body)) = kept.filter(|(fill, _)| still_kept(shard, req, fill)) {
        shard.cache.fill(fill, false, &body);
    }
    let out = &mut client.out;
    out.clear();
    let retry = retry_after
        .filter(|_| error.is_some())
        .map(|v| v.to_string().into_bytes());
    {
        let added = req.headers.borrow();
        let extra: Vec<(&str, &[u8])> = retry
            .iter()
            .map(|v| ("retry-after", v.as_slice()))
            .chain(added.iter().map(|(n, v)| (*n, v.as_slice())))
            .collect();
        respond::head(
            out,
            status,
            respond::JSON,
            BodyLen::Fixed(answer.len()),
            req.id,
            req.keep_alive,
            &extra,
        );
    }
    out.extend_from_slice(&answer);
    let written = client.flush().await.is_ok();
    Ok(Outcome {
        status,
        provider: Some(provider),
        upstream,
        keep_alive: written && req.keep_alive,
    })
}

/// Usage from an OpenAI-dialect response body (passthrough answers).
fn passthrough_usage(dialect: Dialect, body: &[u8]) -> Option<crate::translate::Usage> {
    let mut u = crate::translate::Usage::default();
    crate::translate::passthrough_usage(dialect, body, &mut u).then_some(u)
}

fn translate_whole(
    body: &mut [u8],
    f: impl FnOnce(&mut [u8], &mut Vec<u8>) -> Result<crate::translate::Usage>,
) -> Result<(crate::translate::Usage, Vec<u8>)> {
    let mut out = Vec::with_capacity(body.len() + 256);
    let usage = f(body, &mut out)?;
    Ok((usage, out))
}

/// Whether an answer may still be kept under `fill` once it has come: the shard serves the state
/// the request started with, or, if a snapshot was applied meanwhile, the caller's project there
/// is the same one and caches under the same generation. An answer in flight across a purge, or
/// past its project turning the cache off or going away, is not kept (counted as purged): it
/// could never be served, and would hold memory until evicted.
pub(super) fn still_kept(shard: &Shard, req: &Request<'_>, fill: &crate::cache::Fill) -> bool {
    let now = shard.state();
    if std::rc::Rc::ptr_eq(&now, req.state) {
        return true;
    }
    let same = req
        .caller()
        .ok()
        .and_then(|c| now.project_at(c.key.project))
        .is_some_and(|p| {
            *p.id == *fill.project
                && p.cache.mode != warden_shared::snapshot::CacheMode::Off
                && p.cache.generation == fill.generation
        });
    if !same {
        shard.cache.metrics.purged.inc();
    }
    same
}
