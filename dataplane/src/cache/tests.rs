//! The cache's own tests: plans, fills across shards, bounds on what waits and what records.

use super::*;

/// What an unstreamed request of a format kept in one shape expects back.
const BODY: Shape = Shape {
    event_stream: false,
    wire: None,
};

fn policy(mode: CacheMode) -> CachePolicy {
    CachePolicy {
        mode,
        ..CachePolicy::default()
    }
}

#[test]
fn directives_are_read_from_lists_in_any_case() {
    let mut d = Directives::default();
    d.observe(b"max-age=0, No-Store");
    assert!(d.no_store && !d.no_cache);
    let mut d = Directives::default();
    d.observe(b"no-cache");
    assert_eq!(
        d,
        Directives {
            no_store: false,
            no_cache: true
        }
    );
}

#[test]
fn a_fill_reaches_the_other_shards_and_only_its_project() {
    let shared = Shared::new(2, 1 << 20, 1 << 16, None, None).unwrap();
    let a = shared.shard(0, Default::default());
    let b = shared.shard(1, Default::default());
    let project: Arc<str> = "p1".into();
    let key = {
        let mut h = a.hasher("p1", 0);
        h.part(b"body");
        h.finish()
    };
    let on = policy(CacheMode::Exact);
    let Plan::Fill(fill) = a.plan(&on, Directives::default(), &project, BODY, || Some(key)) else {
        panic!("first lookup must miss");
    };
    a.fill(fill, false, b"{\"answer\":1}");
    assert!(matches!(
        b.plan(&on, Directives::default(), &project, BODY, || Some(key)),
        Plan::Hit(e) if &*e.body == b"{\"answer\":1}"
    ));
    let other: Arc<str> = "p2".into();
    assert!(matches!(
        b.plan(&on, Directives::default(), &other, BODY, || Some(key)),
        Plan::Fill(_)
    ));
    let no_store = Directives {
        no_store: true,
        no_cache: false,
    };
    assert!(matches!(
        b.plan(&on, no_store, &project, BODY, || Some(key)),
        Plan::Bypass
    ));
    assert!(matches!(
        b.plan(
            &policy(CacheMode::Off),
            Directives::default(),
            &project,
            BODY,
            || Some(key)
        ),
        Plan::Off
    ));
}

#[test]
fn an_idle_shard_cannot_be_made_to_hold_more_than_its_inbox_bound() {
    // 4 KiB per shard: an inbox holds at most 1 KiB of offers.
    let shared = Shared::new(2, 8 << 10, 512, None, None).unwrap();
    let metrics: Arc<CacheMetrics> = Default::default();
    let a = shared.shard(0, Arc::clone(&metrics));
    let project: Arc<str> = "p".into();
    let on = policy(CacheMode::Exact);
    for n in 0..10u8 {
        let Plan::Fill(fill) = a.plan(&on, Directives::default(), &project, BODY, || {
            Some(Key([n; 32]))
        }) else {
            panic!("miss");
        };
        a.fill(fill, false, &[b'x'; 300]);
    }
    // Three offers of 300 bytes fit under 1 KiB; the other seven were dropped.
    assert_eq!(metrics.offers_dropped.get(), 7);
    let b = shared.shard(1, Default::default());
    let hits = (0..10u8)
        .filter(|n| {
            matches!(
                b.plan(&on, Directives::default(), &project, BODY, || Some(Key(
                    [*n; 32]
                ))),
                Plan::Hit(_)
            )
        })
        .count();
    assert_eq!(hits, 3);
}

#[test]
fn streams_being_recorded_share_one_bound_and_give_it_back() {
    // 8 KiB per shard: recordings may hold 2 KiB at once; one entry at most 1536 bytes.
    let shared = Shared::new(1, 8 << 10, 1536, None, None).unwrap();
    let metrics: Arc<CacheMetrics> = Default::default();
    let c = shared.shard(0, Arc::clone(&metrics));
    let project: Arc<str> = "p".into();
    let on = policy(CacheMode::Exact);
    let fill = |n: u8| match c.plan(&on, Directives::default(), &project, BODY, || {
        Some(Key([n; 32]))
    }) {
        Plan::Fill(f) => f,
        _ => panic!("miss"),
    };
    let mut a = c.record(fill(1));
    let mut b = c.record(fill(2));
    a.push(&[b'a'; 1200]);
    b.push(&[b'b'; 1200]);
    assert_eq!(
        metrics.too_big.get(),
        1,
        "the second did not fit beside the first"
    );
    b.finish();
    a.push(&[b'a'; 400]);
    assert_eq!(metrics.too_big.get(), 2, "past one entry's bound");
    drop(a);
    assert_eq!(c.recording.get(), 0, "both gave their bytes back");
    let mut d = c.record(fill(3));
    d.push(&[b'd'; 1500]);
    d.finish();
    assert_eq!(c.recording.get(), 0);
    let stream = Shape {
        event_stream: true,
        ..BODY
    };
    assert!(matches!(
        c.plan(&on, Directives::default(), &project, stream, || Some(Key([3; 32]))),
        Plan::Hit(e) if e.body.len() == 1500 && e.event_stream
    ));
    assert!(matches!(
        c.plan(&on, Directives::default(), &project, BODY, || Some(Key(
            [2; 32]
        ))),
        Plan::Fill(_)
    ));
}

#[test]
fn keys_differ_by_project_and_by_how_parts_split() {
    let shared = Shared::new(1, 1 << 20, 1 << 16, None, None).unwrap();
    let c = shared.shard(0, Default::default());
    let key = |project: &str, parts: &[&[u8]]| {
        let mut h = c.hasher(project, 0);
        for p in parts {
            h.part(p);
        }
        h.finish()
    };
    assert_ne!(key("a", &[b"x"]), key("b", &[b"x"]));
    assert_ne!(key("a", &[b"xy", b""]), key("a", &[b"x", b"y"]));
    assert_eq!(key("a", &[b"x", b"y"]), key("a", &[b"x", b"y"]));
    let mut purged = c.hasher("a", 1);
    purged.part(b"x");
    assert_ne!(
        purged.finish(),
        key("a", &[b"x"]),
        "a new generation, new keys"
    );
}

/// A hit needs the entry younger than the project's TTL as it is at the lookup.
#[test]
fn a_shortened_ttl_applies_to_entries_kept_before() {
    let shared = Shared::new(1, 1 << 20, 1 << 16, None, None).unwrap();
    let c = shared.shard(0, Default::default());
    let project: Arc<str> = "p".into();
    let on = policy(CacheMode::Exact);
    let Plan::Fill(fill) = c.plan(&on, Directives::default(), &project, BODY, || {
        Some(Key([1; 32]))
    }) else {
        panic!("a new key misses");
    };
    c.fill(fill, false, b"{}");
    let hour = Duration::from_secs(3600);
    assert!(c.get(&Key([1; 32]), "p", hour).is_some());
    assert!(c.get(&Key([1; 32]), "p", Duration::ZERO).is_none());
    assert!(c.get(&Key([1; 32]), "q", hour).is_none(), "another project");
}

/// A purge (a new generation) drops the older entries of that project only; a project whose
/// cache is off loses them all. Entries of the new generation stay.
#[test]
fn a_sweep_drops_a_purged_projects_older_entries() {
    let shared = Shared::new(2, 1 << 20, 1 << 16, None, None).unwrap();
    let c = shared.shard(0, Default::default());
    let fill = |project: &str, generation: u32, n: u8| {
        let p: Arc<str> = project.into();
        let on = CachePolicy {
            generation,
            ..policy(CacheMode::Exact)
        };
        let Plan::Fill(fill) = c.plan(&on, Directives::default(), &p, BODY, || Some(Key([n; 32])))
        else {
            panic!("a new key misses");
        };
        c.fill(fill, false, b"{}");
    };
    for n in 0..200 {
        fill("purged", 0, n);
    }
    fill("purged", 1, 200);
    fill("other", 0, 201);
    fill("off", 0, 202);
    // Offered by another shard, not yet taken: swept too.
    let peer = shared.shard(1, Default::default());
    let p: Arc<str> = "off".into();
    let Plan::Fill(offered) = peer.plan(
        &policy(CacheMode::Exact),
        Directives::default(),
        &p,
        BODY,
        || Some(Key([203; 32])),
    ) else {
        panic!("a new key misses");
    };
    peer.fill(offered, false, b"{}");
    let sweep: Vec<(Arc<str>, Option<u32>)> =
        vec![("purged".into(), Some(1)), ("off".into(), None)];
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .build()
        .unwrap()
        .block_on(c.sweep(&sweep));
    let store = c.store.borrow();
    assert_eq!(store.entries_of("purged"), 1);
    assert_eq!(store.entries_of("other"), 1);
    assert_eq!(store.entries_of("off"), 0);
    assert_eq!(c.metrics.purged.get(), 202);
    assert_eq!(c.metrics.entries.get(), 2);
}

#[test]
fn an_entry_is_served_in_the_shape_asked_for_or_missed() {
    let shared = Shared::new(1, 1 << 20, 1 << 16, None, None).unwrap();
    let metrics: Arc<CacheMetrics> = Default::default();
    let c = shared.shard(0, Arc::clone(&metrics));
    let project: Arc<str> = "p".into();
    let on = policy(CacheMode::Exact);
    let body = br#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#;
    let streamed = Shape {
        event_stream: true,
        wire: Some(Wire::OpenAiChat),
    };
    for (n, kept) in [(1u8, &body[..]), (2, b"not json")] {
        let Plan::Fill(fill) = c.plan(&on, Directives::default(), &project, BODY, || {
            Some(Key([n; 32]))
        }) else {
            panic!("a new key misses");
        };
        c.fill(fill, false, kept);
    }
    let Plan::Hit(hit) = c.plan(&on, Directives::default(), &project, streamed, || {
        Some(Key([1; 32]))
    }) else {
        panic!("a kept body serves a stream");
    };
    assert!(hit.event_stream && hit.body.starts_with(b"data: {"));
    assert!(hit.body.ends_with(b"data: [DONE]\n\n"));
    assert_eq!(metrics.reshaped.get(), 1);
    // The entry itself stays as it was kept.
    assert!(matches!(
        c.plan(&on, Directives::default(), &project, BODY, || Some(Key([1; 32]))),
        Plan::Hit(e) if *e.body == body[..] && !e.event_stream
    ));
    // Without a format that converts, or with bytes that do not, it is a miss.
    let one_shape = Shape {
        wire: None,
        ..streamed
    };
    for (key, shape) in [(1u8, one_shape), (2, streamed)] {
        assert!(matches!(
            c.plan(&on, Directives::default(), &project, shape, || Some(Key(
                [key; 32]
            ))),
            Plan::Fill(_)
        ));
    }
    assert_eq!(metrics.reshape_failed.get(), 2);
}
