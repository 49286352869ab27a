//! The processes of a container and waiting for them, without cgroups: the members
//! of its pid namespace when it has one, else the init and its descendants.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::state::{self, State};
use crate::sys::pidfd::{pidfd_open, pidfd_send_signal};

/// Host pids of every process of the container (the init first).
pub fn pids(state: &State) -> Vec<i32> {
    let init = state.pid;
    let own_pidns = std::fs::read_link(format!("/proc/{init}/ns/pid")).ok();
    let host_pidns = std::fs::read_link("/proc/self/ns/pid").ok();
    let mut parents: HashMap<i32, Vec<i32>> = HashMap::new();
    let mut in_ns = vec![init];
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![init];
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == init {
            continue;
        }
        if own_pidns.is_some() && own_pidns != host_pidns {
            if std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok() == own_pidns {
                in_ns.push(pid);
            }
        } else if let Some(ppid) = parent_of(pid) {
            parents.entry(ppid).or_default().push(pid);
        }
    }
    if own_pidns.is_some() && own_pidns != host_pidns {
        return in_ns;
    }
    // Shared pid namespace: walk the tree below the init.
    let mut out = vec![init];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = parents.get(&out[i]) {
            out.extend(kids);
        }
        i += 1;
    }
    out
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

/// Send `sig` to every process of the container; a process that vanished meanwhile is fine.
pub fn signal_all(state: &State, sig: i32) -> nix::Result<()> {
    if !state::is_alive(state.pid, state.pid_start_time) {
        return Ok(());
    }
    for pid in pids(state) {
        // Through a pidfd, so a pid recycled since the scan is at worst missed, and
        // real-time signals need no name.
        let fd = match pidfd_open(Pid::from_raw(pid)) {
            Ok(fd) => fd,
            Err(Errno::ESRCH) => continue,
            Err(e) => return Err(e),
        };
        match pidfd_send_signal(fd.as_fd(), sig) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Wait until the process behind `pidfd` has exited (reaping it when it is our child).
pub fn wait_exit(pidfd: &OwnedFd, our_child: bool, pid: i32) -> nix::Result<()> {
    loop {
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(10_000u16)) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(0) => return Err(Errno::ETIMEDOUT),
            Ok(_) => break,
        }
    }
    if our_child {
        let _ = waitpid(Pid::from_raw(pid), None);
    }
    Ok(())
}

/// Signals `run` forwards to the container, as runc does.
const FORWARDED: [Signal; 8] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// Wait for our child behind `pidfd`, forwarding signals to it; returns its exit code
/// (128+N when killed by signal N).
pub fn wait_forwarding(pidfd: &OwnedFd) -> nix::Result<i32> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    let old = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    old?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)?;
    loop {
        let mut fds = [
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        if fds[1]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
        {
            if let Ok(Some(info)) = sfd.read_signal() {
                let _ = pidfd_send_signal(pidfd.as_fd(), info.ssi_signo as i32);
            }
        }
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            break;
        }
    }
    match waitid(Id::PIDFd(pidfd.as_fd()), WaitPidFlag::WEXITED)? {
        WaitStatus::Exited(_, code) => Ok(code),
        WaitStatus::Signaled(_, sig, _) => Ok(128 + sig as i32),
        _ => Ok(255),
    }
}
