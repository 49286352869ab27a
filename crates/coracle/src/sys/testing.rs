//! Test-only process helpers: fork a child that can change its mount namespace
//! without touching the test process, and leave it without running exit handlers.

use nix::unistd::ForkResult;

/// fork(2) through libc, so glibc's fork handlers leave malloc usable in the child.
///
/// The child must not print (another test thread may hold the stdout lock) and
/// must leave with [`exit_now`].
pub(crate) fn fork() -> nix::Result<ForkResult> {
    // SAFETY: test-only; the child only allocates (glibc resets malloc locks at
    // fork), makes system calls and reports over a pipe before calling `exit_now`.
    unsafe { nix::unistd::fork() }
}

/// _exit(2): leave the forked child at once, without atexit handlers or unwinding.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}
