//! Test helpers for the kernel tests: a throwaway cgroup and a forked probe inside it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::fcntl::OFlag;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{pipe2, ForkResult};

use crate::sys::testing::{exit_now, fork};

/// A number unique within this test process.
pub(super) fn unique() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A cgroup directory made for one test, removed (retrying while busy) on drop.
pub(super) struct TempCgroup(PathBuf);

impl TempCgroup {
    pub(super) fn new(parent: &Path) -> TempCgroup {
        let dir = parent.join(format!(
            "coracle-devtest-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TempCgroup(dir)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            match std::fs::remove_dir(&self.0) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                _ => return,
            }
        }
    }
}

/// open(2) `path` with `flags` (close-on-exec): 0 on success, else the errno.
pub(super) fn open_errno(path: &str, flags: libc::c_int) -> i32 {
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_CLOEXEC;
    match nix::fcntl::open(path, flags, nix::sys::stat::Mode::empty()) {
        Ok(fd) => {
            let _ = nix::unistd::close(fd);
            0
        }
        Err(e) => e as i32,
    }
}

/// Fork a child, move it into `cg` (cgroup.procs), then let it run `probe` and report
/// the numbers it returns.
pub(super) fn in_cgroup(cg: &TempCgroup, probe: impl FnOnce() -> Vec<i32>) -> Vec<i32> {
    let (go_r, go_w) = pipe2(OFlag::O_CLOEXEC).unwrap();
    let (res_r, res_w) = pipe2(OFlag::O_CLOEXEC).unwrap();
    match fork().unwrap() {
        ForkResult::Child => {
            drop((go_w, res_r));
            let mut byte = [0u8; 1];
            if std::fs::File::from(go_r).read_exact(&mut byte).is_err() {
                exit_now(2);
            }
            let bytes: Vec<u8> = probe().iter().flat_map(|v| v.to_ne_bytes()).collect();
            let ok = std::fs::File::from(res_w).write_all(&bytes).is_ok();
            exit_now(if ok { 0 } else { 3 });
        }
        ForkResult::Parent { child } => {
            drop((go_r, res_w));
            let moved = std::fs::write(cg.path().join("cgroup.procs"), child.to_string());
            // Closing `go_w` without a byte makes the child leave without probing.
            let mut go = std::fs::File::from(go_w);
            if moved.is_ok() {
                go.write_all(b"g").unwrap();
            }
            drop(go);
            let mut out = Vec::new();
            std::fs::File::from(res_r).read_to_end(&mut out).unwrap();
            let status = waitpid(child, None).unwrap();
            moved.unwrap_or_else(|e| panic!("move child into {}: {e}", cg.path().display()));
            assert_eq!(status, WaitStatus::Exited(child, 0), "probe child");
            out.chunks_exact(4)
                .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
                .collect()
        }
    }
}
