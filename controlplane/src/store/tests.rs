//! The store's tests, each run on both databases: SQLite in a temporary directory and a fresh
//! database on a real PostgreSQL server (`WARDEN_TEST_POSTGRES`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`; `bash scripts/deps.sh` starts one where none
//! runs). A test that cannot reach PostgreSQL fails: it is not skipped.

mod base;
mod cluster;
mod db;
mod rows;
mod usage;

use sqlx::any::AnyPoolOptions;

use super::anchors::Anchoring;
use super::usage::{Cursor, Price, UsageRow};
use super::{Backend, ProviderKeyRow, Store, MIGRATIONS};
use db::Db;

const BOTH: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// One request's usage on 2026-12-03 (OpenAI, the tenant's own key).
fn usage_row(tenant: &str, project: &str, input: i64, output: i64) -> UsageRow {
    UsageRow {
        day: "2026-12-03".into(),
        tenant: tenant.into(),
        project: project.into(),
        environment: "production".into(),
        provider: "openai".into(),
        model: "gpt-4o".into(),
        key_source: "byok".into(),
        cache: String::new(),
        requests: 1,
        input_tokens: input,
        output_tokens: output,
        cached_tokens: 0,
    }
}

/// A sealed-looking OpenAI key row (`project` `None`: pooled).
fn provider_key(id: &str, project: Option<&str>, priority: i64) -> ProviderKeyRow {
    ProviderKeyRow {
        id: id.into(),
        project_id: project.map(str::to_owned),
        provider: "openai".into(),
        label: format!("label {id}"),
        priority,
        fingerprint: "ab12".into(),
        master_key_id: 1,
        nonce: "00".repeat(12),
        ciphertext: "ff".repeat(40),
        created_at: 1_764_000_000,
    }
}

/// Every call the admin API and the snapshot builder make, on a fresh store: what is written
/// reads back the same.
#[tokio::test]
async fn every_call_reads_back_what_it_wrote() -> anyhow::Result<()> {
    for backend in BOTH {
        let db = Db::new(backend, "calls").await?;
        let store = Store::connect(&db.url).await?;
        assert_eq!(store.backend(), backend);
        store.ping().await?;
        calls(&store)
            .await
            .map_err(|e| anyhow::anyhow!("{backend:?}: {e:#}"))?;
        db.remove(store).await?;
    }
    Ok(())
}

async fn calls(store: &Store) -> anyhow::Result<()> {
    // Tenants and projects.
    store.insert_tenant("t1", "acme", "team").await?;
    assert!(
        store.insert_tenant("t2", "acme", "team").await.is_err(),
        "names are unique"
    );
    assert!(store.tenant_exists("t1").await? && !store.tenant_exists("t9").await?);
    assert_eq!(store.tenant_plan("t1").await?.as_deref(), Some("team"));
    assert_eq!(
        store.tenants().await?,
        vec![("t1".into(), "acme".into(), "team".into())]
    );
    store
        .insert_project("p1", "t1", "app", "production")
        .await?;
    assert!(
        store
            .insert_project("p2", "t9", "x", "staging")
            .await
            .is_err(),
        "a project's tenant must exist"
    );
    assert!(store.set_guardrails("p1", r#"{"pii":"redact"}"#).await?);
    assert!(
        store
            .set_routing("p1", r#"{"key_mode":"byok_only"}"#)
            .await?
    );
    assert!(
        store
            .set_limits("p1", r#"{"monthly_spend_usd":"5"}"#)
            .await?
    );
    assert!(store.set_cache("p1", r#"{"ttl_s":60}"#).await?);
    assert!(!store.set_limits("p9", "{}").await?);
    let p = store.project("p1").await?.expect("p1");
    assert_eq!(
        (
            p.tenant_id.as_str(),
            p.environment.as_str(),
            p.plan.as_str()
        ),
        ("t1", "production", "team")
    );
    assert_eq!(p.guardrails, r#"{"pii":"redact"}"#);
    assert_eq!(p.routing, r#"{"key_mode":"byok_only"}"#);
    assert_eq!(p.cache, r#"{"ttl_s":60}"#);
    assert!(store.any_spend_limit().await?);
    assert_eq!(store.projects().await?.len(), 1);

    // Provider keys: a project's, a pooled one, resealed, deleted.
    let key = provider_key;
    store.insert_provider_key(&key("k2", Some("p1"), 2)).await?;
    store.insert_provider_key(&key("k1", Some("p1"), 1)).await?;
    store.insert_provider_key(&key("pool", None, 0)).await?;
    let ids = |rows: Vec<ProviderKeyRow>| rows.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(ids(store.provider_keys(Some("p1")).await?), ["k1", "k2"]);
    assert_eq!(ids(store.provider_keys(None).await?), ["pool"]);
    assert_eq!(ids(store.all_provider_keys().await?), ["pool", "k1", "k2"]);
    let mut resealed = store.all_provider_keys().await?;
    for k in &mut resealed {
        k.master_key_id = 2;
        k.ciphertext = "ee".repeat(40);
    }
    store.reseal(&resealed).await?;
    assert!(store
        .all_provider_keys()
        .await?
        .iter()
        .all(|k| k.master_key_id == 2 && k.ciphertext == "ee".repeat(40)));
    assert!(
        !store.delete_provider_key("k1", true).await?,
        "not a pooled key"
    );
    assert!(store.delete_provider_key("k1", false).await?);
    assert!(store.delete_provider_key("pool", true).await?);
    assert_eq!(ids(store.all_provider_keys().await?), ["k2"]);

    // The model catalog: a second put replaces, delete removes.
    store
        .put_model("fast", "openai", "gpt-4o-mini", "[]", "chat")
        .await?;
    store
        .put_model("fast", "groq", "llama", r#"["gpt-4o"]"#, "chat")
        .await?;
    assert_eq!(
        store.models().await?,
        vec![(
            "fast".into(),
            "groq".into(),
            "llama".into(),
            r#"["gpt-4o"]"#.into(),
            "chat".into()
        )]
    );
    assert!(store.delete_model("fast").await? && !store.delete_model("fast").await?);

    // Prices upsert; meta values replace.
    let price = |input: &str| Price {
        provider: "openai".into(),
        model: "gpt-4o".into(),
        input_per_mtok: input.into(),
        output_per_mtok: "10.00".into(),
    };
    store.put_price(&price("2.50")).await?;
    store.put_price(&price("2.00")).await?;
    assert_eq!(store.prices().await?, vec![price("2.00")]);
    assert_eq!(store.meta("snapshot_version").await?, None);
    store.set_meta("snapshot_version", 7).await?;
    store.set_meta("snapshot_version", i64::MAX).await?;
    assert_eq!(store.meta("snapshot_version").await?, Some(i64::MAX));

    // Warden keys: digests only, converted in place.
    store
        .insert_api_key("a1", "p1", "app", &"11".repeat(32), "wdn_…ab")
        .await?;
    assert!(store
        .insert_api_key("a2", "p1", "dup", &"11".repeat(32), "wdn_…cd")
        .await
        .is_err());
    let listed = store.project_api_keys("p1").await?;
    assert_eq!(
        (listed.len(), listed[0].0.as_str(), listed[0].2.as_str()),
        (1, "a1", "wdn_…ab")
    );
    assert_eq!(store.key_api_key_digests(|d| *d).await?, 0, "already keyed");
    assert_eq!(
        store.api_keys().await?,
        vec![("a1".into(), "p1".into(), "11".repeat(32))]
    );
    assert!(store.delete_api_key("a1").await? && !store.delete_api_key("a1").await?);

    // Data planes: enrolment generations, refresh, acknowledgement, revocation.
    assert_eq!(store.enrol("dp1", "http://10.0.0.1:9000", 0).await?, 1);
    assert_eq!(store.enrol("dp1", "http://10.0.0.2:9000", 3).await?, 2);
    store
        .refresh_dataplane("dp1", "http://10.0.0.3:9000", 4)
        .await?;
    store.ack("dp1", u64::MAX >> 1).await?;
    let dp = store.dataplane("dp1").await?.expect("dp1");
    assert_eq!(
        (dp.push_url.as_str(), dp.acked_version, dp.credential_gen),
        ("http://10.0.0.3:9000", i64::MAX, 2)
    );
    assert!(dp.enrolled());
    assert!(store.revoke_dataplane("dp1").await?);
    assert!(!store.dataplanes().await?[0].enrolled());
    assert!(!store.revoke_dataplane("dp9").await?);

    usage::usage_and_requests(store).await?;

    // Audit anchors: agreeing batches raise nothing; a rewritten point raises one alert.
    let now_us = crate::secrets::now_s() * 1_000_000;
    let c = |offset: i64| Cursor { segment: 1, offset };
    let anchoring = |from: i64, to: i64, from_hash: &str, to_hash: &str| Anchoring {
        from: c(from),
        to: c(to),
        from_hash: Some(from_hash.into()),
        to_hash: to_hash.into(),
        at_end: true,
    };
    let h = |b: &str| b.repeat(64);
    assert_eq!(
        store
            .anchor("dp1", &anchoring(0, 100, &h("0"), &h("a")), now_us)
            .await?,
        None
    );
    assert_eq!(
        store
            .anchor("dp1", &anchoring(100, 200, &h("a"), &h("b")), now_us)
            .await?,
        None
    );
    let alert = store
        .anchor("dp1", &anchoring(100, 300, &h("c"), &h("d")), now_us)
        .await?;
    assert!(alert.is_some(), "a point anchored with another hash");
    assert_eq!(store.anchors("dp1").await?.first().map(|a| a.1), Some(0));
    let latest = store.latest_alerts().await?;
    assert_eq!((latest.len(), latest[0].0.as_str()), (1, "dp1"));
    assert_eq!(
        store.alert_counts().await?.iter().map(|c| c.1).sum::<i64>(),
        1
    );
    Ok(())
}

/// Usage batches from several data planes at once, beside admin writes: every one is applied.
/// (On SQLite, deferred transactions that read and then write fail here with "database is
/// locked" when another connection committed in between; on PostgreSQL, two batches of one
/// data plane could both pass the cursor check. Write transactions take the store's write lock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_batches_and_admin_writes_all_apply() -> anyhow::Result<()> {
    for backend in BOTH {
        let db = Db::new(backend, "concurrent").await?;
        let store = Store::connect(&db.url).await?;
        let row = |i: i64| usage_row("t", "p", i, 1);
        let mut tasks = tokio::task::JoinSet::new();
        for plane in 0..6 {
            // Each batch is sent twice at once, as a data plane retrying after a lost reply.
            for _copy in 0..2 {
                let store = store.clone();
                tasks.spawn(async move {
                    for n in 0..40i64 {
                        let from = Cursor {
                            segment: 1,
                            offset: n,
                        };
                        let to = Cursor {
                            segment: 1,
                            offset: n + 1,
                        };
                        store
                            .apply_usage(&format!("dp{plane}"), from, to, &[row(n)], &[])
                            .await?;
                    }
                    anyhow::Ok(())
                });
            }
        }
        for n in 0..40 {
            let store = store.clone();
            tasks.spawn(async move {
                store
                    .insert_tenant(&format!("t{n}"), &format!("acme{n}"), "team")
                    .await?;
                anyhow::Ok(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        let usage = store.usage("2026-12-03", "2026-12-03", None, None).await?;
        let total: i64 = usage.iter().map(|r| r.requests).sum();
        assert_eq!(total, 6 * 40, "{backend:?}: every batch once");
        assert_eq!(store.tenants().await?.len(), 40, "{backend:?}");
        db.remove(store).await?;
    }
    Ok(())
}

/// Two control planes publishing at once on one database never build two snapshots with one
/// version (a data plane would keep the first and refuse the other as already seen).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshot_versions_are_never_handed_out_twice() -> anyhow::Result<()> {
    for backend in BOTH {
        let db = Db::new(backend, "versions").await?;
        let (a, b) = (
            Store::connect(&db.url).await?,
            Store::connect(&db.url).await?,
        );
        a.set_meta("snapshot_version", 41).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for store in [a.clone(), b.clone()] {
            for _ in 0..4 {
                let store = store.clone();
                tasks.spawn(async move {
                    let mut got = Vec::new();
                    for _ in 0..10 {
                        got.push(store.next_snapshot_version().await?);
                    }
                    anyhow::Ok(got)
                });
            }
        }
        let mut all = Vec::new();
        while let Some(done) = tasks.join_next().await {
            all.extend(done??);
        }
        all.sort_unstable();
        assert_eq!(all, (42..122).collect::<Vec<u64>>(), "{backend:?}");
        assert_eq!(b.meta("snapshot_version").await?, Some(121), "{backend:?}");
        b.pool.close().await;
        db.remove(a).await?;
    }
    Ok(())
}

/// Two control planes starting at once on one database: the schema is built once, and both
/// serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_planes_starting_together_migrate_once() -> anyhow::Result<()> {
    for backend in [BOTH, BOTH, BOTH].concat() {
        let db = Db::new(backend, "together").await?;
        let (a, b) = tokio::join!(Store::connect(&db.url), Store::connect(&db.url));
        let (a, b) = (a?, b?);
        let versions: Vec<(i64,)> = sqlx::query_as("SELECT version FROM schema_migrations")
            .fetch_all(&a.pool)
            .await?;
        assert_eq!(versions.len(), MIGRATIONS.len(), "{backend:?}");
        a.insert_tenant("t1", "acme", "team").await?;
        assert!(b.tenant_exists("t1").await?, "{backend:?}");
        b.pool.close().await;
        db.remove(a).await?;
    }
    Ok(())
}

/// A catalog written before model kinds gains the built-in embedding aliases and their
/// prices, keeps what the operator configured, and reads every old alias as a chat model;
/// an empty one (a fresh install) is left for the first start to seed.
#[tokio::test]
async fn model_kinds_migrate_an_existing_catalog() -> anyhow::Result<()> {
    for backend in BOTH {
        let db = Db::new(backend, "kinds").await?;
        let pool = AnyPoolOptions::new().connect(&db.url).await?;
        sqlx::raw_sql("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY)")
            .execute(&pool)
            .await?;
        for (version, sql) in &MIGRATIONS[..10] {
            sqlx::raw_sql(sql).execute(&pool).await?;
            sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                .bind(version)
                .execute(&pool)
                .await?;
        }
        sqlx::raw_sql(
            "INSERT INTO models (alias, provider, upstream_model) VALUES ('gpt-4o', 'openai', 'gpt-4o'), \
             ('text-embedding-3-large', 'openai', 'my-own-large'); \
             INSERT INTO prices VALUES ('openai', 'gpt-4o', '2.50', '10.00')",
        )
        .execute(&pool)
        .await?;
        pool.close().await;
        let store = Store::connect(&db.url).await?;
        let models = store.models().await?;
        let row = |alias: &str| models.iter().find(|m| m.0 == alias).cloned();
        assert_eq!(row("gpt-4o").map(|m| m.4), Some("chat".into()));
        // The operator's own row stays as it was (its kind included: it was a chat alias).
        assert_eq!(
            row("text-embedding-3-large").map(|m| (m.2, m.4)),
            Some(("my-own-large".into(), "chat".into()))
        );
        assert_eq!(
            row("gemini-embedding-001").map(|m| (m.1, m.4)),
            Some(("google".into(), "embedding".into()))
        );
        let prices = store.prices().await?;
        assert!(prices
            .iter()
            .any(|p| p.model == "text-embedding-3-small" && p.input_per_mtok == "0.02"));
        db.remove(store).await?;
        let fresh = Db::new(backend, "fresh").await?;
        let store = Store::connect(&fresh.url).await?;
        assert!(store.models().await?.is_empty(), "{backend:?}");
        fresh.remove(store).await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_database_url_of_another_kind_is_refused() {
    let err = Store::connect("mysql://localhost/warden").await.err();
    assert!(
        err.is_some_and(|e| e.to_string().contains("postgres://")),
        "refused with a message naming what works"
    );
}
