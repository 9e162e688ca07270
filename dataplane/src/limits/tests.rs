//! The limits' admission rules, on one process and with grants from a shared store.

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

/// Leased: a process admits what the store counts for it this minute; with nothing yet, one
/// request of credit; a grant for another minute counts for nothing.
#[test]
fn leased_admission_takes_the_grant_and_one_request_of_credit() {
    let limits = Limits {
        requests_per_minute: 100,
        ..Limits::default()
    };
    let c = Counters::default();
    let minute = MINUTE_START / 60;
    let admit = |c: &Counters| admit_in(Mode::Leased, &limits, c, 0, MINUTE_START + 1);
    assert!(
        admit(&c).is_ok(),
        "no grant yet: the credit lets one through"
    );
    assert!(admit(&c).is_err(), "and only one");
    assert!(
        c.wanted.load(Relaxed),
        "the lease thread is asked for a grant"
    );
    // The store counts the credit (1) and grants 3 more.
    shared::cell(&c.granted_requests, minute).store(shared::pack(minute, 4), Relaxed);
    for _ in 0..3 {
        assert!(admit(&c).is_ok());
    }
    let e = admit(&c).unwrap_err();
    assert_eq!(refused_by(&e), Some(Limit::RequestsPerMinute));
    shared::cell(&c.granted_requests, minute).store(shared::pack(minute - 2, 50), Relaxed);
    shared::cell(&c.granted_requests, minute + 1).store(shared::pack(minute + 1, 50), Relaxed);
    assert!(
        admit(&c).is_err(),
        "an old minute's grant, or the next one's, is not this minute's"
    );
    let next = admit_in(Mode::Leased, &limits, &c, 0, MINUTE_START + 61);
    assert!(
        next.is_ok(),
        "the next minute's grant, prefetched, is there when it starts"
    );
}

#[test]
fn leased_tokens_fit_the_grant_and_a_refusal_asks_for_enough() {
    let limits = Limits {
        tokens_per_minute: 10_000,
        ..Limits::default()
    };
    let c = Counters::default();
    let minute = MINUTE_START / 60;
    let admit = |est| admit_in(Mode::Leased, &limits, &c, est, MINUTE_START);
    assert!(
        admit(3_000).is_ok(),
        "nothing held: the first comes on credit"
    );
    shared::cell(&c.granted_tokens, minute).store(shared::pack(minute, 4_000), Relaxed);
    assert!(admit(900).is_ok());
    assert!(admit(500).is_err(), "3900 of 4000 used");
    assert_eq!(
        c.refused_tokens.load(Relaxed),
        500,
        "the next grant covers it"
    );
}

/// Degraded: the local share of each limit, at least one.
#[test]
fn degraded_admission_takes_the_local_share() {
    let limits = Limits {
        requests_per_minute: 10,
        ..Limits::default()
    };
    let c = Counters::default();
    // The process-wide share is 1 unless `[shared_limits]` set it: the whole limit.
    let admitted = (0..20)
        .filter(|_| admit_in(Mode::Degraded, &limits, &c, 0, MINUTE_START).is_ok())
        .count();
    assert_eq!(admitted, shared::share_of(10) as usize);
}

#[test]
fn grants_pack_with_their_minute() {
    let minute = MINUTE_START / 60;
    let p = shared::pack(minute, 12_345);
    assert_eq!(shared::granted_in(p, minute), 12_345);
    assert_eq!(shared::granted_in(p, minute + 1), 0);
    assert_eq!(shared::granted_in(0, minute), 0);
}

/// Leased: the spend cap counts what every data plane spent, as the store last said, plus what
/// this process spent since it reported — and never less than it knows itself.
#[test]
fn leased_spend_counts_the_deployment() {
    let month = month_of(MINUTE_START);
    let limits = Limits {
        monthly_spend: 1_000,
        spent: 100,
        spent_month: month,
        ..Limits::default()
    };
    let c = Counters::default();
    let admit = |c: &Counters| admit_in(Mode::Leased, &limits, c, 0, MINUTE_START);
    let a = admit(&c).unwrap_or_default();
    settle(&c, &a, 0, 200);
    // The store: 900 in all, this process's 200 reported.
    c.shared_spent.store(900, Relaxed);
    c.shared_month.store(month, Relaxed);
    c.reported.store(200, Release);
    assert!(admit(&c).is_ok(), "900 of 1000");
    settle(&c, &a, 0, 100);
    let e = admit(&c).unwrap_err();
    assert_eq!(refused_by(&e), Some(Limit::MonthlySpend), "900 + 100 since");
    // A stale month's figure counts for nothing: the local view (100 + 300) again.
    c.shared_month.store(month - 31, Relaxed);
    assert!(admit(&c).is_ok());
}
