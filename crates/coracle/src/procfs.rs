//! Writes to procfs only through a verified procfs (CVE-2025-52881).
//!
//! The root handle is checked to be the root of a real procfs mount (statfs magic
//! `PROC_SUPER_MAGIC`, inode `PROC_ROOT_INO`), so a tmpfs or a procfs
//! subdirectory mounted over `/proc` is refused. Files are opened beneath that
//! root with openat2 and `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV`: no symlink is followed and no mount
//! point is crossed, so a bind mount over a procfs file (the attack behind the
//! CVE: redirecting a write meant for `/proc/self/attr/exec` or a sysctl to some
//! other file) fails instead of writing elsewhere. The opened file is checked
//! once more with fstatfs.
//!
//! `self` and `thread-self` are symlinks inside procfs, so they are resolved here
//! to `<pid>` and `<pid>/task/<tid>` from getpid/gettid, and cross-checked against
//! what the kernel's own `self` link says: a procfs of another pid namespace
//! (where our pid names somebody else) is an error, not a write to a stranger.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

/// The inode number of the root directory of every procfs mount.
const PROC_ROOT_INO: u64 = 1;

/// How often openat2 is retried when it reports `EAGAIN` (a concurrent rename
/// or mount elsewhere on the system made the kernel's lookup unsure).
const OPENAT2_RETRIES: usize = 16;

/// A procfs step that failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcfsError {
    /// A system call failed on a procfs path.
    #[error("{op} /proc/{}: {} ({:?})", path.display(), source.desc(), source)]
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
    #[error("/proc/{}: not on a verified procfs", .0.display())]
    NotProcfs(PathBuf),
    /// A system call failed on the directory meant to be the procfs root.
    #[error("{op} {}: {} ({:?})", path.display(), source.desc(), source)]
    Root {
        /// "open", "fstatfs", "fstat".
        op: &'static str,
        /// The directory, normally `/proc`.
        path: PathBuf,
        /// The errno.
        #[source]
        source: nix::errno::Errno,
    },
    /// The directory meant to be the procfs root is something else.
    #[error("{}: not the root of a procfs mount ({why})", path.display())]
    RootNotProcfs {
        /// The directory, normally `/proc`.
        path: PathBuf,
        /// What the check found.
        why: String,
    },
    /// A path that is not a plain relative path beneath the procfs root.
    #[error("/proc/{0}: invalid procfs path")]
    BadPath(String),
    /// procfs's own `self` link disagrees with our pid: it is the procfs of
    /// another pid namespace, where our pid names a different process.
    #[error("/proc/{link}: points to {found:?}, expected {expected:?} (procfs of another pid namespace)")]
    ForeignPidNs {
        /// `self` or `thread-self`.
        link: &'static str,
        /// What the link says.
        found: String,
        /// What getpid/gettid say.
        expected: String,
    },
    /// write(2) took only part of the value; procfs files want single writes.
    #[error("write /proc/{}: short write ({written} of {len} bytes)", path.display())]
    ShortWrite {
        /// Path relative to the procfs root.
        path: PathBuf,
        /// Bytes the kernel accepted.
        written: usize,
        /// Bytes we wrote.
        len: usize,
    },
    /// A `linux.sysctl` key that cannot name a file under `/proc/sys`.
    #[error("linux.sysctl: invalid key {0:?}")]
    BadSysctlKey(String),
}

/// A verified handle on a procfs root.
#[derive(Debug)]
pub struct ProcFs {
    root: OwnedFd,
}

impl ProcFs {
    /// Open and verify `/proc` as seen by the calling process.
    pub fn open() -> Result<ProcFs, ProcfsError> {
        Self::open_at(Path::new("/proc"))
    }

    /// Open and verify the procfs mounted at `path`.
    pub(crate) fn open_at(path: &Path) -> Result<ProcFs, ProcfsError> {
        let root_err = |op, source| ProcfsError::Root {
            op,
            path: path.to_path_buf(),
            source,
        };
        // O_PATH: we only need a dirfd for openat2 and the two checks below.
        let root = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| root_err("open", e))?;
        let fs = fstatfs(&root).map_err(|e| root_err("fstatfs", e))?;
        if fs.filesystem_type() != PROC_SUPER_MAGIC {
            return Err(ProcfsError::RootNotProcfs {
                path: path.to_path_buf(),
                why: format!("filesystem type {:#x}", fs.filesystem_type().0),
            });
        }
        // A procfs subdirectory bind-mounted over /proc has the right magic but
        // not the root inode.
        let st = nix::sys::stat::fstat(&root).map_err(|e| root_err("fstat", e))?;
        if st.st_ino != PROC_ROOT_INO {
            return Err(ProcfsError::RootNotProcfs {
                path: path.to_path_buf(),
                why: format!("inode {}, not {PROC_ROOT_INO}", st.st_ino),
            });
        }
        Ok(ProcFs { root })
    }

    /// Write `value` to `rel` (e.g. `self/oom_score_adj`, `sys/net/ipv4/ip_forward`)
    /// with a single write(2), as procfs files expect.
    pub fn write(&self, rel: &str, value: &[u8]) -> Result<(), ProcfsError> {
        let (path, fd) = self.open_file(rel, OFlag::O_WRONLY)?;
        let written = nix::unistd::write(&fd, value).map_err(|source| ProcfsError::Sys {
            op: "write",
            path: path.clone(),
            source,
        })?;
        if written != value.len() {
            return Err(ProcfsError::ShortWrite {
                path,
                written,
                len: value.len(),
            });
        }
        Ok(())
    }

    /// Read the whole of `rel`.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, ProcfsError> {
        let (path, fd) = self.open_file(rel, OFlag::O_RDONLY)?;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match nix::unistd::read(fd.as_fd(), &mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(Errno::EINTR) => continue,
                Err(source) => {
                    return Err(ProcfsError::Sys {
                        op: "read",
                        path,
                        source,
                    })
                }
            }
        }
    }

    /// Open `rel` beneath the root without following symlinks or crossing
    /// mounts, and check the result is on procfs. Returns the resolved path.
    fn open_file(&self, rel: &str, mode: OFlag) -> Result<(PathBuf, OwnedFd), ProcfsError> {
        let path = self.resolve(rel)?;
        let how = OpenHow::new()
            .flags(mode | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW | OFlag::O_NOCTTY)
            .resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_SYMLINKS
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS
                    | ResolveFlag::RESOLVE_NO_XDEV,
            );
        let mut tries = 0;
        let fd = loop {
            match nix::fcntl::openat2(&self.root, &path, how) {
                Ok(fd) => break fd,
                Err(Errno::EAGAIN | Errno::EINTR) if tries < OPENAT2_RETRIES => tries += 1,
                // RESOLVE_NO_XDEV: a mount point on the way, i.e. something is
                // mounted over (part of) the path.
                Err(Errno::EXDEV) => return Err(ProcfsError::NotProcfs(path)),
                Err(source) => {
                    return Err(ProcfsError::Sys {
                        op: "open",
                        path,
                        source,
                    })
                }
            }
        };
        let fs = fstatfs(&fd).map_err(|source| ProcfsError::Sys {
            op: "fstatfs",
            path: path.clone(),
            source,
        })?;
        if fs.filesystem_type() != PROC_SUPER_MAGIC {
            return Err(ProcfsError::NotProcfs(path));
        }
        Ok((path, fd))
    }

    /// Check `rel` is a plain relative path and replace a leading `self` or
    /// `thread-self` by the pid (and tid) they stand for.
    fn resolve(&self, rel: &str) -> Result<PathBuf, ProcfsError> {
        let p = Path::new(rel);
        let plain = !rel.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(ProcfsError::BadPath(rel.to_string()));
        }
        let (first, rest) = match rel.split_once('/') {
            Some((first, rest)) => (first, Some(rest)),
            None => (rel, None),
        };
        let pid = nix::unistd::getpid().as_raw();
        let base = match first {
            "self" => pid.to_string(),
            "thread-self" => format!("{pid}/task/{}", nix::unistd::gettid().as_raw()),
            _ => return Ok(p.to_path_buf()),
        };
        let link = if first == "self" {
            "self"
        } else {
            "thread-self"
        };
        self.check_link(link, &base)?;
        Ok(match rest {
            Some(rest) => Path::new(&base).join(rest),
            None => PathBuf::from(base),
        })
    }

    /// The kernel's `self`/`thread-self` link must name the same process we
    /// are: otherwise this procfs belongs to another pid namespace.
    fn check_link(&self, link: &'static str, expected: &str) -> Result<(), ProcfsError> {
        let found =
            nix::fcntl::readlinkat(&self.root, link).map_err(|source| ProcfsError::Sys {
                op: "readlink",
                path: PathBuf::from(link),
                source,
            })?;
        if found.to_str() != Some(expected) {
            return Err(ProcfsError::ForeignPidNs {
                link,
                found: found.to_string_lossy().into_owned(),
                expected: expected.to_string(),
            });
        }
        Ok(())
    }
}

/// The file under the procfs root for a `linux.sysctl` key, as runc names it:
/// every `.` becomes `/` (`net.ipv4.ip_forward` → `sys/net/ipv4/ip_forward`;
/// keys already using `/` pass through). Like runc, a dot inside an interface
/// name (`net.ipv4.conf.eth0.1.forwarding`) is converted too.
pub fn sysctl_path(key: &str) -> Result<String, ProcfsError> {
    if key.is_empty() || key.starts_with('/') || key.contains("..") {
        return Err(ProcfsError::BadSysctlKey(key.to_string()));
    }
    Ok(format!("sys/{}", key.replace('.', "/")))
}

/// Write one `linux.sysctl` entry (`net.ipv4.ip_forward` → `sys/net/ipv4/ip_forward`).
pub fn write_sysctl(proc: &ProcFs, key: &str, value: &str) -> Result<(), ProcfsError> {
    proc.write(&sysctl_path(key)?, value.as_bytes())
}

#[cfg(test)]
mod tests {}
