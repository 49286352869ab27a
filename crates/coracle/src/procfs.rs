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

/// The verified procfs root, for openat-style lookups beneath it.
impl std::os::fd::AsFd for ProcFs {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.root.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::testutil::in_child;
    use nix::mount::{mount, MsFlags};
    use nix::sched::CloneFlags;

    fn s<E: std::fmt::Display>(e: E) -> String {
        e.to_string()
    }

    /// In a child with its own mount namespace: stop propagation both ways and
    /// put a private tmpfs on /tmp, so nothing reaches the host.
    fn private_mounts() -> Result<(), String> {
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| format!("make / rprivate: {e}"))?;
        mount(
            Some("tmpfs"),
            "/tmp",
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| format!("mount tmpfs on /tmp: {e}"))
    }

    fn bind(src: &str, dst: &str) -> Result<(), String> {
        mount(Some(src), dst, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| format!("bind {src} on {dst}: {e}"))
    }

    #[test]
    fn host_proc_is_verified_and_self_resolves_to_our_pid() {
        let proc = ProcFs::open().unwrap();
        let status = String::from_utf8(proc.read("self/status").unwrap()).unwrap();
        let pid = nix::unistd::getpid();
        assert!(status.contains(&format!("\nPid:\t{pid}\n")), "{status}");
        let status = String::from_utf8(proc.read("thread-self/status").unwrap()).unwrap();
        let tid = nix::unistd::gettid();
        assert!(status.contains(&format!("\nPid:\t{tid}\n")), "{status}");
        assert_eq!(
            proc.resolve("self").unwrap(),
            PathBuf::from(pid.to_string())
        );
    }

    #[test]
    fn paths_that_are_not_plain_relative_paths_are_refused() {
        let proc = ProcFs::open().unwrap();
        for bad in [
            "",
            "/etc/passwd",
            "../etc/passwd",
            "self/../1/environ",
            "./self/status",
        ] {
            match proc.read(bad) {
                Err(ProcfsError::BadPath(p)) => assert_eq!(p, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn symlinks_inside_procfs_are_not_followed() {
        // /proc/mounts is a symlink to self/mounts.
        let proc = ProcFs::open().unwrap();
        let err = proc.read("mounts").unwrap_err();
        assert_eq!(
            err.to_string(),
            "open /proc/mounts: Too many symbolic links encountered (ELOOP)"
        );
        // The cwd magic link of our own process is not followed either.
        assert!(proc.read("self/cwd/status").is_err());
    }

    #[test]
    fn oom_score_adj_write_reads_back() {
        let out = in_child(0, || {
            let proc = ProcFs::open().map_err(s)?;
            proc.write("self/oom_score_adj", b"123").map_err(s)?;
            let v = proc.read("self/oom_score_adj").map_err(s)?;
            Ok(String::from_utf8_lossy(&v).into_owned())
        });
        assert_eq!(out, Ok("123\n".to_string()));
    }

    #[test]
    fn tmpfs_file_bind_mounted_over_a_proc_file_is_refused() {
        let out = in_child(CloneFlags::CLONE_NEWNS.bits() as u64, || {
            private_mounts()?;
            std::fs::write("/tmp/decoy", "untouched").map_err(s)?;
            let pid = nix::unistd::getpid();
            bind("/tmp/decoy", &format!("/proc/{pid}/oom_score_adj"))?;
            let proc = ProcFs::open().map_err(s)?;
            let err = match proc.write("self/oom_score_adj", b"500") {
                Ok(()) => return Err("write went through the bind mount".into()),
                Err(e) => e.to_string(),
            };
            Ok(format!(
                "{}|{}",
                err.replace(&pid.to_string(), "PID"),
                std::fs::read_to_string("/tmp/decoy").map_err(s)?
            ))
        });
        assert_eq!(
            out,
            Ok("/proc/PID/oom_score_adj: not on a verified procfs|untouched".to_string())
        );
    }

    #[test]
    fn procfs_file_bind_mounted_over_another_is_refused() {
        // CVE-2025-52881: a procfs file (here our own UTS namespace's
        // domainname, harmless) mounted over the file the runtime means to
        // write passes a statfs check; RESOLVE_NO_XDEV still refuses it.
        let flags = (CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS).bits() as u64;
        let out = in_child(flags, || {
            private_mounts()?;
            std::fs::write("/proc/sys/kernel/domainname", "before").map_err(s)?;
            bind("/proc/sys/kernel/domainname", "/proc/thread-self/attr/exec")?;
            let proc = ProcFs::open().map_err(s)?;
            let r = proc.write("thread-self/attr/exec", b"after");
            let dom = nix::sys::utsname::uname().map_err(s)?;
            let dom = dom.domainname().to_string_lossy().into_owned();
            match r {
                Err(ProcfsError::NotProcfs(_)) => Ok(dom),
                other => Err(format!("{other:?}, domainname {dom}")),
            }
        });
        assert_eq!(out, Ok("before".to_string()));
    }

    #[test]
    fn tmpfs_instead_of_proc_is_refused() {
        let out = in_child(CloneFlags::CLONE_NEWNS.bits() as u64, || {
            private_mounts()?;
            Ok(ProcFs::open_at(Path::new("/tmp")).unwrap_err().to_string())
        });
        assert_eq!(
            out,
            Ok("/tmp: not the root of a procfs mount (filesystem type 0x1021994)".to_string())
        );
    }

    #[test]
    fn procfs_subdirectory_mounted_as_proc_is_refused() {
        let out = in_child(CloneFlags::CLONE_NEWNS.bits() as u64, || {
            private_mounts()?;
            std::fs::create_dir("/tmp/proc").map_err(s)?;
            bind("/proc/sys", "/tmp/proc")?;
            match ProcFs::open_at(Path::new("/tmp/proc")) {
                Err(ProcfsError::RootNotProcfs { why, .. }) => Ok(why),
                other => Err(format!("{other:?}")),
            }
        });
        assert!(
            out.as_deref().is_ok_and(|w| w.starts_with("inode ")),
            "{out:?}"
        );
    }

    #[test]
    fn proc_of_another_pid_namespace_is_refused_until_our_own_is_mounted() {
        let flags = (CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID).bits() as u64;
        let out = in_child(flags, || {
            private_mounts()?;
            // We are pid 1 here, but /proc still shows the host's pid 1.
            let host = ProcFs::open().map_err(s)?;
            let err = match host.write("self/oom_score_adj", b"0") {
                Ok(()) => return Err("wrote through a foreign /proc".into()),
                Err(ProcfsError::ForeignPidNs { expected, .. }) => expected,
                Err(e) => return Err(e.to_string()),
            };
            mount(
                Some("proc"),
                "/proc",
                Some("proc"),
                MsFlags::empty(),
                None::<&str>,
            )
            .map_err(s)?;
            let ours = ProcFs::open().map_err(s)?;
            ours.write("self/oom_score_adj", b"7").map_err(s)?;
            let v = ours.read("1/oom_score_adj").map_err(s)?;
            Ok(format!("{err}|{}", String::from_utf8_lossy(&v).trim()))
        });
        assert_eq!(out, Ok("1|7".to_string()));
    }

    #[test]
    fn sysctl_keys_map_like_runc() {
        let ok = [
            ("net.ipv4.ip_forward", "sys/net/ipv4/ip_forward"),
            ("net/ipv4/ip_forward", "sys/net/ipv4/ip_forward"),
            ("kernel.domainname", "sys/kernel/domainname"),
            (
                "net.ipv4.conf.eth0.1.forwarding",
                "sys/net/ipv4/conf/eth0/1/forwarding",
            ),
        ];
        for (key, path) in ok {
            assert_eq!(sysctl_path(key).unwrap(), path);
        }
        for bad in [
            "",
            "/kernel/domainname",
            "net..ipv4",
            "net/../../etc",
            "../x",
        ] {
            assert_eq!(
                sysctl_path(bad).unwrap_err().to_string(),
                format!("linux.sysctl: invalid key {bad:?}")
            );
        }
    }

    #[test]
    fn sysctl_kernel_domainname_in_a_new_uts_namespace() {
        let out = in_child(CloneFlags::CLONE_NEWUTS.bits() as u64, || {
            let proc = ProcFs::open().map_err(s)?;
            write_sysctl(&proc, "kernel.domainname", "coracle.test").map_err(s)?;
            let back = proc.read("sys/kernel/domainname").map_err(s)?;
            let uts = nix::sys::utsname::uname().map_err(s)?;
            Ok(format!(
                "{}|{}",
                String::from_utf8_lossy(&back).trim(),
                uts.domainname().to_string_lossy()
            ))
        });
        assert_eq!(out, Ok("coracle.test|coracle.test".to_string()));
    }

    #[test]
    fn sysctl_errors_name_the_path() {
        let proc = ProcFs::open().unwrap();
        assert_eq!(
            write_sysctl(&proc, "net.no_such_key", "1")
                .unwrap_err()
                .to_string(),
            "open /proc/sys/net/no_such_key: No such file or directory (ENOENT)"
        );
    }
}
