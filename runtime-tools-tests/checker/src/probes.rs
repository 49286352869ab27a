//! Annotation-driven probes: paths that must or must not exist, device opens the device cgroup
//! must allow or deny, and syscalls whose seccomp outcome is known.

use crate::{errno, Report};
use serde_json::Value;

fn list<'a>(cfg: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    cfg["annotations"][key]
        .as_str()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
}

/// Runs the probes named in `rtt.*` annotations.
pub fn check(r: &mut Report, cfg: &Value) {
    for p in list(cfg, "rtt.expect.exists") {
        let ok = std::fs::symlink_metadata(p).is_ok();
        r.check(&format!("probe.exists.{p}"), ok, || "missing".into());
    }
    for p in list(cfg, "rtt.expect.absent") {
        let ok = std::fs::symlink_metadata(p).is_err();
        r.check(&format!("probe.absent.{p}"), ok, || "present".into());
    }
    for p in list(cfg, "rtt.expect.open-denied") {
        let e = std::fs::File::open(p).err().and_then(|e| e.raw_os_error());
        r.eq(&format!("probe.open-denied.{p}"), e, Some(libc::EPERM));
    }
    for p in list(cfg, "rtt.expect.open-allowed") {
        let res = std::fs::File::open(p);
        r.check(&format!("probe.open-allowed.{p}"), res.is_ok(), || {
            format!("{res:?}")
        });
    }
    for spec in list(cfg, "rtt.seccomp") {
        let (probe, want) = spec.split_once('=').unwrap_or((spec, "ok"));
        let got = run_probe(probe);
        r.eq(&format!("probe.seccomp.{probe}"), got, want.to_string());
    }
}

/// Runs one syscall in a forked child and describes its outcome as `ok`, `errno:N` or
/// `signal:N`.
fn run_probe(probe: &str) -> String {
    // SAFETY: the checker is single-threaded; the child only makes raw syscalls and _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut buf = [0u8; 256];
        // SAFETY: plain syscalls with valid buffers.
        let rc = unsafe {
            match probe {
                "getcwd" => libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()),
                "getppid" => libc::syscall(libc::SYS_getppid),
                "getpriority0" => libc::syscall(libc::SYS_getpriority, 0, 0),
                "getpriority1" => libc::syscall(libc::SYS_getpriority, 1, 0),
                "getpgid" => libc::syscall(libc::SYS_getpgid, 0),
                "getsid" => libc::syscall(libc::SYS_getsid, 0),
                "uname" => libc::syscall(libc::SYS_uname, buf.as_mut_ptr()),
                _ => libc::_exit(254),
            }
        };
        let code = if rc < 0 { errno().min(250) } else { 0 };
        // SAFETY: terminating the forked child.
        unsafe { libc::_exit(code) };
    }
    if pid < 0 {
        return format!("fork failed: errno {}", errno());
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFSIGNALED(status) {
        format!("signal:{}", libc::WTERMSIG(status))
    } else {
        match libc::WEXITSTATUS(status) {
            0 => "ok".into(),
            254 => "unknown-probe".into(),
            e => format!("errno:{e}"),
        }
    }
}
