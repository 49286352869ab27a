//! Starting another process inside a running container (`exec`): the parent side.
//!
//! One clone3 from the runtime, no intermediate process: the parent enters the init's
//! pid namespace *for its children only* (setns CLONE_NEWPID changes
//! `pid_for_children`, never the caller's own pid), clones the new process straight
//! into it, and goes back to its own. The child then joins every other namespace of
//! the init in one setns(pidfd, flags): the kernel enters the user namespace first and
//! checks the others with the credentials it grants, all or nothing, and the init's
//! pidfd pins the very process `state.json` names (no /proc path to race).
//!
//! Sync: the child waits for `Continue` (the parent has written oom_score_adj and,
//! later, placed it in the cgroup), sets itself up (sending its pty master as
//! `Console` with `process.terminal`; the parent passes it on to
//! [`ExecArgs::console`]), sends `Execing` just before
//! execve and then either the execve error or nothing: the socket is close-on-exec,
//! so EOF after `Execing` means the program runs, EOF before it means the child died
//! during setup.

mod child;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sched::{setns, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Process};

use super::sync::{channel_pair, Channel, Expected, Msg, SyncError};
use super::InitError;
use crate::console::{self, ConsoleTarget};
use crate::namespaces::clone_flag;
use crate::procfs::ProcFs;
use crate::sys::clone::{clone3, CloneArgs, CloneResult};
use crate::sys::pidfd::pidfd_send_signal;

/// Everything the exec'd process needs; it lives in the parent's memory, which the
/// clone copies.
#[derive(Debug)]
pub struct ExecArgs<'a> {
    /// The process to run, validated ([`validate`]).
    pub process: &'a Process,
    /// Its environment, final except HOME (read from the container's /etc/passwd).
    pub env: &'a [String],
    /// The container's init: its namespaces are joined through this pidfd.
    pub init: BorrowedFd<'a>,
    /// The init's host pid (to tell which of its namespaces differ from ours).
    pub init_pid: i32,
    /// The container id (names the session keyring, as runc: `_ses.<id>`).
    pub id: &'a str,
    /// Fds 3..3+preserve_fds reach the program; every other fd above 2 is closed.
    pub preserve_fds: u32,
    /// Parent fds the clone must close at once (the state-directory lock).
    pub close_in_child: &'a [RawFd],
    /// HOOK(cgroups, v2): the container's cgroup directory, for clone3
    /// CLONE_INTO_CGROUP, so the process is born in it. `None` until the lead wires
    /// the cgroup manager in (`Container::exec_cgroup`).
    pub cgroup: Option<BorrowedFd<'a>>,
    /// Where the pty master goes when `process.terminal` is set (required then).
    pub console: Option<ConsoleTarget<'a>>,
    /// The container's seccomp filter, compiled by the parent.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// Hands a notify listener (its fd number in the child) to the agent; required
    /// when the filter has one.
    pub listener: Option<ListenerHandOff<'a>>,
}

/// Takes a notify listener from the child (its pidfd and the fd number there) to the
/// agent at `linux.seccomp.listenerPath`.
#[derive(Clone, Copy)]
pub struct ListenerHandOff<'a>(pub &'a dyn Fn(BorrowedFd<'_>, i32) -> Result<(), InitError>);

impl std::fmt::Debug for ListenerHandOff<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListenerHandOff")
    }
}

/// A process started inside the container, not yet reaped (it is our child).
#[derive(Debug)]
pub struct ExecSpawned {
    /// Its host pid.
    pub pid: Pid,
    /// Its pidfd.
    pub pidfd: OwnedFd,
}

/// Namespace kinds and their /proc/PID/ns names, in the order they are described
/// (setns with a pidfd orders them itself: user first).
const KINDS: [(LinuxNamespaceType, &str); 8] = [
    (LinuxNamespaceType::User, "user"),
    (LinuxNamespaceType::Mount, "mnt"),
    (LinuxNamespaceType::Pid, "pid"),
    (LinuxNamespaceType::Network, "net"),
    (LinuxNamespaceType::Ipc, "ipc"),
    (LinuxNamespaceType::Uts, "uts"),
    (LinuxNamespaceType::Cgroup, "cgroup"),
    (LinuxNamespaceType::Time, "time"),
];

/// Refuse a process spec runc would refuse (its `validateProcessSpec`), naming the field.
pub fn validate(process: &Process) -> Result<(), InitError> {
    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() {
        return Err(InitError::Config("process.args: must not be empty"));
    }
    if args[0].is_empty() {
        return Err(InitError::Config("process.args[0]: must not be empty"));
    }
    if args.iter().any(|a| a.contains('\0')) {
        return Err(InitError::Config("process.args: NUL byte"));
    }
    if !process.cwd().is_absolute() {
        return Err(InitError::Config(
            "process.cwd: must be an absolute path inside the container",
        ));
    }
    for e in process.env().as_deref().unwrap_or_default() {
        match e.split_once('=') {
            None | Some(("", _)) => {
                return Err(InitError::Exec(format!(
                    "process.env: invalid environment variable {e:?}: expected NAME=VALUE"
                )))
            }
            Some(_) if e.contains('\0') => {
                return Err(InitError::Exec(format!(
                    "process.env: invalid environment variable {e:?}: NUL byte"
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(adj) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(InitError::Config(
                "process.oomScoreAdj: outside -1000..1000",
            ));
        }
    }
    for rl in process.rlimits().as_deref().unwrap_or_default() {
        if rl.soft() > rl.hard() {
            return Err(InitError::Exec(format!(
                "process.rlimits: {:?}: soft limit {} exceeds hard limit {}",
                rl.typ(),
                rl.soft(),
                rl.hard()
            )));
        }
    }
    Ok(())
}

/// The environment with duplicate names removed, keeping the last value of each at
/// the place of its last occurrence (as runc's prepareEnv): `exec -e NAME=...`
/// overrides the container's value rather than adding a second one that a getenv
/// walking from the front would never see.
pub fn dedup_env(env: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = env
        .iter()
        .rev()
        .filter(|e| seen.insert(e.split_once('=').map_or(e.as_str(), |(k, _)| k)))
        .cloned()
        .collect();
    out.reverse();
    out
}

/// The namespaces of the init that differ from ours: those the new process joins.
/// A namespace the init shares with us needs no setns (and setns into our own user
/// namespace is EINVAL).
pub fn namespaces_to_join(init_pid: i32) -> Result<CloneFlags, InitError> {
    let mut flags = CloneFlags::empty();
    for (kind, name) in KINDS {
        let theirs = format!("/proc/{init_pid}/ns/{name}");
        let ours = format!("/proc/self/ns/{name}");
        let stat = |p: &str| {
            std::fs::metadata(p).map_err(|e| InitError::Sys {
                op: format!("stat {p}"),
                source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            })
        };
        let ours = match stat(&ours) {
            Ok(m) => m,
            // A kernel without this namespace kind (time before 5.6, say).
            Err(InitError::Sys {
                source: Errno::ENOENT,
                ..
            }) => continue,
            Err(e) => return Err(e),
        };
        let theirs = stat(&theirs)?;
        if (ours.dev(), ours.ino()) != (theirs.dev(), theirs.ino()) {
            flags |= clone_flag(kind);
        }
    }
    Ok(flags)
}

/// Start `args.process` inside the container. Returns once the program runs (its
/// execve succeeded), or with the error that stopped it (the child is reaped then).
///
/// `place` runs with the child's pid before the child may go on: HOOK(cgroups, v1)
/// joins the container's cgroups there (`Manager::apply(pid)`).
pub fn spawn(
    args: &ExecArgs<'_>,
    place: impl FnOnce(Pid) -> Result<(), InitError>,
) -> Result<ExecSpawned, InitError> {
    let join = namespaces_to_join(args.init_pid)?;
    let pid_ns = clone_flag(LinuxNamespaceType::Pid);
    let (parent, child) = channel_pair()?;
    let cloned = if join.contains(pid_ns) {
        clone_in_pid_namespace(args, join - pid_ns, &parent, child)?
    } else {
        clone_child(args, join, &parent, child)?
    };
    let spawned = ExecSpawned {
        pid: cloned.0,
        pidfd: cloned.1,
    };
    match release(args, &spawned, &parent, place) {
        Ok(()) => Ok(spawned),
        Err(e) => {
            let _ = pidfd_send_signal(spawned.pidfd.as_fd(), libc::SIGKILL);
            let _ = waitpid(spawned.pid, None);
            Err(e)
        }
    }
}

/// Enter the init's pid namespace for our children, clone, and come back: the new
/// process is a member of the container's pid namespace from birth.
fn clone_in_pid_namespace(
    args: &ExecArgs<'_>,
    rest: CloneFlags,
    parent: &Channel,
    child: Channel,
) -> Result<(Pid, OwnedFd), InitError> {
    let pid_ns = clone_flag(LinuxNamespaceType::Pid);
    let own = open(
        "/proc/self/ns/pid",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(InitError::sys("open /proc/self/ns/pid"))?;
    setns(args.init, pid_ns).map_err(InitError::sys("setns pid namespace of the init"))?;
    let cloned = clone_child(args, rest, parent, child);
    // Our own active pid namespace is always allowed back; failing that, every later
    // child of this process would land in the container.
    if let Err(e) = setns(own.as_fd(), pid_ns) {
        if let Ok((pid, pidfd)) = &cloned {
            let _ = pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
            let _ = waitpid(*pid, None);
        }
        return Err(InitError::sys("setns back to our pid namespace")(e));
    }
    cloned
}

fn clone_child(
    args: &ExecArgs<'_>,
    join: CloneFlags,
    parent: &Channel,
    child: Channel,
) -> Result<(Pid, OwnedFd), InitError> {
    match clone3(CloneArgs {
        flags: 0,
        pidfd: true,
        cgroup: args.cgroup.map(|fd| fd.as_raw_fd()),
    })
    .map_err(InitError::sys("clone3"))?
    {
        CloneResult::Child => {
            // The parent's end must not live on in the child, or the parent would
            // never see EOF when execve closes the child's end.
            crate::sys::fd::close_inherited(&[parent.as_fd().as_raw_fd()]);
            child::run(args, join, &child)
        }
        CloneResult::Parent { pid, pidfd } => {
            drop(child);
            Ok((pid, pidfd.expect("CLONE_PIDFD")))
        }
    }
}

/// Place the child, let it go, and wait for its execve.
fn release(
    args: &ExecArgs<'_>,
    spawned: &ExecSpawned,
    chan: &Channel,
    place: impl FnOnce(Pid) -> Result<(), InitError>,
) -> Result<(), InitError> {
    place(spawned.pid)?;
    if let Some(adj) = args.process.oom_score_adj() {
        // Written from outside, through the host's /proc, as for the init: inside a
        // user namespace the process could never lower it.
        ProcFs::open()?.write(
            &format!("{}/oom_score_adj", spawned.pid),
            adj.to_string().as_bytes(),
        )?;
    }
    chan.send(&Msg::Continue(Vec::new()), None)?;
    let mut console_sent = false;
    loop {
        match chan.recv() {
            Ok((Msg::Console, Some(master))) if !console_sent => {
                let target = args.console.ok_or(InitError::Config(
                    "process.terminal: no console socket for the pty master",
                ))?;
                // Our copy of the master closes when this arm ends.
                console::deliver(target, master.as_fd())?;
                console_sent = true;
            }
            Ok((Msg::SeccompListener(fd), _)) => {
                let hand_over = args.listener.ok_or(InitError::Config(
                    "linux.seccomp: no listener hand-off for SCMP_ACT_NOTIFY",
                ))?;
                (hand_over.0)(spawned.pidfd.as_fd(), fd)?;
                chan.send(&Msg::Continue(Vec::new()), None)?;
            }
            Ok((Msg::Execing, _)) => break,
            Ok((Msg::Error(e), _)) => return Err(InitError::Peer(Expected::Peer(e))),
            Ok((m, _)) => return Err(InitError::Peer(Expected::Unexpected(format!("{m:?}")))),
            Err(SyncError::Closed) => {
                return Err(InitError::Exec(
                    "exec'd process exited during setup, before execve".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    if args.process.terminal() == Some(true) && !console_sent {
        return Err(InitError::Peer(Expected::Unexpected(
            "Execing before the pty master (process.terminal)".into(),
        )));
    }
    match chan.recv() {
        // execve closed the child's (close-on-exec) end: the program runs.
        Err(SyncError::Closed) => Ok(()),
        Ok((Msg::Error(e), _)) => Err(InitError::Exec(e)),
        Ok((m, _)) => Err(InitError::Peer(Expected::Unexpected(format!("{m:?}")))),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn later_env_entries_override_earlier_ones_in_place() {
        assert_eq!(
            dedup_env(&env(&["PATH=/bin", "A=1", "TERM=xterm", "A=2", "B=3"])),
            env(&["PATH=/bin", "TERM=xterm", "A=2", "B=3"])
        );
        assert_eq!(dedup_env(&env(&["X=", "X=y"])), env(&["X=y"]));
    }

    fn process(json: serde_json::Value) -> Process {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn validation_names_the_field() {
        let ok = serde_json::json!({"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"});
        validate(&process(ok.clone())).unwrap();
        for (patch, want) in [
            (
                serde_json::json!({"args": []}),
                "process.args: must not be empty",
            ),
            (serde_json::json!({"args": [""]}), "process.args[0]"),
            (
                serde_json::json!({"cwd": "tmp"}),
                "process.cwd: must be an absolute path",
            ),
            (
                serde_json::json!({"env": ["NOEQUALS"]}),
                "process.env: invalid environment variable \"NOEQUALS\"",
            ),
            (serde_json::json!({"env": ["=x"]}), "process.env"),
            (
                serde_json::json!({"oomScoreAdj": 1001}),
                "process.oomScoreAdj",
            ),
            (
                serde_json::json!({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]}),
                "soft limit 10 exceeds hard limit 5",
            ),
        ] {
            let mut v = ok.clone();
            for (k, val) in patch.as_object().unwrap() {
                v[k] = val.clone();
            }
            let err = validate(&process(v)).unwrap_err().to_string();
            assert!(err.contains(want), "{err} lacks {want}");
        }
    }

    #[test]
    fn own_namespaces_are_not_joined() {
        assert_eq!(
            namespaces_to_join(std::process::id() as i32).unwrap(),
            CloneFlags::empty()
        );
    }

    #[test]
    fn a_dead_init_is_an_error_naming_its_namespace_file() {
        let err = namespaces_to_join(i32::MAX).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("stat /proc/{}/ns/", i32::MAX)),
            "{err}"
        );
        assert!(err.contains("ENOENT"), "{err}");
    }
}
