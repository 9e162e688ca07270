//! Serving-state tests: key digests, custom patterns, the shared layout.

use super::*;
use warden_shared::snapshot::{CustomPattern, Project};
use warden_shared::vault::MasterKey;

/// A serving state with one project, `p`, that has `patterns` as its custom patterns.
pub fn state_with_custom(patterns: Vec<CustomPattern>) -> ServingState {
    build_with_custom(patterns).unwrap_or_else(|e| panic!("{e}"))
}

fn build_with_custom(patterns: Vec<CustomPattern>) -> Result<ServingState, String> {
    let key = MasterKey::generate(1).unwrap_or_else(|e| panic!("{e}"));
    ServingState::build(snapshot(patterns), Arc::new(Keyring::new(vec![key])))
}

fn snapshot(patterns: Vec<CustomPattern>) -> Snapshot {
    Snapshot {
        version: 1,
        providers: Vec::new(),
        models: Vec::new(),
        tenants: Vec::new(),
        projects: vec![Project {
            id: "p".into(),
            tenant: "t".into(),
            environment: Environment::Production,
            provider_keys: Vec::new(),
            guardrails: GuardrailPolicy::default(),
            custom_patterns: patterns,
            phone_regions: Vec::new(),
            phone_standalone: None,
            routing: Default::default(),
            limits: Default::default(),
            cache: Default::default(),
        }],
        api_keys: Vec::new(),
        api_key_digest_secret: None,
        pooled_keys: Vec::new(),
        billing: Default::default(),
        route_groups: Vec::new(),
    }
}

#[test]
fn keys_authenticate_under_the_sealed_digest_secret_and_only_with_its_master_key() {
    let master = MasterKey::from_bytes(5, &[5; 32]).unwrap_or_else(|e| panic!("{e}"));
    let secret = [42u8; 32];
    let key = b"wdn_0123456789abcdef0123456789abcdef";
    let mut s = snapshot(Vec::new());
    s.api_keys.push(warden_shared::snapshot::ApiKeyEntry {
        id: "key_1".into(),
        hash: warden_shared::api_key_digest(&secret, &warden_shared::api_key_hash(key)),
        project: "p".into(),
    });
    s.api_key_digest_secret = Some(
        master
            .seal_secret(warden_shared::API_KEY_DIGEST_LABEL, &secret)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let state = ServingState::build(s.clone(), Arc::new(Keyring::new(vec![master])))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(state.api_key(key).is_some());
    assert!(state
        .api_key(b"wdn_0123456789abcdef0123456789abcdeX")
        .is_none());
    let other = MasterKey::from_bytes(5, &[6; 32]).unwrap_or_else(|e| panic!("{e}"));
    match ServingState::build(s, Arc::new(Keyring::new(vec![other]))) {
        Ok(_) => panic!("a digest secret sealed under another master key was accepted"),
        Err(e) => assert!(e.contains("does not open under master key 5"), "{e}"),
    }
}

#[test]
fn a_snapshot_with_a_bad_pattern_is_refused() {
    let refused = build_with_custom(vec![CustomPattern {
        id: "bad".into(),
        pattern: "(unclosed".into(),
        caseless: false,
        action: warden_shared::snapshot::GuardAction::Block,
        response_action: warden_shared::snapshot::GuardAction::Off,
    }]);
    match refused {
        Ok(_) => panic!("a pattern Hyperscan cannot build was accepted"),
        Err(e) => assert!(e.starts_with("project p: custom pattern bad:"), "{e}"),
    }
}

/// `n` projects with no keys of their own and `keys` Warden keys dealt round-robin over them (so
/// no two keys in a row share a project), plain SHA-256 digests.
fn spread(n: usize, keys: usize) -> Snapshot {
    let mut s = snapshot(Vec::new());
    let template = s.projects[0].clone();
    s.projects = (0..n)
        .map(|i| Project {
            id: format!("p{i}"),
            ..template.clone()
        })
        .collect();
    s.api_keys = (0..keys)
        .map(|k| warden_shared::snapshot::ApiKeyEntry {
            id: format!("key_{k}"),
            hash: warden_shared::api_key_hash(format!("wdn_{k}").as_bytes()),
            project: format!("p{}", k % n),
        })
        .collect();
    s
}

#[test]
fn every_shard_reads_one_shared_state_and_each_key_finds_its_own_project() {
    let key = MasterKey::generate(1).unwrap_or_else(|e| panic!("{e}"));
    let s = spread(7, 500);
    let custom = compile_all(&s).unwrap_or_else(|e| panic!("{e}"));
    let built = SharedState::build(s, Arc::new(Keyring::new(vec![key])), &custom)
        .unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (built.for_shard(), built.for_shard());
    assert!(std::ptr::eq(
        &*a as *const SharedState,
        &*b as *const SharedState
    ));
    assert_eq!(a.api_key_count(), 500);
    for k in 0..500 {
        let found = a
            .api_key(format!("wdn_{k}").as_bytes())
            .unwrap_or_else(|| panic!("key {k} not found"));
        assert_eq!(found.id, format!("key_{k}"));
        assert_eq!(&*a.projects[found.project].id, format!("p{}", k % 7));
    }
    assert!(a.api_key(b"wdn_500").is_none());
    // Projects that reach the same providers share one rendered /v1/models body.
    assert!(Arc::ptr_eq(
        &a.projects[0].models_json,
        &a.projects[6].models_json
    ));
}

#[test]
fn a_key_naming_an_unknown_project_is_refused() {
    let key = MasterKey::generate(1).unwrap_or_else(|e| panic!("{e}"));
    let mut s = spread(3, 10);
    s.api_keys[4].project = "p9".into();
    match ServingState::build(s, Arc::new(Keyring::new(vec![key]))) {
        Ok(_) => panic!("a key of an unknown project was accepted"),
        Err(e) => assert_eq!(e, "api key key_4 names unknown project p9"),
    }
}

#[test]
fn pushed_bytes_decode_into_the_same_keys_and_a_bad_project_is_refused() {
    let key = MasterKey::generate(1).unwrap_or_else(|e| panic!("{e}"));
    let s = spread(5, 300);
    let bytes = warden_shared::snapshot::encode(&s).unwrap_or_else(|e| panic!("{e}"));
    let (decoded, keys) = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert!(decoded.api_keys.is_empty());
    assert_eq!((decoded.projects, decoded.version), (s.projects.clone(), 1));
    let (decoded, _) = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let custom = compile_all(&decoded).unwrap_or_else(|e| panic!("{e}"));
    let built =
        SharedState::build_with_keys(decoded, keys, Arc::new(Keyring::new(vec![key])), &custom)
            .unwrap_or_else(|e| panic!("{e}"));
    let state = built.for_shard();
    for k in 0..300 {
        let found = state
            .api_key(format!("wdn_{k}").as_bytes())
            .unwrap_or_else(|| panic!("key {k}"));
        assert_eq!(&*state.projects[found.project].id, format!("p{}", k % 5));
    }
    let mut bad = s;
    bad.api_keys[299].project = "nowhere".into();
    let bytes = warden_shared::snapshot::encode(&bad).unwrap_or_else(|e| panic!("{e}"));
    match decode(&bytes) {
        Ok(_) => panic!("a key of an unknown project was accepted"),
        Err(e) => assert_eq!(e, "api key key_299 names unknown project nowhere"),
    }
    assert!(decode(&bytes[..bytes.len() / 2]).is_err());
}

/// The state of `spread(3, 30)` (keys `wdn_0..30` over p0, p1, p2), version 1, built as a push
/// is (from bytes).
fn base_of_three() -> (Built, Arc<Keyring>) {
    let keyring = Arc::new(Keyring::new(vec![
        MasterKey::generate(1).unwrap_or_else(|e| panic!("{e}"))
    ]));
    let bytes = warden_shared::snapshot::encode(&spread(3, 30)).unwrap_or_else(|e| panic!("{e}"));
    let (decoded, keys) = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let custom = compile_all(&decoded).unwrap_or_else(|e| panic!("{e}"));
    let built = SharedState::build_with_keys(decoded, keys, Arc::clone(&keyring), &custom)
        .unwrap_or_else(|e| panic!("{e}"));
    (built, keyring)
}

fn entry(k: usize, project: &str) -> warden_shared::snapshot::ApiKeyEntry {
    warden_shared::snapshot::ApiKeyEntry {
        id: format!("key_{k}"),
        hash: warden_shared::api_key_hash(format!("wdn_{k}").as_bytes()),
        project: project.into(),
    }
}

/// The project id a presented key authenticates for, if it does.
fn project_of(state: &SharedState, k: usize) -> Option<String> {
    state
        .api_key(format!("wdn_{k}").as_bytes())
        .map(|found| state.projects[found.project].id.to_string())
}

#[test]
fn a_delta_adds_and_removes_keys_changes_and_adds_projects_and_leaves_the_base_alone() {
    use warden_shared::snapshot::{Delta, Plan, Tenant};
    let (base, keyring) = base_of_three();
    let mut p1 = spread(3, 0).projects[1].clone();
    p1.limits.requests_per_minute = 60;
    let p3 = Project {
        id: "p3".into(),
        tenant: "dev".into(),
        custom_patterns: vec![CustomPattern {
            id: "employee_id".into(),
            pattern: r"\bEMP-\d{4,8}\b".into(),
            caseless: false,
            action: warden_shared::snapshot::GuardAction::Redact,
            response_action: warden_shared::snapshot::GuardAction::Off,
        }],
        ..p1.clone()
    };
    let delta = Delta {
        base: 1,
        version: 5,
        tenants: vec![Tenant {
            id: "dev".into(),
            plan: Plan::Developer,
        }],
        projects: vec![p1, p3],
        removed_projects: Vec::new(),
        api_keys: vec![entry(30, "p1"), entry(31, "p3")],
        removed_keys: vec![entry(0, "p0").hash],
    };
    let next = SharedState::apply_delta(&base, delta.clone(), Arc::clone(&keyring))
        .unwrap_or_else(|e| panic!("{e}"));
    let state = next.for_shard();
    assert_eq!((state.version, state.base_version()), (5, 1));
    assert_eq!(project_of(&state, 0), None, "a removed key");
    assert_eq!(project_of(&state, 30).as_deref(), Some("p1"));
    assert_eq!(project_of(&state, 31).as_deref(), Some("p3"));
    // The base's keys keep their projects; a changed project is the delta's version of it.
    assert_eq!(project_of(&state, 4).as_deref(), Some("p1"));
    let found = state.api_key(b"wdn_4").unwrap_or_else(|| panic!("key 4"));
    assert_eq!(state.projects[found.project].limits.requests_per_minute, 60);
    assert_eq!(state.api_key_count(), 31);
    // A new project's tenant plan and custom patterns hold, with this shard's scratch.
    let p3 = Arc::clone(&state.projects[3]);
    assert_eq!(p3.routing.key_mode, KeyMode::PooledOnly);
    let scan = Rc::new(state).custom_scan(&p3);
    let mut found = Vec::new();
    scan.unwrap_or_else(|| panic!("no scan"))
        .scan(b"ask EMP-123456 now", &[], &mut found);
    assert_eq!(found.len(), 1);
    // The state it was applied to serves as it did.
    let old = base.for_shard();
    assert_eq!(old.version, 1);
    assert_eq!(project_of(&old, 0).as_deref(), Some("p0"));
    assert_eq!(project_of(&old, 30), None);
    assert_eq!(old.projects[1].limits.requests_per_minute, 0);

    // Deltas are cumulative: the next applies to the base, not to the one before it.
    let later = Delta {
        version: 6,
        projects: Vec::new(),
        removed_projects: vec!["p2".into()],
        api_keys: vec![entry(32, "p0")],
        removed_keys: Vec::new(),
        ..delta.clone()
    };
    let state = SharedState::apply_delta(&next, later, Arc::clone(&keyring))
        .unwrap_or_else(|e| panic!("{e}"))
        .for_shard();
    assert_eq!(project_of(&state, 0).as_deref(), Some("p0"));
    assert_eq!(project_of(&state, 30), None);
    assert_eq!(project_of(&state, 32).as_deref(), Some("p0"));
    assert_eq!(project_of(&state, 2), None, "a key of a removed project");
    assert_eq!(project_of(&state, 1).as_deref(), Some("p1"));
}

#[test]
fn a_delta_of_another_base_or_naming_an_unknown_project_is_refused() {
    use warden_shared::snapshot::Delta;
    let (base, keyring) = base_of_three();
    let refused = |delta: Delta| match SharedState::apply_delta(&base, delta, Arc::clone(&keyring))
    {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    };
    let delta = Delta {
        base: 1,
        version: 2,
        ..Default::default()
    };
    let other = refused(Delta {
        base: 2,
        version: 3,
        ..delta.clone()
    });
    assert_eq!(
        other,
        "the delta applies to version 2, this data plane's base is 1"
    );
    let behind = refused(Delta {
        version: 1,
        ..delta.clone()
    });
    assert!(behind.contains("not past its base"), "{behind}");
    let unknown = refused(Delta {
        api_keys: vec![entry(40, "p9")],
        ..delta.clone()
    });
    assert_eq!(unknown, "api key key_40 names unknown project p9");
    let mut bad = spread(3, 0).projects[0].clone();
    bad.custom_patterns = vec![CustomPattern {
        id: "bad".into(),
        pattern: "(unclosed".into(),
        caseless: false,
        action: warden_shared::snapshot::GuardAction::Block,
        response_action: warden_shared::snapshot::GuardAction::Off,
    }];
    let pattern = refused(Delta {
        projects: vec![bad],
        ..delta
    });
    assert!(
        pattern.starts_with("project p0: custom pattern bad:"),
        "{pattern}"
    );
}

/// What the shards drop after a swap: the projects that stopped caching or are gone (all their
/// entries), and those purged (their older generations); nothing of the projects that did not
/// change, whether the new state is a full snapshot's or a delta's.
#[test]
fn a_new_state_names_the_projects_whose_cached_answers_go() {
    use warden_shared::snapshot::{CacheMode, Delta};
    let keyring = Arc::new(Keyring::new(vec![
        MasterKey::generate(1).unwrap_or_else(|e| panic!("{e}"))
    ]));
    let build = |s: Snapshot| {
        let custom = compile_all(&s).unwrap_or_else(|e| panic!("{e}"));
        SharedState::build(s, Arc::clone(&keyring), &custom).unwrap_or_else(|e| panic!("{e}"))
    };
    let mut s = spread(3, 30);
    for p in &mut s.projects {
        p.cache.mode = CacheMode::Exact;
    }
    let old = build(s.clone());
    assert!(old.shared.cache_sweep(&old.shared).is_empty());
    let mut next = s.clone();
    next.version = 2;
    next.projects[0].cache.mode = CacheMode::Off;
    next.projects[1].cache.generation = 3;
    next.projects[2].cache.ttl_s = 60;
    let swept = build(next).shared.cache_sweep(&old.shared);
    let named: Vec<(&str, Option<u32>)> = swept.iter().map(|(p, g)| (&**p, *g)).collect();
    assert_eq!(named, [("p0", None), ("p1", Some(3))]);
    let delta = Delta {
        base: 1,
        version: 3,
        tenants: Vec::new(),
        projects: Vec::new(),
        removed_projects: vec!["p2".into()],
        api_keys: Vec::new(),
        removed_keys: Vec::new(),
    };
    let gone = SharedState::apply_delta(&old, delta, Arc::clone(&keyring))
        .unwrap_or_else(|e| panic!("{e}"));
    let named: Vec<(String, Option<u32>)> = gone
        .shared
        .cache_sweep(&old.shared)
        .iter()
        .map(|(p, g)| (p.to_string(), *g))
        .collect();
    assert_eq!(named, [("p2".to_owned(), None)]);
}

#[test]
fn a_projects_phone_regions_are_compiled_once_and_unknown_ones_left_out() {
    let key = MasterKey::generate(1).unwrap_or_else(|e| panic!("{e}"));
    let mut s = snapshot(Vec::new());
    let mut second = s.projects[0].clone();
    second.id = "q".into();
    s.projects.push(second);
    let mut third = s.projects[0].clone();
    third.id = "r".into();
    s.projects.push(third);
    // A control plane with newer metadata may name a region this data plane has no plan for:
    // the snapshot still applies; that region is left out, and with none left the data
    // plane's own plans hold.
    s.projects[0].phone_regions = vec!["US".into(), "XX".into()];
    s.projects[1].phone_regions = vec!["US".into(), "XX".into()];
    s.projects[2].phone_regions = vec!["XX".into()];
    let state =
        ServingState::build(s, Arc::new(Keyring::new(vec![key]))).unwrap_or_else(|e| panic!("{e}"));
    let phones: Vec<_> = state.projects.iter().map(|p| p.phones.clone()).collect();
    let (p, q) = (phones[0].as_ref(), phones[1].as_ref());
    assert!(
        p.zip(q).is_some_and(|(p, q)| Arc::ptr_eq(p, q)),
        "one list, compiled once"
    );
    assert!(phones[2].is_none());
}

#[test]
fn a_projects_phone_standalone_gives_it_plans_of_its_own_only_where_it_differs() {
    let key = MasterKey::generate(1).unwrap_or_else(|e| panic!("{e}"));
    let mut s = snapshot(Vec::new());
    for (id, standalone) in [("on", Some(true)), ("off", Some(false)), ("unset", None)] {
        let mut p = s.projects[0].clone();
        p.id = id.into();
        p.phone_standalone = standalone;
        s.projects.push(p);
    }
    let state =
        ServingState::build(s, Arc::new(Keyring::new(vec![key]))).unwrap_or_else(|e| panic!("{e}"));
    let engine = crate::guard::engine::Engine::for_tests();
    let plans = |id: &str| {
        let p = state.projects.iter().find(|p| &*p.id == id).unwrap();
        state.phones_for(p, engine)
    };
    // The data plane's engine takes no bare number alone: a project that turns it on gets a
    // copy that does (the same copy each time); off or unset, the data plane's plans hold.
    let on = plans("on").expect("plans of its own");
    assert!(on.is_standalone());
    assert!(plans("on").is_some_and(|again| Arc::ptr_eq(&on, &again)));
    assert!(plans("off").is_none());
    assert!(plans("unset").is_none());
    // The other way round with an engine that does.
    let engine = crate::guard::engine::Engine::new()
        .unwrap_or_else(|e| panic!("{e}"))
        .phone_standalone(true);
    let p = state.projects.iter().find(|p| &*p.id == "off").unwrap();
    assert!(state
        .phones_for(p, &engine)
        .is_some_and(|p| !p.is_standalone()));
}
