//! The answer cache end to end: a repeated request is answered without asking the provider (the
//! mock's capture shows one call) on whichever shard it lands, with `x-warden-cache`; a stream
//! replays as a stream; another project, tenant or model never shares an entry; the client's
//! `Cache-Control` is honoured; `restore` gives each request its own values back from a shared
//! entry; errors, blocked answers and broken streams are never kept; hits are audited as such.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::json;
use warden_tests::http::{post_json, post_json_with, Response};
use warden_tests::{
    audit_export, chat_body, config, eventually, other_projects, Driver, Gateway, Mock, DRIVERS,
    KEY, OTHER_KEY, OTHER_TENANT_KEY,
};

const GOOGLE_KEYS: &str = "  { provider = \"google\", key = \"gm-key-5555\" },\n]";

/// The standard config with `cache` (and `guardrails`, when given) for the main project, and two
/// more projects with the same provider key and the cache on: one of the same tenant, one of
/// another.
fn cached(mock: &Mock, shards: usize, cache: &str, guardrails: &str) -> String {
    let others = other_projects("mode = \"exact\"");
    config(mock.addr, shards, &others).replace(
        GOOGLE_KEYS,
        &format!("{GOOGLE_KEYS}\n[tenants.projects.cache]\n{cache}\n{guardrails}"),
    )
}

fn upstream_calls(mock: &Mock) -> usize {
    mock.captured().len()
}

#[test]
fn a_repeated_request_is_answered_from_the_cache_on_every_shard() {
    for driver in DRIVERS {
        let mock = Mock::start(&[]);
        let gw = Gateway::start(driver, &cached(&mock, 2, "mode = \"exact\"", ""));
        let body = chat_body("gpt-4o", "what is a cache?", false);
        let first = gw.chat(&body);
        assert_eq!(first.status, 200, "{}", first.text());
        assert_eq!(first.header("x-warden-cache"), Some("miss"));
        // Each call is a new connection: over eight, both shards answer some.
        for i in 0..8 {
            let again = gw.chat(&body);
            assert_eq!(again.status, 200, "{driver:?} {i}: {}", again.text());
            assert_eq!(
                again.header("x-warden-cache"),
                Some("hit"),
                "{driver:?} {i}"
            );
            assert_eq!(again.content(), first.content());
            assert_eq!(again.json()["usage"], first.json()["usage"]);
        }
        assert_eq!(
            upstream_calls(&mock),
            1,
            "{driver:?}: the provider was asked once"
        );
        let m = gw.metrics();
        assert!(
            m.contains("warden_cache_lookups_total{result=\"hit\"} 8"),
            "{m}"
        );
        assert!(m.contains("warden_cache_fills_total 1"), "{m}");

        let records = audit_export(&gw.audit_dir());
        let mut responses: Vec<_> = records.iter().filter(|r| r["kind"] == "response").collect();
        // Two shards' records: in the order they were made.
        responses.sort_by_key(|r| r["at_us"].as_u64());
        assert_eq!(responses.len(), 9);
        assert!(responses[0].get("cache").is_none(), "{}", responses[0]);
        assert!(responses[0].get("attempts").is_some(), "{}", responses[0]);
        for r in &responses[1..] {
            assert_eq!(r["cache"], "exact", "{r}");
            assert_eq!(r["status"], 200);
            assert!(r.get("attempts").is_none(), "no provider was asked: {r}");
            assert!(r.get("provider_key_id").is_none(), "no key was opened: {r}");
            assert_eq!(r["usage"], responses[0]["usage"], "{r}");
        }
    }
}

#[test]
fn a_stream_is_kept_once_complete_and_replayed_as_a_stream() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &cached(&mock, 1, "mode = \"exact\"", ""));
    let body = chat_body("gpt-4o", "one two three four five mock:chunks=5", true);
    let first = gw.chat(&body);
    assert_eq!(first.header("x-warden-cache"), Some("miss"));
    let again = gw.chat(&body);
    assert_eq!(again.status, 200);
    assert_eq!(again.header("x-warden-cache"), Some("hit"));
    assert!(
        again
            .header("content-type")
            .unwrap()
            .starts_with("text/event-stream"),
        "{:?}",
        again.headers
    );
    assert_eq!(again.stream_text(), first.stream_text());
    assert!(again.events().len() >= 6, "{:?}", again.events());
    assert_eq!(again.events().last().map(String::as_str), Some("[DONE]"));
    // Usage was asked for upstream on the client's behalf: its chunk is not shown to a client
    // that did not ask, from the cache either.
    assert!(!again.text().contains("\"usage\":{"), "{}", again.text());
    let with_usage = json!({"model": "gpt-4o", "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "one two three four five mock:chunks=5"}]});
    let usage = gw.chat(&with_usage);
    assert_eq!(usage.header("x-warden-cache"), Some("hit"));
    assert!(usage.text().contains("\"usage\":{"), "{}", usage.text());
    // The stream flags are not part of the entry (tests/tests/cache_shapes.rs has the rest).
    assert_eq!(upstream_calls(&mock), 1);
}

#[test]
fn entries_are_never_shared_across_projects_tenants_or_models() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &cached(&mock, 1, "mode = \"exact\"", ""));
    let body = chat_body("gpt-4o", "the same words", false);
    assert_eq!(gw.chat(&body).header("x-warden-cache"), Some("miss"));
    assert_eq!(gw.chat(&body).header("x-warden-cache"), Some("hit"));
    for key in [OTHER_KEY, OTHER_TENANT_KEY] {
        let r = post_json(gw.addr, "/v1/chat/completions", key, &body);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-warden-cache"), Some("miss"), "{key}");
    }
    let other_model = gw.chat(&chat_body("gpt-4o-mini", "the same words", false));
    assert_eq!(other_model.header("x-warden-cache"), Some("miss"));
    assert_eq!(upstream_calls(&mock), 4);
    // A project without the cache: no header, every request asks the provider.
    let plain = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    for _ in 0..2 {
        let r = plain.chat(&body);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-warden-cache"), None, "{:?}", r.headers);
    }
    assert_eq!(upstream_calls(&mock), 6);
}

#[test]
fn no_store_bypasses_the_cache_and_no_cache_refreshes_it() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &cached(&mock, 1, "mode = \"exact\"", ""));
    let body = chat_body("gpt-4o", "fresh please", false);
    let path = "/v1/chat/completions";
    let no_store = post_json_with(gw.addr, path, KEY, &body, &[("cache-control", "no-store")]);
    assert_eq!(no_store.header("x-warden-cache"), Some("bypass"));
    // Nothing was kept.
    assert_eq!(gw.chat(&body).header("x-warden-cache"), Some("miss"));
    assert_eq!(gw.chat(&body).header("x-warden-cache"), Some("hit"));
    let no_cache = post_json_with(gw.addr, path, KEY, &body, &[("Cache-Control", "no-cache")]);
    assert_eq!(no_cache.header("x-warden-cache"), Some("bypass"));
    assert_eq!(upstream_calls(&mock), 3, "no-cache asked the provider");
    assert_eq!(gw.chat(&body).header("x-warden-cache"), Some("hit"));
    let pragma = post_json_with(gw.addr, path, KEY, &body, &[("pragma", "no-cache")]);
    assert_eq!(pragma.header("x-warden-cache"), Some("bypass"));
    assert_eq!(upstream_calls(&mock), 4);
}

#[test]
fn restore_mode_gives_each_request_its_own_values_from_a_shared_entry() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(
        Driver::IoUring,
        &cached(
            &mock,
            1,
            "mode = \"exact\"",
            "[tenants.projects.guardrails]\npii = \"restore\"",
        ),
    );
    let ask = |email: &str, stream: bool| {
        gw.chat(&chat_body(
            "gpt-4o",
            &format!("write to {email} today"),
            stream,
        ))
    };
    let alice = ask("alice@example.com", false);
    assert_eq!(alice.header("x-warden-cache"), Some("miss"));
    assert_eq!(alice.content(), "echo: write to alice@example.com today");
    let bob = ask("bob@example.org", false);
    assert_eq!(
        bob.header("x-warden-cache"),
        Some("hit"),
        "same redacted request"
    );
    assert_eq!(bob.content(), "echo: write to bob@example.org today");
    assert!(!bob.text().contains("alice"), "{}", bob.text());
    // Streamed, the same entry (served as a stream), each with its own value back.
    for email in ["carol@example.net", "dave@example.com"] {
        let streamed = ask(email, true);
        assert_eq!(streamed.header("x-warden-cache"), Some("hit"));
        assert_eq!(
            streamed.stream_text(),
            format!("echo: write to {email} today")
        );
    }
    assert_eq!(upstream_calls(&mock), 1);
    let sent = mock
        .captured()
        .into_iter()
        .map(|c| c.to_string())
        .collect::<String>();
    assert!(
        sent.contains("[EMAIL_1]") && !sent.contains("example."),
        "{sent}"
    );
}

#[test]
fn errors_blocked_answers_and_broken_streams_are_never_kept() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(
        Driver::IoUring,
        &cached(
            &mock,
            1,
            "mode = \"exact\"",
            "[tenants.projects.guardrails]\nresponse_secrets = \"block\"",
        ),
    );
    let twice = |text: &str, stream: bool| {
        let body = chat_body("gpt-4o", text, stream);
        let a = gw.chat(&body);
        let b = gw.chat(&body);
        (a, b)
    };
    let (a, b) = twice("mock:status=400", false);
    assert_eq!((a.status, b.status), (400, 400));
    assert_eq!(b.header("x-warden-cache"), Some("miss"));
    let (_, b) = twice("a b c d e f mock:chunks=6 mock:drop_after=3", true);
    assert_eq!(b.header("x-warden-cache"), Some("miss"));
    // The answer carries a token the response guardrail blocks.
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let hex: String = format!("the token is {token}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (a, b) = twice(&format!("mock:reply_hex={hex}"), false);
    assert!(
        !a.text().contains(token) && !b.text().contains(token),
        "{}",
        a.text()
    );
    assert_eq!(b.header("x-warden-cache"), Some("miss"));
    let (_, b) = twice(&format!("mock:reply_hex={hex} mock:chunks=4"), true);
    assert_eq!(b.header("x-warden-cache"), Some("miss"));
    assert_eq!(upstream_calls(&mock), 8, "every one went to the provider");
    assert!(gw.metrics().contains("warden_cache_fills_total 0"));
}

#[test]
fn translated_and_native_routes_are_cached_too() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &cached(&mock, 1, "mode = \"exact\"", ""));
    for (alias, stream) in [("claude-4-sonnet", false), ("gemini-2.0-flash", true)] {
        let body = chat_body(alias, "translated words mock:chunks=3", stream);
        let first = gw.chat(&body);
        let again = gw.chat(&body);
        assert_eq!(again.header("x-warden-cache"), Some("hit"), "{alias}");
        if stream {
            assert_eq!(again.stream_text(), first.stream_text(), "{alias}");
        } else {
            assert_eq!(again.content(), first.content(), "{alias}");
        }
    }
    let native = json!({"model": "claude-4-sonnet", "max_tokens": 64,
        "messages": [{"role": "user", "content": "native words"}]});
    let first = post_json(gw.addr, "/v1/messages", KEY, &native);
    let again = post_json(gw.addr, "/v1/messages", KEY, &native);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(again.header("x-warden-cache"), Some("hit"));
    assert_eq!(again.json()["content"], first.json()["content"]);
    let embed = json!({"model": "text-embedding-3-small", "input": ["a", "b"]});
    let first = post_json(gw.addr, "/v1/embeddings", KEY, &embed);
    let again = post_json(gw.addr, "/v1/embeddings", KEY, &embed);
    assert_eq!(again.header("x-warden-cache"), Some("hit"));
    assert_eq!(again.json()["data"], first.json()["data"]);
    assert_eq!(upstream_calls(&mock), 4);
}

#[test]
fn an_entry_expires_after_its_ttl() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(
        Driver::IoUring,
        &cached(&mock, 1, "mode = \"exact\"\nttl_s = 1", ""),
    );
    let body = chat_body("gpt-4o", "short lived", false);
    assert_eq!(gw.chat(&body).header("x-warden-cache"), Some("miss"));
    let expired = eventually(Duration::from_secs(10), || {
        gw.chat(&body).header("x-warden-cache") == Some("miss")
    });
    assert!(expired.is_some(), "the entry never expired");
}

#[test]
fn a_bad_cache_policy_is_refused_at_start() {
    let mock = Mock::start(&[]);
    for (policy, says) in [
        ("mode = \"exact\"\nttl_s = 0", "ttl_s 0"),
        ("mode = \"sometimes\"", "unknown variant"),
        (
            "mode = \"exact\"\nsemantic_threshold = 1.5",
            "semantic_threshold",
        ),
    ] {
        let err = Gateway::fails_to_start(Driver::IoUring, &cached(&mock, 1, policy, ""));
        assert!(err.contains(says), "{policy}: {err}");
    }
}

/// A control plane with an operator's pooled OpenAI key and a project that may use it: (tenant,
/// project, Warden key) and the project's cache path.
fn pooled_project(mock: &Mock) -> (warden_tests::ControlPlane, (String, String, String), String) {
    let cp = warden_tests::ControlPlane::start(mock.addr);
    let (tenant, project, key) = cp.tenant_with_project();
    let pooled = cp.admin(
        "POST",
        "/admin/v1/pooled-keys",
        Some(&json!({"provider": "openai", "key": "sk-operator-pool-5678"})),
    );
    assert_eq!(pooled.status, 201, "{}", pooled.text());
    let path = format!("/admin/v1/projects/{project}/cache");
    (cp, (tenant, project, key), path)
}

/// Through the control plane: the policy set with `PUT /admin/v1/projects/{project}/cache`
/// reaches the data plane; hits reach `/admin/v1/usage`, the request log and the statement as
/// cache hits, pooled ones without provider cost, with what they saved.
#[test]
fn the_admin_api_sets_the_policy_and_billing_shows_hits_and_savings() {
    let mock = Mock::start(&[]);
    let (cp, (tenant, project, key), path) = pooled_project(&mock);
    let bad = cp.admin("PUT", &path, Some(&json!({"mode": "exact", "ttl_s": 0})));
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("ttl_s"), "{}", bad.text());
    let set = cp.admin("PUT", &path, Some(&json!({"mode": "exact", "ttl_s": 600})));
    assert_eq!(set.status, 200, "{}", set.text());
    let got = cp.admin("GET", &path, None).json();
    assert_eq!(got["mode"], "exact");
    assert_eq!(got["ttl_s"], 600);
    assert_eq!(got["semantic_threshold"], 0.8);

    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let body = chat_body("gpt-4o", "cache me", false);
    let send = || post_json(gw.addr, "/v1/chat/completions", &key, &body);
    let first = eventually(Duration::from_secs(5), || send().status == 200);
    assert!(first.is_some());
    let again = send();
    assert_eq!(again.header("x-warden-cache"), Some("hit"));
    assert_eq!(upstream_calls(&mock), 1);

    let usage = |q: &str| {
        cp.admin("GET", &format!("/admin/v1/usage?{q}"), None)
            .json()
    };
    let q = format!("project={project}&group_by=cache");
    let shipped = eventually(Duration::from_secs(10), || {
        usage(&q)["rows"].as_array().is_some_and(|r| r.len() == 2)
    });
    assert!(shipped.is_some(), "{}", usage(&q));
    let rows = usage(&q)["rows"].as_array().unwrap().clone();
    let live = rows.iter().find(|r| r["cache"] == "").unwrap();
    let hit = rows.iter().find(|r| r["cache"] == "exact").unwrap();
    assert_eq!(live["requests"], 1);
    assert_eq!(hit["requests"], 1);
    assert_eq!(hit["cache_hits"], 1);
    assert_eq!(hit["key_source"], "pooled");
    assert_eq!(hit["total_usd"], "0.00", "{hit}");
    assert_ne!(live["total_usd"], "0.00", "{live}");
    // What the hit saved is what the live answer to the same request cost.
    assert_eq!(hit["cache_savings_usd"], live["total_usd"], "{hit} {live}");
    assert_eq!(hit["input_tokens"], live["input_tokens"]);

    assert_eq!(cp.request_log_caches(&project), ["exact", ""]);
    // The dashboard's request log marks the hit.
    let mut browser = warden_tests::browser::Browser::new(&cp);
    let password = warden_tests::browser::initial_password(&cp);
    assert_eq!(browser.sign_in("admin", &password).status, 303);
    let page = browser
        .get(&format!("/dashboard/projects/{project}/requests"))
        .text();
    assert_eq!(page.matches("(cache: exact)").count(), 1, "{page}");
    let month = &usage(&q)["from"].as_str().unwrap()[..7].to_owned();
    let st = cp
        .admin(
            "GET",
            &format!("/admin/v1/tenants/{tenant}/statement?month={month}"),
            None,
        )
        .json();
    assert_eq!(st["totals"]["cache_hits"], 1, "{st}");
    assert_eq!(st["totals"]["cache_savings_usd"], live["total_usd"], "{st}");

    // Turned off: no header, the provider is asked again, and the data plane drops what it
    // kept for the project.
    let off = cp.admin("PUT", &path, Some(&json!({"mode": "off"})));
    assert_eq!(off.status, 200);
    assert_eq!(off.json()["generation"], 1, "{}", off.text());
    let asked = eventually(Duration::from_secs(10), || {
        send().header("x-warden-cache").is_none()
    });
    assert!(asked.is_some());
    let dropped = eventually(Duration::from_secs(10), || {
        gw.metric("warden_cache_entries") == Some(0)
    });
    assert!(dropped.is_some(), "{}", gw.metrics());
    assert_eq!(gw.metric("warden_cache_purged_total"), Some(1));
    // On again: the cache starts empty; the answer kept before is not served again.
    let on = cp.admin("PUT", &path, Some(&json!({"mode": "exact", "ttl_s": 600})));
    assert_eq!(on.status, 200, "{}", on.text());
    let header = |r: &Response| r.header("x-warden-cache").map(str::to_owned);
    let mut first = None;
    let applied = eventually(Duration::from_secs(10), || {
        first = header(&send());
        first.is_some()
    });
    assert!(applied.is_some());
    assert_eq!(first.as_deref(), Some("miss"));
    assert_eq!(header(&send()).as_deref(), Some("hit"));
    // Purged: the same request is a miss again, then a hit of the new answer.
    let calls = upstream_calls(&mock);
    let purge = cp.admin("POST", &format!("{path}/purge"), None);
    assert_eq!(purge.status, 200, "{}", purge.text());
    assert_eq!(purge.json()["generation"], 2);
    assert_eq!(purge.json()["mode"], "exact");
    let missed = eventually(Duration::from_secs(10), || {
        header(&send()).as_deref() == Some("miss")
    });
    assert!(missed.is_some());
    assert_eq!(header(&send()).as_deref(), Some("hit"));
    assert_eq!(
        upstream_calls(&mock),
        calls + 1,
        "one fresh answer after the purge"
    );
    let purged = eventually(Duration::from_secs(10), || {
        gw.metric("warden_cache_purged_total") == Some(2)
    });
    assert!(purged.is_some(), "{}", gw.metrics());
    // A shortened TTL applies to the answers kept before it, not only to those kept after.
    let short = cp.admin("PUT", &path, Some(&json!({"mode": "exact", "ttl_s": 1})));
    assert_eq!(short.status, 200, "{}", short.text());
    assert_eq!(short.json()["generation"], 2, "a TTL change is no purge");
    let expired = eventually(Duration::from_secs(10), || {
        header(&send()).as_deref() == Some("miss")
    });
    assert!(
        expired.is_some(),
        "the answer kept for 600 s was served past the new 1 s"
    );
    let unknown = cp.admin("POST", "/admin/v1/projects/prj_none/cache/purge", None);
    assert_eq!(unknown.status, 404);
}

/// An answer still on its way when the project's cache is purged is not kept: it could never be
/// served (its key is of the old generation), and would only hold memory.
#[test]
fn an_answer_in_flight_across_a_purge_is_not_kept() {
    let mock = Mock::start(&[]);
    let (cp, (_, _, key), path) = pooled_project(&mock);
    let set = cp.admin("PUT", &path, Some(&json!({"mode": "exact", "ttl_s": 600})));
    assert_eq!(set.status, 200, "{}", set.text());
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    let send = |text: &str| {
        post_json(
            gw.addr,
            "/v1/chat/completions",
            &key,
            &chat_body("gpt-4o", text, false),
        )
    };
    let ready = eventually(Duration::from_secs(5), || {
        send("warm up").header("x-warden-cache").is_some()
    });
    assert!(ready.is_some());
    // A slow answer, whole then streamed: the provider has the request, and while it answers
    // the cache is purged.
    for (stream, purged) in [(false, 2), (true, 3)] {
        let version = gw.metric("warden_snapshot_version").unwrap();
        let asked = upstream_calls(&mock);
        let (addr, slow_key) = (gw.addr, key.to_owned());
        let slow = std::thread::spawn(move || {
            let text = "a slow answer mock:chunks=3 mock:delay_ms=700";
            let body = chat_body("gpt-4o", text, stream);
            post_json(addr, "/v1/chat/completions", &slow_key, &body)
        });
        let received = eventually(Duration::from_secs(5), || upstream_calls(&mock) > asked);
        assert!(received.is_some());
        let purge = cp.admin("POST", &format!("{path}/purge"), None);
        assert_eq!(purge.status, 200, "{}", purge.text());
        let applied = eventually(Duration::from_secs(5), || {
            gw.metric("warden_snapshot_version")
                .is_some_and(|v| v > version)
        });
        assert!(applied.is_some(), "{}", gw.metrics());
        let answered = slow.join().unwrap();
        assert_eq!(answered.status, 200, "{}", answered.text());
        assert_eq!(answered.header("x-warden-cache"), Some("miss"));
        // The warm-up answer was swept; the slow one was never kept.
        let m = gw.metrics();
        assert_eq!(gw.metric("warden_cache_entries"), Some(0), "{stream}: {m}");
        assert_eq!(gw.metric("warden_cache_purged_total"), Some(purged), "{m}");
    }
}

/// `[cache] redis_url`: data planes of one deployment (same master key) share answers through
/// Redis; another deployment's data plane (another master key) computes other keys and never
/// reads them; a Redis that is away costs a miss, never the request.
#[test]
fn data_planes_with_one_master_key_share_answers_through_redis() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mock = Mock::start(&[]);
    let dir = warden_tests::TempDir::new("cache-redis");
    let key_file = |name: &str| {
        let path = dir.0.join(name);
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap()
            .write_all(&key)
            .unwrap();
        path
    };
    let with_redis_policy = |key: &std::path::Path, url: &str, policy: &str| {
        cached(&mock, 1, policy, "").replace(
            "io_uring_entries = 256\n",
            &format!(
                "io_uring_entries = 256\nmaster_key_file = \"{}\"\n[cache]\nredis_url = \"{url}\"\n",
                key.display()
            ),
        )
    };
    let with_redis =
        |key: &std::path::Path, url: &str| with_redis_policy(key, url, "mode = \"exact\"");
    let (ours, theirs) = (key_file("ours.key"), key_file("theirs.key"));
    let redis = "redis://127.0.0.1:6379/0";
    let a = Gateway::start(Driver::IoUring, &with_redis(&ours, redis));
    let b = Gateway::start(Driver::Epoll, &with_redis(&ours, redis));
    let c = Gateway::start(Driver::IoUring, &with_redis(&theirs, redis));
    let body = chat_body("gpt-4o", "shared between data planes", false);
    assert_eq!(a.chat(&body).header("x-warden-cache"), Some("miss"));
    let written = eventually(Duration::from_secs(10), || {
        a.metric("warden_cache_remote_fills_total") == Some(1)
    });
    assert!(written.is_some(), "{}", a.metrics());
    let shared = b.chat(&body);
    assert_eq!(shared.status, 200);
    assert_eq!(
        shared.header("x-warden-cache"),
        Some("hit"),
        "{}",
        b.metrics()
    );
    assert_eq!(b.metric("warden_cache_remote_hits_total"), Some(1));
    assert_eq!(upstream_calls(&mock), 1);
    // Kept whole by one data plane, asked for as a stream on the other: served as a stream.
    let prompt = "kept whole here mock:chunks=3";
    let kept = a.chat(&chat_body("gpt-4o", prompt, false));
    assert_eq!(kept.header("x-warden-cache"), Some("miss"));
    let written = eventually(Duration::from_secs(10), || {
        a.metric("warden_cache_remote_fills_total") == Some(2)
    });
    assert!(written.is_some(), "{}", a.metrics());
    let streamed = b.chat(&chat_body("gpt-4o", prompt, true));
    assert_eq!(streamed.header("x-warden-cache"), Some("hit"));
    assert_eq!(streamed.stream_text(), kept.content());
    assert_eq!(b.metric("warden_cache_reshaped_total"), Some(1));
    assert_eq!(upstream_calls(&mock), 2);
    // Another deployment: its own keys, its own miss.
    assert_eq!(c.chat(&body).header("x-warden-cache"), Some("miss"));
    assert_eq!(upstream_calls(&mock), 3);
    // The project purged (its generation raised): what Redis holds is never read again.
    let purged = Gateway::start(
        Driver::IoUring,
        &with_redis_policy(&ours, redis, "mode = \"exact\"\ngeneration = 1"),
    );
    assert_eq!(purged.chat(&body).header("x-warden-cache"), Some("miss"));
    assert_eq!(upstream_calls(&mock), 4);
    // An answer kept for one second is not served after it by a data plane whose TTL is longer,
    // not even from the copy it took of it: the earlier of the two wins.
    let brief = Gateway::start(
        Driver::IoUring,
        &with_redis_policy(&ours, redis, "mode = \"exact\"\nttl_s = 1"),
    );
    let long_lived = Gateway::start(
        Driver::Epoll,
        &with_redis_policy(&ours, redis, "mode = \"exact\"\nttl_s = 600"),
    );
    let short_lived = chat_body("gpt-4o", "kept for one second", false);
    assert_eq!(
        brief.chat(&short_lived).header("x-warden-cache"),
        Some("miss")
    );
    let written = eventually(Duration::from_secs(10), || {
        brief.metric("warden_cache_remote_fills_total") == Some(1)
    });
    assert!(written.is_some(), "{}", brief.metrics());
    let copied = long_lived.chat(&short_lived);
    assert_eq!(copied.header("x-warden-cache"), Some("hit"));
    std::thread::sleep(Duration::from_millis(1100));
    let later = long_lived.chat(&short_lived);
    assert_eq!(later.header("x-warden-cache"), Some("miss"));
    // Nothing listens here: every request is answered, and the errors are counted.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let away = Gateway::start(
        Driver::IoUring,
        &with_redis(&ours, &format!("redis://127.0.0.1:{port}")),
    );
    for _ in 0..2 {
        let r = away.chat(&chat_body("gpt-4o", "redis is away", false));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let counted = eventually(Duration::from_secs(10), || {
        away.metric("warden_cache_remote_errors_total")
            .is_some_and(|n| n >= 1)
    });
    assert!(counted.is_some(), "{}", away.metrics());
    // Without a master key there is no salt the data planes could share.
    let err = Gateway::fails_to_start(
        Driver::IoUring,
        &cached(&mock, 1, "mode = \"exact\"", "").replace(
            "io_uring_entries = 256\n",
            "io_uring_entries = 256\n[cache]\nredis_url = \"redis://127.0.0.1:6379\"\n",
        ),
    );
    assert!(err.contains("needs master_key_file"), "{err}");
}
