//! The control plane's shared state, and publishing: every change builds a new snapshot with
//! the next version, keeps its bytes for the pusher, and wakes it — on the leader; a follower
//! asks the leader to (`cluster.rs`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use tokio::sync::{Mutex, Notify};
use warden_shared::snapshot::ProviderEndpoint;
use warden_shared::vault::{Keyring, MasterKey};
use zeroize::Zeroizing;

use crate::store::Store;

pub struct App {
    pub store: Store,
    pub admin_token: Zeroizing<String>,
    pub dataplane_token: Zeroizing<String>,
    /// The current master key first; during a rotation the previous one after it.
    keyring: RwLock<Arc<Keyring>>,
    pub key_file: PathBuf,
    pub providers: Vec<ProviderEndpoint>,
    /// Serialises publishing (versions are monotonic) and master-key rotation.
    /// Held while publishing; guards the rows earlier builds read (`snapshot/mirror.rs`).
    pub publish_lock: Mutex<crate::snapshot::Mirror>,
    latest: RwLock<Arc<Published>>,
    /// Wakes the pusher.
    pub wake: Notify,
    /// Warden's overhead rates (`[billing]`).
    pub overhead: crate::billing::Overhead,
    /// Complexity routing groups from the config (`auto` is added unless configured).
    pub route_groups: Vec<warden_shared::snapshot::RouteGroup>,
    /// Usage arrived since the last snapshot: spend limits' month-to-date figures are stale.
    pub usage_changed: std::sync::atomic::AtomicBool,
    /// Signs every snapshot (`data_dir/snapshot-signing.key`); data planes pin its public key.
    pub signer: Option<warden_shared::signing::Signer32>,
    /// Snapshot pushes by outcome: acknowledged, refused or failed, timed out (`/metrics`).
    pub pushes: [std::sync::atomic::AtomicU64; 3],
    /// Issues and checks each data plane's own credential (`data_dir/dataplane-credential.key`).
    pub credentials: Option<crate::credentials::Credentials>,
    /// Trust for pushes to `https://` data planes (`[dataplanes] ca_file` and webpki roots).
    pub push_tls: Option<Arc<rustls::ClientConfig>>,
    /// Keys the stored API-key digests (`data_dir/api-key-digest.key`).
    pub key_digests: Option<crate::key_digests::KeyDigests>,
    /// Where this process's spans go (`[telemetry]`).
    pub telemetry: Option<Arc<warden_shared::telemetry::Telemetry>>,
    /// Whether this process leads its cluster: only the leader builds and pushes snapshots
    /// (`cluster.rs`; always on SQLite).
    leading: AtomicBool,
    /// A follower's view of the newest version the leader published.
    pub cluster_version: AtomicU64,
    /// Sessions and sign-in limits of the dashboard (`[dashboard]`).
    pub dashboard: crate::dashboard::Settings,
}

/// A built snapshot, ready to push: the newest full one, and the newest delta of it when the
/// newest version is a delta.
#[derive(Default)]
pub struct Published {
    pub version: u64,
    pub full: Arc<Signed>,
    /// Version `version`, of `full`; `None`: `full` is version `version`.
    pub delta: Option<Signed>,
    /// How long building the newest took, in microseconds, per step (`BUILD_STEPS`).
    pub took_us: [u64; BUILD_STEPS.len()],
}

/// A signed snapshot or delta envelope and its version.
#[derive(Default)]
pub struct Signed {
    pub version: u64,
    pub bytes: Vec<u8>,
}

/// The steps of publishing, in metric order (`warden_cp_snapshot_build_seconds`): reading the
/// store and assembling the snapshot, encoding it, signing it.
pub const BUILD_STEPS: [&str; 3] = ["store", "encode", "sign"];

impl App {
    pub fn new(
        store: Store,
        admin_token: Zeroizing<String>,
        dataplane_token: Zeroizing<String>,
        keyring: Keyring,
        key_file: PathBuf,
        providers: Vec<ProviderEndpoint>,
    ) -> App {
        App {
            store,
            admin_token,
            dataplane_token,
            keyring: RwLock::new(Arc::new(keyring)),
            key_file,
            providers,
            publish_lock: Mutex::new(Default::default()),
            latest: RwLock::new(Arc::default()),
            wake: Notify::new(),
            overhead: crate::billing::Overhead::default(),
            usage_changed: std::sync::atomic::AtomicBool::new(false),
            route_groups: Vec::new(),
            signer: None,
            pushes: Default::default(),
            credentials: None,
            push_tls: None,
            key_digests: None,
            telemetry: None,
            leading: AtomicBool::new(false),
            cluster_version: AtomicU64::new(0),
            dashboard: crate::dashboard::Settings::default(),
        }
    }

    /// Whether this process builds and pushes the snapshots.
    pub fn leading(&self) -> bool {
        self.leading.load(Relaxed)
    }

    pub fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Relaxed);
    }

    /// The newest snapshot version: the one this process published when it leads, else the
    /// one the leader last recorded.
    pub fn version(&self) -> u64 {
        if self.leading() {
            self.latest().version
        } else {
            self.cluster_version.load(Relaxed)
        }
    }

    pub fn keyring(&self) -> Arc<Keyring> {
        self.keyring
            .read()
            .map(|k| Arc::clone(&k))
            .unwrap_or_default()
    }

    pub fn set_keyring(&self, keys: Vec<MasterKey>) {
        if let Ok(mut k) = self.keyring.write() {
            *k = Arc::new(Keyring::new(keys));
        }
    }

    pub fn latest(&self) -> Arc<Published> {
        self.latest
            .read()
            .map(|l| Arc::clone(&l))
            .unwrap_or_default()
    }

    /// Build and publish the next snapshot version (a follower asks the leader to); the
    /// version the data planes will be given.
    pub async fn publish(&self) -> anyhow::Result<u64> {
        if !self.leading() {
            self.store.request_publish().await?;
            return Ok(self.version());
        }
        let mut mirror = self.publish_lock.lock().await;
        self.publish_locked(&mut mirror).await
    }

    /// [`App::publish`] for callers that already hold `publish_lock`.
    pub async fn publish_locked(
        &self,
        mirror: &mut crate::snapshot::Mirror,
    ) -> anyhow::Result<u64> {
        // Taken before the build reads the store, so a later version always holds at least
        // what an earlier one does — also with several control planes on one database.
        let version = self.store.next_snapshot_version().await?;
        let started = std::time::Instant::now();
        let keyring = self.keyring();
        let master = keyring
            .current()
            .ok_or_else(|| anyhow::anyhow!("no master key"))?;
        let digests = self
            .key_digests
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no API-key digest secret"))?;
        let signer = self
            .signer
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no snapshot signing key"))?;
        mirror.check(&self.store).await?;
        // A mirror that holds nothing (a start, a new lead) resumes from the saved base when
        // there is one: the next version is then a delta of what the data planes hold.
        let previous = match crate::snapshot::resume::resume(
            &self.store,
            signer.public_key(),
            mirror,
        )
        .await?
        {
            Some(full) => Arc::new(Published {
                version: full.version,
                full,
                ..Published::default()
            }),
            None => self.latest(),
        };
        if mirror.base_version() != Some(previous.full.version) {
            // Deltas only of the full snapshot this process pushes.
            mirror.forget_base();
        }
        let built = crate::snapshot::build(
            &self.store,
            &self.providers,
            &self.overhead,
            &self.route_groups,
            version,
            master,
            digests,
            mirror,
        )
        .await?;
        let assembled = std::time::Instant::now();
        let (published, keys, encoded_at) = match built {
            crate::snapshot::Built::Delta(delta) => {
                let keys = delta.api_keys.len();
                let encoded = warden_shared::snapshot::encode_delta(&delta)?;
                let encoded_at = std::time::Instant::now();
                let delta = Signed {
                    version,
                    bytes: signer.sign_delta(&encoded),
                };
                let published = Published {
                    version,
                    full: Arc::clone(&previous.full),
                    delta: Some(delta),
                    took_us: [0; BUILD_STEPS.len()],
                };
                (published, keys, encoded_at)
            }
            crate::snapshot::Built::Full(full) => {
                let (snapshot, globals) = *full;
                let keys = snapshot.api_keys.len();
                let encoded = warden_shared::snapshot::encode(&snapshot);
                // Its projects and keys were lent by the mirror, not copied (`snapshot/mirror.rs`).
                mirror.give_back(snapshot.projects, snapshot.api_keys);
                let encoded = encoded?;
                let encoded_at = std::time::Instant::now();
                let full = Signed {
                    version,
                    bytes: signer.sign(&encoded),
                };
                drop(encoded);
                mirror.based_on(version, globals);
                let full = Arc::new(full);
                crate::snapshot::resume::save(&self.store, &full, mirror);
                let published = Published {
                    version,
                    full,
                    delta: None,
                    took_us: [0; BUILD_STEPS.len()],
                };
                (published, keys, encoded_at)
            }
        };
        let signed = std::time::Instant::now();
        let took = [
            assembled - started,
            encoded_at - assembled,
            signed - encoded_at,
        ];
        let took_us = took.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let (kind, size) = match &published.delta {
            Some(d) => ("delta", d.bytes.len()),
            None => ("full", published.full.bytes.len()),
        };
        if let Ok(mut l) = self.latest.write() {
            *l = Arc::new(Published {
                took_us,
                ..published
            });
        }
        self.store.set_published_version(version).await?;
        self.wake.notify_one();
        tracing::info!(
            version,
            kind,
            keys,
            bytes = size,
            store_ms = took[0].as_millis(),
            encode_ms = took[1].as_millis(),
            sign_ms = took[2].as_millis(),
            "published a snapshot"
        );
        Ok(version)
    }
}
