//! The data plane's files of the control link: the last good snapshot and delta in
//! `state_dir`, the master key files, the pinned public key, and how files are replaced.

use std::io::Write;
use std::path::{Path, PathBuf};

use warden_shared::signing::PublicKey;
use warden_shared::snapshot::{self, Snapshot};
use warden_shared::vault::{Keyring, MasterKey};
use zeroize::Zeroizing;

/// Name of the last good snapshot in `state_dir`.
pub const LAST_GOOD: &str = "snapshot.rkyv";
/// Name of the last good delta of it in `state_dir` (absent: the full snapshot is served as is).
pub const LAST_DELTA: &str = "snapshot.delta";

/// The master key in `path` and, during a rotation, the previous one in `path.previous`.
pub fn load_keyring(path: &Path) -> Result<Keyring, String> {
    let mut keys = Vec::new();
    for p in [path.to_path_buf(), previous(path)] {
        match std::fs::read(&p) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                keys.push(
                    MasterKey::from_key_file_bytes(&bytes)
                        .map_err(|e| format!("{}: {e}", p.display()))?,
                );
            }
            Err(e) if p != path && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", p.display())),
        }
    }
    Ok(Keyring::new(keys))
}

/// Where a rotated-out master key is kept while data planes catch up.
pub fn previous(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".previous");
    PathBuf::from(name)
}

/// The last good snapshot in `state_dir`, if one is there, signed by the pinned key and valid.
/// A file that fails either check is not served from, and the log says why.
pub fn last_good(state_dir: &Path, key: &PublicKey) -> Option<Snapshot> {
    let path = state_dir.join(LAST_GOOD);
    let bytes = std::fs::read(&path).ok()?;
    let decoded = key
        .open(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|payload| snapshot::decode(payload).map_err(|e| e.to_string()));
    match decoded {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(
                "refusing the last good snapshot {}: {e}; serving nothing until the control plane pushes",
                path.display()
            );
            None
        }
    }
}

/// The last good delta in `state_dir`: `Ok(None)` when there is none or it is of an older base
/// than `base` (left from before the full snapshot that replaced it); `Err` when it is not
/// signed by the pinned key, not valid, or of a newer base (a bundle's write cut short before
/// its base was in place, [`write_last_good`]) — then nothing must be served, not even the base
/// (it would let keys its own delta removed back in).
pub fn last_delta(
    state_dir: &Path,
    key: &PublicKey,
    base: u64,
) -> Result<Option<snapshot::Delta>, String> {
    let path = state_dir.join(LAST_DELTA);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    let delta = key
        .open_delta(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|payload| snapshot::decode_delta(payload).map_err(|e| e.to_string()))
        .map_err(|e| format!("refusing the last good delta {}: {e}", path.display()))?;
    if delta.base > base {
        return Err(format!(
            "refusing the last good delta {}: it applies to version {}, newer than the last good snapshot ({base}); its base was never written",
            path.display(),
            delta.base
        ));
    }
    if delta.base != base {
        tracing::info!(
            "not serving the last good delta {}: it applies to version {}, the last good snapshot is {base}",
            path.display(),
            delta.base
        );
        return Ok(None);
    }
    Ok(Some(delta))
}

/// The pinned public key in `path`.
pub fn load_public_key(path: &Path) -> Result<PublicKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    PublicKey::from_file_text(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The last good state on disk, each file replaced atomically, in an order that a crash between
/// the two cannot turn into a state that was never served: a full snapshot replaces the base,
/// then the delta file goes (cut short: the new base beside an older delta, which boot ignores —
/// the pushed state); a delta replaces the delta file; a full snapshot and its delta (a bundle):
/// the delta first (cut short: a delta of a newer base beside the old one, and boot serves
/// nothing rather than the old base without its own delta), then the base.
pub fn write_last_good(
    state_dir: &Path,
    full: Option<&[u8]>,
    delta: Option<&[u8]>,
) -> std::io::Result<()> {
    if let Some(delta) = delta {
        write_atomically(&state_dir.join(LAST_DELTA), delta)?;
    }
    if let Some(full) = full {
        write_atomically(&state_dir.join(LAST_GOOD), full)?;
        if delta.is_none() {
            match std::fs::remove_file(state_dir.join(LAST_DELTA)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Temp file, fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    // Owner only: a snapshot holds key digests and sealed provider keys.
    let mut f = warden_shared::create_private(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
