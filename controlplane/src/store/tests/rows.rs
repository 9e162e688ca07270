//! Row stamps (`store/rows.rs`) and the leader's mirror built on them (`snapshot/mirror.rs`):
//! each write is read once, in the range of stamps it fell in; a removal leaves its id; a mirror
//! kept up to date by changed rows alone equals one read whole.

use std::collections::HashMap;

use super::db::Db;
use super::{provider_key as key, BOTH};
use crate::snapshot::{Globals, Mirror};
use crate::store::rows::Stamps;
use crate::store::Store;

/// What a snapshot built from `mirror` holds, in an order that does not depend on the mirror's.
pub(super) fn summary(mirror: &mut Mirror) -> Vec<String> {
    mirror.set_spend(&(20_000, HashMap::new()));
    let parts = mirror.parts();
    let mut out: Vec<String> = parts
        .tenants
        .iter()
        .map(|t| format!("tenant {} {:?}", t.id, t.plan))
        .chain(parts.projects.iter().map(|p| {
            let keys: Vec<&str> = p.provider_keys.iter().map(|k| k.id.as_str()).collect();
            format!(
                "project {} {} {:?} {}",
                p.id, p.tenant, keys, p.limits.requests_per_minute
            )
        }))
        .chain(parts.pooled_keys.iter().map(|k| format!("pooled {}", k.id)))
        .chain(
            parts
                .api_keys
                .iter()
                .map(|k| format!("key {} {}", k.id, k.project)),
        )
        .collect();
    out.sort();
    mirror.give_back(parts.projects, parts.api_keys);
    out
}

/// What only a full snapshot carries, as the mirror's pooled keys make it.
pub(super) fn globals(mirror: &Mirror) -> Globals {
    Globals {
        providers: Vec::new(),
        models: Vec::new(),
        route_groups: Vec::new(),
        billing: Default::default(),
        pooled_keys: mirror.pooled_keys(),
        master_key_id: 1,
    }
}

#[tokio::test]
async fn each_write_is_read_once_and_a_kept_mirror_equals_a_fresh_one() -> anyhow::Result<()> {
    for backend in BOTH {
        let db = Db::new(backend, "rows").await?;
        let store = Store::connect(&db.url).await?;
        stamps(&store)
            .await
            .map_err(|e| anyhow::anyhow!("{backend:?}: {e:#}"))?;
        db.remove(store).await?;
    }
    Ok(())
}

async fn stamps(store: &Store) -> anyhow::Result<()> {
    let digest = "11".repeat(32);
    store.insert_tenant("t1", "acme", "team").await?;
    store
        .insert_project("p1", "t1", "app", "production")
        .await?;
    store.insert_provider_key(&key("k1", Some("p1"), 1)).await?;
    store.insert_provider_key(&key("pool", None, 0)).await?;
    store
        .insert_api_key("a1", "p1", "app", &digest, "wdn_…1")
        .await?;
    let first = store.row_seq().await?;
    assert_eq!(first, 5, "one stamp per write");
    let all = Stamps {
        after: -1,
        upto: first,
    };
    assert_eq!(store.tenants_stamped(all).await?.len(), 1);
    assert_eq!(store.projects_stamped(all).await?.len(), 1);
    assert_eq!(store.provider_keys_stamped(all).await?.len(), 2);
    assert_eq!(store.api_keys_stamped(all).await?.len(), 1);

    let mut kept = Mirror::default();
    kept.refresh(store).await?;
    assert!(kept.delta(&globals(&kept), 2).is_none(), "no base: full");
    // A full snapshot went out: deltas of it from now on.
    let base = globals(&kept);
    kept.based_on(1, base.clone());
    let delta = kept
        .delta(&base, 2)
        .ok_or_else(|| anyhow::anyhow!("no delta"))?;
    assert_eq!(delta.rows(), 0, "nothing changed since the base");
    assert_eq!((delta.base, delta.version), (1, 2));
    // One that will have missed removals (another control plane led while they were pruned).
    let mut stale = Mirror::default();
    stale.refresh(store).await?;
    assert_eq!(
        summary(&mut kept),
        [
            "key a1 p1",
            "pooled pool",
            "project p1 t1 [\"k1\"] 0",
            "tenant t1 Team"
        ]
    );

    // A change re-stamps its row alone; a removal leaves the id under a stamp of its own.
    assert!(
        store
            .set_limits("p1", r#"{"requests_per_minute":60}"#)
            .await?
    );
    store.insert_provider_key(&key("k0", Some("p1"), 0)).await?;
    store
        .insert_api_key("a2", "p1", "app", &"22".repeat(32), "wdn_…2")
        .await?;
    assert!(store.delete_api_key("a1").await?);
    assert!(store.delete_provider_key("pool", true).await?);
    let then = store.row_seq().await?;
    let since = Stamps {
        after: first,
        upto: then,
    };
    let projects = store.projects_stamped(since).await?;
    assert_eq!(
        projects.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["p1"]
    );
    assert!(store.tenants_stamped(since).await?.is_empty());
    assert_eq!(store.api_keys_stamped(since).await?.len(), 1);
    assert_eq!(
        store.removed_stamped(since).await?,
        [
            ("api_keys".to_owned(), "a1".to_owned()),
            ("provider_keys".to_owned(), "pool".to_owned())
        ]
    );
    // Nothing is read twice: the range after `then` is empty.
    let after = Stamps {
        after: then,
        upto: store.row_seq().await?,
    };
    assert!(store.api_keys_stamped(after).await?.is_empty());
    assert!(store.removed_stamped(after).await?.is_empty());

    kept.refresh(store).await?;
    // What changed since the base, and nothing else: the project whose limits and keys
    // changed (whole, with its tenant), the new key, the removed key's digest.
    let delta = kept
        .delta(&base, 3)
        .ok_or_else(|| anyhow::anyhow!("no delta"))?;
    let ids = |v: &[String]| v.join(" ");
    assert_eq!(
        ids(&delta
            .projects
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>()),
        "p1"
    );
    assert_eq!(delta.projects[0].limits.requests_per_minute, 60);
    assert_eq!(delta.projects[0].provider_keys.len(), 2);
    assert_eq!(
        ids(&delta
            .tenants
            .iter()
            .map(|t| t.id.clone())
            .collect::<Vec<_>>()),
        "t1"
    );
    assert_eq!(
        ids(&delta
            .api_keys
            .iter()
            .map(|k| k.id.clone())
            .collect::<Vec<_>>()),
        "a2"
    );
    assert_eq!(delta.removed_keys, [[0x11u8; 32]]);
    // The pooled key's removal is not a delta's to carry: the next snapshot is full.
    assert!(kept.delta(&globals(&kept), 3).is_none());
    // A new tenant's project goes out with its tenant; a change of this month's spend sends
    // the project again.
    let mut other = Mirror::default();
    other.refresh(store).await?;
    let now = globals(&other);
    other.based_on(4, now.clone());
    store.insert_tenant("t2", "solo", "developer").await?;
    store.insert_project("p2", "t2", "app", "staging").await?;
    other.refresh(store).await?;
    let delta = other
        .delta(&now, 5)
        .ok_or_else(|| anyhow::anyhow!("no delta"))?;
    assert_eq!(delta.projects.len(), 1);
    assert_eq!(delta.projects[0].id, "p2");
    assert_eq!(delta.tenants.len(), 1);
    assert_eq!(
        delta.tenants[0].plan,
        warden_shared::snapshot::Plan::Developer
    );
    other.set_spend(&(20_000, HashMap::new()));
    other.based_on(5, now.clone());
    other.set_spend(&(20_000, HashMap::from([("p1".to_owned(), 7)])));
    let delta = other
        .delta(&now, 6)
        .ok_or_else(|| anyhow::anyhow!("no delta"))?;
    assert_eq!(
        (delta.projects.len(), delta.projects[0].id.as_str()),
        (1, "p1")
    );
    assert_eq!(delta.projects[0].limits.spent, 7);
    // Removals stay until a base read past them is saved (a control plane resuming from an
    // older base still reads them); then they go, and the floor says so.
    assert_eq!(store.removed_stamped(since).await?.len(), 2);
    assert!(store.save_base(6, then, b"not opened here", &[]).await?);
    assert!(store.removed_stamped(since).await?.is_empty());
    assert_eq!(store.removed_floor().await?, then);
    kept.refresh(store).await?;
    stale.refresh(store).await?;
    let mut fresh = Mirror::default();
    fresh.refresh(store).await?;
    let expected = [
        "key a2 p1",
        "project p1 t1 [\"k0\", \"k1\"] 60",
        "project p2 t2 [] 0",
        "tenant t1 Team",
        "tenant t2 Developer",
    ];
    assert_eq!(summary(&mut kept), expected);
    assert_eq!(summary(&mut fresh), expected);
    assert_eq!(
        summary(&mut stale),
        expected,
        "a mirror below the floor reads anew"
    );
    // Lent and never given back (a build that failed after taking them): read anew.
    drop(kept.parts());
    kept.refresh(store).await?;
    assert_eq!(summary(&mut kept), expected);
    Ok(())
}

#[tokio::test]
async fn a_deleted_project_and_tenant_leave_the_mirror_as_removals() -> anyhow::Result<()> {
    for backend in BOTH {
        let db = Db::new(backend, "removal").await?;
        let store = Store::connect(&db.url).await?;
        removals(&store)
            .await
            .map_err(|e| anyhow::anyhow!("{backend:?}: {e:#}"))?;
        db.remove(store).await?;
    }
    Ok(())
}

async fn removals(store: &Store) -> anyhow::Result<()> {
    store.insert_tenant("t1", "acme", "team").await?;
    store.insert_tenant("t2", "globex", "team").await?;
    store
        .insert_project("p1", "t1", "app", "production")
        .await?;
    store
        .insert_project("p2", "t2", "app", "production")
        .await?;
    store.insert_provider_key(&key("k1", Some("p1"), 0)).await?;
    for (id, project, digest) in [("a1", "p1", "11"), ("a2", "p2", "22")] {
        store
            .insert_api_key(id, project, "app", &digest.repeat(32), "wdn_…")
            .await?;
    }
    let mut kept = Mirror::default();
    kept.refresh(store).await?;
    let g = globals(&kept);
    kept.based_on(1, g.clone());
    assert_eq!(
        store.delete_tenant("t1").await?,
        Some(false),
        "it has a project"
    );
    assert!(store.delete_project("p1").await?);
    assert!(!store.delete_project("p1").await?);
    assert_eq!(store.delete_tenant("t1").await?, Some(true));
    assert_eq!(store.delete_tenant("t1").await?, None);
    kept.refresh(store).await?;
    let delta = kept
        .delta(&g, 2)
        .ok_or_else(|| anyhow::anyhow!("a full snapshot, not a delta"))?;
    assert_eq!(delta.removed_projects, ["p1"]);
    assert_eq!(delta.removed_keys, [[0x11u8; 32]]);
    assert!(delta.projects.is_empty() && delta.api_keys.is_empty());
    let mut fresh = Mirror::default();
    fresh.refresh(store).await?;
    let expected = ["key a2 p2", "project p2 t2 [] 0", "tenant t2 Team"];
    assert_eq!(summary(&mut kept), expected);
    assert_eq!(summary(&mut fresh), expected);
    Ok(())
}
