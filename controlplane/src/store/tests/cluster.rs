//! What control planes sharing a database agree through it (`store/cluster.rs`): one leads at a
//! time, the lead passes on when the leader's session ends, publish requests and the published
//! version, and the cluster's secrets.

use std::time::Duration;

use super::db::Db;
use super::BOTH;
use crate::store::cluster::Candidacy;
use crate::store::{Backend, Store};

/// Ask until `store` leads or `limit` passes.
async fn leads_within(store: &Store, bid: &mut Candidacy, limit: Duration) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if store.campaign(bid).await.unwrap_or(false) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_control_plane_leads_at_a_time_and_the_lead_passes_on() -> anyhow::Result<()> {
    let db = Db::new(Backend::Postgres, "lead").await?;
    let (a, b, c) = (
        Store::connect(&db.url).await?,
        Store::connect(&db.url).await?,
        Store::connect(&db.url).await?,
    );
    let (mut bid_a, mut bid_b, mut bid_c) = Default::default();
    assert!(a.campaign(&mut bid_a).await?, "the first to ask leads");
    assert!(!b.campaign(&mut bid_b).await?, "a second does not");
    assert!(a.campaign(&mut bid_a).await?, "the leader keeps the lead");
    assert!(!b.campaign(&mut bid_b).await?);

    // The leader goes away (its session closes): the next to ask leads, and only it.
    drop(bid_a);
    assert!(leads_within(&b, &mut bid_b, Duration::from_secs(5)).await);
    assert!(!c.campaign(&mut bid_c).await?);

    // The server ends the leader's session (an idle timeout, an operator): its next check
    // says it no longer leads, and another takes over.
    let admin = Store::connect(&db.url).await?;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND objid = 2 AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .execute(&admin.pool)
    .await?;
    assert!(
        !b.campaign(&mut bid_b).await.unwrap_or(false),
        "a leader whose session ended does not lead"
    );
    assert!(leads_within(&c, &mut bid_c, Duration::from_secs(5)).await);
    assert!(
        !b.campaign(&mut bid_b).await?,
        "nor does it lead again at once"
    );
    drop((bid_b, bid_c));
    for s in [a, b, c] {
        s.pool.close().await;
    }
    db.remove(admin).await
}

#[tokio::test]
async fn the_embedded_store_always_leads() -> anyhow::Result<()> {
    let db = Db::new(Backend::Sqlite, "lead").await?;
    let store = Store::connect(&db.url).await?;
    let mut bid = Candidacy::default();
    assert!(store.campaign(&mut bid).await? && store.campaign(&mut bid).await?);
    db.remove(store).await
}

#[tokio::test]
async fn publish_requests_count_and_the_published_version_only_moves_forward() -> anyhow::Result<()>
{
    for backend in BOTH {
        let db = Db::new(backend, "published").await?;
        let store = Store::connect(&db.url).await?;
        assert_eq!(store.publish_requests().await?, 0);
        store.request_publish().await?;
        store.request_publish().await?;
        assert_eq!(store.publish_requests().await?, 2, "{backend:?}");
        assert_eq!(store.published_version().await?, 0);
        store.set_published_version(7).await?;
        store.set_published_version(5).await?;
        assert_eq!(store.published_version().await?, 7, "{backend:?}");
        store.set_published_version(9).await?;
        assert_eq!(store.published_version().await?, 9, "{backend:?}");
        db.remove(store).await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_first_control_plane_records_the_secrets_and_the_others_must_match(
) -> anyhow::Result<()> {
    for backend in BOTH {
        let db = Db::new(backend, "secrets").await?;
        let store = Store::connect(&db.url).await?;
        let first = [
            ("master.key", "aa".to_owned()),
            ("admin-token", "bb".into()),
        ];
        assert!(store.check_secrets(&first).await?.is_empty());
        assert!(
            store.check_secrets(&first).await?.is_empty(),
            "the same again"
        );
        let other = [
            ("master.key", "aa".to_owned()),
            ("admin-token", "cc".into()),
        ];
        assert_eq!(
            store.check_secrets(&other).await?,
            ["admin-token"],
            "{backend:?}"
        );
        // A rotation replaces what is recorded.
        store.replace_secret("admin-token", "cc").await?;
        assert!(store.check_secrets(&other).await?.is_empty(), "{backend:?}");
        assert_eq!(store.check_secrets(&first).await?, ["admin-token"]);
        db.remove(store).await?;
    }
    Ok(())
}
