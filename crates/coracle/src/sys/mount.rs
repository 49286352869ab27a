//! The new mount API calls nix lacks: open_tree(2), move_mount(2), mount_setattr(2).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// `struct mount_attr` for mount_setattr(2).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct MountAttr {
    /// `MOUNT_ATTR_*` flags to set.
    pub attr_set: u64,
    /// `MOUNT_ATTR_*` flags to clear.
    pub attr_clr: u64,
    /// `MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE` or `MS_UNBINDABLE`, or 0.
    pub propagation: u64,
    /// A user namespace fd for `MOUNT_ATTR_IDMAP`.
    pub userns_fd: u64,
}

/// `MOUNT_ATTR_RDONLY` and friends.
pub mod attr {
    /// Read-only.
    pub const RDONLY: u64 = 0x1;
    /// No setuid.
    pub const NOSUID: u64 = 0x2;
    /// No devices.
    pub const NODEV: u64 = 0x4;
    /// No exec.
    pub const NOEXEC: u64 = 0x8;
    /// The atime mask.
    pub const ATIME_MASK: u64 = 0x70;
    /// relatime.
    pub const RELATIME: u64 = 0x0;
    /// noatime.
    pub const NOATIME: u64 = 0x10;
    /// strictatime.
    pub const STRICTATIME: u64 = 0x20;
    /// nodiratime.
    pub const NODIRATIME: u64 = 0x80;
    /// idmapped.
    pub const IDMAP: u64 = 0x100000;
    /// nosymfollow.
    pub const NOSYMFOLLOW: u64 = 0x200000;
}

/// `AT_RECURSIVE`: apply to the whole subtree.
pub const AT_RECURSIVE: u32 = 0x8000;
/// `OPEN_TREE_CLONE`: detached copy of the tree (a bind mount not yet attached).
pub const OPEN_TREE_CLONE: u32 = 1;
/// `MOVE_MOUNT_F_EMPTY_PATH`: the source is the fd itself.
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
/// `MOVE_MOUNT_T_EMPTY_PATH`: the target is the fd itself.
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

/// mount_setattr(dirfd, path, flags, attr).
pub fn mount_setattr(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: u32,
    attr: &MountAttr,
) -> nix::Result<()> {
    // SAFETY: path is NUL-terminated and attr points to a live MountAttr of the size passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// open_tree(dirfd, path, flags): with `OPEN_TREE_CLONE` a detached bind mount.
pub fn open_tree(dirfd: BorrowedFd<'_>, path: &CStr, flags: u32) -> nix::Result<OwnedFd> {
    // SAFETY: path is NUL-terminated; the call returns a new fd on success.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            flags | libc::O_CLOEXEC as u32,
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}

/// move_mount(from_dirfd, from_path, to_dirfd, to_path, flags).
pub fn move_mount(
    from_dirfd: BorrowedFd<'_>,
    from_path: &CStr,
    to_dirfd: BorrowedFd<'_>,
    to_path: &CStr,
    flags: u32,
) -> nix::Result<()> {
    // SAFETY: both paths are NUL-terminated and the fds are borrowed for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from_dirfd.as_raw_fd(),
            from_path.as_ptr(),
            to_dirfd.as_raw_fd(),
            to_path.as_ptr(),
            flags,
        )
    };
    Errno::result(ret).map(drop)
}

/// `AT_EMPTY_PATH`: operate on the fd itself (for open_tree and mount_setattr).
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// `FSCONFIG_SET_STRING`: set a string-valued parameter.
pub const FSCONFIG_SET_STRING: u32 = 1;
/// `FSCONFIG_CMD_CREATE`: create the superblock from the parameters given so far.
pub const FSCONFIG_CMD_CREATE: u32 = 6;

/// fsopen(fstype, FSOPEN_CLOEXEC): a file system context for the new mount API.
pub fn fsopen(fstype: &CStr) -> nix::Result<OwnedFd> {
    const FSOPEN_CLOEXEC: u32 = 1;
    // SAFETY: fstype is NUL-terminated; the call returns a new fd on success.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}

/// fsconfig(fs_fd, cmd, key, value, 0): `key`/`value` are `None` for commands without them.
pub fn fsconfig(
    fs_fd: BorrowedFd<'_>,
    cmd: u32,
    key: Option<&CStr>,
    value: Option<&CStr>,
) -> nix::Result<()> {
    let key = key.map_or(std::ptr::null(), CStr::as_ptr);
    let value = value.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: key and value are NULL or NUL-terminated strings alive for the call.
    let ret = unsafe { libc::syscall(libc::SYS_fsconfig, fs_fd.as_raw_fd(), cmd, key, value, 0) };
    Errno::result(ret).map(drop)
}

/// fsmount(fs_fd, FSMOUNT_CLOEXEC, attr): a detached mount of a created context,
/// with `MOUNT_ATTR_*` flags `attr`.
pub fn fsmount(fs_fd: BorrowedFd<'_>, attr: u64) -> nix::Result<OwnedFd> {
    const FSMOUNT_CLOEXEC: u32 = 1;
    // SAFETY: integer arguments only; the call returns a new fd on success.
    let ret = unsafe { libc::syscall(libc::SYS_fsmount, fs_fd.as_raw_fd(), FSMOUNT_CLOEXEC, attr) };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}
