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
use oci_spec::runtime::LinuxNamespaceType;

use crate::state::{self, State};
use crate::sys::pidfd::{pidfd_open, pidfd_send_signal};

/// Host pids of every process of the container (the init first): every member of its
/// pid namespace when the container created that namespace, else (a shared or joined
/// pid namespace, whose other members are not ours) the init and its descendants.
pub fn pids(state: &State) -> Vec<i32> {
    let init = state.pid;
    let own_pidns = owns_pid_namespace(state)
        .then(|| std::fs::read_link(format!("/proc/{init}/ns/pid")).ok())
        .flatten();
    let others = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != init);
    let mut out = vec![init];
    if let Some(ns) = own_pidns {
        out.extend(others.filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/pid"))
                .ok()
                .as_ref()
                == Some(&ns)
        }));
        return out;
    }
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for pid in others {
        if let Some(ppid) = state::parent_pid(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            out.extend(kids);
        }
        i += 1;
    }
    out
}

/// Whether the container's config asked for a new pid namespace (not joined by path).
fn owns_pid_namespace(state: &State) -> bool {
    let namespaces = state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref());
    namespaces.is_some_and(|ns| {
        ns.iter()
            .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none())
    })
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
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
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
