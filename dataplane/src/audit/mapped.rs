//! A file mapped `MAP_SHARED` into memory: the storage of a shard's audit ring. The kernel owns
//! the pages, so what a shard stores there outlives the process — a `kill -9` loses nothing
//! the shard had published — and the next start reads it back.
//!
//! The file's blocks are allocated up front (`posix_fallocate`), so a store into the mapping
//! never needs a new block: a full disk cannot turn into SIGBUS on the shard thread.
//!
//! This is the only place the audit path uses `unsafe`: mapping, unmapping, and handing out
//! atomics and raw byte ranges inside the mapping. Who may touch which bytes when is the
//! ring's protocol (`ring.rs`), not this file's.

#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::AtomicU64;

pub struct Mapped {
    ptr: *mut u8,
    len: usize,
    /// Kept open for the life of the mapping (not needed by mmap, but it documents ownership).
    _file: File,
}

// SAFETY: the mapping is plain memory shared by design between one producer (a shard) and one
// consumer (the drain thread); every access goes through atomics or through byte ranges the
// ring's head/tail protocol hands to exactly one side at a time.
unsafe impl Send for Mapped {}
// SAFETY: as above; `&Mapped` only exposes atomics and raw pointers, never `&mut` references.
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Map `path`, creating it (mode 0600) with `len` bytes allocated when it does not exist.
    /// An existing file is mapped at its own length.
    pub fn open(path: &Path, len: usize) -> std::io::Result<Mapped> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        let have = file.metadata()?.len() as usize;
        let len = if have == 0 {
            allocate(&file, len)?;
            file.sync_all()?;
            len
        } else {
            have
        };
        if len == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: not a ring file (length {len})", path.display()),
            ));
        }
        // SAFETY: a fresh shared read-write mapping of a regular file we hold open; the kernel
        // picks the address; the result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapped {
            ptr: ptr.cast(),
            len,
            _file: file,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The 8-byte word at `offset` as an atomic.
    pub fn atomic(&self, offset: usize) -> &AtomicU64 {
        assert_in(offset, 8, self.len);
        assert!(offset.is_multiple_of(8), "atomic words are 8-aligned");
        // SAFETY: in bounds and 8-aligned (the mapping is page-aligned); AtomicU64 has the
        // layout of u64 and every bit pattern is valid; the reference lives no longer than
        // `self`, which keeps the mapping alive.
        unsafe { &*self.ptr.add(offset).cast::<AtomicU64>() }
    }

    /// Copy `bytes` into the mapping at `offset`. The caller owns that range by the ring's
    /// protocol (no reader looks at it until it is published).
    pub fn write(&self, offset: usize, bytes: &[u8]) {
        assert_in(offset, bytes.len(), self.len);
        // SAFETY: in bounds; `bytes` cannot overlap the mapping's unpublished range it is
        // written to (it is the producer's own scratch buffer).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(offset), bytes.len()) }
    }

    /// The bytes at `offset..offset + len`. The caller owns that range by the ring's protocol
    /// (published and not yet released back to the producer), so nothing writes it meanwhile.
    pub fn read(&self, offset: usize, len: usize) -> &[u8] {
        assert_in(offset, len, self.len);
        // SAFETY: in bounds; by the protocol no one writes these bytes while the slice lives.
        unsafe { std::slice::from_raw_parts(self.ptr.add(offset), len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `open` mapped; no reference into it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

#[allow(clippy::panic)]
fn assert_in(offset: usize, len: usize, total: usize) {
    // A bug in the ring's arithmetic, never input: stop before touching memory out of bounds.
    if offset.checked_add(len).is_none_or(|end| end > total) {
        panic!("ring access out of bounds: {offset}+{len} of {total}");
    }
}

fn allocate(file: &File, len: usize) -> std::io::Result<()> {
    let len = libc::off_t::try_from(len)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "ring too large"))?;
    // SAFETY: a plain syscall on a file descriptor we own.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    match rc {
        0 => Ok(()),
        // Filesystems without fallocate: write zeros instead, which allocates just the same.
        libc::EOPNOTSUPP | libc::EINVAL => {
            use std::io::Write;
            let zeros = vec![0u8; 64 * 1024];
            let mut left = len as usize;
            let mut f = file;
            while left > 0 {
                let n = left.min(zeros.len());
                f.write_all(&zeros[..n])?;
                left -= n;
            }
            Ok(())
        }
        e => Err(std::io::Error::from_raw_os_error(e)),
    }
}
