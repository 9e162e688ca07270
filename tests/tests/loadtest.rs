//! The benchmark harness end to end: the mock fleet's timing from the command line, and
//! `warden-loadtest run` in open loop through the gateway — every due request measured, time to
//! first content and inter-event gaps that reflect the provider's pace, JSON and Markdown out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use warden_tests::{bin, config, Driver, Gateway, Mock, TempDir, KEY};

fn run(args: &[&str]) -> serde_json::Value {
    loadtest("run", args)
}

/// `warden-loadtest COMMAND ARGS…`, which must succeed and print one JSON report.
fn loadtest(command: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(bin("warden-loadtest"))
        .arg(command)
        .args(args)
        .output()
        .expect("loadtest runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

#[test]
fn open_loop_through_the_gateway_sees_the_providers_pace() {
    // 60 ms to the first token, then 100 events a second, 5 events an answer.
    let mock = Mock::start(&["--ttft-ms", "60", "--events-per-s", "100", "--events", "5"]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let dir = TempDir::new("loadtest");
    let (json, md) = (dir.0.join("run.json"), dir.0.join("run.md"));
    let url = format!("http://{}/v1/chat/completions", gw.addr);
    let report = run(&[
        "--url",
        &url,
        "--key",
        KEY,
        "--model",
        "gpt-4o",
        "--stream",
        "--rate",
        "20",
        "--duration-s",
        "1.5",
        "--connections",
        "8",
        "--prompt-bytes",
        "256",
        "--json",
        json.to_str().unwrap(),
        "--md",
        md.to_str().unwrap(),
    ]);
    let r = &report["runs"][0];
    assert_eq!(r["requests"], 30, "every due request was sent: {r}");
    assert_eq!(
        (r["errors"].as_u64(), r["missed"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    let first = r["first_content"]["p50_us"].as_u64().unwrap();
    assert!(
        first >= 60_000,
        "first content after the time to first token: {r}"
    );
    let gap = r["gaps"]["p50_us"].as_u64().unwrap();
    assert!((8_000..60_000).contains(&gap), "events ~10 ms apart: {r}");
    let total = r["total"]["p50_us"].as_u64().unwrap();
    assert!(total >= 60_000 + 4 * 9_000, "{r}");
    assert_eq!(r["first_content"]["count"], 30);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(saved["runs"][0]["requests"], 30);
    let table = std::fs::read_to_string(&md).unwrap();
    assert!(
        table.contains("| offered req/s |") && table.contains("| 20 |"),
        "{table}"
    );
}

#[test]
fn the_responses_and_embeddings_apis_can_be_driven_too() {
    let mock = Mock::start(&["--ttft-ms", "20", "--events-per-s", "200", "--events", "4"]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let responses = format!("http://{}/v1/responses", gw.addr);
    let args = |url: &str, api: &'static str, model: &'static str| {
        let mut a = vec![
            "--url".to_owned(),
            url.to_owned(),
            "--api".into(),
            api.into(),
        ];
        for (k, v) in [
            ("--key", KEY),
            ("--model", model),
            ("--rate", "20"),
            ("--duration-s", "1"),
        ] {
            a.extend([k.to_owned(), v.to_owned()]);
        }
        a
    };
    let mut streamed = args(&responses, "responses", "gpt-4o");
    streamed.push("--stream".into());
    let report = run(&streamed.iter().map(String::as_str).collect::<Vec<_>>());
    let r = &report["runs"][0];
    assert_eq!(
        (r["requests"].as_u64(), r["errors"].as_u64()),
        (Some(20), Some(0)),
        "{r}"
    );
    assert_eq!(
        r["first_content"]["count"], 20,
        "Responses text deltas are content: {r}"
    );
    let embeddings = format!("http://{}/v1/embeddings", gw.addr);
    let a = args(&embeddings, "embeddings", "text-embedding-3-small");
    let report = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let r = &report["runs"][0];
    assert_eq!(
        (r["requests"].as_u64(), r["errors"].as_u64()),
        (Some(20), Some(0)),
        "{r}"
    );
    let out = Command::new(bin("warden-loadtest"))
        .args(["run", "--url", &embeddings, "--api", "images"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("one of chat, responses, embeddings"));
}

#[test]
fn the_fleets_error_rate_shows_as_errors_and_the_ramp_stops_there() {
    let mock = Mock::start(&["--error-rate", "1"]);
    let url = format!("http://{}/v1/chat/completions", mock.addr);
    let report = run(&[
        "--url",
        &url,
        "--key",
        "sk-x",
        "--rate",
        "10",
        "--duration-s",
        "1",
        "--connections",
        "2",
        "--ramp",
        "--p99-ms",
        "1000",
    ]);
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "the first step already failed: {report}");
    assert_eq!(runs[0]["errors"], runs[0]["requests"]);
    assert!(report["max_rps_meeting_p99"].is_null());
}

#[test]
fn compare_direct_and_warden_writes_the_report_and_plan_reads_it() {
    let dir = TempDir::new("compare");
    let out = dir.0.join("results");
    let res = Command::new(bin("warden-loadtest"))
        .args([
            "compare",
            "--duration-s",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--targets",
            "direct,warden",
            "--chat-rps",
            "20",
            "--stream-rps",
            "10",
            "--connections",
            "8",
        ])
        .output()
        .expect("compare runs");
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(!report["machine"]["kernel"].as_str().unwrap().is_empty());
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "two targets × two scenarios: {report}");
    for r in runs {
        for field in [
            "target",
            "scenario",
            "offered_rps",
            "achieved_rps",
            "p50_us",
            "p90_us",
            "p99_us",
            "p999_us",
            "added_p50_us",
            "added_p99_us",
            "errors",
            "cpu_s",
            "rss_mb",
        ] {
            assert!(!r[field].is_null(), "{field} in {r}");
        }
        assert_eq!(r["errors"], 0, "{r}");
    }
    let warden_chat = runs
        .iter()
        .find(|r| r["target"] == "warden" && r["scenario"] == "chat")
        .unwrap();
    assert!(
        warden_chat["cpu_s"].as_f64().unwrap() > 0.0,
        "the gateway's CPU is measured"
    );
    assert!(warden_chat["rss_mb"].as_f64().unwrap() > 1.0);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| warden |") && md.contains("vs direct"),
        "{md}"
    );
    for svg in ["latency.svg", "throughput.svg"] {
        let text = std::fs::read_to_string(out.join(svg)).unwrap();
        assert!(text.starts_with("<svg") && text.contains("warden"), "{svg}");
    }
    let plan = Command::new(bin("warden-loadtest"))
        .args([
            "plan",
            "--target-rps",
            "5000",
            "--p99-ms",
            "500",
            "--report",
            out.join("report.json").to_str().unwrap(),
            "--cores-per-host",
            "8",
        ])
        .output()
        .unwrap();
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert!(plan["plan"]["hosts"].as_u64().unwrap() >= 1, "{plan}");
    assert_eq!(plan["plan"]["shards_per_host"], 7);
}

#[test]
fn streams_mode_holds_every_stream_open_and_times_every_event() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    let (url, pid) = (
        format!("http://{}/v1/chat/completions", gw.addr),
        gw.proc.child.id().to_string(),
    );
    let r = loadtest(
        "streams",
        &[
            "--url",
            &url,
            "--key",
            KEY,
            "--model",
            "gpt-4o",
            "--streams",
            "40",
            "--events",
            "2",
            "--interval-ms",
            "200",
            "--pid",
            &pid,
        ],
    );
    assert_eq!(
        (&r["opened"], &r["completed"], &r["errors"]),
        (&40.into(), &40.into(), &0.into()),
        "{r}"
    );
    // Every chunk the mock stamped reached the client through the gateway: the role chunk,
    // two content chunks and the finish chunk (the usage chunk Warden asked for is dropped).
    assert_eq!(r["events"], 160, "{r}");
    assert_eq!(r["delay_us"]["count"], 160, "{r}");
    assert!(r["rss_open_kib"].as_u64().unwrap() > 0, "{r}");
    assert!(r["rss_per_stream_bytes"].is_u64(), "{r}");
}

/// `warden-loadtest fanout`: a control plane and real data planes; every round's change is
/// acknowledged by every data plane at the round's version (the timing is reported, not judged).
#[test]
fn fanout_sees_every_data_plane_acknowledge_each_change() {
    let r = loadtest("fanout", &["--planes", "3", "--rounds", "2", "--keys", "2"]);
    assert_eq!((&r["planes"], &r["keys"]), (&3.into(), &2.into()), "{r}");
    let rounds = r["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2, "{r}");
    let mut last = 0;
    for round in rounds {
        assert_eq!(round["acked"], 3, "{r}");
        let version = round["version"].as_u64().unwrap();
        assert!(version > last, "each round is a new snapshot: {r}");
        last = version;
        assert!(round["ms"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert!(r["snapshot_bytes"].as_u64().unwrap() > 0, "{r}");
    // Each round's change went out as a delta of the full snapshot.
    assert!(r["delta_bytes"].as_u64().unwrap() > 0, "{r}");
}
