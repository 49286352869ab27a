//! Spawning the container init: clone3, the parent<->init sync protocol, the init sequence.

pub mod exec;
pub mod init;
pub mod spawn;
pub mod sync;

use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::hooks::HookError;
use crate::namespaces::NamespaceError;
use crate::procfs::ProcfsError;
use crate::rootfs::RootfsError;
use crate::security::SecurityError;

/// A failure while starting or setting up the init; crosses to the parent as text.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A rootfs step.
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    /// A privilege step.
    #[error(transparent)]
    Security(#[from] SecurityError),
    /// A procfs write.
    #[error(transparent)]
    Procfs(#[from] ProcfsError),
    /// Placing the init in its cgroup.
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    /// A namespace step.
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    /// A hook run by the init.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// The sync protocol.
    #[error(transparent)]
    Sync(#[from] sync::SyncError),
    /// The peer reported an error or broke the phase order.
    #[error(transparent)]
    Peer(#[from] sync::Expected),
    /// A bare system call.
    #[error("{op}: {desc} ({source:?})", desc = source.desc())]
    Sys {
        /// What we were doing, with its path if any.
        op: String,
        /// The errno.
        #[source]
        source: Errno,
    },
    /// The program cannot be executed.
    #[error("{0}")]
    Exec(String),
    /// The config lacks something the init needs.
    #[error("{0}")]
    Config(&'static str),
}

impl InitError {
    /// `map_err` helper for a syscall step.
    pub fn sys(op: &'static str) -> impl Fn(Errno) -> InitError {
        move |source| InitError::Sys {
            op: op.to_string(),
            source,
        }
    }

    /// `map_err` helper for a syscall on a path.
    pub fn path(op: &'static str, path: &Path) -> impl Fn(Errno) -> InitError {
        let path: PathBuf = path.to_path_buf();
        move |source| InitError::Sys {
            op: format!("{op} {}", path.display()),
            source,
        }
    }
}
