//! The semantic cache end to end (`mode = "semantic"` with `[cache] semantic_model`): a
//! rephrased last question is answered with the earlier answer (the mock's capture shows one
//! call, the answer echoes the *first* wording) with `x-warden-cache: semantic`, on either
//! driver; a question with another number, negation or word is not; nor is the same
//! rephrasing from another project or tenant, to another model, after another system prompt, or
//! with tools; streams replay as streams; `no-store` bypasses; hits are audited and counted as
//! semantic; a project that floods the index evicts its own entries, not another's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{json, Value};
use warden_tests::http::{post_json, post_json_with, Response};
use warden_tests::{
    audit_export, chat_body, config, eventually, other_projects, semantic_model, Driver, Gateway,
    Mock, DRIVERS, KEY, OTHER_KEY, OTHER_TENANT_KEY,
};

const GOOGLE_KEYS: &str = "  { provider = \"google\", key = \"gm-key-5555\" },\n]";

/// The standard config, the main project caching by meaning, and two more projects (one of the
/// same tenant, one of another) doing the same with the same provider key.
fn semantic(mock: &Mock, shards: usize) -> String {
    let others = format!(
        "{}\n[cache]\nsemantic_model = \"{}\"\nsemantic_timeout_ms = 2000\n",
        other_projects("mode = \"semantic\""),
        semantic_model().display()
    );
    config(mock.addr, shards, &others).replace(
        GOOGLE_KEYS,
        &format!("{GOOGLE_KEYS}\n[tenants.projects.cache]\nmode = \"semantic\"\n"),
    )
}

fn ask(gw: &Gateway, key: &str, body: &Value) -> Response {
    let r = post_json(gw.addr, "/v1/chat/completions", key, body);
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

/// Wait until the data plane has indexed `n` questions (indexing runs after the answer).
fn indexed(gw: &Gateway, n: usize) {
    let line = format!("warden_cache_semantic_entries {n}\n");
    assert!(
        eventually(Duration::from_secs(10), || gw.metrics().contains(&line)).is_some(),
        "never indexed {n}: {}",
        gw.metrics()
    );
}

#[test]
fn a_rephrased_question_is_answered_from_the_cache_and_a_near_miss_is_not() {
    for driver in DRIVERS {
        let mock = Mock::start(&[]);
        let gw = Gateway::start(driver, &semantic(&mock, 2));
        let first = ask(
            &gw,
            KEY,
            &chat_body("gpt-4o", "How do I boil an egg?", false),
        );
        assert_eq!(first.header("x-warden-cache"), Some("miss"));
        assert_eq!(first.content(), "echo: How do I boil an egg?");
        indexed(&gw, 1);

        // Other words around the same question, on new connections (both shards).
        for (i, rephrased) in [
            "What's the best way to boil an egg?",
            "how to boil eggs",
            "Can you please tell me how I boil an egg",
        ]
        .iter()
        .enumerate()
        {
            let hit = ask(&gw, KEY, &chat_body("gpt-4o", rephrased, false));
            assert_eq!(
                hit.header("x-warden-cache"),
                Some("semantic"),
                "{driver:?} {rephrased}"
            );
            assert_eq!(hit.content(), first.content(), "{driver:?} {i}");
            assert_eq!(hit.json()["usage"], first.json()["usage"]);
        }
        assert_eq!(
            mock.captured().len(),
            1,
            "{driver:?}: the provider was asked once"
        );

        // Near misses: another number, a negation, another word, another order.
        for near in [
            "How do I boil 12 eggs?",
            "How do I not boil an egg?",
            "How do I poach an egg?",
            "How do I boil an egg white?",
            "Egg: how do I boil it?",
        ] {
            let miss = ask(&gw, KEY, &chat_body("gpt-4o", near, false));
            assert_eq!(
                miss.header("x-warden-cache"),
                Some("miss"),
                "{driver:?} {near}"
            );
            assert_eq!(miss.content(), format!("echo: {near}"));
        }
        assert_eq!(mock.captured().len(), 6, "{driver:?}");

        let m = gw.metrics();
        assert!(
            m.contains("warden_cache_lookups_total{result=\"semantic\"} 3"),
            "{m}"
        );
        assert!(
            m.contains("warden_cache_semantic_lookup_seconds_count"),
            "{m}"
        );
        let records = audit_export(&gw.audit_dir());
        let semantic: Vec<_> = records
            .iter()
            .filter(|r| r["kind"] == "response" && r["cache"] == "semantic")
            .collect();
        assert_eq!(semantic.len(), 3, "{records:?}");
        for r in semantic {
            assert!(r.get("attempts").is_none(), "no provider was asked: {r}");
            assert!(r.get("provider_key_id").is_none(), "no key was opened: {r}");
        }
    }
}

#[test]
fn only_requests_equal_but_for_the_last_question_share_an_answer() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &semantic(&mock, 1));
    let system = |s: &str, q: &str| {
        json!({"model": "gpt-4o", "messages": [
            {"role": "system", "content": s},
            {"role": "user", "content": q}]})
    };
    ask(
        &gw,
        KEY,
        &system("Answer in French.", "What is the capital of Peru?"),
    );
    indexed(&gw, 1);
    let rephrased = "Please tell me: what's the capital of Peru";
    let mut calls = 1;
    for (what, key, body) in [
        (
            "another project",
            OTHER_KEY,
            system("Answer in French.", rephrased),
        ),
        (
            "another tenant",
            OTHER_TENANT_KEY,
            system("Answer in French.", rephrased),
        ),
        (
            "another system prompt",
            KEY,
            system("Answer in German.", rephrased),
        ),
        (
            "another model",
            KEY,
            json!({"model": "gpt-4o-mini", "messages": [
                {"role": "system", "content": "Answer in French."},
                {"role": "user", "content": rephrased}]}),
        ),
        (
            "a sampling parameter",
            KEY,
            json!({"model": "gpt-4o", "temperature": 0.2, "messages": [
                {"role": "system", "content": "Answer in French."},
                {"role": "user", "content": rephrased}]}),
        ),
        (
            "tools",
            KEY,
            json!({"model": "gpt-4o", "tools": [{"type": "function", "function": {"name": "geo", "parameters": {"type": "object"}}}],
                "messages": [
                {"role": "system", "content": "Answer in French."},
                {"role": "user", "content": rephrased}]}),
        ),
    ] {
        let r = ask(&gw, key, &body);
        calls += 1;
        assert_eq!(r.header("x-warden-cache"), Some("miss"), "{what}");
        assert_eq!(
            mock.captured().len(),
            calls,
            "{what}: the provider was asked"
        );
    }
    // The same context, rephrased: a hit; with `no-store`, the provider again.
    let hit = ask(&gw, KEY, &system("Answer in French.", rephrased));
    assert_eq!(hit.header("x-warden-cache"), Some("semantic"));
    assert_eq!(hit.content(), "echo: What is the capital of Peru?");
    let bypass = post_json_with(
        gw.addr,
        "/v1/chat/completions",
        KEY,
        &system("Answer in French.", rephrased),
        &[("cache-control", "no-store")],
    );
    assert_eq!(bypass.header("x-warden-cache"), Some("bypass"));
    assert_eq!(mock.captured().len(), calls + 1);
}

#[test]
fn a_rephrased_stream_replays_the_first_stream_and_answers_an_unstreamed_rephrasing() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &semantic(&mock, 1));
    let first = ask(
        &gw,
        KEY,
        &chat_body("gpt-4o", "List three prime numbers mock:chunks=4", true),
    );
    assert_eq!(first.header("x-warden-cache"), Some("miss"));
    indexed(&gw, 1);
    let again = ask(
        &gw,
        KEY,
        &chat_body(
            "gpt-4o",
            "please list three prime numbers. mock:chunks=4",
            true,
        ),
    );
    assert_eq!(again.header("x-warden-cache"), Some("semantic"));
    assert!(again
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(again.stream_text(), first.stream_text());
    assert_eq!(again.events().last().map(String::as_str), Some("[DONE]"));
    // Unstreamed, the same partition: the kept stream answers it as one body.
    let plain = ask(
        &gw,
        KEY,
        &chat_body(
            "gpt-4o",
            "Please list three prime numbers? mock:chunks=4",
            false,
        ),
    );
    assert_eq!(plain.header("x-warden-cache"), Some("semantic"));
    assert_eq!(
        plain.json()["choices"][0]["message"]["content"].as_str(),
        Some(first.stream_text().as_str())
    );
    assert_eq!(mock.captured().len(), 1);
}

#[test]
fn without_a_model_a_semantic_project_caches_exactly_and_a_bad_model_stops_the_start() {
    let mock = Mock::start(&[]);
    let text = semantic(&mock, 1);
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("semantic_model"))
        .collect::<Vec<_>>()
        .join("\n");
    let gw = Gateway::start(Driver::IoUring, &without);
    let body = chat_body("gpt-4o", "How do I boil an egg?", false);
    assert_eq!(ask(&gw, KEY, &body).header("x-warden-cache"), Some("miss"));
    assert_eq!(ask(&gw, KEY, &body).header("x-warden-cache"), Some("hit"));
    let rephrased = chat_body("gpt-4o", "how to boil eggs", false);
    assert_eq!(
        ask(&gw, KEY, &rephrased).header("x-warden-cache"),
        Some("miss")
    );

    let empty = std::env::temp_dir().join(format!("warden-no-model-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let bad = text.replace(
        &semantic_model().display().to_string(),
        &empty.display().to_string(),
    );
    let err = Gateway::fails_to_start(Driver::IoUring, &bad);
    assert!(err.contains("no config.json"), "{err}");
}

/// Through the control plane: `mode = "semantic"` set with the admin API reaches the data plane;
/// a semantic hit reaches `/admin/v1/usage`, the request log and the statement as such, billed
/// half the overhead of the live answer and no provider cost, with the rest as savings.
#[test]
fn the_admin_api_turns_it_on_and_a_semantic_hit_pays_half_the_overhead() {
    use warden_tests::ControlPlane;
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let (project, key) = cp.project_with_keys("sk-byok-semantic-4321");
    let path = format!("/admin/v1/projects/{project}/cache");
    let set = cp.admin(
        "PUT",
        &path,
        Some(&json!({"mode": "semantic", "semantic_threshold": 0.8})),
    );
    assert_eq!(set.status, 200, "{}", set.text());
    let config = format!(
        "{}\n[cache]\nsemantic_model = \"{}\"\nsemantic_timeout_ms = 2000\n",
        cp.dataplane_config(1),
        semantic_model().display()
    );
    let gw = Gateway::start(Driver::IoUring, &config);
    let first = chat_body("gpt-4o", "Which planet is the largest?", false);
    // The first answer once the snapshot with the policy has arrived.
    let mut header = None;
    let served = eventually(Duration::from_secs(5), || {
        let r = post_json(gw.addr, "/v1/chat/completions", &key, &first);
        header = r.header("x-warden-cache").map(str::to_owned);
        r.status == 200
    });
    assert!(served.is_some());
    assert_eq!(header.as_deref(), Some("miss"));
    indexed(&gw, 1);
    let hit = ask(
        &gw,
        &key,
        &chat_body("gpt-4o", "which planet is largest", false),
    );
    assert_eq!(hit.header("x-warden-cache"), Some("semantic"));
    assert_eq!(mock.captured().len(), 1);

    let q = format!("project={project}&group_by=cache");
    let usage = || {
        cp.admin("GET", &format!("/admin/v1/usage?{q}"), None)
            .json()
    };
    let shipped = eventually(Duration::from_secs(10), || {
        usage()["rows"].as_array().is_some_and(|r| r.len() == 2)
    });
    assert!(shipped.is_some(), "{}", usage());
    let rows = usage()["rows"].as_array().unwrap().clone();
    let live = rows.iter().find(|r| r["cache"] == "").unwrap();
    let semantic = rows.iter().find(|r| r["cache"] == "semantic").unwrap();
    assert_eq!(semantic["cache_hits"], 1, "{semantic}");
    assert_eq!(semantic["key_source"], "byok", "{semantic}");
    // Exact amounts (picodollars): the live row is Warden's overhead (BYOK); the hit pays half
    // of it (rounded down) and reports the rest as saved.
    let usd = |v: &Value, f: &str| {
        warden_shared::money::Usd::parse(v[f].as_str().unwrap())
            .unwrap_or_else(|| panic!("{f}: {v}"))
            .0
    };
    let (live_usd, hit_usd) = (usd(live, "total_usd"), usd(semantic, "total_usd"));
    assert!(live_usd > 0, "{live}");
    assert_eq!(hit_usd, live_usd / 2, "{semantic} {live}");
    assert_eq!(
        usd(semantic, "cache_savings_usd"),
        live_usd - hit_usd,
        "{semantic}"
    );
    assert_eq!(semantic["input_tokens"], live["input_tokens"]);
    assert_eq!(cp.request_log_caches(&project), ["semantic", ""]);

    // Purged: the index forgets the project's questions, and the rephrasing is a miss.
    let purge = cp.admin("POST", &format!("{path}/purge"), None);
    assert_eq!(purge.status, 200, "{}", purge.text());
    indexed(&gw, 0);
    let again = ask(
        &gw,
        &key,
        &chat_body("gpt-4o", "which planet is largest", false),
    );
    assert_eq!(again.header("x-warden-cache"), Some("miss"));
}

/// In `restore` mode the turn is compared as the provider gets it, with placeholders: a
/// rephrasing with another e-mail address is a hit, and its answer carries *its* address, never
/// the first caller's.
#[test]
fn restore_mode_compares_placeholders_and_gives_each_caller_its_own_values() {
    let mock = Mock::start(&[]);
    let main = format!("{GOOGLE_KEYS}\n[tenants.projects.cache]\nmode = \"semantic\"\n");
    let text = semantic(&mock, 1).replace(
        &main,
        &format!("{main}[tenants.projects.guardrails]\npii = \"restore\"\n"),
    );
    assert!(text.contains("pii = \"restore\""));
    let gw = Gateway::start(Driver::IoUring, &text);
    let alice = ask(
        &gw,
        KEY,
        &chat_body("gpt-4o", "Please write to alice@example.com today", false),
    );
    assert_eq!(alice.header("x-warden-cache"), Some("miss"));
    assert_eq!(
        alice.content(),
        "echo: Please write to alice@example.com today"
    );
    indexed(&gw, 1);
    let bob = ask(
        &gw,
        KEY,
        &chat_body("gpt-4o", "write to bob@example.org today.", false),
    );
    assert_eq!(bob.header("x-warden-cache"), Some("semantic"));
    assert_eq!(bob.content(), "echo: Please write to bob@example.org today");
    assert!(!bob.text().contains("alice"), "{}", bob.text());
    // Another address in another place is another question.
    let carol = ask(
        &gw,
        KEY,
        &chat_body("gpt-4o", "write today to carol@example.net", false),
    );
    assert_eq!(carol.header("x-warden-cache"), Some("miss"));
    assert_eq!(mock.captured().len(), 2);
}

/// `semantic_max_temperature = 0`: only deterministic requests are answered by meaning; one
/// without a temperature counts as 1.0 and caches exactly.
#[test]
fn the_projects_temperature_limit_keeps_sampled_requests_exact() {
    let mock = Mock::start(&[]);
    let main = format!("{GOOGLE_KEYS}\n[tenants.projects.cache]\nmode = \"semantic\"\n");
    let text = semantic(&mock, 1).replace(&main, &format!("{main}semantic_max_temperature = 0\n"));
    let gw = Gateway::start(Driver::IoUring, &text);
    let at = |t: Option<f64>, q: &str| {
        let mut body = chat_body("gpt-4o", q, false);
        if let Some(t) = t {
            body["temperature"] = json!(t);
        }
        ask(&gw, KEY, &body)
    };
    at(None, "Name a prime number above 100");
    at(Some(0.0), "Name a prime number above 100");
    indexed(&gw, 1);
    assert_eq!(
        at(None, "please name a prime number above 100").header("x-warden-cache"),
        Some("miss")
    );
    assert_eq!(
        at(Some(0.0), "please name a prime number above 100").header("x-warden-cache"),
        Some("semantic")
    );
    assert_eq!(mock.captured().len(), 3);
}

#[test]
fn a_project_flooding_the_index_evicts_its_own_entries_not_anothers() {
    let mock = Mock::start(&[]);
    let text = semantic(&mock, 1).replace(
        "semantic_timeout_ms = 2000\n",
        "semantic_timeout_ms = 2000\nsemantic_max_entries = 10\n",
    );
    let gw = Gateway::start(Driver::IoUring, &text);
    let first = ask(
        &gw,
        KEY,
        &chat_body("gpt-4o", "How do I boil an egg?", false),
    );
    assert_eq!(first.content(), "echo: How do I boil an egg?");
    indexed(&gw, 1);
    // Another project of the same data plane asks thirty questions of its own, three times what
    // the whole index holds.
    for i in 0..30 {
        let q = format!("Tell me one fact about topic {i}.");
        let r = ask(&gw, OTHER_KEY, &chat_body("gpt-4o", &q, false));
        assert_eq!(r.header("x-warden-cache"), Some("miss"), "{q}");
    }
    let line = "warden_cache_semantic_insert_seconds_count 31\n";
    assert!(
        eventually(Duration::from_secs(10), || gw.metrics().contains(line)).is_some(),
        "{}",
        gw.metrics()
    );
    let m = gw.metrics();
    assert!(
        !m.contains("warden_cache_semantic_evictions_total 0\n"),
        "{m}"
    );
    // The first project's question is still there.
    let hit = ask(
        &gw,
        KEY,
        &chat_body("gpt-4o", "What's the best way to boil an egg?", false),
    );
    assert_eq!(hit.header("x-warden-cache"), Some("semantic"));
    assert_eq!(hit.content(), first.content());
}
