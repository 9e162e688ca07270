//! How full the audit directory's filesystem is: the drain thread looks once a second, so
//! retention can make room before a full disk makes Warden refuse every request (it fails
//! closed), and operators see the warning on `/readyz` and in the metrics well before that.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Free and total bytes of a filesystem (free: what an unprivileged writer may still use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Space {
    pub free: u64,
    pub total: u64,
}

impl Space {
    /// Free space as a whole percentage of the total (100 when the total is unknown).
    pub fn free_percent(&self) -> u64 {
        if self.total == 0 {
            return 100;
        }
        (u128::from(self.free) * 100 / u128::from(self.total)) as u64
    }

    /// Whether less is free than `bytes`, or than `percent` of the total (0 turns either off;
    /// an unknown total is never short).
    pub fn below(&self, bytes: u64, percent: u64) -> bool {
        self.total > 0
            && ((bytes > 0 && self.free < bytes) || (percent > 0 && self.free_percent() < percent))
    }
}

/// Whether `dir` is on a tmpfs (memory, never written back to a disk).
pub fn is_tmpfs(dir: &Path) -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: a NUL-terminated path and storage for one statfs, filled in when it returns 0.
    let rc = unsafe { libc::statfs(path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    // SAFETY: statfs returned 0, so it initialised the struct.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)]
    let kind = st.f_type as i64;
    kind == TMPFS_MAGIC
}

/// The space of the filesystem that holds `dir`.
pub fn space(dir: &Path) -> std::io::Result<Space> {
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in a path"))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: a NUL-terminated path and a pointer to storage for one statvfs, which the call
    // fills in when it returns 0.
    let rc = unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it initialised the struct.
    let st = unsafe { st.assume_init() };
    // The field types differ between targets (u64 on x86_64 glibc, narrower elsewhere).
    #[allow(clippy::unnecessary_cast)]
    let (block, bavail, blocks) = (st.f_frsize as u64, st.f_bavail as u64, st.f_blocks as u64);
    Ok(Space {
        free: bavail.saturating_mul(block),
        total: blocks.saturating_mul(block),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_temp_directory_has_a_size() {
        let s = space(&std::env::temp_dir()).unwrap_or_default();
        assert!(s.total > 0 && s.free <= s.total, "{s:?}");
        assert!(s.free_percent() <= 100);
        assert!(space(Path::new("/no/such/dir")).is_err());
    }

    #[test]
    fn a_big_disk_a_tenth_free_is_not_short_of_a_floor_in_bytes() {
        const GIB: u64 = 1 << 30;
        // A shared 252 GiB disk with 20 GiB free: under 10 %, yet 20 GiB of room.
        let roomy = Space {
            free: 20 * GIB,
            total: 252 * GIB,
        };
        assert!(!roomy.below(GIB, 0));
        assert!(roomy.below(0, 10));
        assert!(!roomy.below(0, 0));
        let nearly_full = Space {
            free: GIB / 2,
            total: 252 * GIB,
        };
        assert!(nearly_full.below(GIB, 0) && nearly_full.below(GIB, 1));
        assert!(!Space { free: 0, total: 0 }.below(GIB, 10), "unknown total");
    }
}
