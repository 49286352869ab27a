//! The container's file system view: mounts, devices, pivot_root, masked and
//! read-only paths. Runs inside the init, in its new mount namespace.
//!
//! Paths inside the rootfs are resolved with the rootfs as root (see
//! [`safe_path`]), and mounts target the resolved fd, so no symlink or `..`
//! in a bundle can reach the host.
//!
//! The phases follow runc: [`prepare`] (propagation, the rootfs bind, `mounts[]`,
//! /dev), hooks, [`pivot`], hostname and sysctls, then [`finalize`]
//! (read-only and masked paths, read-only remounts, `root.readonly`).

mod copyup;
mod devices;
mod masked;
mod mount_options;

pub use mount_options::supported_names as mount_option_names;
mod mounts;
mod pivot;
mod propagation;
pub(crate) mod safe_path;
#[cfg(test)]
mod tests;

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;

/// A rootfs step that failed; renders as `mount proc on /proc: Operation not permitted (EPERM)`.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A system call on a path failed.
    #[error("{op} {path}: {desc} ({source:?})", desc = source.desc())]
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

/// A closure for `map_err` that names the step and the path.
pub(crate) fn sys_err(
    op: impl Into<String>,
    path: impl AsRef<Path>,
) -> impl FnOnce(Errno) -> RootfsError {
    let (op, path) = (op.into(), path.as_ref().to_path_buf());
    move |source| RootfsError::Sys { op, path, source }
}

/// A [`RootfsError::Invalid`].
pub(crate) fn invalid(field: impl Into<String>, msg: impl Into<String>) -> RootfsError {
    RootfsError::Invalid {
        field: field.into(),
        msg: msg.into(),
    }
}

/// Whether SELinux is enabled on the host: selinuxfs is mounted at /sys/fs/selinux.
fn selinux_enabled() -> bool {
    nix::sys::statfs::statfs("/sys/fs/selinux")
        .map(|s| s.filesystem_type().0 as u32 == libc::SELINUX_MAGIC as u32)
        .unwrap_or(false)
}

/// Phase 1, in the new mount namespace, before any hook: rootfs propagation, the
/// rootfs bind mount, every `mounts[]` entry in order, default and `linux.devices`,
/// /dev symlinks, /dev/pts and /dev/shm as the spec gives them.
/// `rootfs` is the absolute host path; `in_userns` says devices must be bind-mounted.
///
/// Relative bind sources resolve against the current directory, which the caller
/// keeps at the bundle directory, as runc does.
pub fn prepare(spec: &Spec, rootfs: &Path, in_userns: bool) -> Result<(), RootfsError> {
    prepare_with_cgroups(spec, rootfs, in_userns, &[])
}

/// [`prepare`], with the container's own cgroup directories for a `cgroup` mount on
/// a v1 or hybrid host (bound one per hierarchy, as runc does).
pub fn prepare_with_cgroups(
    spec: &Spec,
    rootfs: &Path,
    in_userns: bool,
    cgroup_dirs: &[std::path::PathBuf],
) -> Result<(), RootfsError> {
    let linux = spec.linux().as_ref();
    let label = linux
        .and_then(|l| l.mount_label().as_deref())
        .filter(|l| !l.is_empty());
    // Fail closed: a label we cannot apply would leave the mounts unconfined.
    if label.is_some() && !selinux_enabled() {
        return Err(invalid("linux.mountLabel", "selinux is not enabled"));
    }
    let prop = propagation::root_propagation(spec)?;
    propagation::prepare_root(rootfs, prop)?;
    // Opened after the self-bind, so the fd is the root of the new bind mount.
    let root = open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys_err("open rootfs", rootfs))?;
    let ctx = mounts::Ctx {
        root: root.as_fd(),
        in_userns,
        label,
        cgroup_dirs,
    };
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        mounts::mount_entry(&ctx, i, m)?;
    }
    if devices::needs_setup_dev(spec) {
        devices::setup_dev(root.as_fd(), spec, in_userns)?;
    }
    Ok(())
}

/// Phase 2: make `rootfs` the root: pivot_root, or MS_MOVE + chroot with `no_pivot`.
/// Leaves the cwd at the new `/`.
pub fn pivot(rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    if no_pivot {
        pivot::move_root(rootfs)
    } else {
        pivot::pivot_root(rootfs)
    }
}

/// Phase 3, after pivot, hostname and sysctl: `linux.readonlyPaths`,
/// `linux.maskedPaths`, then `root.readonly`.
///
/// Also re-applies `linux.rootfsPropagation` to the new `/` (runc does it right
/// after the pivot, as it must act on the new root), turns the `ro` tmpfs and
/// /dev mounts read-only (they stayed writable for device setup), and sets the
/// umask to `process.user.umask` or 0022.
pub fn finalize(spec: &Spec) -> Result<(), RootfsError> {
    if let Some(prop) = propagation::root_propagation(spec)? {
        propagation::apply_to_root(prop)?;
    }
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        masked::readonly_path(Path::new(p))?;
    }
    let masked_paths: Vec<&String> = linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
        .collect();
    if !masked_paths.is_empty() {
        let null = masked::DevNull::open()?;
        for p in masked_paths {
            null.mask(Path::new(p))?;
        }
    }
    masked::readonly_mounts(spec)?;
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        masked::readonly_root()?;
    }
    let umask = spec
        .process()
        .as_ref()
        .and_then(|p| p.user().umask())
        .unwrap_or(0o022);
    nix::sys::stat::umask(Mode::from_bits_truncate(umask));
    Ok(())
}
