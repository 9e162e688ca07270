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
//! so a request racing the minute boundary can land in either minute. Several hosts each count
//! their own traffic: see docs/routing.md for the plan.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

use warden_shared::snapshot::{BillingRates, Limits};

use crate::error::{Error, Kind, Result};

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
pub fn counters(project: &Arc<str>, snapshot_version: u64) -> Arc<Counters> {
    let c = match registry().lock() {
        Ok(mut map) => Arc::clone(map.entry(Arc::clone(project)).or_default()),
        Err(_) => Arc::new(Counters::default()),
    };
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

/// The first day (days since the epoch) of the month `now_s` falls in.
fn month_of(now_s: u64) -> i64 {
    let days = (now_s / 86_400) as i64;
    let (y, m, _) = warden_shared::date::civil_from_days(days);
    warden_shared::date::days_from_civil(y, i64::from(m), 1)
}

impl Counters {
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
    let mut warn = false;
    if limits.monthly_spend > 0 || limits.monthly_spend_warning > 0 {
        let spent = c.spent(limits, month_of(now_s));
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
    if limits.requests_per_minute > 0
        && c.requests.fetch_add(1, Relaxed) >= limits.requests_per_minute
    {
        c.requests.fetch_sub(1, Relaxed);
        return Err(Error::new(Kind::RateLimited, REQUESTS_REFUSED).with_retry_after(retry));
    }
    let mut reserved = 0;
    if limits.tokens_per_minute > 0 {
        let before = c.tokens.fetch_add(estimate, Relaxed);
        if before.saturating_add(estimate) > limits.tokens_per_minute && before > 0 {
            c.tokens.fetch_sub(estimate, Relaxed);
            if limits.requests_per_minute > 0 {
                c.requests.fetch_sub(1, Relaxed);
            }
            return Err(Error::new(Kind::RateLimited, TOKENS_REFUSED).with_retry_after(retry));
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
mod tests {
    use super::*;

    const MINUTE_START: u64 = 1_795_341_600; // 2026-11-22T10:00:00Z

    #[test]
    fn a_huge_max_tokens_saturates_the_estimate() {
        assert_eq!(estimate(4096, Some(u64::MAX)), u64::MAX);
        assert_eq!(estimate(10, Some(5)), 8);
    }

    #[test]
    fn requests_per_minute_refuse_the_one_over_and_reset_each_minute() {
        let limits = Limits {
            requests_per_minute: 3,
            ..Limits::default()
        };
        let c = Counters::default();
        for _ in 0..3 {
            assert!(admit(&limits, &c, 0, MINUTE_START + 5).is_ok());
        }
        let e = admit(&limits, &c, 0, MINUTE_START + 20).unwrap_err();
        assert_eq!(refused_by(&e), Some(Limit::RequestsPerMinute));
        assert_eq!(
            (e.status(), e.code(), e.retry_after_s),
            (429, "rate_limit_exceeded", Some(40))
        );
        assert!(
            admit(&limits, &c, 0, MINUTE_START + 60).is_ok(),
            "a new minute"
        );
    }

    #[test]
    fn tokens_are_reserved_then_settled_to_the_actual_usage() {
        let limits = Limits {
            tokens_per_minute: 1000,
            ..Limits::default()
        };
        let c = Counters::default();
        let a = admit(&limits, &c, 600, MINUTE_START).unwrap_or_default();
        assert!(
            admit(&limits, &c, 600, MINUTE_START).is_err(),
            "600 + 600 > 1000"
        );
        settle(&c, &a, 100, 0);
        assert!(
            admit(&limits, &c, 600, MINUTE_START).is_ok(),
            "settled to 100 used"
        );
    }

    #[test]
    fn the_spend_cap_refuses_and_the_threshold_warns() {
        let month = month_of(MINUTE_START);
        let limits = Limits {
            monthly_spend: 1_000,
            monthly_spend_warning: 800,
            spent: 700,
            spent_month: month,
            ..Limits::default()
        };
        let c = Counters::default();
        let a = admit(&limits, &c, 0, MINUTE_START).unwrap_or_default();
        assert!(!a.warn);
        settle(&c, &a, 0, 150);
        assert!(admit(&limits, &c, 0, MINUTE_START).unwrap_or_default().warn);
        settle(&c, &a, 0, 150);
        let e = admit(&limits, &c, 0, MINUTE_START).unwrap_err();
        assert_eq!(refused_by(&e), Some(Limit::MonthlySpend));
        assert_eq!((e.status(), e.code()), (429, "budget_exceeded"));
        // Next month the count starts again.
        assert!(admit(&limits, &c, 0, MINUTE_START + 40 * 86_400).is_ok());
    }
}
