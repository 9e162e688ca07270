//! Master-key rotation: every stored provider and pooled key sealed again under a new master key,
//! the previous key kept beside it so data planes holding older snapshots keep serving.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use warden_shared::catalog::Provider;
use warden_shared::vault::{KeyScope, MasterKey};
use zeroize::Zeroizing;

use super::openapi::ErrorBody;
use super::Admin;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::secrets::{hex, random_bytes, unhex, write_private};

#[derive(Serialize, ToSchema)]
pub struct Rotated {
    /// The new master key's id.
    pub master_key_id: u32,
    /// Provider and pooled keys sealed again under it.
    pub resealed: usize,
    /// The snapshot that carries them.
    pub snapshot_version: u64,
}

/// Re-wrap every stored key under a new master key. The previous key stays in
/// `master_key_file.previous` so data planes holding older snapshots keep serving; data planes
/// reload their key files when a snapshot needs the new key.
#[utoipa::path(post, path = "/admin/v1/master-key/rotate", tag = "keys", security(("admin" = [])),
    responses((status = 200, body = Rotated, description = "Every stored key sealed again."),
        (status = 409, body = ErrorBody, description = "Another control plane of this cluster leads.")))]
pub async fn rotate_master_key(_: Admin, State(app): State<Arc<App>>) -> ApiResult<Json<Rotated>> {
    let mut mirror = app.publish_lock.lock().await;
    if !app.leading() {
        return Err(ApiError::Conflict(
            "another control plane of this cluster leads: rotate the master key there, then copy \
             its master.key and master.key.previous to every other control plane and restart them"
                .into(),
        ));
    }
    let old_bytes = Zeroizing::new(
        std::fs::read(&app.key_file).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    let old = MasterKey::from_key_file_bytes(&old_bytes)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let new_bytes = Zeroizing::new(random_bytes::<32>()?);
    let new = MasterKey::from_key_file_bytes(new_bytes.as_ref())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let ring = app.keyring();
    let mut resealed = Vec::new();
    for mut row in app.store.all_provider_keys().await? {
        let provider = Provider::from_name(&row.provider)
            .ok_or_else(|| ApiError::Internal("unknown provider in store".into()))?;
        let (tenant, project) = match &row.project_id {
            Some(p) => (
                app.store
                    .project(p)
                    .await?
                    .map(|p| p.tenant_id)
                    .unwrap_or_default(),
                p.clone(),
            ),
            None => (String::new(), String::new()),
        };
        let scope = KeyScope {
            tenant: &tenant,
            project: &project,
            provider,
            key_id: &row.id,
        };
        let sealed = warden_shared::vault::SealedKey {
            version: warden_shared::vault::ENVELOPE_VERSION,
            master_key_id: row.master_key_id as u32,
            nonce: unhex(&row.nonce)
                .and_then(|n| n.try_into().ok())
                .ok_or_else(|| ApiError::Internal("bad nonce".into()))?,
            ciphertext: unhex(&row.ciphertext)
                .ok_or_else(|| ApiError::Internal("bad ciphertext".into()))?,
        };
        let plaintext = ring
            .open(scope, &sealed)
            .map_err(|_| ApiError::Internal(format!("key {} does not open", row.id)))?;
        let fresh = new
            .seal(scope, &plaintext)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        row.master_key_id = i64::from(fresh.master_key_id);
        row.nonce = hex(&fresh.nonce);
        row.ciphertext = hex(&fresh.ciphertext);
        resealed.push(row);
    }
    // Key files first: whatever happens next, both keys are on disk.
    let previous = warden_shared_previous(&app.key_file);
    write_private(&previous, &old_bytes)?;
    write_private(&app.key_file, new_bytes.as_ref())?;
    app.store.reseal(&resealed).await?;
    let new_id = new.id();
    app.set_keyring(vec![new, old]);
    app.store
        .replace_secret(
            "master.key",
            &crate::cluster::fingerprint("master.key", new_bytes.as_ref()),
        )
        .await?;
    let version = app.publish_locked(&mut mirror).await?;
    Ok(Json(Rotated {
        master_key_id: new_id,
        resealed: resealed.len(),
        snapshot_version: version,
    }))
}

fn warden_shared_previous(path: &std::path::Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".previous");
    std::path::PathBuf::from(name)
}
