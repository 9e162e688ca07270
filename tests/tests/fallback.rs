//! Key sources and fallback end to end, against the mock's `--key-status`: a rate-limited BYOK
//! key gives way to the next BYOK key, a revoked one to the operator's pooled key (streamed and
//! not), all keys of a model failing to the route's fallback model on another provider; a
//! stream that breaks after its first byte is not retried; key modes and the circuit breaker
//! decide which keys are tried; every attempt is in the audit record and the metrics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use warden_tests::{audit_export, chat_body, Driver, Gateway, Mock};

const KEY: &str = "wdn_fallback_key_0123456789";

/// A config with one project whose OpenAI keys are `byok` (in priority order), an Anthropic
/// key, the operator's pooled OpenAI key, and `extra` (top-level tables).
fn setup(mock: &Mock, byok: &[&str], routing: &str, extra: &str) -> String {
    let keys: String = byok
        .iter()
        .enumerate()
        .map(|(i, k)| format!("  {{ provider = \"openai\", key = \"{k}\", priority = {i} }},\n"))
        .collect();
    format!(
        r#"listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
shards = 1
state_dir = "STATE_DIR"
audit_ring_dir = "STATE_DIR/audit-rings"
io_uring_entries = 256

[providers.openai]
base_url = "http://{addr}/v1"
[providers.anthropic]
base_url = "http://{addr}"

[fallback]
breaker_failures = 2
breaker_open_ms = 60000

[[pooled_keys]]
provider = "openai"
key = "sk-pooled-openai"

[[models]]
alias = "gpt-4o"
provider = "openai"
upstream_model = "gpt-4o"
fallbacks = ["claude-4-sonnet"]
{extra}
[[tenants]]
id = "acme"
plan = "team"

[[tenants.projects]]
id = "acme-prod"
api_keys = ["{KEY}"]
provider_keys = [
{keys}  {{ provider = "anthropic", key = "sk-ant-good" }},
]
{routing}
"#,
        addr = mock.addr
    )
}

fn chat(gw: &Gateway, stream: bool) -> warden_tests::http::Response {
    warden_tests::http::post_json(
        gw.addr,
        "/v1/chat/completions",
        KEY,
        &chat_body("gpt-4o", "hello mock:chunks=3", stream),
    )
}

/// (provider, key_source, outcome, status) of each attempt of the last response record.
fn attempts(gw: &Gateway) -> Vec<(String, String, String, Option<u64>)> {
    let records = audit_export(&gw.audit_dir());
    let last = records
        .iter()
        .rev()
        .find(|r| r["kind"] == "response")
        .expect("a response record");
    last["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["provider"].as_str().unwrap().to_owned(),
                a["key_source"].as_str().unwrap().to_owned(),
                a["outcome"].as_str().unwrap().to_owned(),
                a["status"].as_u64(),
            )
        })
        .collect()
}

fn a(
    provider: &str,
    source: &str,
    outcome: &str,
    status: u64,
) -> (String, String, String, Option<u64>) {
    (provider.into(), source.into(), outcome.into(), Some(status))
}

/// The upstream keys the mock saw, in order (masked to their last four characters).
fn keys_seen(mock: &Mock) -> Vec<String> {
    mock.captured()
        .iter()
        .map(|c| {
            let h = &c["headers"];
            h["authorization"]
                .as_str()
                .or(h["x-api-key"].as_str())
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

#[test]
fn a_rate_limited_key_gives_way_to_the_next_and_then_cools_down() {
    let mock = Mock::start(&["--key-status", "sk-byok-first=429"]);
    let gw = Gateway::start(
        Driver::IoUring,
        &setup(&mock, &["sk-byok-first", "sk-byok-second"], "", ""),
    );
    let res = chat(&gw, false);
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        attempts(&gw),
        [
            a("openai", "byok", "status", 429),
            a("openai", "byok", "ok", 200)
        ]
    );
    assert_eq!(keys_seen(&mock), ["****irst", "****cond"]);
    // The 429 said retry-after: 1 — the next request goes straight to the second key.
    let res = chat(&gw, false);
    assert_eq!(res.status, 200);
    assert_eq!(attempts(&gw), [a("openai", "byok", "ok", 200)]);
    assert_eq!(gw.metric("warden_breaker_skips_total"), Some(1));
    assert_eq!(gw.metric("warden_fallbacks_total"), Some(2));
}

#[test]
fn a_revoked_key_falls_back_to_the_pooled_key_streamed_or_not() {
    let mock = Mock::start(&["--key-status", "sk-byok-revoked=401"]);
    let gw = Gateway::start(Driver::Epoll, &setup(&mock, &["sk-byok-revoked"], "", ""));
    for stream in [false, true] {
        let res = chat(&gw, stream);
        assert_eq!(res.status, 200, "{}", res.text());
        if stream {
            let events = res.events();
            assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        } else {
            assert_eq!(
                res.json()["choices"][0]["message"]["content"],
                "echo: hello mock:chunks=3"
            );
        }
        assert_eq!(
            attempts(&gw),
            [
                a("openai", "byok", "status", 401),
                a("openai", "pooled", "ok", 200)
            ],
            "stream {stream}"
        );
        let records = audit_export(&gw.audit_dir());
        let last = records
            .iter()
            .rev()
            .find(|r| r["kind"] == "response")
            .unwrap();
        assert_eq!(last["key_source"], "pooled");
        assert_eq!(last["provider_key_id"], "pool_openai_0");
    }
    // Every file of the audit directory and the rings, binary records included.
    let rings = gw.dir.0.join("state").join("audit-rings");
    for entry in gw
        .audit_dir()
        .read_dir()
        .unwrap()
        .chain(rings.read_dir().unwrap())
    {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.is_empty(), "{}", path.display());
        for key in [&b"sk-pooled-openai"[..], b"sk-byok-revoked"] {
            assert!(
                !bytes.windows(key.len()).any(|w| w == key),
                "a provider key in {}",
                path.display()
            );
        }
    }
    let metrics = gw.metrics();
    assert!(
        metrics.contains("warden_upstream_attempts_total{key_source=\"pooled\",outcome=\"ok\"} 2"),
        "{metrics}"
    );
    // The revoked key's answers are counted under their own outcome, not as ok.
    assert_eq!(
        gw.metric("warden_upstream_attempts_total{key_source=\"byok\",outcome=\"status\"}"),
        Some(2),
        "{metrics}"
    );
    assert_eq!(
        gw.metric("warden_upstream_attempts_total{key_source=\"byok\",outcome=\"ok\"}"),
        Some(0)
    );
}

#[test]
fn when_every_key_fails_the_route_falls_back_to_another_provider() {
    let mock = Mock::start(&[
        "--key-status",
        "sk-byok-down=503",
        "--key-status",
        "sk-pooled-openai=500",
    ]);
    let gw = Gateway::start(Driver::IoUring, &setup(&mock, &["sk-byok-down"], "", ""));
    for stream in [false, true] {
        let res = chat(&gw, stream);
        assert_eq!(res.status, 200, "{}", res.text());
        let model = if stream {
            let first: Value = serde_json::from_str(&res.events()[0]).unwrap();
            first["model"].as_str().unwrap().to_owned()
        } else {
            res.json()["model"].as_str().unwrap().to_owned()
        };
        assert_eq!(model, "claude-4-sonnet", "the answering model is named");
        let tried = attempts(&gw);
        assert_eq!(tried.last().unwrap(), &a("anthropic", "byok", "ok", 200));
        assert!(tried.len() >= 2, "{tried:?}");
    }
}

#[test]
fn a_stream_that_breaks_after_its_first_byte_is_not_retried() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(
        Driver::IoUring,
        &setup(&mock, &["sk-byok-a", "sk-byok-b"], "", ""),
    );
    let res = warden_tests::http::post_json(
        gw.addr,
        "/v1/chat/completions",
        KEY,
        &chat_body("gpt-4o", "a b c d e mock:chunks=5 mock:drop_after=2", true),
    );
    assert_eq!(res.status, 200);
    let last: Value = serde_json::from_str(res.events().last().unwrap()).unwrap();
    assert!(
        last["error"].is_object(),
        "a clean error event ends the stream"
    );
    assert_eq!(
        mock.captured().len(),
        1,
        "no second attempt after the first byte"
    );
}

#[test]
fn key_modes_decide_which_sources_are_tried() {
    // byok_only: for a model without fallbacks, a revoked key is the client's answer (mapped,
    // no key in it) — the pooled key is not tried.
    let mock = Mock::start(&["--key-status", "sk-byok-revoked=401"]);
    let routing = "[tenants.projects.routing]\nkey_mode = \"byok_only\"\n";
    let gw = Gateway::start(
        Driver::IoUring,
        &setup(&mock, &["sk-byok-revoked"], routing, ""),
    );
    let res = warden_tests::http::post_json(
        gw.addr,
        "/v1/chat/completions",
        KEY,
        &chat_body("gpt-4o-mini", "hello", false),
    );
    assert_eq!(res.status, 401, "{}", res.text());
    assert!(!res.text().contains("sk-byok-revoked"));
    assert_eq!(mock.captured().len(), 1);
    drop(gw);

    // pooled_only for OpenAI: the project's own key is never used.
    let mock = Mock::start(&[]);
    let routing = "[tenants.projects.routing]\nproviders = { openai = \"pooled_only\" }\n";
    let gw = Gateway::start(
        Driver::IoUring,
        &setup(&mock, &["sk-byok-unused"], routing, ""),
    );
    assert_eq!(chat(&gw, false).status, 200);
    assert_eq!(attempts(&gw), [a("openai", "pooled", "ok", 200)]);
    assert_eq!(keys_seen(&mock), ["****enai"]);
}

#[test]
fn a_failing_key_trips_its_breaker_and_is_passed_over() {
    let mock = Mock::start(&["--key-status", "sk-byok-broken=500"]);
    let gw = Gateway::start(
        Driver::IoUring,
        &setup(&mock, &["sk-byok-broken", "sk-byok-fine"], "", ""),
    );
    // breaker_failures = 2: two requests try the broken key first, the third skips it.
    for _ in 0..2 {
        assert_eq!(chat(&gw, false).status, 200);
        assert_eq!(attempts(&gw).len(), 2);
    }
    assert_eq!(chat(&gw, false).status, 200);
    assert_eq!(attempts(&gw), [a("openai", "byok", "ok", 200)]);
    assert_eq!(gw.metric("warden_breaker_skips_total"), Some(1));
}

#[test]
fn developer_plan_tenants_cannot_bring_keys() {
    let mock = Mock::start(&[]);
    let text =
        setup(&mock, &["sk-byok-x"], "", "").replace("plan = \"team\"", "plan = \"developer\"");
    let err = Gateway::fails_to_start(Driver::IoUring, &text);
    assert!(
        err.contains("developer-plan tenants use pooled keys"),
        "{err}"
    );
}

#[test]
fn a_fallback_that_cannot_carry_the_request_is_passed_over() {
    // Two choices: the OpenAI route answers them; its Anthropic fallback cannot (Anthropic
    // answers one), which must not turn the request away while OpenAI can serve it.
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &setup(&mock, &["sk-byok-good"], "", ""));
    let mut body = chat_body("gpt-4o", "hello", false);
    body["n"] = 2.into();
    let res = warden_tests::http::post_json(gw.addr, "/v1/chat/completions", KEY, &body);
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["choices"].as_array().map(Vec::len), Some(2));
    assert_eq!(attempts(&gw), vec![a("openai", "byok", "ok", 200)]);
}
