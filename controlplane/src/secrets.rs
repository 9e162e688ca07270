//! Generated secrets: the admin and data-plane tokens and the master key (files created with
//! mode 0600 on first start), Warden API keys (256 bits, `wdn_` prefix, shown once), and ids.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    Ok(b)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `prefix_` + 12 random hex digits.
pub fn new_id(prefix: &str) -> anyhow::Result<String> {
    Ok(format!("{prefix}_{}", hex(&random_bytes::<6>()?)))
}

/// A new Warden API key: `wdn_` + 256 random bits in hex.
pub fn new_api_key() -> anyhow::Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(random_bytes::<32>()?);
    Ok(Zeroizing::new(format!("wdn_{}", hex(bytes.as_ref()))))
}

/// Read a secret file, creating it (mode 0600) from `make` when it does not exist.
pub fn ensure_file(
    path: &Path,
    make: impl FnOnce() -> anyhow::Result<Zeroizing<Vec<u8>>>,
) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Zeroizing::new(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes = make()?;
            write_private(path, &bytes)?;
            Ok(bytes)
        }
        Err(e) => Err(anyhow::anyhow!("reading {}: {e}", path.display())),
    }
}

/// Write a file readable by its owner only, atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A token file's text: `prefix_` + 256 random bits in hex.
pub fn new_token(prefix: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let bytes = Zeroizing::new(random_bytes::<32>()?);
    Ok(Zeroizing::new(
        format!("{prefix}_{}\n", hex(bytes.as_ref())).into_bytes(),
    ))
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
