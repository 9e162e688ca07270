//! Closed segments compressed with zstd: `segment-N.wal.zst` holds the same bytes as the plain
//! file, in one zstd frame, so the chain, the CRCs and every frame offset are unchanged and every
//! reader goes through [`segment_bytes`].

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{parse_segment, MAX_SEGMENT};

/// The compressed file's path for a plain segment's.
pub fn compressed_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".zst");
    PathBuf::from(name)
}

/// Whether a segment path is a compressed one.
pub fn is_compressed(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "zst")
}

/// A segment file's bytes, decompressed when it is compressed. A compressed segment may not
/// expand past `MAX_SEGMENT` (a tampered file cannot make a reader exhaust memory).
pub fn segment_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = match std::fs::File::open(path) {
        // Compressed since it was listed: read the compressed file.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !is_compressed(path) => {
            return segment_bytes(&compressed_path(path));
        }
        other => other?,
    };
    let mut bytes = Vec::new();
    if is_compressed(path) {
        let decoder = zstd::stream::read::Decoder::new(file)?;
        decoder.take(MAX_SEGMENT + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_SEGMENT {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: expands past {MAX_SEGMENT} bytes", path.display()),
            ));
        }
    } else {
        let mut file = file;
        file.read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

/// Compress a closed segment: `segment-N.wal` becomes `segment-N.wal.zst` (written aside,
/// fdatasync'ed, renamed, then the plain file removed). A segment that does not parse cleanly is
/// left as it is, as evidence. If the plain file vanished meanwhile (retention deleted it), the
/// compressed copy is removed too: a deleted segment never comes back.
pub fn compress_segment(path: &Path, level: i32) -> std::io::Result<Option<PathBuf>> {
    let bytes = std::fs::read(path)?;
    if parse_segment(&bytes, None).problem.is_some() {
        return Ok(None);
    }
    let done = compressed_path(path);
    let mut tmp = done.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let file = crate::create_private(&tmp)?;
        let mut enc = zstd::stream::write::Encoder::new(file, level)?;
        std::io::Write::write_all(&mut enc, &bytes)?;
        enc.finish()?.sync_all()?;
    }
    std::fs::rename(&tmp, &done)?;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::remove_file(&done)?;
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(Some(done))
}
