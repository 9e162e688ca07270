//! Usage and request rows in the store: a batch applies once, the request log's filters select,
//! and each Warden key's last use follows its newest request.

use super::usage_row;
use crate::store::requests::RequestFilter;
use crate::store::usage::{Applied, Cursor, RequestRow};
use crate::store::Store;

pub(super) async fn usage_and_requests(store: &Store) -> anyhow::Result<()> {
    // Usage and request rows: a batch applies once, filters select.
    store
        .insert_api_key("a3", "p1", "used", &"33".repeat(32), "wdn_…ef")
        .await?;
    assert_eq!(last_used_of(store, "a3").await?, None, "never used");
    let row = |project: &str, n: i64| usage_row("t1", project, n, 2 * n);
    let request = |id: &str, at_us: i64| RequestRow {
        request_id: id.into(),
        at_us,
        tenant: "t1".into(),
        project: "p1".into(),
        status: 200,
        provider: "openai".into(),
        model: "gpt-4o".into(),
        key_source: "byok".into(),
        cache: "exact".into(),
        api_key: "a3".into(),
        latency_us: 1_250,
        first_byte_us: 0,
        error: String::new(),
        verdicts: vec![warden_shared::audit::Verdict {
            category: "pii".into(),
            detector: "email".into(),
            action: "redact".into(),
            count: 2,
        }],
        attempts: vec![warden_shared::audit::Attempt {
            provider: "openai".into(),
            key_id: "pk_1".into(),
            key_source: "byok".into(),
            outcome: "ok".into(),
            status: Some(200),
        }],
        input_tokens: 3,
        output_tokens: 4,
        cached_tokens: 0,
    };
    let now_us = crate::secrets::now_s() * 1_000_000;
    let c = |offset: i64| Cursor { segment: 1, offset };
    let batch = [row("p1", 10), row("p2", 5)];
    let requests = [request("r1", now_us - 2), request("r2", now_us - 1)];
    assert_eq!(
        store
            .apply_usage("dp1", c(0), c(100), &batch, &requests)
            .await?,
        Applied::Now
    );
    assert_eq!(
        store
            .apply_usage("dp1", c(0), c(100), &batch, &requests)
            .await?,
        Applied::Known,
        "a batch behind the cursor is not applied twice"
    );
    // From the data plane's older cursor past the one held (it never heard the last answer):
    // not taken as a retry, which would lose 100..120, but refused with where to resume.
    assert_eq!(
        store
            .apply_usage("dp1", c(0), c(120), &batch, &requests)
            .await?,
        Applied::ResumeFrom(c(100))
    );
    // Key a3's last use: its newest request, never later than the control plane's clock; a row
    // naming a key that does not exist records nothing.
    let at = last_used_of(store, "a3").await?.expect("a3 was used");
    assert!(
        (now_us / 1_000_000 - 1..=now_us / 1_000_000).contains(&at),
        "{at}"
    );
    let mut future = request("r9", i64::MAX - 1);
    let mut ghost = request("r10", now_us);
    ghost.api_key = "ghost".into();
    for r in [&mut future, &mut ghost] {
        (r.tenant, r.project) = ("t9".into(), "p9".into());
    }
    assert_eq!(
        store
            .apply_usage("dp1", c(100), c(150), &[], &[future, ghost])
            .await?,
        Applied::Now
    );
    let at = last_used_of(store, "a3").await?.expect("a3 was used");
    assert!(at <= crate::secrets::now_s(), "{at}");
    assert_eq!(
        store
            .apply_usage("dp1", c(150), c(200), &batch[..1], &[])
            .await?,
        Applied::Now
    );
    let usage = store.usage("2026-12-01", "2026-12-31", None, None).await?;
    assert_eq!(usage.len(), 2);
    let p1 = usage.iter().find(|r| r.project == "p1").expect("p1 usage");
    assert_eq!(
        (p1.requests, p1.input_tokens, p1.output_tokens),
        (2, 20, 40)
    );
    assert_eq!(
        store
            .usage("2026-12-01", "2026-12-31", Some("t1"), Some("p2"))
            .await?
            .len(),
        1
    );
    assert!(store
        .usage("2026-12-04", "2026-12-31", None, None)
        .await?
        .is_empty());
    let page = |tenant, project, before_us| RequestFilter {
        tenant,
        project,
        before_us,
        limit: 10,
        ..Default::default()
    };
    let listed = store.requests(&page(Some("t1"), None, i64::MAX)).await?;
    assert_eq!(
        listed
            .iter()
            .map(|r| r.request_id.as_str())
            .collect::<Vec<_>>(),
        ["r2", "r1"],
        "newest first"
    );
    assert_eq!(listed[0], request("r2", now_us - 1));
    assert_eq!(
        store
            .requests(&page(None, Some("p1"), now_us - 1))
            .await?
            .len(),
        1
    );
    // A batch of more rows than one statement carries, with a partial last statement and a row
    // sent twice in it: every row once, as sent.
    let many: Vec<RequestRow> = (0..121i64)
        .map(|i| {
            let mut r = request(&format!("m{}", i % 120), now_us - 1_000 + i % 120);
            r.project = "p5".into();
            r.input_tokens = i % 120;
            r
        })
        .collect();
    assert_eq!(
        store.apply_usage("dp1", c(200), c(300), &[], &many).await?,
        Applied::Now
    );
    let listed = store
        .requests(&RequestFilter {
            project: Some("p5"),
            limit: 500,
            ..Default::default()
        })
        .await?;
    assert_eq!(listed.len(), 120);
    assert_eq!(listed[0], many[119], "newest first");
    assert_eq!(listed[119], many[0]);
    Ok(())
}

/// When key `id` of project p1 was last used.
async fn last_used_of(store: &Store, id: &str) -> sqlx::Result<Option<i64>> {
    Ok(store
        .project_api_keys("p1")
        .await?
        .into_iter()
        .find(|k| k.0 == id)
        .and_then(|k| k.4))
}
