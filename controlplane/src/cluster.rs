//! Several control planes on one PostgreSQL database. Any of them serves the admin API; one at a
//! time leads — builds, signs and pushes the snapshots — and the others follow: a change made
//! through a follower asks the leader to publish (a counter in the store the leader watches
//! every `TICK`), and a follower takes the lead within a `TICK` of the leader's session ending
//! (the process died) or within `LEADER_SILENCE_S` of it falling silent (a partition).
//!
//! Invariants: only the leader pushes; a new leader publishes before it pushes, from what the
//! store holds then, under a version the store hands out, so data planes only ever move
//! forward whichever control plane they hear from. Every control plane of a cluster holds the
//! same secrets (checked at start against the fingerprints the first one recorded): data planes
//! pin one signing key and hold one credential, and keys sealed by one must open on all.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::app::App;
use crate::store::cluster::{Candidacy, LEADER_SILENCE_S};

/// How often a follower bids for the lead, and the leader checks its lead and the requests.
pub const TICK: Duration = Duration::from_millis(250);

/// The secrets every control plane of a cluster holds, as files in `data_dir` (the master key's
/// name stands for `master_key_file` wherever it is).
pub const SECRETS: [&str; 6] = [
    "master.key",
    "snapshot-signing.key",
    "api-key-digest.key",
    "dataplane-credential.key",
    "admin-token",
    "dataplane-token",
];

/// What the store keeps of a secret: enough to tell two apart, nothing to learn one from.
pub fn fingerprint(name: &str, bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"warden cluster secret v1\0");
    h.update(name.as_bytes());
    h.update([0]);
    h.update(bytes);
    crate::secrets::hex(&h.finalize()[..16])
}

/// Refuse to serve with secrets other than the cluster's. `read(name)` gives a secret's bytes.
pub async fn check_secrets(
    store: &crate::store::Store,
    read: impl Fn(&str) -> std::io::Result<Vec<u8>>,
) -> anyhow::Result<()> {
    let mut mine = Vec::with_capacity(SECRETS.len());
    for name in SECRETS {
        let bytes = zeroize::Zeroizing::new(read(name)?);
        mine.push((name, fingerprint(name, &bytes)));
    }
    let differ = store.check_secrets(&mine).await?;
    anyhow::ensure!(
        differ.is_empty(),
        "{} differ from what the other control planes on this database hold: every control plane \
         of a cluster needs the same {} — copy them from one that runs (their data_dir), then start \
         this one again",
        differ.join(", "),
        SECRETS.join(", ")
    );
    Ok(())
}

/// This process's place in the cluster, kept between ticks.
pub struct Term {
    bid: Candidacy,
    /// The publish requests counted when this process last published.
    seen: i64,
    /// Leading, and the snapshot it published may be older than the store (it just took the
    /// lead, or the last build failed).
    stale: bool,
}

/// Bid for the lead once, at start: when this process leads, it publishes. Returns the version
/// the data planes are (or will be) given, and the term to keep up with `run`.
pub async fn start(app: &App) -> anyhow::Result<(u64, Term)> {
    let mut bid = Candidacy::default();
    let leading = app.store.campaign(&mut bid).await?;
    app.set_leading(leading);
    // Read before building: a request made during the build is seen by `run`.
    let seen = app.store.publish_requests().await?;
    let term = Term {
        bid,
        seen,
        stale: false,
    };
    if leading {
        return Ok((app.publish().await?, term));
    }
    let version = app.store.published_version().await?;
    app.cluster_version.store(version, Relaxed);
    tracing::info!(version, "following: another control plane leads");
    Ok((version, term))
}

/// Keep bidding (a follower) or keep the lead and publish what followers ask for (the leader).
/// Nothing to do on SQLite, where this process always leads.
pub async fn run(app: Arc<App>, mut term: Term) {
    if app.store.backend() == crate::store::Backend::Sqlite {
        return;
    }
    loop {
        tokio::time::sleep(TICK).await;
        let was_leading = app.leading();
        let leading = match tokio::time::timeout(
            Duration::from_secs(LEADER_SILENCE_S / 2),
            app.store.campaign(&mut term.bid),
        )
        .await
        {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => {
                tracing::warn!("the store did not answer the leadership check: {e}");
                false
            }
            Err(_) => {
                term.bid = Candidacy::default();
                tracing::warn!("the store did not answer the leadership check in time");
                false
            }
        };
        if leading != was_leading {
            app.set_leading(leading);
            if leading {
                term.stale = true;
                tracing::info!("leading: this control plane builds and pushes the snapshots");
            } else {
                tracing::warn!("no longer leading: another control plane may build and push");
            }
        }
        if !leading {
            if let Ok(v) = app.store.published_version().await {
                app.cluster_version.store(v, Relaxed);
            }
            continue;
        }
        // Read before building: a request made during the build is seen next tick.
        let requests = match app.store.publish_requests().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("reading publish requests: {e}");
                continue;
            }
        };
        if requests != term.seen || term.stale {
            match app.publish().await {
                Ok(_) => (term.seen, term.stale) = (requests, false),
                Err(e) => {
                    term.stale = true;
                    tracing::warn!("publishing: {e:#}");
                }
            }
        }
    }
}
