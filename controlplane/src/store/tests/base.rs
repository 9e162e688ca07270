//! The saved base (`store/base.rs`) and resuming from it (`snapshot/resume.rs`): a mirror
//! resumed from the base and brought up to date equals one read whole, builds a delta of that
//! base rather than a full snapshot, and keeps provider keys of equal priority in age order; an
//! older base never replaces a newer one; a base that does not open with the cluster's key, or
//! whose ages do not fit it, is not used.

use std::collections::HashMap;

use warden_shared::signing::Signer32;
use warden_shared::snapshot::Snapshot;
use warden_shared::vault::SealedKey;

use super::db::Db;
use super::rows::{globals, summary};
use super::{provider_key, BOTH};
use crate::snapshot::resume::resume;
use crate::snapshot::{Globals, Mirror};
use crate::store::{ProviderKeyRow, Store};

#[tokio::test]
async fn a_resumed_mirror_equals_a_fresh_one_and_builds_deltas_of_its_base() -> anyhow::Result<()> {
    for backend in BOTH {
        let db = Db::new(backend, "base").await?;
        let store = Store::connect(&db.url).await?;
        resumes(&store)
            .await
            .map_err(|e| anyhow::anyhow!("{backend:?}: {e:#}"))?;
        db.remove(store).await?;
    }
    Ok(())
}

/// A provider key of project `p1` with priority 1, made at `created_at`.
fn aged(id: &str, created_at: i64) -> ProviderKeyRow {
    ProviderKeyRow {
        created_at,
        ..provider_key(id, Some("p1"), 1)
    }
}

/// The signed full snapshot `mirror` makes now, as version `version`; it becomes the base.
fn full(
    mirror: &mut Mirror,
    version: u64,
    signer: &Signer32,
    g: &Globals,
) -> anyhow::Result<Vec<u8>> {
    mirror.set_spend(&(20_000, HashMap::new()));
    let parts = mirror.parts();
    let snapshot = Snapshot {
        version,
        providers: g.providers.clone(),
        models: g.models.clone(),
        tenants: parts.tenants,
        projects: parts.projects,
        api_keys: parts.api_keys,
        api_key_digest_secret: Some(SealedKey {
            version: warden_shared::vault::ENVELOPE_VERSION,
            master_key_id: g.master_key_id,
            nonce: [0; 12],
            ciphertext: vec![1; 48],
        }),
        route_groups: g.route_groups.clone(),
        pooled_keys: parts.pooled_keys,
        billing: g.billing.clone(),
    };
    let encoded = warden_shared::snapshot::encode(&snapshot);
    mirror.give_back(snapshot.projects, snapshot.api_keys);
    mirror.based_on(version, g.clone());
    Ok(signer.sign(&encoded?))
}

async fn resumes(store: &Store) -> anyhow::Result<()> {
    let signer = Signer32::from_seed(&[7; 32]).ok_or_else(|| anyhow::anyhow!("seed"))?;
    store.insert_tenant("t1", "acme", "team").await?;
    store
        .insert_project("p1", "t1", "app", "production")
        .await?;
    // Equal priority: the older key first, although its id sorts last.
    store.insert_provider_key(&aged("z-old", 100)).await?;
    store.insert_provider_key(&aged("a-new", 200)).await?;
    store
        .insert_provider_key(&provider_key("pool", None, 0))
        .await?;
    for (id, digest) in [("a1", "11"), ("a2", "22")] {
        store
            .insert_api_key(id, "p1", "app", &digest.repeat(32), "wdn_…")
            .await?;
    }
    let mut leader = Mirror::default();
    leader.refresh(store).await?;
    let g = globals(&leader);
    let bytes = full(&mut leader, 3, &signer, &g)?;
    let seq = leader.seq().ok_or_else(|| anyhow::anyhow!("not read"))?;
    assert!(store.save_base(3, seq, &bytes, &leader.ages()).await?);

    // Changes after the base: a key between the two in age, a new Warden key, one removed.
    store.insert_provider_key(&aged("m-mid", 150)).await?;
    store
        .insert_api_key("a3", "p1", "app", &"33".repeat(32), "wdn_…")
        .await?;
    assert!(store.delete_api_key("a1").await?);

    // A control plane starting now resumes from the base and reads the changes alone.
    let mut resumed = Mirror::default();
    let base = resume(store, signer.public_key(), &mut resumed)
        .await?
        .ok_or_else(|| anyhow::anyhow!("not resumed"))?;
    assert_eq!((base.version, &base.bytes), (3, &bytes));
    assert_eq!(resumed.base_version(), Some(3));
    resumed.refresh(store).await?;
    let delta = resumed
        .delta(&g, 4)
        .ok_or_else(|| anyhow::anyhow!("a full snapshot, not a delta of the base"))?;
    assert_eq!((delta.base, delta.version), (3, 4));
    let ids = |v: Vec<&str>| v.join(" ");
    assert_eq!(
        ids(delta.api_keys.iter().map(|k| k.id.as_str()).collect()),
        "a3"
    );
    assert_eq!(delta.removed_keys, [[0x11u8; 32]]);
    assert_eq!(
        ids(delta.projects.iter().map(|p| p.id.as_str()).collect()),
        "p1"
    );
    assert_eq!(
        ids(delta.projects[0]
            .provider_keys
            .iter()
            .map(|k| k.id.as_str())
            .collect()),
        "z-old m-mid a-new"
    );
    let mut fresh = Mirror::default();
    fresh.refresh(store).await?;
    let expected = summary(&mut fresh);
    assert_eq!(summary(&mut resumed), expected);
    assert!(expected.contains(&"project p1 t1 [\"z-old\", \"m-mid\", \"a-new\"] 0".to_owned()));

    // An older base never replaces a newer one.
    assert!(!store.save_base(2, seq, b"older", &[]).await?);
    assert_eq!(store.base_version().await?, 3);
    // A newer base signed by another key, or whose ages do not fit it, is not used.
    let now = fresh.seq().ok_or_else(|| anyhow::anyhow!("not read"))?;
    let stranger = Signer32::from_seed(&[8; 32]).ok_or_else(|| anyhow::anyhow!("seed"))?;
    let forged = full(&mut fresh, 9, &stranger, &g)?;
    assert!(store.save_base(9, now, &forged, &fresh.ages()).await?);
    let mut m = Mirror::default();
    assert!(resume(store, signer.public_key(), &mut m).await?.is_none());
    assert!(m.is_empty(), "nothing taken from a forged base");
    let signed = full(&mut fresh, 10, &signer, &g)?;
    assert!(store.save_base(10, now, &signed, &[1]).await?);
    assert!(resume(store, signer.public_key(), &mut m).await?.is_none());
    let signed = full(&mut fresh, 11, &signer, &g)?;
    assert!(store.save_base(11, now, &signed, &fresh.ages()).await?);
    let back = resume(store, signer.public_key(), &mut m).await?;
    assert_eq!(back.map(|b| b.version), Some(11));
    assert_eq!(summary(&mut m), expected);

    // Bases larger than one stored part come back whole.
    let big: Vec<u8> = (0..17u32 << 20).map(|i| (i % 251) as u8).collect();
    assert!(store.save_base(12, now, &big, &[5, 6]).await?);
    let loaded = store
        .load_base()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no base"))?;
    assert_eq!((loaded.version, loaded.seq), (12, now));
    assert!(loaded.bytes == big, "the bytes come back as saved");
    assert_eq!(loaded.ages, [5, 6]);
    Ok(())
}
