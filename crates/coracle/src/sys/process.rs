//! Process-level calls nix lacks or that must not unwind.

use nix::errno::Errno;

/// _exit(2): leave a cloned child without running the parent's atexit handlers or
/// destructors (they belong to the parent's copy of the process).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust-owned state.
    unsafe { libc::_exit(code) }
}

/// prctl(PR_SET_PDEATHSIG, sig); 0 clears it.
pub fn set_pdeathsig(sig: i32) -> nix::Result<()> {
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
    Errno::result(ret).map(drop)
}

/// setdomainname(2).
pub fn set_domainname(name: &str) -> nix::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes for the duration of the call.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    Errno::result(ret).map(drop)
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a new session keyring named `name`;
/// returns its serial.
pub fn join_session_keyring(name: &std::ffi::CStr) -> nix::Result<i32> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    // SAFETY: the name is NUL-terminated and outlives the call.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    Errno::result(ret).map(|serial| serial as i32)
}

/// keyctl(KEYCTL_SETPERM, serial, perm).
pub fn set_key_perm(serial: i32, perm: u32) -> nix::Result<()> {
    const KEYCTL_SETPERM: libc::c_int = 5;
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, serial, perm) };
    Errno::result(ret).map(drop)
}

/// prctl(PR_SET_DUMPABLE, 0): no ptrace and no /proc/PID/fd access from processes that
/// lack CAP_SYS_PTRACE, while the init still holds host fds. execve of the program
/// sets dumpable again by the kernel's usual rules.
pub fn set_not_dumpable() -> nix::Result<()> {
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong, 0, 0, 0) };
    Errno::result(ret).map(drop)
}

/// Give the program default signal dispositions and an empty signal mask. execve resets
/// handled signals but keeps ignored ones, and the runtime ignores SIGPIPE (Rust's
/// start-up does), which the container's program must not inherit.
pub fn reset_signals() -> nix::Result<()> {
    // The kernel's struct sigaction for rt_sigaction(2): SIG_DFL, no flags, empty mask.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // Every signal, 32 and 33 included: glibc's signal() refuses those (it keeps them for
    // itself), but our caller may have ignored them and the program may not use glibc.
    for sig in (1..=64).filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP) {
        // SAFETY: `dfl` is a valid kernel sigaction for the call; SIG_DFL installs no
        // handler code, and the old action is not asked for.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
    }
    nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    )
}
