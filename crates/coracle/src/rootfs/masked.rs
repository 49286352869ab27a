//! After the pivot: `linux.readonlyPaths`, `linux.maskedPaths`, the deferred
//! read-only remounts and `root.readonly`.
//!
//! Everything here acts on fds from openat2(RESOLVE_IN_ROOT) with the new mount
//! API (open_tree, move_mount, mount_setattr, fsmount), so it needs neither a
//! /proc in the container nor a second lookup of any path.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fstat, major, minor, Mode, SFlag};
use oci_spec::runtime::Spec;

use super::safe_path::{clean, open_in_root};
use super::{invalid, sys_err, RootfsError};
use crate::sys::mount::{
    attr, fsconfig, fsmount, fsopen, mount_setattr, move_mount, open_tree, MountAttr,
    AT_EMPTY_PATH, AT_RECURSIVE, FSCONFIG_CMD_CREATE, MOVE_MOUNT_F_EMPTY_PATH,
    MOVE_MOUNT_T_EMPTY_PATH, OPEN_TREE_CLONE,
};

/// The new root, as the root for lookups.
fn root() -> Result<OwnedFd, RootfsError> {
    open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys_err("open", "/"))
}

/// Look `path` up in the container; `None` when it does not exist (skipped, as runc does).
fn lookup(root: &OwnedFd, path: &Path) -> Result<Option<OwnedFd>, RootfsError> {
    match open_in_root(root.as_fd(), path) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(sys_err("open", path)(e)),
    }
}

/// Attach the detached mount `tree` on top of `target`.
fn attach(tree: &OwnedFd, target: &OwnedFd, path: &Path) -> Result<(), RootfsError> {
    move_mount(
        tree.as_fd(),
        c"",
        target.as_fd(),
        c"",
        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(sys_err("move_mount onto", path))
}

fn set_attr(fd: &OwnedFd, flags: u32, set: u64, path: &Path) -> Result<(), RootfsError> {
    let a = MountAttr {
        attr_set: set,
        ..MountAttr::default()
    };
    mount_setattr(fd.as_fd(), c"", AT_EMPTY_PATH | flags, &a)
        .map_err(sys_err("remount read-only", path))
}

/// A `linux.readonlyPaths` entry: a recursive bind of the path onto itself whose
/// top mount is read-only; its other flags are kept (runc adds MS_RDONLY to the
/// path's current nosuid/nodev/noexec).
pub(super) fn readonly_path(path: &Path) -> Result<(), RootfsError> {
    let root = root()?;
    let Some(target) = lookup(&root, path)? else {
        return Ok(());
    };
    let tree = open_tree(
        target.as_fd(),
        c"",
        OPEN_TREE_CLONE | AT_RECURSIVE | AT_EMPTY_PATH,
    )
    .map_err(sys_err("bind mount", path))?;
    set_attr(&tree, 0, attr::RDONLY, path)?;
    attach(&tree, &target, path)
}

/// The container's /dev/null, opened once and checked to be the null device,
/// the source of every masked file.
pub(super) struct DevNull {
    fd: OwnedFd,
}

impl DevNull {
    /// Open /dev/null inside the container and verify it is char 1:3: a file
    /// planted there (CVE-2025-31133) must not become the mask.
    pub fn open() -> Result<DevNull, RootfsError> {
        let root = root()?;
        let path = Path::new("/dev/null");
        let fd = open_in_root(root.as_fd(), path).map_err(sys_err("open", path))?;
        let st = fstat(fd.as_fd()).map_err(sys_err("stat", path))?;
        let is_chr = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
        if !is_chr || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3 {
            return Err(invalid(
                "linux.maskedPaths",
                "/dev/null is not the null device (char 1:3)",
            ));
        }
        Ok(DevNull { fd })
    }

    /// A `linux.maskedPaths` entry: /dev/null over a file, an empty read-only
    /// tmpfs over a directory; a missing path is skipped.
    pub fn mask(&self, path: &Path) -> Result<(), RootfsError> {
        let root = root()?;
        let Some(target) = lookup(&root, path)? else {
            return Ok(());
        };
        let st = fstat(target.as_fd()).map_err(sys_err("stat", path))?;
        let tree = if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            let fs = fsopen(c"tmpfs").map_err(sys_err("fsopen tmpfs for", path))?;
            fsconfig(fs.as_fd(), FSCONFIG_CMD_CREATE, None, None)
                .map_err(sys_err("create tmpfs for", path))?;
            let ro = attr::RDONLY | attr::NOSUID | attr::NODEV | attr::NOEXEC;
            fsmount(fs.as_fd(), ro).map_err(sys_err("mount tmpfs on", path))?
        } else {
            open_tree(self.fd.as_fd(), c"", OPEN_TREE_CLONE | AT_EMPTY_PATH)
                .map_err(sys_err("bind mount /dev/null on", path))?
        };
        attach(&tree, &target, path)
    }
}

/// `ro` tmpfs mounts and an `ro` /dev were mounted writable so they could be
/// filled; make them read-only now.
pub(super) fn readonly_mounts(spec: &Spec) -> Result<(), RootfsError> {
    let root = root()?;
    for m in spec.mounts().iter().flatten() {
        let ro = m
            .options()
            .iter()
            .flatten()
            .fold(false, |ro, o| match o.as_str() {
                "ro" => true,
                "rw" => false,
                _ => ro,
            });
        let bind = m
            .options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind")
            || m.typ().as_deref() == Some("bind");
        let tmpfs = m.typ().as_deref() == Some("tmpfs") && !bind;
        if !ro || !(tmpfs || clean(m.destination()) == Path::new("/dev")) {
            continue;
        }
        let dest = m.destination();
        let fd = open_in_root(root.as_fd(), dest).map_err(sys_err("open", dest))?;
        set_attr(&fd, 0, attr::RDONLY, dest)?;
    }
    Ok(())
}

/// `root.readonly`: the root mount read-only, its other flags kept.
pub(super) fn readonly_root() -> Result<(), RootfsError> {
    let root = root()?;
    set_attr(&root, 0, attr::RDONLY, Path::new("/"))
}
