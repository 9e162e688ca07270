//! The request path, for every proxied route: [`handle`] is the whole of it, step by step, in
//! the order a request takes them. The client's dialect is a [`Front`] (OpenAI chat and
//! embeddings, Anthropic Messages, Gemini generateContent); what differs between them are its hooks in
//! `proxy/front.rs`, not copies of the path.
//!
//! | step | where |
//! |---|---|
//! | authenticate (right after the head, before the body) | `conn.rs` → `auth.rs` |
//! | parse: validate, refuse repeated keys, read the routing fields | [`Front::parse`] |
//! | route: alias, route group or native model → provider and model | [`Front::route`] |
//! | screen: request guardrails, verdicts recorded, a block refused | [`screen`] |
//! | admit: the project's limits (429) | `proxy/policy.rs` [`admit`] |
//! | plan: attempts over routes, fallbacks and keys; bodies built | [`Front::plan`] |
//! | cache: the project's cached answer to this exact request, or a note to keep the answer | `cache.rs` [`cache_plan`] |
//! | audit the request (the `request` record in the shard's ring) | `context.rs` |
//! | first answer, with failover across keys and providers (or the cached one) | `proxy/attempt.rs` [`attempt::first_answer`] |
//! | the whole answer, or the stream pump | `proxy/answer.rs`, `proxy/pump.rs` |
//! | settle: the token reservation and the spend | `context.rs` [`Request::settle_limits`] |
//!
//! Everything up to the plan runs before the first await, so nothing that borrows the shard's
//! scratch space lives across I/O.

pub mod answer;
pub mod attempt;
pub mod front;
pub mod policy;
pub mod provider_error;
pub mod pump;
pub mod request;

use std::sync::Arc;

use monoio::io::AsyncWriteRent;
use warden_shared::catalog::Dialect;

use crate::auth::Caller;
use crate::client::Client;
use crate::context::{Outcome, Request};
use crate::error::Result;
use crate::guard::response::ResponseGuard;
use crate::shard::Shard;
pub use front::Front;
pub use policy::{admit, max_output, BUDGET_WARNING};

/// What the client asked for: a stream or not, in which dialect, screened by which guard.
pub struct Delivery {
    pub stream: bool,
    pub dialect: Dialect,
    pub response_guard: Option<ResponseGuard>,
    /// A Responses request: the chat answer is written as a Responses object or event stream.
    pub responses: Option<crate::translate::responses::Echo>,
    /// A Messages request that took the chat path: the chat answer is written as an Anthropic
    /// message or event stream.
    pub messages: Option<crate::translate::messages::Echo>,
    /// Keep the provider's answer in the cache once it is whole and clean.
    pub cache: Option<crate::cache::Fill>,
}

/// One proxied request, from its parsed body to its settled spend.
pub async fn handle<S: AsyncWriteRent>(
    shard: &Shard,
    client: &mut Client<S>,
    req: &Request<'_>,
    front: Front<'_>,
) -> Result<Outcome> {
    // 1. Authenticated right after the head (`conn.rs`), before the body was read.
    let caller = req.caller()?;
    // 2–6 run before the first await: the parsed body borrows the shard's scratch buffer.
    let planned = {
        let mut scratch = shard.scratch.borrow_mut();
        // 2. Parse: valid JSON, no repeated key, the routing fields.
        let mut parsed = front.parse(req, &mut scratch)?;
        // A Messages request for another provider's model became a chat request at parse: from
        // here to its answer it is one (its answer goes back as an Anthropic message).
        let messages = parsed.converted.as_mut().and_then(|c| c.messages.take());
        let via = if messages.is_some() {
            &Front::Chat
        } else {
            &front
        };
        // 3. Route: alias, route group or native model → provider and model.
        let target = front.route(shard, req, caller, &parsed)?;
        // 4. Screen: the request guardrails; a block ends the request here.
        let screened = screen(shard, req, via, &parsed.value, caller)?;
        // The semantic cache's view of the request, while the parsed body is at hand.
        let semantic = semantic_split(shard, caller, via, &parsed.value, &screened);
        // 5. Admit under the project's limits; from here on the admission is settled.
        let admission = admit(shard, req, caller, max_output(&parsed.value))?;
        // Whether the answer's text is JSON the client parses (restored values go in escaped).
        let json = policy::json_answer(&parsed.value);
        // 6. Plan the attempts, with their bodies.
        let stream = parsed.fields.stream;
        let responses = parsed.converted.as_mut().and_then(|c| c.echo.take());
        req.admission.set(Some(admission));
        let attempts = match front.plan(shard, req, caller, parsed, target, &screened) {
            Ok(attempts) => attempts,
            Err(e) => {
                req.settle_limits();
                return Err(e);
            }
        };
        if let Some(first) = attempts.first() {
            first.note_route(req, stream);
        }
        // 7. The cache: this exact request's answer, or where the answer is to be kept (a token
        // count is neither).
        let cache = if front.counts_tokens() {
            crate::cache::Plan::Off
        } else {
            cache_plan(shard, (req, caller, stream), &attempts, semantic)
        };
        let custom = req.state.custom_scan(caller.project);
        let delivery = Delivery {
            stream,
            dialect: front.dialect(),
            response_guard: ResponseGuard::with_request(
                &caller.project.guardrails,
                &screened,
                custom,
            )
            .filter(|_| via.answers_text())
            .map(|g| {
                g.in_dialect(via.dialect())
                    .with_phones(req.state.phones_for(caller.project, &shard.guard))
                    .json_answer(json)
            }),
            responses,
            messages,
            cache: None,
        };
        (attempts, delivery, cache)
    };
    let (attempts, mut delivery, cache) = planned;
    let answered = async {
        // The shared tier, when there is one, after a local miss; then the semantic tier; then
        // the header.
        let cache = shard.cache.remote_lookup(cache).await;
        let cache = shard.cache.semantic_lookup(cache).await;
        shard.cache.count(&cache);
        note_cache(req, &cache);
        // 8. The `request` audit record, before anything is sent.
        req.audit_request(shard).await?;
        // 9. The first answer that is the client's: the cached one, or the first a provider
        //    gives, failing over across keys and providers.
        let winner = match cache {
            crate::cache::Plan::Hit(entry) | crate::cache::Plan::Semantic(entry) => {
                attempt::replay(attempts, &entry)?
            }
            plan => {
                let first = attempts
                    .first()
                    .map(|a| (a.provider, Arc::clone(&a.upstream_model)));
                let winner = attempt::first_answer(shard, req, attempts, delivery.stream).await?;
                // Kept only under the key it was looked up with: a fallback's answer is another
                // provider's (its own key would be another request's).
                if let (crate::cache::Plan::Fill(fill), Some((provider, model))) = (plan, first) {
                    if winner.attempt.provider == provider && winner.attempt.upstream_model == model
                    {
                        delivery.cache = Some(fill);
                    }
                }
                winner
            }
        };
        // 10. The whole answer or the stream, its `response` record before its last bytes.
        answer::answer(shard, client, req, winner, delivery).await
    }
    .await;
    // 11. Settle the reservation and the spend, however the answer ended (once: an answer
    //     settles when its `response` record is committed).
    req.settle_limits();
    answered
}

/// What the cache does for this request (see `cache.rs`; `stream`: the client asked for a
/// stream): the project's policy, the client's directives, this shard's entries.
pub fn cache_plan(
    shard: &Shard,
    (req, caller, stream): (&Request<'_>, &Caller<'_>, bool),
    attempts: &[attempt::Attempt<'_>],
    semantic: Option<(crate::cache::KeyHasher, Arc<str>)>,
) -> crate::cache::Plan {
    let project = caller.project;
    let shape = attempts.first().map_or(
        crate::cache::Shape {
            event_stream: stream,
            wire: None,
        },
        |a| a.cache_shape(stream),
    );
    let mut plan = shard
        .cache
        .plan(&project.cache, req.head.cache, &project.id, shape, || {
            let first = attempts.first()?;
            first
                .cache_key(
                    shard.cache.hasher(&project.id, project.cache.generation),
                    req.body,
                )
                .ok()
        });
    if let (crate::cache::Plan::Fill(fill), Some((mut partition, text)), Some(first)) =
        (&mut plan, semantic, attempts.first())
    {
        partition.part(first.provider.name().as_bytes());
        partition.part(first.upstream_model.as_bytes());
        fill.semantic = Some(crate::cache::semantic::Ask {
            project: Arc::clone(&project.id),
            partition: partition.finish().0,
            text,
            threshold: f32::from(project.cache.semantic_threshold) / 10_000.0,
        });
    }
    plan
}

/// For a project that caches by meaning, on a data plane with the semantic tier: the request's
/// last user turn and the hash of the rest (`cache/semantic/query.rs`). The turn is compared as
/// the provider gets it, with the request guardrails' placeholders in place of the values they
/// hid: two requests that differ only in an e-mail address meet, and `restore` gives each its
/// own address back in the one cached answer (the rest of the request is hashed as the client
/// sent it, values and all).
fn semantic_split(
    shard: &Shard,
    caller: &Caller<'_>,
    front: &Front<'_>,
    value: &simd_json::BorrowedValue<'_>,
    screened: &crate::guard::apply::Plan,
) -> Option<(crate::cache::KeyHasher, Arc<str>)> {
    use warden_shared::catalog::Dialect;
    let project = caller.project;
    if project.cache.mode != warden_shared::snapshot::CacheMode::Semantic
        || shard.cache.semantic.is_none()
    {
        return None;
    }
    // Streamed and unstreamed requests share a partition where their answers serve either
    // shape (`cache/reshape.rs`): not the Responses API's.
    let (route, dialect, either_shape): (&[u8], Dialect, bool) = match front {
        Front::Chat => (b"chat", Dialect::OpenAi, true),
        Front::Responses => (b"responses", Dialect::OpenAi, false),
        Front::Messages => (b"messages", Dialect::Anthropic, true),
        Front::Generate { method, .. } if *method == attempt::GEMINI_SSE => {
            (b":generateContent", Dialect::Gemini, true)
        }
        Front::Generate { method, .. } => (method.as_bytes(), Dialect::Gemini, true),
        Front::Embeddings | Front::MessagesCountTokens | Front::ResponsesInputTokens => {
            return None
        }
    };
    let mut partition = shard.cache.hasher(&project.id, project.cache.generation);
    partition.part(b"semantic partition");
    partition.part(route);
    let text = crate::cache::semantic::query::split(
        value,
        (dialect, either_shape),
        project.cache.semantic_max_temperature,
        &mut partition,
    )?;
    if screened.replacements.is_empty() {
        return Some((partition, Arc::from(text)));
    }
    let mut redacted = text.to_owned();
    for (value, placeholder) in &screened.replacements {
        let (Ok(value), Ok(placeholder)) =
            (std::str::from_utf8(value), std::str::from_utf8(placeholder))
        else {
            return None;
        };
        redacted = redacted.replace(value, placeholder);
    }
    Some((partition, Arc::from(redacted)))
}

/// The `x-warden-cache` header that says what the cache did; a hit is marked in the audit entry,
/// and no key is named there: none was opened.
fn note_cache(req: &Request<'_>, plan: &crate::cache::Plan) {
    use crate::cache::{Hit, Plan, Status};
    let status = match plan {
        Plan::Off => return,
        Plan::Bypass => Status::Bypass,
        Plan::Fill(f) if f.refresh => Status::Bypass,
        Plan::Fill(_) => Status::Miss,
        Plan::Hit(_) | Plan::Semantic(_) => {
            let (hit, status) = match plan {
                Plan::Semantic(_) => (Hit::Semantic, Status::Semantic),
                _ => (Hit::Exact, Status::Hit),
            };
            let mut e = req.audit.borrow_mut();
            e.cache = Some(hit);
            e.provider_key_id = None;
            e.provider_key_fingerprint = None;
            status
        }
    };
    req.headers
        .borrow_mut()
        .push(("x-warden-cache", status.header().to_vec()));
}

/// Run the project's guardrails over a parsed request and record the verdicts; a block is the
/// error the client gets.
/// A Responses request is screened as the client wrote it, not as the chat request it became:
/// OpenAI gets that body, and what chat drops (reasoning sent back, OpenAI-only items) is read
/// too.
pub fn screen(
    shard: &Shard,
    req: &Request<'_>,
    front: &Front<'_>,
    value: &simd_json::BorrowedValue<'_>,
    caller: &Caller<'_>,
) -> Result<crate::guard::apply::Plan> {
    let traced = req.trace.is_some_and(|t| t.record);
    let from = if traced { crate::audit::now_us() } else { 0 };
    let custom = req.state.custom_scan(caller.project);
    let policy = &caller.project.guardrails;
    let phones = req.state.phones_for(caller.project, &shard.guard);
    let scratch = (&shard.guard_scratch, phones.as_deref());
    let plan = match front {
        Front::Responses | Front::ResponsesInputTokens => crate::guard::apply::check_texts(
            &shard.guard,
            scratch,
            custom.as_ref(),
            |f| crate::extract::responses_body(req.body, f),
            policy,
        ),
        _ => crate::guard::apply::check(
            &shard.guard,
            scratch,
            custom.as_ref(),
            front.dialect(),
            value,
            policy,
        ),
    };
    if traced {
        req.audit.borrow_mut().guard_us = Some((from, crate::audit::now_us()));
    }
    req.note_verdicts(shard, &plan.verdicts);
    if let Some(score) = plan.injection_score {
        req.audit.borrow_mut().injection_score = Some((score * 1000.0).round() as u16);
    }
    match plan.refusal() {
        Some(e) => Err(e),
        None => Ok(plan),
    }
}
