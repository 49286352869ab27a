//! pidfd_open(2), pidfd_send_signal(2), pidfd_getfd(2).

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::unistd::Pid;

/// Open a pidfd for `pid` (close-on-exec).
pub fn pidfd_open(pid: Pid) -> nix::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; on success it returns a new fd.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}

/// Send `sig` to the process behind `pidfd`; immune to pid reuse.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> nix::Result<()> {
    // SAFETY: the fd is borrowed for the call, info is NULL as the man page allows.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(ret).map(drop)
}

/// Duplicate fd `target` of the process behind `pidfd` into ours (close-on-exec).
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, target: i32) -> nix::Result<OwnedFd> {
    // SAFETY: integer arguments only; on success the kernel returns a new fd.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0) };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the new fd is ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}
