//! `phone_regions`: the numbering plans a phone number without its country code is checked
//! against. A French project's gateway redacts French national numbers; a number that is no
//! French number passes unless it carries its country code; an unknown region stops the start
//! with a clear error. A bare number nobody named is redacted when a zero leads it (a trunk
//! prefix), any other only where the operator turned `phone_standalone` on, and an order number
//! named as one never is. A project's own
//! `phone_regions` (`[tenants.projects.guardrails]`): its national numbers are checked against
//! those plans instead, on the request and on the answer (whole and streamed), while other
//! projects keep the data plane's; a region without a numbering plan stops the start, named. A
//! project's own `phone_standalone` turns bare numbers on or off for it alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_tests::http::post_json;
use warden_tests::{chat_body, config, Driver, Gateway, Mock, KEY, OTHER_KEY};

fn redacting(mock: &Mock, regions: Option<&str>) -> String {
    let mut text = config(mock.addr, 1, "").replace(
        "  { provider = \"google\", key = \"gm-key-5555\" },\n]",
        "  { provider = \"google\", key = \"gm-key-5555\" },\n]\n[tenants.projects.guardrails]\npii = \"redact\"\n",
    );
    if let Some(regions) = regions {
        text = text.replacen(
            "io_uring_entries = 256\n",
            &format!("io_uring_entries = 256\nphone_regions = {regions}\n"),
            1,
        );
    }
    text
}

fn upstream_saw(gw: &Gateway, text: &str) -> String {
    let res = gw.chat(&chat_body("gpt-4o", text, false));
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn national_numbers_follow_the_configured_regions() {
    let mock = Mock::start(&[]);
    let french = Gateway::start(Driver::IoUring, &redacting(&mock, Some("[\"FR\"]")));
    assert_eq!(
        upstream_saw(&french, "Appelez le 01 53 52 46 62 demain"),
        "echo: Appelez le [PHONE_1] demain"
    );
    assert_eq!(
        upstream_saw(&french, "call 020 7946 0958 tomorrow"),
        "echo: call 020 7946 0958 tomorrow",
        "no French number"
    );
    assert_eq!(
        upstream_saw(&french, "call +44 20 7946 0958 tomorrow"),
        "echo: call [PHONE_1] tomorrow",
        "its country code names its plan"
    );
    let default = Gateway::start(Driver::Epoll, &redacting(&mock, None));
    assert_eq!(
        upstream_saw(&default, "call 020 7946 0958 tomorrow"),
        "echo: call [PHONE_1] tomorrow"
    );
}

#[test]
fn an_unknown_region_stops_the_start() {
    let mock = Mock::start(&[]);
    let err = Gateway::fails_to_start(Driver::IoUring, &redacting(&mock, Some("[\"FR\", \"XX\"]")));
    assert!(err.contains("no numbering plan for region \"XX\""), "{err}");
}

#[test]
fn a_bare_number_nobody_named_is_redacted_led_by_a_zero_or_with_phone_standalone() {
    let mock = Mock::start(&[]);
    let text = "If it's urgent: 0153524662 or 6502530000. Order 0153524663 shipped.";
    let default = Gateway::start(Driver::IoUring, &redacting(&mock, None));
    assert_eq!(
        upstream_saw(&default, text),
        "echo: If it's urgent: [PHONE_1] or 6502530000. Order 0153524663 shipped.",
        "by default a bare number stands alone only led by its trunk zero"
    );
    let on = redacting(&mock, None).replacen(
        "io_uring_entries = 256\n",
        "io_uring_entries = 256\nphone_standalone = true\n",
        1,
    );
    let on = Gateway::start(Driver::IoUring, &on);
    assert_eq!(
        upstream_saw(&on, text),
        "echo: If it's urgent: [PHONE_1] or [PHONE_2]. Order 0153524663 shipped."
    );
}

const GOOGLE_KEYS: &str = "  { provider = \"google\", key = \"gm-key-5555\" },\n]";
/// A German and a US number, each in its national format: the data plane's default regions
/// (24, the US and Germany among them) take both.
const PROMPT: &str = "Berlin office: 030 12345678. Boston office: (617) 253-1000.";

fn two_projects(mock: &Mock, regions: &str) -> String {
    two_projects_with(mock, &format!("phone_regions = {regions}"))
}

/// Two redacting projects; `guardrails` goes into the first one's (`KEY`'s) section only.
fn two_projects_with(mock: &Mock, guardrails: &str) -> String {
    let redact = "[tenants.projects.guardrails]\npii = \"redact\"\nresponse_pii = \"redact\"";
    let other = format!(
        "\n[[tenants.projects]]\nid = \"acme-dev\"\napi_keys = [\"{OTHER_KEY}\"]\nprovider_keys = [{{ provider = \"openai\", key = \"sk-test-provider-abcd\" }}]\n{redact}\n"
    );
    config(mock.addr, 1, &other).replace(
        GOOGLE_KEYS,
        &format!("{GOOGLE_KEYS}\n{redact}\n{guardrails}"),
    )
}

#[test]
fn a_project_checks_national_numbers_against_its_own_regions() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &two_projects(&mock, "[\"US\"]"));
    let chat = |key: &str, stream: bool| {
        post_json(
            gw.addr,
            "/v1/chat/completions",
            key,
            &chat_body("gpt-4o", PROMPT, stream),
        )
    };
    // US only: the Berlin number is no phone number there; the Boston one is.
    let own = chat(KEY, false);
    assert_eq!(own.status, 200, "{}", own.text());
    let sent = mock.captured().last().unwrap().to_string();
    assert!(sent.contains("030 12345678"), "{sent}");
    assert!(!sent.contains("253-1000"), "{sent}");
    // The answer (the mock echoes the request) is read with the same plans: the Berlin number
    // the request kept is not redacted on the way back either, whole or streamed.
    let answer = own.json()["choices"][0]["message"]["content"].to_string();
    assert!(answer.contains("030 12345678"), "{answer}");
    let streamed = chat(KEY, true);
    assert!(
        streamed.stream_text().contains("030 12345678"),
        "{}",
        streamed.text()
    );
    // Another project keeps the data plane's regions: both numbers are redacted.
    let other = chat(OTHER_KEY, false);
    assert_eq!(other.status, 200, "{}", other.text());
    let sent = mock.captured().last().unwrap().to_string();
    assert!(
        !sent.contains("12345678") && !sent.contains("253-1000"),
        "{sent}"
    );
}

#[test]
fn a_project_region_without_a_numbering_plan_stops_the_start() {
    let mock = Mock::start(&[]);
    for (regions, says) in [("[\"XX\"]", "\"XX\""), ("[\"us\"]", "\"us\"")] {
        let err = Gateway::fails_to_start(Driver::IoUring, &two_projects(&mock, regions));
        assert!(
            err.contains("phone_regions") && err.contains(says),
            "{regions}: {err}"
        );
    }
}

#[test]
fn a_project_sets_phone_standalone_for_itself_either_way() {
    let mock = Mock::start(&[]);
    // A US number as bare digits, no phone word: the data plane's default leaves it.
    let text = "Any questions? 6502530000";
    let sent = |gw: &Gateway, key: &str, stream: bool| {
        let res = post_json(
            gw.addr,
            "/v1/chat/completions",
            key,
            &chat_body("gpt-4o", text, stream),
        );
        assert_eq!(res.status, 200, "{}", res.text());
        let upstream = mock.captured().last().unwrap().to_string();
        (upstream, res)
    };
    // The data plane off, one project on: only its requests lose the number, and its answers
    // (the mock echoes the request), whole and streamed, are read with the same plans.
    let on = Gateway::start(
        Driver::IoUring,
        &two_projects_with(&mock, "phone_standalone = true"),
    );
    let (upstream, res) = sent(&on, KEY, false);
    assert!(!upstream.contains("6502530000"), "{upstream}");
    assert!(!res.text().contains("6502530000"), "{}", res.text());
    let (upstream, res) = sent(&on, KEY, true);
    assert!(!upstream.contains("6502530000"), "{upstream}");
    assert!(!res.stream_text().contains("6502530000"), "{}", res.text());
    let (upstream, _) = sent(&on, OTHER_KEY, false);
    assert!(upstream.contains("6502530000"), "{upstream}");
    // The data plane on, one project off: the other way round.
    let off = two_projects_with(&mock, "phone_standalone = false").replacen(
        "io_uring_entries = 256\n",
        "io_uring_entries = 256\nphone_standalone = true\n",
        1,
    );
    let off = Gateway::start(Driver::Epoll, &off);
    let (upstream, _) = sent(&off, KEY, false);
    assert!(upstream.contains("6502530000"), "{upstream}");
    let (upstream, _) = sent(&off, OTHER_KEY, false);
    assert!(!upstream.contains("6502530000"), "{upstream}");
    // With its own regions too: a project on with US plans takes the US number, bare.
    let regions = Gateway::start(
        Driver::IoUring,
        &two_projects_with(&mock, "phone_regions = [\"US\"]\nphone_standalone = true"),
    );
    let (upstream, _) = sent(&regions, KEY, false);
    assert!(!upstream.contains("6502530000"), "{upstream}");
}
