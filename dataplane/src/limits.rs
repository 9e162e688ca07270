//! Per-project limits in the data plane: requests and tokens per minute, and a monthly spend
//! cap with a warning threshold.
//!
//! Each project has one set of counters for the whole process, shared by every shard through an
//! `Arc` in its serving state and touched only with atomic operations — no lock on the hot path.
//! The registry that hands the counters out (so they survive snapshot swaps) is locked only
//! while a serving state is built, off the shards.
//!
//! - Requests per minute: a fixed one-minute window; the request over the limit gets 429
//!   `rate_limit_exceeded` with `retry-after` set to the rest of the minute.
//! - Tokens per minute: an estimate (prompt bytes / 4 + the requested output tokens) is reserved
//!   before the call and refused the same way when it does not fit; once the answer's usage is
//!   known the reservation is settled to the actual figure.
//! - Monthly spend: the month-to-date spend the control plane knew when it built the snapshot,
//!   plus what this process has served since (priced with the snapshot's rates). At or over the
//!   cap: 429 `budget_exceeded`; over the warning threshold: `x-warden-budget-warning` on the
//!   answer. A new snapshot brings a new base and the local part starts again from zero.
//!
//! Accuracy on one host: exact for the request count; the window edge is shared by all shards,
//! so a request racing the minute boundary can land in either minute. With `[shared_limits]`,
//! requests and tokens per minute hold across every data plane sharing the store — each admits
//! from the grant the store gave it — and the spend cap counts what all of them spent
//! (`shared.rs`).

use std::collections::HashMap;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::{Arc, Mutex, OnceLock};

use warden_shared::snapshot::{BillingRates, Limits};

use crate::error::{Error, Kind, Result};

pub mod shared;

use shared::Mode;

/// One project's live counters.
#[derive(Default, Debug)]
pub struct Counters {
    /// The minute (since the epoch) the request and token counts are for.
    minute: AtomicU64,
    requests: AtomicU64,
    tokens: AtomicU64,
    /// The snapshot version whose spend base `spent` is counted on top of.
    base_version: AtomicU64,
    /// Picodollars served by this process on top of the snapshot's base.
    spent: AtomicU64,
    /// The month (its first day) `spent` is for.
    month: AtomicI64,
    /// The project's per-minute limits, for the lease thread (`shared.rs`).
    rpm: AtomicU64,
    tpm: AtomicU64,
    /// What the shared store counts for this process — its grants and what it admitted beyond
    /// them — in requests and tokens, each packed with the minute it is for (`shared::pack`):
    /// one cell per minute's parity, so the next minute's grant can arrive before it starts.
    /// Written by the lease thread only.
    granted_requests: [AtomicU64; 2],
    granted_tokens: [AtomicU64; 2],
    /// The largest token estimate refused for want of a grant since the lease thread last
    /// looked: the next grant covers it.
    refused_tokens: AtomicU64,
    /// A shard found a grant running out and woke the lease thread (cleared by the thread).
    wanted: AtomicBool,
    /// Shared spend (`shared.rs`): the cap and the snapshot's base (and its month), for the
    /// lease thread; this process's spend in `month`, never reset by a snapshot; how much of it
    /// the store has been told; and the deployment's spend the store answered, for
    /// `shared_month`.
    cap: AtomicU64,
    base: AtomicU64,
    base_month: AtomicI64,
    month_spent: AtomicU64,
    reported: AtomicU64,
    shared_spent: AtomicU64,
    shared_month: AtomicI64,
}

/// What an admitted request holds until it is settled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Admission {
    /// Tokens reserved against the minute's budget, and in which minute.
    pub reserved: u64,
    pub minute: u64,
    /// The spend is past the warning threshold.
    pub warn: bool,
}

fn registry() -> &'static Mutex<HashMap<Arc<str>, Arc<Counters>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<Arc<str>, Arc<Counters>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The counters of `project`, the same for every shard and every snapshot. When the snapshot
/// brings a new spend base, the local part restarts (what it counted is in the base now, or
/// about to be: shipping lags by a second or so).
pub fn counters(project: &Arc<str>, snapshot_version: u64, limits: &Limits) -> Arc<Counters> {
    let c = match registry().lock() {
        Ok(mut map) => Arc::clone(map.entry(Arc::clone(project)).or_default()),
        Err(_) => Arc::new(Counters::default()),
    };
    c.rpm.store(limits.requests_per_minute, Relaxed);
    c.tpm.store(limits.tokens_per_minute, Relaxed);
    c.cap.store(limits.monthly_spend, Relaxed);
    c.base.store(limits.spent, Relaxed);
    c.base_month.store(limits.spent_month, Relaxed);
    let seen = c.base_version.load(Relaxed);
    if seen != snapshot_version
        && c.base_version
            .compare_exchange(seen, snapshot_version, Relaxed, Relaxed)
            .is_ok()
    {
        c.spent.store(0, Relaxed);
    }
    c
}

/// Share `[shared_limits]` through its store: a lease thread keeps every limited project's grants
/// sized to its pace (`shared.rs`).
pub fn share(config: &shared::SharedLimits) -> std::result::Result<(), String> {
    let mut paces = HashMap::new();
    shared::start(config, move |store| {
        let now = now_s();
        for (project, c) in registered() {
            c.wanted.store(false, Relaxed);
            for kind in [shared::Kind::Requests, shared::Kind::Tokens] {
                if c.resize(store, &mut paces, &project, kind, now).is_err() {
                    return false;
                }
            }
            if c.report_spend(store, &project, now).is_err() {
                return false;
            }
        }
        true
    })
}

/// Per project and kind: the minute and what was used at the last tick (the lease thread's pace).
type Paces = HashMap<(Arc<str>, u8), (u64, u64)>;

/// Every project's counters that has a per-minute limit or a spend cap (for the lease thread).
fn registered() -> Vec<(Arc<str>, Arc<Counters>)> {
    match registry().lock() {
        Ok(map) => map
            .iter()
            .filter(|(_, c)| {
                c.rpm.load(Relaxed) > 0 || c.tpm.load(Relaxed) > 0 || c.cap.load(Relaxed) > 0
            })
            .map(|(p, c)| (Arc::clone(p), Arc::clone(c)))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Seconds since the epoch.
pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The first day (days since the epoch) of the month `now_s` falls in.
fn month_of(now_s: u64) -> i64 {
    let days = (now_s / 86_400) as i64;
    let (y, m, _) = warden_shared::date::civil_from_days(days);
    warden_shared::date::days_from_civil(y, i64::from(m), 1)
}

impl Counters {
    /// Size one grant to the project's pace: more when it runs low, some back when it is far
    /// more than the pace needs, and a charge for whatever was admitted beyond it.
    fn resize(
        &self,
        store: &mut shared::Store,
        paces: &mut Paces,
        project: &Arc<str>,
        kind: shared::Kind,
        now_s: u64,
    ) -> std::result::Result<(), shared::Unanswered> {
        let minute = now_s / 60;
        let (limit, cells, used) = match kind {
            shared::Kind::Requests => (
                self.rpm.load(Relaxed),
                &self.granted_requests,
                &self.requests,
            ),
            shared::Kind::Tokens => (self.tpm.load(Relaxed), &self.granted_tokens, &self.tokens),
        };
        if limit == 0 {
            return Ok(());
        }
        let cell = shared::cell(cells, minute);
        // What the store counts for this process this minute: grants, and what it admitted
        // beyond them (the first request's credit, or while the store was away).
        let held = shared::granted_in(cell.load(Relaxed), minute);
        let used = if self.minute.load(Relaxed) == minute {
            used.load(Relaxed)
        } else {
            0
        };
        let last = paces.insert((Arc::clone(project), kind as u8), (minute, used));
        let per_tick = match last {
            Some((m, before)) if m == minute => used.saturating_sub(before),
            _ => used,
        };
        // What a tick's worth of traffic needs, twice over, and at least the largest request a
        // shard had to refuse for want of a grant.
        let floor = match kind {
            shared::Kind::Requests => 1,
            shared::Kind::Tokens => self.refused_tokens.swap(0, Relaxed).max(1024),
        };
        let need = per_tick.saturating_mul(2).max(floor);
        let over = used.saturating_sub(held);
        let free = held.saturating_sub(used);
        let (returned, want) = if free < need {
            (0, need - free)
        } else if free > need.saturating_mul(4) {
            (free - need.saturating_mul(2), 0)
        } else {
            (0, 0)
        };
        if over != 0 || returned != 0 || want != 0 {
            let charge = i128::from(over) - i128::from(returned);
            let got = store.lease(&shared::key(project, kind, minute), limit, charge, want)?;
            cell.store(shared::pack(minute, held + over - returned + got), Relaxed);
        }
        // In a minute's last second, a project with traffic gets the next minute's grant ahead,
        // so its requests do not wait on the credit when the minute turns.
        if 60 - now_s % 60 <= 1 && used > 0 {
            let next = minute + 1;
            let cell = shared::cell(cells, next);
            let held = shared::granted_in(cell.load(Relaxed), next);
            if held < need {
                let got = store.lease(&shared::key(project, kind, next), limit, 0, need - held)?;
                cell.store(shared::pack(next, held + got), Relaxed);
            }
        }
        Ok(())
    }

    /// Tell the store what this process spent since the last tick, and learn the deployment's
    /// month so far (at least the snapshot's base: a store that lost it starts from there).
    fn report_spend(
        &self,
        store: &mut shared::Store,
        project: &str,
        now_s: u64,
    ) -> std::result::Result<(), shared::Unanswered> {
        if self.cap.load(Relaxed) == 0 {
            return Ok(());
        }
        let month = month_of(now_s);
        let mine = if self.month.load(Relaxed) == month {
            self.month_spent.load(Relaxed)
        } else {
            0
        };
        let reported = if self.shared_month.load(Relaxed) == month {
            self.reported.load(Relaxed)
        } else {
            0
        };
        let delta = mine.saturating_sub(reported);
        let floor = if self.base_month.load(Relaxed) == month {
            self.base.load(Relaxed)
        } else {
            0
        };
        let total = store.spend(&shared::spend_key(project, month), delta, floor)?;
        self.shared_spent.store(total, Relaxed);
        self.shared_month.store(month, Relaxed);
        // Last, and released: a shard that sees it sees the total it belongs with.
        self.reported.store(reported + delta, Release);
        Ok(())
    }

    /// The deployment's spend this month as the store last answered, plus what this process
    /// spent since it last reported; `None` when the store has not answered for this month.
    fn shared_spend(&self, month: i64) -> Option<u64> {
        let reported = self.reported.load(Acquire);
        if self.shared_month.load(Relaxed) != month || self.month.load(Relaxed) != month {
            return None;
        }
        let since = self.month_spent.load(Relaxed).saturating_sub(reported);
        Some(self.shared_spent.load(Relaxed).saturating_add(since))
    }

    /// Wake the lease thread once (leased mode only): a grant is running out.
    fn want(&self, mode: Mode) {
        if mode == Mode::Leased && !self.wanted.swap(true, Relaxed) {
            shared::wake();
        }
    }

    /// Start a new minute's window if `minute` is newer.
    fn roll(&self, minute: u64) {
        let current = self.minute.load(Relaxed);
        if current < minute
            && self
                .minute
                .compare_exchange(current, minute, Relaxed, Relaxed)
                .is_ok()
        {
            self.requests.store(0, Relaxed);
            self.tokens.store(0, Relaxed);
        }
    }

    /// Spend this month: the snapshot's base (if it is for this month) and the local part.
    fn spent(&self, limits: &Limits, month: i64) -> u64 {
        let current = self.month.load(Relaxed);
        if current != month
            && self
                .month
                .compare_exchange(current, month, Relaxed, Relaxed)
                .is_ok()
        {
            self.spent.store(0, Relaxed);
            self.month_spent.store(0, Relaxed);
        }
        let base = if limits.spent_month == month {
            limits.spent
        } else {
            0
        };
        base.saturating_add(self.spent.load(Relaxed))
    }
}

/// What refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    RequestsPerMinute,
    TokensPerMinute,
    MonthlySpend,
}

const SPEND_REFUSED: &str = "the project's monthly spend cap is reached";
const REQUESTS_REFUSED: &str = "the project's requests per minute are used up";
const TOKENS_REFUSED: &str = "the project's tokens per minute are used up";

/// Which limit an error from [`admit`] is, for the metrics.
pub fn refused_by(e: &Error) -> Option<Limit> {
    match e.context {
        SPEND_REFUSED => Some(Limit::MonthlySpend),
        REQUESTS_REFUSED => Some(Limit::RequestsPerMinute),
        TOKENS_REFUSED => Some(Limit::TokensPerMinute),
        _ => None,
    }
}

/// Admit a request estimated at `estimate` tokens at `now_s`, or refuse it.
pub fn admit(limits: &Limits, c: &Counters, estimate: u64, now_s: u64) -> Result<Admission> {
    admit_in(shared::mode(), limits, c, estimate, now_s)
}

/// [`admit`] as `mode` admits: the whole limit on this process's own traffic (`Local`), the
/// shared store's grant plus one request of credit (`Leased`), or the local share (`Degraded`).
pub fn admit_in(
    mode: Mode,
    limits: &Limits,
    c: &Counters,
    estimate: u64,
    now_s: u64,
) -> Result<Admission> {
    let mut warn = false;
    if limits.monthly_spend > 0 || limits.monthly_spend_warning > 0 {
        let month = month_of(now_s);
        let mut spent = c.spent(limits, month);
        // Leased: what every data plane spent, as the store last said, if that is more.
        if mode == Mode::Leased {
            if let Some(shared) = c.shared_spend(month) {
                spent = spent.max(shared);
            }
        }
        if limits.monthly_spend > 0 && spent >= limits.monthly_spend {
            return Err(Error::new(Kind::BudgetExceeded, SPEND_REFUSED));
        }
        warn = limits.monthly_spend_warning > 0 && spent >= limits.monthly_spend_warning;
    }
    let minute = now_s / 60;
    let retry = (60 - now_s % 60) as u32;
    if limits.requests_per_minute == 0 && limits.tokens_per_minute == 0 {
        return Ok(Admission {
            reserved: 0,
            minute,
            warn,
        });
    }
    c.roll(minute);
    // What this process may admit this minute: the whole limit (local), its share (degraded),
    // or what the store counts for it (leased) — and, when that is nothing yet, one request of
    // credit, so a project's first request of a minute is not held back for its grant.
    let allowed = |limit: u64, cells: &[AtomicU64; 2]| match mode {
        Mode::Local => (limit, false),
        Mode::Degraded => (shared::share_of(limit), false),
        Mode::Leased => {
            let held = shared::granted_in(shared::cell(cells, minute).load(Relaxed), minute);
            (held, held == 0)
        }
    };
    if limits.requests_per_minute > 0 {
        let (room, credit) = allowed(limits.requests_per_minute, &c.granted_requests);
        let n = c.requests.fetch_add(1, Relaxed);
        if n >= room + u64::from(credit) {
            c.requests.fetch_sub(1, Relaxed);
            c.want(mode);
            return Err(Error::new(Kind::RateLimited, REQUESTS_REFUSED).with_retry_after(retry));
        }
        if n + 1 >= room {
            c.want(mode);
        }
    }
    let mut reserved = 0;
    if limits.tokens_per_minute > 0 {
        let (room, credit) = allowed(limits.tokens_per_minute, &c.granted_tokens);
        let before = c.tokens.fetch_add(estimate, Relaxed);
        // One request may be larger than all the room there is when it is the first (local,
        // degraded) or comes on credit (leased).
        let first = match mode {
            Mode::Leased => credit && before == 0,
            _ => before == 0,
        };
        if before.saturating_add(estimate) > room && !first {
            c.tokens.fetch_sub(estimate, Relaxed);
            if limits.requests_per_minute > 0 {
                c.requests.fetch_sub(1, Relaxed);
            }
            if mode == Mode::Leased {
                c.refused_tokens.fetch_max(estimate, Relaxed);
            }
            c.want(mode);
            return Err(Error::new(Kind::RateLimited, TOKENS_REFUSED).with_retry_after(retry));
        }
        if before.saturating_add(estimate) >= room {
            c.want(mode);
        }
        reserved = estimate;
    }
    Ok(Admission {
        reserved,
        minute,
        warn,
    })
}

/// The answer's usage is known: settle the token reservation and add the spend.
pub fn settle(c: &Counters, a: &Admission, used_tokens: u64, cost_pico: u64) {
    if a.reserved > 0 && c.minute.load(Relaxed) == a.minute {
        if used_tokens >= a.reserved {
            c.tokens.fetch_add(used_tokens - a.reserved, Relaxed);
        } else {
            let back = a.reserved - used_tokens;
            let _ = c
                .tokens
                .fetch_update(Relaxed, Relaxed, |t| Some(t.saturating_sub(back)));
        }
    }
    if cost_pico > 0 {
        c.spent.fetch_add(cost_pico, Relaxed);
        c.month_spent.fetch_add(cost_pico, Relaxed);
    }
}

/// A request's token estimate: prompt bytes / 4 plus the output tokens it asks for.
pub fn estimate(body_len: usize, max_output: Option<u64>) -> u64 {
    // Saturating: a client's `max_tokens` near u64::MAX must not wrap into a small estimate.
    (body_len as u64)
        .div_ceil(4)
        .saturating_add(max_output.unwrap_or(0))
}

/// What one answer cost, from its audit entry's usage.
pub fn cost(
    billing: &BillingRates,
    provider: warden_shared::catalog::Provider,
    model: &str,
    pooled: bool,
    usage: &warden_shared::audit::Usage,
    cache: Option<crate::cache::Hit>,
) -> u64 {
    let tokens = [usage.input_tokens, usage.cached_tokens, usage.output_tokens];
    match cache {
        None => billing.cost(provider, model, pooled, tokens),
        // An exact hit is free: no provider was asked, nothing of Warden's beyond a lookup.
        Some(crate::cache::Hit::Exact) => 0,
        // A semantic hit: no provider cost, half of Warden's overhead (the embedding and search).
        Some(crate::cache::Hit::Semantic) => billing.cost(provider, model, false, tokens) / 2,
    }
}

#[cfg(test)]
mod tests;
