//! Namespace kinds, clone flags, join-by-path ordering, uid/gid maps and time offsets.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sched::{setns, CloneFlags};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

/// A namespace step that failed.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// A system call failed.
    #[error("{op} {path}: {desc} ({source:?})", desc = source.desc())]
    Sys {
        /// "open", "setns", "write".
        op: &'static str,
        /// The namespace file or /proc file.
        path: PathBuf,
        /// The errno.
        #[source]
        source: Errno,
    },
    /// The spec asks for a combination we refuse.
    #[error("{field}: {msg}")]
    Invalid {
        /// JSON field.
        field: String,
        /// Why.
        msg: String,
    },
}

/// Setns order: the user namespace first (it grants the privileges the others need),
/// the mount namespace last (after it, host paths no longer resolve).
const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

/// The clone flag of a namespace kind.
pub fn clone_flag(kind: LinuxNamespaceType) -> CloneFlags {
    // oci-spec's discriminants are the kernel's CLONE_NEW* values.
    CloneFlags::from_bits_retain(kind as i32)
}

/// Which namespaces a container gets: new ones as clone flags, joined ones as open fds.
#[derive(Debug)]
pub struct Plan {
    /// `CLONE_NEW*` flags of the namespaces to create.
    pub new: CloneFlags,
    /// Namespaces to join, opened in the parent, in [`JOIN_ORDER`].
    pub joins: Vec<(LinuxNamespaceType, PathBuf, OwnedFd)>,
}

impl Plan {
    /// Read the plan from the spec, opening every namespace path (so a missing path fails
    /// before anything is created).
    pub fn from_spec(spec: &Spec) -> Result<Plan, NamespaceError> {
        let mut plan = Plan {
            new: CloneFlags::empty(),
            joins: Vec::new(),
        };
        let Some(namespaces) = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()) else {
            return Ok(plan);
        };
        for kind in JOIN_ORDER {
            let Some(ns) = namespaces.iter().find(|n| n.typ() == kind) else {
                continue;
            };
            match ns.path() {
                None => plan.new |= clone_flag(kind),
                Some(path) => {
                    let fd = open(
                        path.as_path(),
                        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|source| NamespaceError::Sys {
                        op: "open",
                        path: path.clone(),
                        source,
                    })?;
                    plan.joins.push((kind, path.clone(), fd));
                }
            }
        }
        Ok(plan)
    }

    /// Whether a namespace of `kind` is created.
    pub fn is_new(&self, kind: LinuxNamespaceType) -> bool {
        self.new.contains(clone_flag(kind))
    }

    /// Whether a namespace of `kind` is joined by path.
    pub fn is_joined(&self, kind: LinuxNamespaceType) -> bool {
        self.joins.iter().any(|(k, _, _)| *k == kind)
    }

    /// Whether the init can be cloned directly with all namespaces in one clone3.
    ///
    /// Joined namespaces must be entered before new ones are created (a new user
    /// namespace would otherwise own them, and setns into a host-owned namespace needs
    /// host privileges), and time offsets can only be written before any process lives
    /// in the new time namespace: both need a bootstrap process that setns/unshares and
    /// then clones the init.
    pub fn single_clone(&self) -> bool {
        self.joins.is_empty() && !self.is_new(LinuxNamespaceType::Time)
    }

    /// Enter every joined namespace, in [`JOIN_ORDER`].
    pub fn join_all(&self) -> Result<(), NamespaceError> {
        for (kind, path, fd) in &self.joins {
            setns(fd.as_fd(), clone_flag(*kind)).map_err(|source| NamespaceError::Sys {
                op: "setns",
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Write `uid_map` and `gid_map` of `pid` from the spec (we run as root, so any mapping
/// the kernel accepts is allowed and setgroups stays permitted).
pub fn write_id_maps(pid: Pid, spec: &Spec) -> Result<(), NamespaceError> {
    let linux = spec.linux().as_ref();
    let uid = linux.and_then(|l| l.uid_mappings().as_ref());
    let gid = linux.and_then(|l| l.gid_mappings().as_ref());
    write_map(pid, "uid_map", uid.map(Vec::as_slice).unwrap_or_default())?;
    write_map(pid, "gid_map", gid.map(Vec::as_slice).unwrap_or_default())
}

fn write_map(pid: Pid, file: &str, map: &[LinuxIdMapping]) -> Result<(), NamespaceError> {
    if map.is_empty() {
        return Ok(());
    }
    let text: String = map
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    write_proc(
        PathBuf::from(format!("/proc/{pid}/{file}")),
        text.as_bytes(),
    )
}

/// Write `linux.timeOffsets` into `/proc/self/timens_offsets` (after unshare(CLONE_NEWTIME),
/// before the first process enters the namespace).
pub fn write_time_offsets(spec: &Spec) -> Result<(), NamespaceError> {
    let Some(offsets) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        if clock != "monotonic" && clock != "boottime" {
            return Err(NamespaceError::Invalid {
                field: format!("linux.timeOffsets[{clock:?}]"),
                msg: "unknown clock (monotonic or boottime)".into(),
            });
        }
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    write_proc(PathBuf::from("/proc/self/timens_offsets"), text.as_bytes())
}

fn write_proc(path: PathBuf, data: &[u8]) -> Result<(), NamespaceError> {
    // These files want the whole content in one write(2).
    let res = File::options()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(data));
    res.map_err(|e| NamespaceError::Sys {
        op: "write",
        path,
        source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_flags_match_the_kernel() {
        assert_eq!(
            clone_flag(LinuxNamespaceType::Mount),
            CloneFlags::CLONE_NEWNS
        );
        assert_eq!(
            clone_flag(LinuxNamespaceType::User),
            CloneFlags::CLONE_NEWUSER
        );
        assert_eq!(
            clone_flag(LinuxNamespaceType::Pid),
            CloneFlags::CLONE_NEWPID
        );
        assert_eq!(
            clone_flag(LinuxNamespaceType::Network),
            CloneFlags::CLONE_NEWNET
        );
        assert_eq!(
            clone_flag(LinuxNamespaceType::Ipc),
            CloneFlags::CLONE_NEWIPC
        );
        assert_eq!(
            clone_flag(LinuxNamespaceType::Uts),
            CloneFlags::CLONE_NEWUTS
        );
        assert_eq!(
            clone_flag(LinuxNamespaceType::Cgroup),
            CloneFlags::CLONE_NEWCGROUP
        );
        assert_eq!(
            clone_flag(LinuxNamespaceType::Time).bits(),
            libc::CLONE_NEWTIME
        );
    }

    #[test]
    fn plan_orders_joins_user_first_mount_last() {
        let json = serde_json::json!({
            "ociVersion": "1.0.2",
            "linux": {"namespaces": [
                {"type": "mount", "path": "/proc/self/ns/mnt"},
                {"type": "network", "path": "/proc/self/ns/net"},
                {"type": "user", "path": "/proc/self/ns/user"},
                {"type": "pid"}
            ]}
        });
        let spec: Spec = serde_json::from_value(json).unwrap();
        let plan = Plan::from_spec(&spec).unwrap();
        let kinds: Vec<_> = plan.joins.iter().map(|j| j.0).collect();
        assert_eq!(
            kinds,
            [
                LinuxNamespaceType::User,
                LinuxNamespaceType::Network,
                LinuxNamespaceType::Mount
            ]
        );
        assert!(plan.is_new(LinuxNamespaceType::Pid));
        assert!(!plan.is_new(LinuxNamespaceType::Network));
        assert!(!plan.single_clone());
    }

    #[test]
    fn missing_namespace_path_names_it() {
        let json = serde_json::json!({
            "ociVersion": "1.0.2",
            "linux": {"namespaces": [{"type": "network", "path": "/nonexistent/ns"}]}
        });
        let spec: Spec = serde_json::from_value(json).unwrap();
        let err = Plan::from_spec(&spec).unwrap_err().to_string();
        assert!(err.starts_with("open /nonexistent/ns: "), "{err}");
        assert!(err.contains("ENOENT"), "{err}");
    }
}
