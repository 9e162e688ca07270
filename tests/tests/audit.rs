//! The audit log as an auditor sees it: what is recorded for each request, that nothing is lost
//! across kill -9, that tampering is detected, and that the gateway fails closed — counted 503s,
//! never silent losses — when the log cannot keep up or cannot be written.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use warden_tests::http::{post_json_with, request, Conn};
use warden_tests::{
    audit_cli, audit_export, chat_body, config, Driver, Gateway, Mock, KEY, PROVIDER_KEY,
};

fn response_record<'a>(records: &'a [Value], id: &str) -> Option<&'a Value> {
    records
        .iter()
        .find(|r| r["kind"] == "response" && r["request_id"] == id)
}

fn all_segment_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        all.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    all
}

#[test]
fn every_request_is_recorded_with_ids_never_keys() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 2, ""));
    let plain = gw.chat(&chat_body("fast", "hello audit", false));
    let streamed = gw.chat(&chat_body("claude-4-sonnet", "streamed audit", true));
    let denied = warden_tests::http::post_json(
        gw.addr,
        "/v1/chat/completions",
        "wdn_not_a_key",
        &chat_body("gpt-4o", "x", false),
    );
    assert_eq!(
        (plain.status, streamed.status, denied.status),
        (200, 200, 401)
    );
    let id = |r: &warden_tests::http::Response| r.header("x-request-id").unwrap().to_owned();
    // A client's own request id is kept when it is a plain token; one that holds a key or a card
    // number (token characters all) would carry it into the audit log, the access log and
    // traces: Warden names the request itself.
    let given = |rid: &str| {
        let body = chat_body("fast", "hello id", false);
        let headers = [("x-request-id", rid)];
        post_json_with(gw.addr, "/v1/chat/completions", KEY, &body, &headers)
    };
    assert_eq!(id(&given("trace-7f3a.1:2")), "trace-7f3a.1:2");
    for held in [KEY, "4111111111111111"] {
        let res = given(held);
        assert_eq!(res.status, 200);
        assert!(id(&res).starts_with("req_"), "{held}: {}", id(&res));
    }
    let dir = gw.audit_dir();
    let records = audit_export(&dir);

    let r = response_record(&records, &id(&plain)).expect("the plain request's response record");
    assert_eq!(r["status"], 200);
    assert_eq!(
        (r["tenant"].as_str(), r["project"].as_str()),
        (Some("acme"), Some("acme-prod"))
    );
    assert!(r["api_key_id"].as_str().unwrap().starts_with("key_"));
    assert_eq!(
        (r["model_alias"].as_str(), r["provider"].as_str()),
        (Some("fast"), Some("openai"))
    );
    assert_eq!(r["upstream_model"], "gpt-4o-mini-2024-07-18");
    assert!(r["provider_key_fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(r["attempts"][0]["outcome"], "ok");
    assert_eq!(r["usage"]["output_tokens"], 3);
    assert!(r["received_us"].as_u64().unwrap() <= r["at_us"].as_u64().unwrap());
    assert!(r["overhead_us"].as_u64().is_some() && r["upstream_us"].as_u64().is_some());
    assert!(
        records
            .iter()
            .any(|x| x["kind"] == "request" && x["request_id"] == id(&plain).as_str()),
        "request record too"
    );

    let s = response_record(&records, &id(&streamed)).expect("the streamed request's record");
    assert_eq!(
        (s["stream"].as_bool(), s["dialect"].as_str()),
        (Some(true), Some("openai"))
    );
    assert_eq!(s["provider"], "anthropic");
    assert!(
        s["usage"]["input_tokens"].as_u64().unwrap() > 0,
        "usage from the translated stream"
    );

    let d = response_record(&records, &id(&denied)).expect("refused requests are recorded too");
    assert_eq!(
        (d["status"].as_u64(), d["error"].as_str()),
        (Some(401), Some("invalid_api_key"))
    );

    let bytes = String::from_utf8_lossy(&all_segment_bytes(&dir)).into_owned();
    for secret in [
        KEY,
        PROVIDER_KEY,
        "wdn_not_a_key",
        "sk-ant-key-7777",
        "gsk-groq-key-9999",
        "4111111111111111",
    ] {
        assert!(!bytes.contains(secret), "{secret} found in the audit log");
    }
    let (code, out, _) = audit_cli(&["verify", &dir.display().to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("intact:"));
}

#[test]
fn export_filters_by_project_and_time() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    assert_eq!(gw.chat(&chat_body("gpt-4o", "one", false)).status, 200);
    assert_eq!(
        warden_tests::http::get_with_key(gw.addr, "/v1/models", Some("wdn_no_provider_keys"))
            .status,
        200
    );
    let dir = gw.audit_dir().display().to_string();
    let (code, out, _) = audit_cli(&["export", &dir, "--project", "acme-empty"]);
    assert_eq!(code, 0);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["route"], "models");
    let (_, out, _) = audit_cli(&["export", &dir, "--to", "2000-01-01T00:00:00Z"]);
    assert!(out.is_empty(), "nothing before 2000");
    let (_, out, _) = audit_cli(&["tail", &dir, "-n", "1"]);
    assert_eq!(out.lines().count(), 1);
}

#[test]
fn kill_9_under_mixed_load_loses_no_completed_request() {
    for driver in warden_tests::DRIVERS {
        kill_9_under_mixed_load(driver);
    }
}

fn kill_9_under_mixed_load(driver: Driver) {
    let mock = Mock::start(&[]);
    let text = config(mock.addr, 2, "");
    let gw = Gateway::start(driver, &text);
    let addr = gw.addr;
    let completed: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Instant::now() + Duration::from_millis(1200);
    let clients: Vec<_> = (0..6)
        .map(|i| {
            let completed = Arc::clone(&completed);
            thread::spawn(move || {
                let stream = i % 2 == 1;
                let body = chat_body("gpt-4o", "a b c mock:chunks=3", stream).to_string();
                let mut c = Conn::open(addr);
                while Instant::now() < stop + Duration::from_secs(2) {
                    c.send(&request(
                        "POST",
                        "/v1/chat/completions",
                        Some(KEY),
                        body.as_bytes(),
                    ));
                    let Some(res) = c.read_response() else { return };
                    let done = res.status == 200
                        && (!stream || res.events().last().is_some_and(|e| e == "[DONE]"));
                    if done {
                        completed
                            .lock()
                            .unwrap()
                            .push(res.header("x-request-id").unwrap().to_owned());
                    }
                }
            })
        })
        .collect();
    while Instant::now() < stop {
        thread::sleep(Duration::from_millis(20));
    }
    let dir = gw.kill();
    for c in clients {
        c.join().unwrap();
    }
    let audit = dir.0.join("state").join("audit");
    let (code, out, _) = audit_cli(&["verify", &audit.display().to_string()]);
    assert_eq!(code, 0, "verify after kill -9: {out}");
    assert!(
        std::fs::read_dir(dir.0.join("state").join("audit-rings"))
            .unwrap()
            .any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("ring-")),
        "the shards' rings are files in audit_ring_dir"
    );
    let completed = completed.lock().unwrap();
    assert!(
        completed.len() > 50,
        "the load ran: {} completed",
        completed.len()
    );

    // A restart copies what the rings held into the log (records the shards put there just
    // before the kill) and keeps the chain intact.
    let gw = Gateway::start_in(dir, driver, &text, &[]);
    assert_eq!(
        gw.chat(&chat_body("gpt-4o", "after restart", false)).status,
        200
    );
    let (code, out, _) = audit_cli(&["verify", &gw.audit_dir().display().to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("torn tail"), "{out}");
    let records = audit_export(&gw.audit_dir());
    let mut seen = HashSet::new();
    for r in records.iter().filter(|r| r["kind"] == "response") {
        let key = (r["shard"].as_u64(), r["seq"].as_u64());
        assert!(key.0.is_some() && key.1.is_some(), "{r}");
        assert!(seen.insert(key), "recorded twice: {r}");
    }
    let recorded: HashSet<&str> = records
        .iter()
        .filter(|r| r["kind"] == "response")
        .filter_map(|r| r["request_id"].as_str())
        .collect();
    let missing: Vec<&String> = completed
        .iter()
        .filter(|id| !recorded.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{driver:?}: {} completed requests missing from the log: {missing:?}",
        missing.len()
    );
}

#[test]
fn tampering_is_detected_by_verify_and_stops_export() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    for i in 0..5 {
        assert_eq!(
            gw.chat(&chat_body("gpt-4o", &format!("n{i}"), false))
                .status,
            200
        );
    }
    gw.audit_dir();
    let dir = gw.kill();
    let audit = dir.0.join("state").join("audit");
    let segment = audit.join("segment-00000000000000000000.wal");
    let mut bytes = std::fs::read(&segment).unwrap();
    // Change the last record's status from 200 to 201: the status field is the tag byte 21
    // and the varint 200 (0xc8 0x01).
    let status = bytes
        .windows(3)
        .rposition(|w| w == [21, 0xc8, 0x01])
        .expect("a status field");
    bytes[status + 1] = 0xc9;
    std::fs::write(&segment, &bytes).unwrap();
    let dir_arg = audit.display().to_string();
    let (code, out, _) = audit_cli(&["verify", &dir_arg]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("broken") && out.contains("CRC32C"), "{out}");
    let (code, _, err) = audit_cli(&["export", &dir_arg]);
    assert_ne!(code, 0, "export stops at the break");
    assert!(err.contains("broken"), "{err}");
}

#[test]
fn a_full_ring_answers_counted_503s_and_loses_nothing() {
    let mock = Mock::start(&[]);
    let extra = "[audit]\nring_capacity = 1\nfull_wait_us = 0\n";
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, extra));
    let addr = gw.addr;
    let results: Arc<Mutex<Vec<(u16, String, String)>>> = Arc::default();
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let results = Arc::clone(&results);
            thread::spawn(move || {
                let mut c = Conn::open(addr);
                let body = chat_body("gpt-4o", "x", false).to_string();
                let batch: Vec<u8> = (0..20)
                    .flat_map(|_| {
                        request("POST", "/v1/chat/completions", Some(KEY), body.as_bytes())
                    })
                    .collect();
                c.send(&batch);
                for _ in 0..20 {
                    let Some(res) = c.read_response() else { break };
                    let code = if res.status == 200 {
                        String::new()
                    } else {
                        res.json()["error"]["code"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned()
                    };
                    results.lock().unwrap().push((
                        res.status,
                        res.header("x-request-id").unwrap().to_owned(),
                        code,
                    ));
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let results = results.lock().unwrap();
    let refused = results.iter().filter(|(s, _, _)| *s == 503).count();
    assert!(
        results
            .iter()
            .all(|(s, _, code)| *s == 200 || (*s == 503 && code == "audit_backpressure")),
        "{results:?}"
    );
    assert!(
        refused > 0,
        "a one-slot ring under 320 pipelined requests must refuse some"
    );
    assert_eq!(
        gw.metric("warden_audit_rejected_total"),
        Some(refused as u64),
        "every refusal is counted"
    );
    let records = audit_export(&gw.audit_dir());
    let recorded: HashSet<&str> = records
        .iter()
        .filter(|r| r["kind"] == "response")
        .filter_map(|r| r["request_id"].as_str())
        .collect();
    for (status, id, _) in results.iter() {
        if *status == 200 {
            assert!(
                recorded.contains(id.as_str()),
                "answered request {id} has no record"
            );
        }
    }
    println!(
        "{} answered, {refused} refused with 503",
        results.len() - refused
    );
}

#[test]
fn a_log_that_cannot_be_written_fails_closed_and_recovers() {
    let mock = Mock::start(&[]);
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, ""));
    assert_eq!(gw.chat(&chat_body("gpt-4o", "before", false)).status, 200);
    let segment = gw.audit_dir().join("segment-00000000000000000000.wal");
    let size = std::fs::metadata(&segment).unwrap().len();
    let pid = gw.proc.child.id().to_string();
    // Writes past the current size now fail (EFBIG), as on a full disk.
    let limit = |soft: &str| {
        let s = Command::new("prlimit")
            .args(["--pid", &pid, &format!("--fsize={soft}:unlimited")])
            .status()
            .unwrap();
        assert!(s.success(), "prlimit");
    };
    limit(&size.to_string());
    // The first requests may still be answered: their records wait in the ring (kill -9 safe)
    // until the disk takes them. Once the drain finds the disk failing, requests are refused.
    let mut answered_during = Vec::new();
    let mut refused = None;
    for i in 0..200 {
        let res = gw.chat(&chat_body("gpt-4o", &format!("during {i}"), false));
        match res.status {
            200 => answered_during.push(res.header("x-request-id").unwrap().to_owned()),
            _ => {
                refused = Some(res);
                break;
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
    let res = refused.expect("requests are refused while the log cannot be written");
    assert_eq!(res.status, 503, "{}", res.text());
    assert_eq!(res.json()["error"]["code"], "audit_unavailable");
    let res = gw.chat(&chat_body("claude-4-sonnet", "during", true));
    assert_eq!(res.status, 503, "refused up front while the log is down");
    assert_eq!(gw.metric("warden_audit_healthy"), Some(0));
    let ready = warden_tests::http::get(gw.admin, "/readyz");
    assert_eq!(
        ready.status, 503,
        "not ready while every request is refused"
    );
    assert!(ready.text().contains("audit log"), "{}", ready.text());
    assert!(gw.metric("warden_audit_pending_bytes").unwrap() > 0 || answered_during.is_empty());
    limit("unlimited");
    let recovered = warden_tests::eventually(Duration::from_secs(5), || {
        gw.chat(&chat_body("gpt-4o", "after", false)).status == 200
    });
    assert!(
        recovered.is_some(),
        "writing works again, so requests are served again"
    );
    let records = audit_export(&gw.audit_dir());
    let outage = records
        .iter()
        .find(|r| r["kind"] == "outage")
        .expect("the outage is on record");
    // Each answered request left two records; the refused one may have left its request record.
    let held = outage["count"].as_u64().unwrap();
    let answered = answered_during.len() as u64;
    assert!(
        (2 * answered..=2 * answered + 1).contains(&held),
        "the records that waited in the ring: {outage}, {answered} answered"
    );
    for id in &answered_during {
        assert!(
            response_record(&records, id).is_some(),
            "{id}, answered while the disk was failing, is in the log once it works again"
        );
    }
    assert_eq!(
        audit_cli(&["verify", &gw.audit_dir().display().to_string()]).0,
        0
    );
}

#[test]
fn an_audit_directory_that_cannot_be_written_keeps_the_gateway_from_starting() {
    // Nothing can be created under /proc, even by root: the gateway must not serve unaudited.
    let mock = Mock::start(&[]);
    let dir = warden_tests::TempDir::new("unwritable-audit");
    let text = config(mock.addr, 1, "").replace(
        "io_uring_entries = 256\n",
        "io_uring_entries = 256\naudit_dir = \"/proc/warden-audit-test\"\n",
    );
    let path = dir.0.join("dataplane.toml");
    std::fs::write(
        &path,
        text.replace("STATE_DIR", &dir.0.join("state").display().to_string()),
    )
    .unwrap();
    let out = Command::new(warden_tests::bin("warden-dataplane"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("opening the audit log"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "it never announced that it was serving"
    );
}

#[test]
fn a_filling_disk_warns_on_readyz_and_retention_makes_room() {
    // Every filesystem is short of a free-space floor of 1 PiB: the warning (at 100 %) shows and
    // retention deletes the oldest closed segments, on record, while the chain stays verifiable.
    let mock = Mock::start(&[]);
    let extra = "[audit]\nsegment_max_bytes = 2048\nmin_free_bytes = 1125899906842624\nwarn_free_percent = 100\n";
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, extra));
    for i in 0..30 {
        assert_eq!(
            gw.chat(&chat_body("gpt-4o", &format!("n{i}"), false))
                .status,
            200
        );
    }
    let retained = warden_tests::eventually(Duration::from_secs(10), || {
        audit_export(&gw.audit_dir())
            .iter()
            .any(|r| r["kind"] == "retention")
    });
    assert!(retained.is_some(), "retention made room");
    let dir = gw.audit_dir();
    assert!(
        !dir.join("segment-00000000000000000000.wal").exists(),
        "the oldest segment is gone"
    );
    let (code, out, _) = audit_cli(&["verify", &dir.display().to_string()]);
    assert_eq!(code, 0, "{out}");
    let ready = warden_tests::http::get(gw.admin, "/readyz");
    assert_eq!(ready.status, 200, "a warning, still ready");
    assert!(ready.text().contains("warning"), "{}", ready.text());
    assert_eq!(gw.metric("warden_audit_disk_low"), Some(1));
    assert!(gw.metric("warden_audit_disk_free_bytes").unwrap() > 0);
    let log = gw.metric("warden_audit_log_bytes").unwrap();
    let on_disk: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(log > 0 && log <= on_disk + 4096, "{log} vs {on_disk}");
}

#[test]
fn closed_segments_are_compressed_and_still_export_and_verify() {
    let mock = Mock::start(&[]);
    let extra = "[audit]\nsegment_max_bytes = 8192\n";
    let gw = Gateway::start(Driver::IoUring, &config(mock.addr, 1, extra));
    let mut ids = Vec::new();
    for i in 0..60 {
        let res = gw.chat(&chat_body("gpt-4o", &format!("n{i}"), false));
        assert_eq!(res.status, 200);
        ids.push(res.header("x-request-id").unwrap().to_owned());
    }
    let compressed = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".wal.zst")
            })
            .count()
    };
    // The compactor runs under SCHED_IDLE: on a 2-core CI machine busy with this file's other
    // tests it gets a core only in lulls, so this waits past the whole file's length (about
    // 100 s on a slow 2-vCPU guest, when the compactor got no lull before the file ended).
    let done = warden_tests::eventually(Duration::from_secs(300), || {
        compressed(&gw.audit_dir()) >= 2
    });
    assert!(done.is_some(), "closed segments get compressed");
    let dir = gw.audit_dir();
    let (code, out, _) = audit_cli(&["verify", &dir.display().to_string()]);
    assert_eq!(code, 0, "{out}");
    // Segments, compressed or not, and the last good snapshot are the owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let state = dir.parent().unwrap().to_path_buf();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    let mode = std::fs::metadata(state.join("snapshot.rkyv"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let records = audit_export(&dir);
    for id in &ids {
        assert!(response_record(&records, id).is_some(), "{id}");
    }
    // A restart continues the chain after compressed segments.
    let text = config(mock.addr, 1, extra);
    let dir = gw.kill();
    let gw = Gateway::start_in(dir, Driver::IoUring, &text, &[]);
    assert_eq!(gw.chat(&chat_body("gpt-4o", "again", false)).status, 200);
    let (code, out, _) = audit_cli(&["verify", &gw.audit_dir().display().to_string()]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn rings_live_in_memory_by_default_survive_kill_9_and_are_removed_on_a_clean_stop() {
    let shm = std::path::Path::new("/dev/shm");
    let listing = || -> HashSet<std::path::PathBuf> {
        std::fs::read_dir(shm)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };
    assert!(
        shm.is_dir(),
        "/dev/shm is missing: the default ring location cannot be tested here"
    );
    let mock = Mock::start(&[]);
    let text = config(mock.addr, 1, "").replace("audit_ring_dir = \"STATE_DIR/audit-rings\"\n", "");
    let before = listing();
    let gw = Gateway::start(Driver::IoUring, &text);
    let rings: Vec<_> = listing().difference(&before).cloned().collect();
    assert_eq!(rings.len(), 1, "one ring directory in /dev/shm: {rings:?}");
    let ring_dir = rings[0].clone();
    assert!(ring_dir.join("ring-0000.map").exists());
    let first = gw.chat(&chat_body("gpt-4o", "before the kill", false));
    assert_eq!(first.status, 200);
    let dir = gw.kill();
    assert!(
        ring_dir.exists(),
        "kill -9 leaves the rings for the next start"
    );
    let mut gw = Gateway::start_in(dir, Driver::IoUring, &text, &[]);
    let id = first.header("x-request-id").unwrap().to_owned();
    assert!(response_record(&audit_export(&gw.audit_dir()), &id).is_some());
    let status = gw.proc.terminate(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(!ring_dir.exists(), "a clean stop removes the drained rings");
}
