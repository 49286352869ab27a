//! File-descriptor hygiene before execve.

use nix::errno::Errno;

/// Mark every fd from `first` upward close-on-exec (close_range CLOSE_RANGE_CLOEXEC).
///
/// Marking instead of closing keeps fds the init still needs (the sync socket, the
/// exec fifo) usable until execve, and guarantees none of them reaches the program.
pub fn cloexec_from(first: u32) -> nix::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: integer arguments only; the call changes fd flags, never memory.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    Errno::result(ret).map(drop)
}

/// Take ownership of an fd the kernel just installed for us (SCM_RIGHTS).
pub fn owned_from_received(raw: std::os::fd::RawFd) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: the kernel installed `raw` for this process in recvmsg; no other owner exists.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) }
}

/// In a freshly cloned child, close this process's copy of fds inherited from the
/// parent that must not live on in it (the state-directory lock). Errors are ignored:
/// the fd may already be gone.
pub fn close_inherited(fds: &[std::os::fd::RawFd]) {
    for &fd in fds {
        // SAFETY: called only in a cloned child before it uses any of these fds; the
        // Rust owners of the copies are never dropped there (the child leaves through
        // execve or _exit), so no double close or use-after-close can follow.
        unsafe { libc::close(fd) };
    }
}
