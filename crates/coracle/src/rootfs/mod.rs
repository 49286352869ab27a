//! The container's file system view: mounts, devices, pivot_root, masked and
//! read-only paths. Runs inside the init, in its new mount namespace.
//!
//! Paths inside the rootfs are resolved with the rootfs as root (openat2
//! RESOLVE_IN_ROOT), and mounts target the resolved fd, so no symlink or `..`
//! in a bundle can reach the host.
//! OWNER: rootfs helper. Stub with the agreed interface.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

/// A rootfs step that failed; renders as `mount proc on /proc: Operation not permitted (EPERM)`.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A system call on a path failed.
    #[error("{op} {path}: {errno} ({errno:?})", errno = source.desc())]
    Sys {
        /// The step, e.g. "mount proc on", "mknod", "pivot_root".
        op: String,
        /// The path inside the container (or on the host for the rootfs itself).
        path: PathBuf,
        /// The errno.
        #[source]
        source: nix::errno::Errno,
    },
    /// The spec asks for something we will not do.
    #[error("{field}: {msg}")]
    Invalid {
        /// JSON field, e.g. `mounts[3].destination`.
        field: String,
        /// Why.
        msg: String,
    },
}

/// Phase 1, in the new mount namespace, before any hook: rootfs propagation, the
/// rootfs bind mount, every `mounts[]` entry in order, default and `linux.devices`,
/// /dev symlinks, /dev/pts and /dev/shm as the spec gives them.
/// `rootfs` is the absolute host path; `in_userns` says devices must be bind-mounted.
pub fn prepare(spec: &Spec, rootfs: &Path, in_userns: bool) -> Result<(), RootfsError> {
    let _ = (spec, rootfs, in_userns);
    todo!("rootfs::prepare")
}

/// Phase 2: make `rootfs` the root: pivot_root, or MS_MOVE + chroot with `no_pivot`.
/// Leaves the cwd at the new `/`.
pub fn pivot(rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    let _ = (rootfs, no_pivot);
    todo!("rootfs::pivot")
}

/// Phase 3, after pivot, hostname and sysctl: `linux.readonlyPaths`,
/// `linux.maskedPaths`, then `root.readonly`.
pub fn finalize(spec: &Spec) -> Result<(), RootfsError> {
    let _ = spec;
    todo!("rootfs::finalize")
}
