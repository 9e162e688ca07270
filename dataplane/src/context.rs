//! The per-request context: what every step of the request path reads (the head, the body,
//! the caller, the snapshot the request started with) and fills in (the audit entry, the headers
//! Warden adds to the answer), and the two audit commits that bracket the upstream call.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use warden_shared::audit::Kind;

use crate::audit::Entry;
use crate::auth::Caller;
use crate::error::{Error, Kind as ErrorKind, Result};
use crate::http::parse::RequestHead;
use crate::metrics::Route;
use crate::shard::Shard;
use crate::state::ServingState;

/// A request as the steps see it: the head's offsets, the buffer they point into, and the body.
pub struct Request<'a> {
    pub head: &'a RequestHead,
    pub buf: &'a [u8],
    pub body: &'a [u8],
    pub id: &'a [u8],
    pub keep_alive: bool,
    pub peer: SocketAddr,
    /// When the head was complete.
    pub started: Instant,
    /// The audit entry, filled in by the steps that learn something (auth, routing, upstream).
    pub audit: &'a RefCell<Entry>,
    /// Headers Warden adds to the answer (the route taken, a budget warning); at most a few.
    pub headers: RefCell<Vec<(&'static str, Vec<u8>)>>,
    /// The snapshot this request started with: it keeps it to the end, whatever is swapped in.
    pub state: &'a Rc<ServingState>,
    /// Who is asking, authenticated right after the head (`None` on routes without a key).
    pub caller: Option<Caller<'a>>,
    /// The request's place in a trace (`[telemetry]`, or a client's `traceparent`).
    pub trace: Option<crate::trace::Trace>,
    /// Its admission under the project's limits, until settled: when the `response` record is
    /// committed (before the answer's last bytes, so a client's next request finds its token
    /// reservation settled), or when the request ends without one.
    pub admission: std::cell::Cell<Option<crate::limits::Admission>>,
}

/// What a request's handling did, for accounting.
pub struct Outcome {
    pub status: u16,
    pub provider: Option<warden_shared::catalog::Provider>,
    /// Time spent waiting on the provider.
    pub upstream: Duration,
    /// False when the response could not be completed cleanly (the connection must close).
    pub keep_alive: bool,
}

impl Request<'_> {
    /// The authenticated caller of a route that needs a key.
    pub fn caller(&self) -> Result<&Caller<'_>> {
        self.caller.as_ref().ok_or(Error::new(
            ErrorKind::Internal,
            "a keyed route without an authenticated caller",
        ))
    }

    /// Add guardrail verdicts (request or response side) to the audit entry and the metrics.
    pub fn note_verdicts(&self, shard: &Shard, verdicts: &[crate::guard::apply::Verdict]) {
        shard.metrics.verdicts(verdicts);
        if !verdicts.is_empty() {
            self.audit
                .borrow_mut()
                .verdicts
                .extend(verdicts.iter().cloned());
        }
    }

    /// Put the `request` audit record in the shard's ring (before anything is forwarded).
    pub async fn audit_request(&self, shard: &Shard) -> Result<()> {
        let Some(audit) = &shard.audit else {
            return Ok(());
        };
        let put = {
            let mut e = self.audit.borrow_mut();
            e.kind = Kind::Request;
            audit.put(&e)
        };
        audit
            .settle(put, false)
            .await
            .inspect_err(|_| shard.metrics.audit_rejected.inc())
    }

    /// Put the `response` audit record in the shard's ring: when this returns `Ok` the record
    /// survives a `kill -9` (and, with `durability = "always"`, a power loss), so the answer's
    /// last bytes may go out. `Err` is the audit log's refusal (503).
    pub async fn commit_response(
        &self,
        shard: &Shard,
        status: u16,
        error: Option<&'static str>,
        upstream: Duration,
    ) -> Result<()> {
        let Some(audit) = &shard.audit else {
            self.settle_limits();
            return Ok(());
        };
        let put = {
            let mut e = self.audit.borrow_mut();
            e.kind = Kind::Response;
            e.status = Some(status);
            e.error = error;
            self.estimate_missing_usage(shard, &mut e, status);
            let total = self.started.elapsed();
            e.overhead_us = Some(total.saturating_sub(upstream).as_micros() as u64);
            if !upstream.is_zero() {
                e.upstream_us = Some(upstream.as_micros() as u64);
            }
            audit.put(&e)
        };
        self.settle_limits();
        audit
            .settle(put, true)
            .await
            .inspect_err(|_| shard.metrics.audit_rejected.inc())
    }

    /// Settle the admission under the project's limits, once: the token reservation against
    /// the tokens the answer used, and what it cost added to the spend.
    pub fn settle_limits(&self) {
        let (Some(a), Some(caller)) = (self.admission.take(), &self.caller) else {
            return;
        };
        let counters = &caller.project.counters;
        let e = self.audit.borrow();
        let provider = e
            .provider
            .and_then(warden_shared::catalog::Provider::from_name);
        let (Some(usage), Some(provider)) = (e.usage, provider) else {
            crate::limits::settle(counters, &a, 0, 0);
            return;
        };
        let model = e.upstream_model.as_deref().unwrap_or("");
        let pooled = e.key_source == Some("pooled");
        let cost = crate::limits::cost(
            &self.state.billing,
            provider,
            model,
            pooled,
            &usage,
            e.cache,
        );
        // Tokens per minute protect the providers' quotas: a cached answer asked for none.
        let used = match e.cache {
            None => usage.input_tokens + usage.output_tokens,
            Some(_) => 0,
        };
        crate::limits::settle(counters, &a, used, cost);
    }

    /// A provider that answered without usage (some ignore `stream_options.include_usage`, a
    /// stream can end early) is still metered: from the bytes, a token per four in each
    /// direction, and the record says it is an estimate. Limits, billing and pooled-key cost
    /// recovery see it.
    fn estimate_missing_usage(&self, shard: &Shard, e: &mut Entry, status: u16) {
        if e.usage.is_some() || e.provider.is_none() || !(200..300).contains(&status) {
            return;
        }
        // A token count generates nothing and the provider bills nothing for it.
        let counts = [
            Route::MessagesCountTokens,
            Route::CountTokens,
            Route::ResponsesInputTokens,
        ]
        .iter()
        .any(|r| e.route == Some(r.name()));
        if counts {
            e.usage = Some(warden_shared::audit::Usage::default());
            return;
        }
        let tokens = |bytes: u64| bytes.div_ceil(4);
        // An embedding is not generated text: it bills no output tokens.
        let embedding = [Route::Embeddings, Route::EmbedContent]
            .iter()
            .any(|r| e.route == Some(r.name()));
        e.usage = Some(warden_shared::audit::Usage {
            input_tokens: tokens(self.body.len() as u64),
            output_tokens: if embedding { 0 } else { tokens(e.answer_bytes) },
            cached_tokens: 0,
            reasoning_tokens: 0,
        });
        e.usage_estimated = true;
        shard.metrics.usage_estimated.inc();
    }
}
