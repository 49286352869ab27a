//! Test helper: run privilege-changing code in a forked child, so the test
//! process keeps its credentials, limits and namespaces.
//!
//! A child made by a raw clone3 from a multi-threaded process (the test harness)
//! may deadlock: another thread can hold a malloc arena lock at that instant
//! (say, freeing memory our thread allocated), and the child has no thread to
//! release it. So each such test re-executes the test binary to run only
//! itself (`--exact --test-threads=1`): there the only other thread is the
//! harness's main thread, idle waiting for the result, and the child is made
//! from that process with the library's own clone3 (fork semantics, optional
//! namespace flags), like the real init. The result travels back as one JSON
//! line on stdout. The child ends by SIGKILLing itself rather than calling
//! exit(3), whose cleanup (flushing std's stdout) could wait on a lock.

use std::os::fd::AsFd;
use std::panic::AssertUnwindSafe;
use std::process::{Command, Stdio};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags};
use nix::sys::signal::{kill, raise, Signal};
use nix::sys::wait::waitpid;

use crate::sys::clone::{clone3, CloneArgs, CloneResult};

/// How long a child may take before the test fails (and the child is killed).
const CHILD_TIMEOUT_MS: u16 = 60_000;

/// Set in the re-executed test binary.
const CHILD_ENV: &str = "CORACLE_TEST_IN_CHILD";
/// Prefix of the result line the re-executed test prints.
const MARKER: &str = "coracle-test-child-result:";

/// Run `f` in a child created with clone3 `flags` (namespace flags, or 0) and
/// return what it returned; a panic in the child becomes `Err`. Must be called
/// from a test function directly (the test's name is its thread's name).
pub(crate) fn in_child<F>(flags: u64, f: F) -> Result<String, String>
where
    F: FnOnce() -> Result<String, String>,
{
    if std::env::var_os(CHILD_ENV).is_some() {
        let res = clone_and_run(flags, f);
        println!("{MARKER}{}", serde_json::to_string(&res).expect("json"));
        return res;
    }
    let test = std::thread::current()
        .name()
        .expect("libtest names test threads")
        .to_string();
    let out = Command::new(std::env::current_exe().expect("current_exe"))
        .args([test.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .output()
        .expect("re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once(MARKER).map(|(_, json)| json.to_string()))
        .map(|json| serde_json::from_str(&json).expect("result json"))
        .unwrap_or_else(|| {
            Err(format!(
                "re-run of {test} gave no result ({}): {stdout} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        })
}

/// clone3 a child that runs `f` and reports over a pipe.
fn clone_and_run<F>(flags: u64, f: F) -> Result<String, String>
where
    F: FnOnce() -> Result<String, String>,
{
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).expect("pipe2");
    let args = CloneArgs {
        flags,
        pidfd: false,
        cgroup: None,
    };
    match clone3(args).expect("clone3") {
        CloneResult::Child => {
            drop(r);
            let res = std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("child panicked: {msg}"))
            });
            let line = match res {
                Ok(m) => format!("ok:{m}"),
                Err(m) => format!("err:{m}"),
            };
            let _ = nix::unistd::write(&w, line.as_bytes());
            let _ = raise(Signal::SIGKILL);
            unreachable!("SIGKILL cannot be caught");
        }
        CloneResult::Parent { pid, .. } => {
            drop(w);
            let mut out = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let mut fds = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
                let n = nix::poll::poll(&mut fds, CHILD_TIMEOUT_MS).expect("poll");
                if n == 0 {
                    let _ = kill(pid, Signal::SIGKILL);
                    let _ = waitpid(pid, None);
                    panic!("test child {pid} timed out");
                }
                match nix::unistd::read(r.as_fd(), &mut buf) {
                    Ok(0) => break,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => panic!("read from test child: {e}"),
                }
            }
            waitpid(pid, None).expect("waitpid");
            let out = String::from_utf8_lossy(&out).into_owned();
            if let Some(m) = out.strip_prefix("ok:") {
                Ok(m.to_string())
            } else if let Some(m) = out.strip_prefix("err:") {
                Err(m.to_string())
            } else {
                Err(format!("test child died without a report: {out:?}"))
            }
        }
    }
}

/// The value of `field` in `/proc/thread-self/status` (read with std: this is
/// the observer, not the code under test).
pub(crate) fn status_field(field: &str) -> Result<String, String> {
    let status = std::fs::read_to_string("/proc/thread-self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| format!("no {field} in status"))
}
