//! prepare + pivot + finalize on the real kernel. Each test forks a child that
//! unshares its mount namespace and makes `/` rprivate before anything else, so
//! nothing can reach the host; the child checks what it sees from inside and
//! reports over a pipe; the parent asserts, checks the host's mount table has
//! no trace of the bundle, and removes it.

use std::fs;
use std::io::{Read, Write};

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, pipe2, ForkResult};
use oci_spec::runtime::Spec;

use super::pivot::parse_mountinfo_line;

use crate::sys::testing::{exit_now, fork};

pub(super) type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// A bundle directory under /tmp: `rootfs/` plus whatever the test adds.
pub(super) struct Bundle(pub(super) PathBuf);

impl Bundle {
    pub(super) fn new(tag: &str) -> Bundle {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = PathBuf::from(format!(
            "/tmp/coracle-rootfs-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        for d in ["rootfs/etc", "rootfs/tmp", "rootfs/bin"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        fs::copy("/bin/busybox", dir.join("rootfs/bin/busybox")).unwrap();
        fs::write(dir.join("rootfs/marker"), b"inside").unwrap();
        Bundle(dir)
    }
    pub(super) fn rootfs(&self) -> PathBuf {
        self.0.join("rootfs")
    }
    /// Run `f` in a child with its own mount namespace and cwd at the bundle.
    pub(super) fn run(&self, f: impl FnOnce(&Bundle) -> Check) -> Check {
        let (r, w) = pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        match fork().unwrap() {
            ForkResult::Child => {
                drop(r);
                let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare: {e}"))?;
                    mount(
                        None::<&str>,
                        "/",
                        None::<&str>,
                        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                        None::<&str>,
                    )
                    .map_err(|e| format!("rprivate: {e}"))?;
                    chdir(&self.0).map_err(|e| format!("chdir: {e}"))?;
                    f(self)
                }));
                let msg = match res {
                    Ok(Ok(())) => String::new(),
                    Ok(Err(e)) => e,
                    Err(p) => p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".into()),
                };
                let _ = fs::File::from(w).write_all(msg.as_bytes());
                exit_now(if msg.is_empty() { 0 } else { 1 });
            }
            ForkResult::Parent { child } => {
                drop(w);
                let mut msg = String::new();
                fs::File::from(r).read_to_string(&mut msg).unwrap();
                let status = waitpid(child, None).unwrap();
                let leaked = fs::read_to_string("/proc/self/mountinfo")
                    .unwrap()
                    .contains(self.0.to_str().unwrap());
                assert!(
                    !leaked,
                    "a mount of {} leaked to the host",
                    self.0.display()
                );
                if !msg.is_empty() {
                    return Err(msg);
                }
                assert_eq!(status, WaitStatus::Exited(child, 0));
                Ok(())
            }
        }
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(super) fn spec(json: &str) -> Spec {
    let root = if json.contains(r#""root":"#) {
        ""
    } else {
        r#""root":{"path":"rootfs"},"#
    };
    let full = format!(r#"{{"ociVersion":"1.2.0",{root}{json}}}"#);
    serde_json::from_str(&full).unwrap_or_else(|e| panic!("{e}: {full}"))
}

/// (per-mount options, fs type, super options) of the top mount at `mp`.
pub(super) fn mountinfo(mp: &str) -> Option<(String, String, String)> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .rfind(|l| parse_mountinfo_line(l).is_some_and(|(p, _)| p == Path::new(mp)))
        .map(|l| {
            let (pre, post) = l.split_once(" - ").unwrap();
            let opts = pre.split(' ').nth(5).unwrap().to_string();
            let mut post = post.split(' ');
            let fstype = post.next().unwrap().to_string();
            let sopts = post.nth(1).unwrap_or("").to_string();
            (opts, fstype, sopts)
        })
}

pub(super) fn has_opt(opts: &str, o: &str) -> bool {
    opts.split(',').any(|x| x == o)
}

pub(super) fn write_errno(path: &str) -> Option<Errno> {
    fs::write(path, b"x")
        .err()
        .map(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
}

mod devices;
mod mounts;
