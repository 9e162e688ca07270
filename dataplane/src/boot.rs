//! What a start reads before it serves, shared by `run` and `check --config`: the guardrail
//! engine, the first snapshot and its keys, and the control-plane token.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use warden_dataplane::config::Config;
use warden_dataplane::control::{
    check_pins, last_delta, last_good, load_keyring, load_public_key, write_atomically, LAST_GOOD,
};
use warden_dataplane::state::{Built, SharedState};
use warden_shared::audit::ChainKey;
use warden_shared::snapshot;
use warden_shared::snapshot::{Delta, Snapshot};
use warden_shared::standalone::compile;
use warden_shared::vault::{Keyring, MasterKey};
use zeroize::Zeroizing;

/// `check --config FILE`: everything a start does before it binds and serves.
pub fn check(config: Config) -> anyhow::Result<()> {
    guard_engine(&config)?;
    if config.audit.enabled {
        audit_key(&config, false)?;
    }
    for files in [&config.tls, &config.admin_tls].into_iter().flatten() {
        warden_dataplane::tls::ServerTls::load(files).map_err(anyhow::Error::msg)?;
    }
    warden_dataplane::complexity::Scorer::new().map_err(anyhow::Error::msg)?;
    if let Some(dir) = &config.cache.semantic_model {
        warden_dataplane::cache::semantic::load(dir)?;
        warden_dataplane::cache::semantic::spelling::Vocabulary::load(dir)?;
    }
    let (keyring, snapshot, _) = initial_snapshot(&config, false)?;
    warden_dataplane::state::ServingState::build(snapshot, Arc::new(keyring))
        .map_err(anyhow::Error::msg)?;
    Ok(())
}

/// The audit chain's key: read from `audit.key_file`, or created there (32 random bytes, 0600)
/// when `create` and the file does not exist yet.
pub fn audit_key(config: &Config, create: bool) -> anyhow::Result<Option<ChainKey>> {
    let path = config.audit_key_file();
    if !path.exists() {
        if !create {
            return Ok(None);
        }
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut secret[..]).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
        let mut file = warden_shared::create_private(&path)
            .with_context(|| format!("creating the audit key {}", path.display()))?;
        std::io::Write::write_all(&mut file, &secret[..])
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing the audit key {}", path.display()))?;
        tracing::info!(file = %path.display(), "created the audit chain key");
    }
    ChainKey::from_file(&path)
        .map(Some)
        .map_err(anyhow::Error::msg)
}

/// The guardrail detectors, with the configured phone regions (and the injection model checked).
pub fn guard_engine(config: &Config) -> anyhow::Result<warden_dataplane::guard::engine::Engine> {
    warden_dataplane::guard::injection::Model::check_builtin().map_err(anyhow::Error::msg)?;
    match &config.phone_regions {
        Some(regions) => warden_dataplane::guard::engine::Engine::with_regions(
            &regions.iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        None => warden_dataplane::guard::engine::Engine::new(),
    }
    .map(|engine| engine.phone_standalone(config.phone_standalone))
    .map_err(anyhow::Error::msg)
}

/// The keyring and the snapshot to serve at start: compiled from the standalone sections, or
/// (under a control plane) the last good snapshot and its last good delta, or an empty one
/// until the first push.
/// `persist` keeps a standalone config's snapshot as the last good one (a start does, `check`
/// does not).
pub fn initial_snapshot(
    config: &Config,
    persist: bool,
) -> anyhow::Result<(Keyring, Snapshot, Option<Delta>)> {
    if config.control_plane.is_some() {
        let key_file = config
            .master_key_file
            .as_deref()
            .context("master_key_file is required")?;
        let keyring = load_keyring(key_file).map_err(anyhow::Error::msg)?;
        let public = config
            .snapshot_public_key_file
            .as_deref()
            .context("snapshot_public_key_file is required")?;
        let public = load_public_key(public).map_err(anyhow::Error::msg)?;
        let pins = config.pinned_origins().map_err(anyhow::Error::msg)?;
        let last = last_good(&config.state_dir, &public);
        let pinned = last.as_ref().map(|s| check_pins(s, &pins));
        if let Some(Err(e)) = &pinned {
            tracing::warn!("not serving the last good snapshot: {e}");
        }
        let snapshot = match last.filter(|_| !matches!(pinned, Some(Err(_)))) {
            Some(s) => s,
            None => return Ok((keyring, empty_snapshot(), None)),
        };
        return match last_delta(&config.state_dir, &public, snapshot.version) {
            Ok(delta) => {
                tracing::info!(
                    version = delta.as_ref().map_or(snapshot.version, |d| d.version),
                    "serving the last good snapshot until the control plane pushes"
                );
                Ok((keyring, snapshot, delta))
            }
            Err(e) => {
                tracing::error!("{e}; serving nothing until the control plane pushes");
                Ok((keyring, empty_snapshot(), None))
            }
        };
    }
    let master = match config.master_key_file.as_deref() {
        Some(path) => {
            let bytes = Zeroizing::new(
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
            );
            MasterKey::from_key_file_bytes(&bytes).with_context(|| {
                format!(
                    "{}: master key file must hold exactly 32 bytes",
                    path.display()
                )
            })?
        }
        None => MasterKey::generate(0)?,
    };
    let compiled = compile(config.sections(), &master, 1).map_err(anyhow::Error::msg)?;
    // Serve from the same validated bytes a pushed snapshot would arrive as, and keep them as
    // the last good snapshot.
    let bytes = snapshot::encode(&compiled)?;
    if persist {
        write_atomically(&config.state_dir.join(LAST_GOOD), &bytes)?;
    }
    Ok((Keyring::new(vec![master]), snapshot::decode(&bytes)?, None))
}

/// The state to serve at start, built once for every shard (each takes a pointer to it and a
/// scratch of its own): the snapshot and, when there is one, its last good delta. A delta that
/// does not apply means nothing is served, not the base alone (it would let keys the delta
/// removed back in).
pub fn serving_state(
    snapshot: Snapshot,
    delta: Option<Delta>,
    keyring: &Arc<Keyring>,
) -> anyhow::Result<Built> {
    let custom =
        warden_dataplane::guard::custom::compile_all(&snapshot).map_err(anyhow::Error::msg)?;
    let built =
        SharedState::build(snapshot, Arc::clone(keyring), &custom).map_err(anyhow::Error::msg)?;
    let Some(delta) = delta else {
        return Ok(built);
    };
    let version = delta.version;
    match SharedState::apply_delta(&built, delta, Arc::clone(keyring)) {
        Ok(b) => Ok(b),
        Err(e) => {
            tracing::error!(
                version,
                "not serving the last good delta: {e}; serving nothing until the control plane pushes"
            );
            SharedState::build(empty_snapshot(), Arc::clone(keyring), &Vec::new())
                .map_err(anyhow::Error::msg)
        }
    }
}

/// Version 0: nothing to serve yet (every request is refused as unauthenticated).
fn empty_snapshot() -> Snapshot {
    Snapshot {
        version: 0,
        providers: Vec::new(),
        models: warden_shared::catalog::default_models(),
        tenants: Vec::new(),
        projects: Vec::new(),
        api_keys: Vec::new(),
        api_key_digest_secret: None,
        pooled_keys: Vec::new(),
        billing: Default::default(),
        route_groups: Vec::new(),
    }
}

/// The data-plane token, refused when empty or short (an empty file must not mean "no auth").
pub fn read_token(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let token = Zeroizing::new(text.trim().to_owned());
    if token.len() < 20 {
        bail!(
            "{}: the control-plane token is empty or shorter than 20 characters",
            path.display()
        );
    }
    Ok(token)
}

/// The answer cache's bounds, and its shared tier: keys salted from the master key so that every
/// data plane of the deployment computes the same ones.
pub fn cache_tiers(
    config: &Config,
    keyring: &warden_shared::vault::Keyring,
) -> anyhow::Result<warden_dataplane::cache::Shared> {
    let c = &config.cache;
    let (salt, remote) = match (&c.redis_url, keyring.current()) {
        (None, _) => (None, None),
        (Some(_), None) => anyhow::bail!("cache.redis_url needs a master key"),
        (Some(url), Some(master)) => (
            Some(*master.derive(b"warden answer cache key salt")),
            Some((
                warden_dataplane::cache::redis::Target::parse(url).map_err(anyhow::Error::msg)?,
                Duration::from_millis(c.redis_timeout_ms.max(1)),
                *master.derive(b"warden answer cache value mac"),
            )),
        ),
    };
    let semantic = match &c.semantic_model {
        None => None,
        Some(dir) => {
            let settings = warden_dataplane::cache::semantic::Settings {
                model_dir: dir.clone(),
                workers: c.semantic_workers,
                max_entries: c.semantic_max_entries,
                timeout: Duration::from_millis(c.semantic_timeout_ms),
            };
            let engine = warden_dataplane::cache::semantic::Engine::start(&settings)?;
            tracing::info!(model = %dir.display(), workers = c.semantic_workers, "semantic cache ready");
            Some(Arc::new(engine))
        }
    };
    Ok(warden_dataplane::cache::Shared::new(
        config.shard_count(),
        (c.memory_mb as usize) << 20,
        (c.max_entry_kb as usize) << 10,
        salt,
        remote,
    )
    .map_err(anyhow::Error::msg)?
    .with_semantic(semantic))
}
