//! Writes to procfs only through a verified procfs (CVE-2025-52881): the handle is
//! checked to be a real procfs root (statfs magic, root inode, not overmounted)
//! and files are opened beneath it without following symlinks.
//! OWNER: security helper. Stub with the agreed interface.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// A procfs step that failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcfsError {
    /// A system call failed on a procfs path.
    #[error("{op} /proc/{path}: {errno} ({errno:?})", errno = source.desc())]
    Sys {
        /// "open", "write", "fstatfs"...
        op: &'static str,
        /// Path relative to the procfs root.
        path: PathBuf,
        /// The errno.
        #[source]
        source: nix::errno::Errno,
    },
    /// What we opened is not procfs (or was overmounted).
    #[error("/proc/{0}: not on a verified procfs")]
    NotProcfs(PathBuf),
}

/// A verified handle on a procfs root.
#[derive(Debug)]
pub struct ProcFs {
    #[allow(dead_code)]
    root: OwnedFd,
}

impl ProcFs {
    /// Open and verify `/proc` as seen by the calling process.
    pub fn open() -> Result<ProcFs, ProcfsError> {
        todo!()
    }

    /// Write `value` to `rel` (e.g. `self/oom_score_adj`, `sys/net/ipv4/ip_forward`).
    pub fn write(&self, rel: &str, value: &[u8]) -> Result<(), ProcfsError> {
        let _ = (rel, value);
        todo!()
    }

    /// Read the whole of `rel`.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, ProcfsError> {
        let _ = rel;
        todo!()
    }
}

/// Write one `linux.sysctl` entry (`net.ipv4.ip_forward` → `sys/net/ipv4/ip_forward`).
pub fn write_sysctl(proc: &ProcFs, key: &str, value: &str) -> Result<(), ProcfsError> {
    let _ = (proc, key, value);
    todo!()
}

impl std::os::fd::AsFd for ProcFs {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.root.as_fd()
    }
}
