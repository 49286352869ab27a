//! The parent side of starting an init: one clone3 in the common case, a bootstrap
//! process only when namespaces must be joined or a time namespace needs offsets.

use std::os::fd::{AsFd, OwnedFd};

use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNamespaceType;

use super::init::{self, InitArgs};
use super::sync::{channel_pair, Channel, Msg};
use super::InitError;
use crate::namespaces::{self, clone_flag};
use crate::procfs::ProcFs;
use crate::sys::clone::{clone3, CloneArgs, CloneResult};
use crate::sys::{self, pidfd::pidfd_send_signal};

/// A running init, waiting in its first phase.
#[derive(Debug)]
pub struct Spawned {
    /// Host pid of the init.
    pub pid: Pid,
    /// Whether clone3 already put it into its cgroup (CLONE_INTO_CGROUP).
    in_cgroup: bool,
    /// Its pidfd.
    pub pidfd: OwnedFd,
    /// The parent's end of the sync socket.
    pub chan: Channel,
}

impl Spawned {
    /// SIGKILL the init and reap it (it is our child).
    pub fn kill(&self) {
        let _ = pidfd_send_signal(self.pidfd.as_fd(), libc::SIGKILL);
        let _ = waitpid(self.pid, None);
    }
}

/// Clone the init, write its id maps and oom_score_adj, and hand it the state JSON
/// (`state_json(pid)`) with the first `Continue`.
pub fn spawn(
    args: &InitArgs<'_>,
    state_json: impl Fn(Pid) -> Vec<u8>,
) -> Result<Spawned, InitError> {
    let (parent, child) = channel_pair()?;
    let spawned = if args.plan.single_clone() {
        let cgroup_fd = match args.cgroup {
            Some(m) => m.clone_fd()?,
            None => None,
        };
        let (result, in_cgroup) = clone_into(clone_flags(args).bits() as u64, cgroup_fd.as_ref());
        match result.map_err(InitError::sys("clone3"))? {
            CloneResult::Child => {
                drop(parent);
                init::run(args, &child)
            }
            CloneResult::Parent { pid, pidfd } => {
                drop(child);
                let spawned = Spawned {
                    pid,
                    in_cgroup,
                    pidfd: pidfd.expect("CLONE_PIDFD"),
                    chan: parent,
                };
                if args.plan.is_new(LinuxNamespaceType::User) {
                    if let Err(e) = namespaces::write_id_maps(pid, args.spec) {
                        spawned.kill();
                        return Err(e.into());
                    }
                }
                spawned
            }
        }
    } else {
        via_bootstrap(args, parent, child)?
    };
    if let Err(e) = finish(args, &spawned, &state_json) {
        spawned.kill();
        return Err(e);
    }
    Ok(spawned)
}

fn finish(
    args: &InitArgs<'_>,
    spawned: &Spawned,
    state_json: &impl Fn(Pid) -> Vec<u8>,
) -> Result<(), InitError> {
    if let (Some(m), false) = (args.cgroup, spawned.in_cgroup) {
        m.apply(spawned.pid.as_raw())?;
    }
    let process = args.spec.process().as_ref();
    if let Some(adj) = process.and_then(|p| p.oom_score_adj()) {
        // Written from outside: inside a new user namespace the init could never
        // lower it (CAP_SYS_RESOURCE counts only in the initial namespace).
        ProcFs::open()?.write(
            &format!("{}/oom_score_adj", spawned.pid),
            adj.to_string().as_bytes(),
        )?;
    }
    spawned
        .chan
        .send(&Msg::Continue(state_json(spawned.pid)), None)?;
    Ok(())
}

/// The namespaces the clone creates: all new ones but the cgroup namespace, which
/// the init unshares once the parent has placed it in its cgroup (so the namespace
/// is rooted there, as runc does).
fn clone_flags(args: &InitArgs<'_>) -> CloneFlags {
    args.plan.new - clone_flag(LinuxNamespaceType::Cgroup)
}

/// clone3 straight into the cgroup when we have its fd; a kernel without
/// CLONE_INTO_CGROUP (before 5.7: E2BIG or EINVAL) gets a plain clone, and the
/// parent writes cgroup.procs instead. Returns whether the child is placed.
fn clone_into(flags: u64, cgroup: Option<&OwnedFd>) -> (nix::Result<CloneResult>, bool) {
    use std::os::fd::AsRawFd;
    if let Some(fd) = cgroup {
        match clone3(CloneArgs {
            flags,
            pidfd: true,
            cgroup: Some(fd.as_raw_fd()),
        }) {
            Err(nix::errno::Errno::E2BIG | nix::errno::Errno::EINVAL) => {}
            other => return (other, true),
        }
    }
    let plain = clone3(CloneArgs {
        flags,
        pidfd: true,
        cgroup: None,
    });
    (plain, false)
}

/// Start a bootstrap that joins namespaces, creates the new ones, and clones the init
/// as our child (CLONE_PARENT), then exits.
fn via_bootstrap(
    args: &InitArgs<'_>,
    parent: Channel,
    child: Channel,
) -> Result<Spawned, InitError> {
    let CloneResult::Parent {
        pid: boot,
        pidfd: boot_fd,
    } = clone3(CloneArgs {
        flags: 0,
        pidfd: true,
        cgroup: None,
    })
    .map_err(InitError::sys("clone3"))?
    else {
        drop(parent);
        bootstrap(args, &child)
    };
    drop(child);
    let boot_fd = boot_fd.expect("CLONE_PIDFD");
    let result = (|| loop {
        match parent.recv()? {
            (Msg::NeedMaps, _) => {
                namespaces::write_id_maps(boot, args.spec)?;
                parent.send(&Msg::Continue(Vec::new()), None)?;
            }
            (Msg::InitPid(pid), Some(fd)) => return Ok((Pid::from_raw(pid), fd)),
            (Msg::Error(e), _) => return Err(InitError::Peer(super::sync::Expected::Peer(e))),
            (m, _) => {
                return Err(InitError::Peer(super::sync::Expected::Unexpected(format!(
                    "{m:?}"
                ))));
            }
        }
    })();
    if result.is_err() {
        let _ = pidfd_send_signal(boot_fd.as_fd(), libc::SIGKILL);
    }
    let _ = waitpid(boot, None);
    let (pid, pidfd) = result?;
    Ok(Spawned {
        pid,
        in_cgroup: false,
        pidfd,
        chan: parent,
    })
}

fn bootstrap(args: &InitArgs<'_>, chan: &Channel) -> ! {
    sys::fd::close_inherited(args.close_in_child);
    let err = match bootstrap_setup(args, chan) {
        Ok(()) => sys::process::exit_now(0),
        Err(e) => e,
    };
    let _ = chan.send(&Msg::Error(err.to_string()), None);
    sys::process::exit_now(1)
}

fn bootstrap_setup(args: &InitArgs<'_>, chan: &Channel) -> Result<(), InitError> {
    sys::process::set_pdeathsig(libc::SIGKILL).map_err(InitError::sys("prctl PR_SET_PDEATHSIG"))?;
    args.plan.join_all()?;
    let user = clone_flag(LinuxNamespaceType::User);
    if args.plan.new.contains(user) {
        unshare(user).map_err(InitError::sys("unshare user namespace"))?;
        chan.send(&Msg::NeedMaps, None)?;
        chan.expect(|m| matches!(m, Msg::Continue(_)))?;
    }
    let rest = clone_flags(args) - user;
    if !rest.is_empty() {
        unshare(rest).map_err(InitError::sys("unshare"))?;
    }
    if rest.contains(clone_flag(LinuxNamespaceType::Time)) {
        namespaces::write_time_offsets(args.spec)?;
    }
    match clone3(CloneArgs {
        flags: CloneFlags::CLONE_PARENT.bits() as u64,
        pidfd: true,
        cgroup: None,
    })
    .map_err(InitError::sys("clone3"))?
    {
        CloneResult::Child => init::run(args, chan),
        CloneResult::Parent { pid, pidfd } => {
            chan.send(
                &Msg::InitPid(pid.as_raw()),
                pidfd.as_ref().map(|f| f.as_fd()),
            )?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::{Manager, Mode};

    /// On cgroup v2 the init is born in its cgroup (clone3 CLONE_INTO_CGROUP): the
    /// child's very first look at /proc/self/cgroup already shows it there, and no
    /// cgroup.procs write is needed. Elsewhere there is no v2 cgroup fd to clone into.
    #[test]
    fn clone_into_cgroup_places_the_child_at_birth_on_v2() {
        let path = format!("/coracle-test-clone-into-{}", std::process::id());
        let m = Manager::new(Some(std::path::Path::new(&path)), "unused").unwrap();
        m.create().unwrap();
        let fd = m.clone_fd().unwrap();
        if m.mode() != Mode::Unified {
            assert!(fd.is_none(), "only a pure v2 host clones into the cgroup");
            m.remove().unwrap();
            eprintln!("not cgroup v2 here: the v2 guest runs the placement check");
            return;
        }
        // Prepared before the clone: the child of a multi-threaded test process must
        // not allocate.
        let want = format!("0::{path}\n");
        let (result, placed) = clone_into(0, fd.as_ref());
        match result.unwrap() {
            CloneResult::Child => {
                let mut buf = [0u8; 256];
                let n = nix::fcntl::open(
                    "/proc/self/cgroup",
                    nix::fcntl::OFlag::O_RDONLY,
                    nix::sys::stat::Mode::empty(),
                )
                .and_then(|fd| nix::unistd::read(&fd, &mut buf))
                .unwrap_or(0);
                sys::process::exit_now(i32::from(&buf[..n] != want.as_bytes()))
            }
            CloneResult::Parent { pid, .. } => {
                let status = waitpid(pid, None).unwrap();
                m.remove().unwrap();
                assert!(placed, "clone3 took CLONE_INTO_CGROUP");
                assert_eq!(
                    status,
                    nix::sys::wait::WaitStatus::Exited(pid, 0),
                    "the child saw itself in {path} from its start"
                );
            }
        }
    }
}
