//! clone3(2): the one way Coracle starts a container process.

use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::unistd::Pid;

/// What clone3 returned in the calling process.
#[derive(Debug)]
pub enum CloneResult {
    /// We are the new process.
    Child,
    /// We are the caller; the child has this pid and, if asked for, this pidfd.
    Parent { pid: Pid, pidfd: Option<OwnedFd> },
}

/// Options for [`clone3`].
#[derive(Debug, Default, Clone, Copy)]
pub struct CloneArgs {
    /// `CLONE_*` flags (namespaces, `CLONE_PARENT`, ...). `CLONE_PIDFD` is added when `pidfd` is set.
    pub flags: u64,
    /// Ask for a pidfd of the child (`CLONE_PIDFD`).
    pub pidfd: bool,
    /// Place the child in this cgroup v2 directory fd (`CLONE_INTO_CGROUP`).
    pub cgroup: Option<i32>,
}

/// Fork-like clone3 (no shared memory, `SIGCHLD` on exit).
///
/// The caller must be single-threaded, as for fork: the child gets a copy of the
/// address space with only the calling thread.
pub fn clone3(args: CloneArgs) -> nix::Result<CloneResult> {
    let mut pidfd: libc::c_int = -1;
    let mut flags = args.flags;
    if args.pidfd {
        flags |= libc::CLONE_PIDFD as u64;
    }
    if args.cgroup.is_some() {
        flags |= 0x200000000; // CLONE_INTO_CGROUP
    }
    let mut cl = CloneArgsRaw {
        flags,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        child_tid: 0,
        parent_tid: 0,
        // With CLONE_PARENT the kernel takes the exit signal from the caller and
        // rejects any other value.
        exit_signal: if flags & libc::CLONE_PARENT as u64 != 0 {
            0
        } else {
            libc::SIGCHLD as u64
        },
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: args.cgroup.unwrap_or(0) as u64,
    };
    // SAFETY: `cl` is a valid clone_args of the size we pass; without CLONE_VM the
    // child runs on a copy of our stack, exactly like fork(2). The pidfd pointer
    // stays valid for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut cl as *mut CloneArgsRaw,
            std::mem::size_of::<CloneArgsRaw>(),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(CloneResult::Child),
        pid => Ok(CloneResult::Parent {
            pid: Pid::from_raw(pid as i32),
            // SAFETY: the kernel filled `pidfd` with a new fd we now own.
            pidfd: args.pidfd.then(|| unsafe { OwnedFd::from_raw_fd(pidfd) }),
        }),
    }
}

#[repr(C)]
struct CloneArgsRaw {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}
