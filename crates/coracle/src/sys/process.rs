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
