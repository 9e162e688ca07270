//! Resuming the leader's mirror from the base saved in the store (`store/base.rs`), and saving
//! each new full snapshot as the base. A control plane that starts or takes the lead with an
//! empty mirror would otherwise read every row (seconds at a million keys) and build, encode and
//! sign a full snapshot the data planes already hold; resumed, it reads the rows stamped since
//! the base and builds a delta of it.
//!
//! The saved bytes are trusted only once their signature opens with this cluster's key and they
//! decode: anything else is logged and the rows are read as before.

use std::sync::Arc;

use warden_shared::signing::PublicKey;

use super::Mirror;
use crate::app::Signed;
use crate::store::base::SavedBase;
use crate::store::Store;

/// Fill the empty `mirror` from the saved base; the base's signed bytes, for the data planes
/// that do not hold it. `None` (and the mirror left empty) when there is no usable base.
pub async fn resume(
    store: &Store,
    public: PublicKey,
    mirror: &mut Mirror,
) -> anyhow::Result<Option<Arc<Signed>>> {
    if !mirror.is_empty() {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let Some(saved) = store.load_base().await? else {
        return Ok(None);
    };
    if saved.seq < store.removed_floor().await? {
        // Removals after it were pruned (a newer base replaced it while it was read).
        return Ok(None);
    }
    let read = started.elapsed();
    let SavedBase {
        version,
        seq,
        bytes,
        ages,
    } = saved;
    // Checking the signature and decoding a million keys takes a few hundred milliseconds:
    // off the runtime's workers.
    let opened = tokio::task::spawn_blocking(move || {
        let snapshot = public
            .open(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|payload| {
                warden_shared::snapshot::decode(payload).map_err(|e| e.to_string())
            })?;
        if snapshot.version != version {
            return Err(format!("it says version {}", snapshot.version));
        }
        let mirror = Mirror::resume(snapshot, seq, &ages)
            .ok_or_else(|| "its provider keys' ages do not fit it".to_owned())?;
        Ok((mirror, bytes))
    })
    .await?;
    match opened {
        Ok((resumed, bytes)) => {
            *mirror = resumed;
            tracing::info!(
                version,
                seq,
                bytes = bytes.len(),
                read_ms = read.as_millis(),
                total_ms = started.elapsed().as_millis(),
                "resumed from the saved base"
            );
            Ok(Some(Arc::new(Signed { version, bytes })))
        }
        Err(why) => {
            tracing::warn!(
                version,
                "the saved base is not usable ({why}): reading every row"
            );
            Ok(None)
        }
    }
}

/// Save full snapshot `full`, built from `mirror` (read up to its stamp), as the base, in the
/// background: the data planes are not kept waiting for a hundred megabytes to be written.
pub fn save(store: &Store, full: &Arc<Signed>, mirror: &Mirror) {
    let Some(seq) = mirror.seq() else {
        return;
    };
    let (store, full, ages) = (store.clone(), Arc::clone(full), mirror.ages());
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match store.save_base(full.version, seq, &full.bytes, &ages).await {
            Ok(true) => tracing::info!(
                version = full.version,
                ms = started.elapsed().as_millis(),
                "saved the snapshot base"
            ),
            Ok(false) => {}
            Err(e) => tracing::warn!(version = full.version, "saving the snapshot base: {e}"),
        }
    });
}
