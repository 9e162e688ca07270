//! Metering and billing end to end: token usage from every route (streams included, usage asked
//! for on the client's behalf and dropped again) reaches the control plane from the audit log,
//! survives a data-plane restart without being counted twice, and `GET /admin/v1/usage` and the
//! monthly statement price it exactly: BYOK at the overhead, pooled at the provider's price plus
//! the overhead, cached tokens free.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{json, Value};
use warden_tests::http::post_json;
use warden_tests::{
    audit_export, chat_body, config, eventually, ControlPlane, Driver, Gateway, Mock, KEY,
};

fn created(r: &warden_tests::http::Response) -> String {
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

/// (input, output, cached) tokens an OpenAI-dialect answer reports.
fn tokens(answer: &Value) -> (u64, u64, u64) {
    let u = &answer["usage"];
    (
        u["prompt_tokens"].as_u64().unwrap(),
        u["completion_tokens"].as_u64().unwrap(),
        u["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0),
    )
}

/// Picodollars as the API writes dollars: every significant digit, at least two decimals.
fn usd(pico: u128) -> String {
    let frac = format!("{:012}", pico % 1_000_000_000_000);
    let trimmed = frac.trim_end_matches('0');
    let shown = if trimmed.len() < 2 {
        &frac[..2]
    } else {
        trimmed
    };
    format!("{}.{shown}", pico / 1_000_000_000_000)
}

/// Cost in picodollars of `tokens` at `per_mtok_micro` micro-dollars per million tokens.
fn cost(tokens: u64, per_mtok_micro: u128) -> u128 {
    u128::from(tokens) * per_mtok_micro
}

#[test]
fn usage_reaches_the_control_plane_once_and_is_billed_exactly() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let tenant = created(&cp.admin(
        "POST",
        "/admin/v1/tenants",
        Some(&json!({"name": "acme", "plan": "team"})),
    ));
    let project = |name: &str| {
        created(&cp.admin(
            "POST",
            &format!("/admin/v1/tenants/{tenant}/projects"),
            Some(&json!({"name": name, "environment": "production"})),
        ))
    };
    let (own, pooled) = (project("own-keys"), project("pooled"));
    let key = |p: &str| {
        let r = cp.admin(
            "POST",
            &format!("/admin/v1/projects/{p}/api-keys"),
            Some(&json!({"name": "app"})),
        );
        r.json()["key"].as_str().unwrap().to_owned()
    };
    let (own_key, pooled_key) = (key(&own), key(&pooled));
    created(&cp.admin(
        "POST",
        &format!("/admin/v1/projects/{own}/provider-keys"),
        Some(&json!({"provider": "openai", "key": "sk-tenant-own-1234"})),
    ));
    created(&cp.admin(
        "POST",
        "/admin/v1/pooled-keys",
        Some(&json!({"provider": "openai", "key": "sk-operator-pool-5678"})),
    ));
    let dp_config = cp.dataplane_config(1);
    let gw = Gateway::start(Driver::IoUring, &dp_config);
    let chat = |key: &str, text: &str, stream: bool| {
        post_json(
            gw.addr,
            "/v1/chat/completions",
            key,
            &chat_body("gpt-4o", text, stream),
        )
    };
    assert!(
        eventually(Duration::from_secs(5), || chat(&own_key, "warm", false)
            .status
            == 200)
        .is_some()
    );
    assert!(
        eventually(Duration::from_secs(5), || chat(&pooled_key, "warm", false)
            .status
            == 200)
        .is_some()
    );

    // What the mock reports, request by request (a stream reports what the same prompt does).
    let (mut byok, mut pool) = ((0u64, 0u64, 0u64, 0u64), (0u64, 0u64, 0u64, 0u64));
    let add = |into: &mut (u64, u64, u64, u64), t: (u64, u64, u64)| {
        into.0 += 1;
        into.1 += t.0;
        into.2 += t.1;
        into.3 += t.2;
    };
    // The warm-up requests that answered 200 count too (same prompt, same usage).
    let warm_own = tokens(&chat(&own_key, "warm", false).json());
    let warm_pooled = tokens(&chat(&pooled_key, "warm", false).json());
    for _ in 0..2 {
        add(&mut byok, warm_own);
        add(&mut pool, warm_pooled);
    }
    for text in [
        "one two three",
        "a much longer prompt with many words in it to count",
    ] {
        add(&mut byok, tokens(&chat(&own_key, text, false).json()));
        add(&mut pool, tokens(&chat(&pooled_key, text, false).json()));
    }
    let text = "streamed words here mock:chunks=4";
    let same = tokens(&chat(&own_key, text, false).json());
    add(&mut byok, same);
    let streamed = chat(&own_key, text, true);
    assert!(
        !streamed.text().contains("\"usage\":{"),
        "a client that did not ask gets no usage chunk: {}",
        streamed.text()
    );
    add(&mut byok, same);

    let usage = |query: &str| {
        cp.admin("GET", &format!("/admin/v1/usage?{query}"), None)
            .json()
    };
    let q = format!("tenant={tenant}&group_by=project");
    let want_requests = byok.0 + pool.0;
    let shipped = eventually(Duration::from_secs(10), || {
        usage(&q)["rows"].as_array().is_some_and(|rows| {
            rows.iter()
                .map(|r| r["requests"].as_u64().unwrap())
                .sum::<u64>()
                == want_requests
        })
    });
    assert!(shipped.is_some(), "usage shipped: {}", usage(&q));
    let rows = usage(&q)["rows"].as_array().unwrap().clone();
    let row = |p: &str| rows.iter().find(|r| r["project"] == p).unwrap().clone();
    let (b, p) = (row(&own), row(&pooled));
    assert_eq!(b["key_source"], "byok");
    assert_eq!(p["key_source"], "pooled");
    for (r, t) in [(&b, byok), (&p, pool)] {
        assert_eq!(
            (
                r["requests"].as_u64(),
                r["input_tokens"].as_u64(),
                r["output_tokens"].as_u64(),
                r["cached_tokens"].as_u64()
            ),
            (Some(t.0), Some(t.1), Some(t.2), Some(t.3))
        );
        // Overhead: $0.10 per million uncached input tokens, $0.20 per million output tokens.
        let overhead = cost(t.1 - t.3, 100_000) + cost(t.2, 200_000);
        assert_eq!(r["overhead_usd"], usd(overhead), "{r}");
    }
    assert_eq!(
        b["provider_cost_usd"], "0.00",
        "BYOK pays the provider directly"
    );
    // Pooled gpt-4o at the seeded list price: $2.50 in, $10.00 out per million.
    let provider = cost(pool.1 - pool.3, 2_500_000) + cost(pool.2, 10_000_000);
    assert_eq!(p["provider_cost_usd"], usd(provider));

    // The month's statement adds up, line by line.
    let month = &usage(&q)["from"].as_str().unwrap()[..7].to_owned();
    let st = cp
        .admin(
            "GET",
            &format!("/admin/v1/tenants/{tenant}/statement?month={month}"),
            None,
        )
        .json();
    assert_eq!(st["plan"], "team");
    let lines = st["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{st}");
    let overhead = cost(byok.1 - byok.3, 100_000)
        + cost(byok.2, 200_000)
        + cost(pool.1 - pool.3, 100_000)
        + cost(pool.2, 200_000);
    assert_eq!(st["totals"]["overhead_usd"], usd(overhead));
    assert_eq!(st["totals"]["total_usd"], usd(overhead + provider));
    assert_eq!(
        cp.admin(
            "GET",
            &format!("/admin/v1/tenants/{tenant}/statement?month=2026-13"),
            None
        )
        .status,
        400
    );

    // A restart resends from the last saved cursor: nothing is counted twice, nothing lost.
    let dir = gw.kill();
    let gw = Gateway::start_in(dir, Driver::IoUring, &dp_config, &[]);
    assert!(eventually(Duration::from_secs(5), || {
        post_json(
            gw.addr,
            "/v1/chat/completions",
            &own_key,
            &chat_body("gpt-4o", "warm", false),
        )
        .status
            == 200
    })
    .is_some());
    let after = eventually(Duration::from_secs(10), || {
        usage(&q)["rows"].as_array().is_some_and(|rows| {
            rows.iter()
                .map(|r| r["requests"].as_u64().unwrap())
                .sum::<u64>()
                == want_requests + 1
        })
    });
    assert!(after.is_some(), "{}", usage(&q));
    std::thread::sleep(Duration::from_millis(1500));
    let total: u64 = usage(&q)["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(total, want_requests + 1, "the restart did not double-count");

    // Bad queries are refused clearly.
    assert_eq!(
        cp.admin("GET", "/admin/v1/usage?group_by=colour", None)
            .status,
        400
    );
    assert_eq!(
        cp.admin("GET", "/admin/v1/usage?from=2026-02-30", None)
            .status,
        400
    );
    // Prices are editable; a price with more than six decimals is refused.
    let put = |v: &str| {
        cp.admin(
            "PUT",
            "/admin/v1/prices/openai/gpt-4o",
            Some(&json!({"input_per_mtok": v, "output_per_mtok": "10.00"})),
        )
    };
    assert_eq!(put("0.0000001").status, 400);
    assert_eq!(put("5.00").status, 200);
}

#[test]
fn every_route_records_usage_streams_included() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let native = |path: &str, body: Value| post_json(gw.addr, path, KEY, &body);
    let prompt = "count these words mock:chunks=3";
    let streamed = post_json(
        gw.addr,
        "/v1/chat/completions",
        KEY,
        &chat_body("gpt-4o", prompt, true),
    );
    assert!(!streamed.text().contains("\"usage\":{"));
    let asked = post_json(
        gw.addr,
        "/v1/chat/completions",
        KEY,
        &json!({"model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": prompt}]}),
    );
    assert!(
        asked.text().contains("\"usage\":{"),
        "a client that asked keeps its usage chunk"
    );
    let messages = json!({"model": "claude-4-sonnet", "max_tokens": 64,
        "messages": [{"role": "user", "content": prompt}]});
    let mut stream_messages = messages.clone();
    stream_messages["stream"] = json!(true);
    native("/v1/messages", messages);
    native("/v1/messages", stream_messages);
    let contents = json!({"contents": [{"role": "user", "parts": [{"text": prompt}]}]});
    native(
        "/v1beta/models/gemini-2.0-flash:generateContent",
        contents.clone(),
    );
    native(
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
        contents,
    );
    let records = audit_export(&gw.audit_dir());
    let responses: Vec<&Value> = records.iter().filter(|r| r["kind"] == "response").collect();
    assert_eq!(responses.len(), 6);
    for r in responses {
        let u = &r["usage"];
        assert!(
            u["input_tokens"].as_u64().unwrap_or(0) > 0
                && u["output_tokens"].as_u64().unwrap_or(0) > 0,
            "{} {}: {r}",
            r["route"],
            r["stream"]
        );
    }
}

#[test]
fn a_stream_that_turns_usage_off_is_still_metered() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let prompt = "count these words mock:chunks=3";
    let options = [
        json!({"include_usage": false}),
        json!({}),
        json!(null),
        json!({"include_usage": false, "include_obfuscation": false}),
    ];
    let mut ids = Vec::new();
    for o in &options {
        let res = post_json(
            gw.addr,
            "/v1/chat/completions",
            KEY,
            &json!({"model": "gpt-4o", "stream": true, "stream_options": o,
                    "messages": [{"role": "user", "content": prompt}]}),
        );
        assert_eq!(res.status, 200, "{o}: {}", res.text());
        assert!(
            !res.text().contains("\"usage\":{"),
            "{o}: a client that did not ask gets no usage chunk"
        );
        assert_eq!(res.events().last().map(String::as_str), Some("[DONE]"));
        ids.push(res.header("x-request-id").unwrap().to_owned());
        let sent = mock.captured().pop().unwrap();
        assert_eq!(
            sent["body"]["stream_options"]["include_usage"], true,
            "{o}: the provider is asked for usage: {sent}"
        );
        if o.get("include_obfuscation").is_some() {
            assert_eq!(
                sent["body"]["stream_options"]["include_obfuscation"], false,
                "the client's other stream options are kept"
            );
        }
    }
    let records = audit_export(&gw.audit_dir());
    for id in &ids {
        let r = records
            .iter()
            .find(|r| r["kind"] == "response" && r["request_id"] == id.as_str())
            .unwrap();
        assert!(
            r["usage"]["output_tokens"].as_u64().unwrap_or(0) > 0,
            "metered: {r}"
        );
    }
}

#[test]
fn tokens_and_time_to_first_byte_reach_the_metrics() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let whole = gw.chat(&chat_body("gpt-4o", "count these words please", false));
    assert_eq!(whole.status, 200);
    let (input, output, _) = tokens(&whole.json());
    let streamed = gw.chat(&chat_body(
        "claude-4-sonnet",
        "and these mock:chunks=5",
        true,
    ));
    assert_eq!(streamed.status, 200);
    // The shard counts a request once it has answered it: the client may have its last byte a
    // moment before.
    let counted = eventually(Duration::from_secs(5), || {
        gw.metric("warden_time_to_first_byte_seconds_count") == Some(2)
    });
    assert!(counted.is_some(), "{}", gw.metrics());
    assert_eq!(
        gw.metric("warden_tokens_total{provider=\"openai\",key_source=\"byok\",kind=\"input\"}"),
        Some(input)
    );
    assert_eq!(
        gw.metric("warden_tokens_total{provider=\"openai\",key_source=\"byok\",kind=\"output\"}"),
        Some(output)
    );
    assert!(
        gw.metric(
            "warden_tokens_total{provider=\"anthropic\",key_source=\"byok\",kind=\"output\"}"
        )
        .unwrap()
            > 0,
        "the stream's usage is counted under its provider"
    );
    // By model alias, and what the project's own keys were billed: Warden's overhead only
    // ($0.10 per million input tokens, $0.20 per million output tokens).
    assert_eq!(
        gw.metric("warden_model_requests_total{model=\"gpt-4o\",status_class=\"2xx\"}"),
        Some(1)
    );
    assert_eq!(
        gw.metric("warden_model_requests_total{model=\"claude-4-sonnet\",status_class=\"2xx\"}"),
        Some(1)
    );
    assert_eq!(
        gw.metric("warden_model_tokens_total{model=\"gpt-4o\",kind=\"output\"}"),
        Some(output)
    );
    let metrics = gw.metrics();
    let billed: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("warden_billed_dollars_total{provider=\"openai\",key_source=\"byok\"} ")
        })
        .unwrap()
        .parse()
        .unwrap();
    let want = (input as f64 * 0.10 + output as f64 * 0.20) / 1e6;
    assert!((billed - want).abs() < 1e-12, "{billed} vs {want}");
}

#[test]
fn requests_that_share_a_client_request_id_each_keep_their_row() {
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let tenant = created(&cp.admin(
        "POST",
        "/admin/v1/tenants",
        Some(&json!({"name": "acme", "plan": "team"})),
    ));
    let project = created(&cp.admin(
        "POST",
        &format!("/admin/v1/tenants/{tenant}/projects"),
        Some(&json!({"name": "app", "environment": "production"})),
    ));
    let key = cp
        .admin(
            "POST",
            &format!("/admin/v1/projects/{project}/api-keys"),
            Some(&json!({"name": "app"})),
        )
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    created(&cp.admin(
        "POST",
        &format!("/admin/v1/projects/{project}/provider-keys"),
        Some(&json!({"provider": "openai", "key": "sk-tenant-own-1234"})),
    ));
    let gw = Gateway::start(Driver::IoUring, &cp.dataplane_config(1));
    // Every request names the same x-request-id (a client's retry id, or someone else's).
    let send = || {
        let body = chat_body("gpt-4o", "same id", false).to_string();
        let raw = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\nx-request-id: dup-id-1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut c = warden_tests::http::Conn::open(gw.addr);
        c.send(raw.as_bytes());
        c.read_response().unwrap().status
    };
    assert!(eventually(Duration::from_secs(5), || send() == 200).is_some());
    assert_eq!(send(), 200);
    assert_eq!(send(), 200);
    let rows = || {
        cp.admin(
            "GET",
            &format!("/admin/v1/requests?project={project}"),
            None,
        )
        .json()["requests"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let all = eventually(Duration::from_secs(10), || rows() >= 3);
    assert!(
        all.is_some(),
        "three requests, three rows: {}\n{}\n{}",
        cp.admin("GET", "/admin/v1/requests", None).text(),
        cp.proc.stderr(),
        gw.proc.stderr()
    );
}

#[test]
fn a_batch_from_an_older_cursor_than_the_control_plane_holds_loses_nothing() {
    // The control plane applied a batch, but the data plane never heard (it was killed before
    // saving the answer; or the control plane that applied it died while answering, as when
    // the lead moves). Its next batch starts at its older cursor and reaches past what the
    // control plane holds: what lies past that must be counted, and once.
    let mock = Mock::start(&[]);
    let cp = ControlPlane::start(mock.addr);
    let (_, project, key) = cp.tenant_with_project();
    created(&cp.admin(
        "POST",
        &format!("/admin/v1/projects/{project}/provider-keys"),
        Some(&json!({"provider": "openai", "key": "sk-tenant-own-1234"})),
    ));
    // One identity across restarts (without an id, a data plane is named by its admin address,
    // which a restart on port 0 changes).
    let config =
        |cp: &ControlPlane| format!("dataplane_id = \"dp-meter\"\n{}", cp.dataplane_config(1));
    let metered = |cp: &ControlPlane| -> u64 {
        let usage = cp
            .admin("GET", &format!("/admin/v1/usage?project={project}"), None)
            .json();
        usage["rows"].as_array().map_or(0, |rows| {
            rows.iter().map(|r| r["requests"].as_u64().unwrap()).sum()
        })
    };
    // Requests until one is answered (refusals before the snapshot arrives meter nothing), then
    // `more`; the number answered.
    let answered = |gw: &Gateway, more: u64| -> u64 {
        let first = eventually(Duration::from_secs(10), || gw.answers(&key) == 200);
        assert!(first.is_some(), "the key is served");
        for _ in 0..more {
            assert_eq!(gw.answers(&key), 200);
        }
        more + 1
    };
    let gw = Gateway::start(Driver::IoUring, &config(&cp));
    let mut want = answered(&gw, 3);
    let shipped = eventually(Duration::from_secs(10), || metered(&cp) == want);
    assert!(shipped.is_some(), "{} of {want}", metered(&cp));

    // The control plane goes away; the data plane answers on from its last snapshot, and its
    // log holds requests no control plane has counted.
    let cp_dir = cp.stop();
    want += answered(&gw, 1);
    // The data plane is killed and forgets the control plane's last answer: its cursor goes
    // back to the start of the segment the control plane has already counted.
    let dir = gw.kill();
    let cursor = dir.0.join("state").join("usage-cursor");
    let saved = std::fs::read_to_string(&cursor).unwrap();
    let segment = saved.split_whitespace().next().unwrap().to_owned();
    std::fs::write(&cursor, format!("{segment} 0 0\n")).unwrap();
    let cp = ControlPlane::start_in(cp_dir, mock.addr);
    let gw = Gateway::start_in(dir, Driver::IoUring, &config(&cp), &[]);
    want += answered(&gw, 1);
    let shipped = eventually(Duration::from_secs(10), || metered(&cp) == want);
    assert!(
        shipped.is_some(),
        "the requests no control plane had counted are counted: {} of {want}",
        metered(&cp)
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(metered(&cp), want, "and nothing twice");
}
