//! The exec'd process between clone3 and execve.
//!
//! The order follows the same kernel rules as the init's: namespaces first (the user
//! namespace grants the privileges for the rest, the mount namespace puts us at the
//! container's root), rlimits and labels while fully privileged, the bounding set
//! before the uid switch (PR_CAPBSET_DROP needs CAP_SETPCAP), the capability sets
//! after it, no_new_privs, then fd and signal hygiene, execve. With
//! `process.terminal`, the pty comes right after `setsid()` (a session leader without
//! a terminal can take one) and the mount namespace (so it is the container's devpts).

use std::ffi::CString;

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::unistd::{chdir, setresgid, setresuid, setsid, Gid, Uid};

use super::ExecArgs;
use crate::process::init::{find_program, load_filter, new_session_keyring, with_home};
use crate::process::sync::{Channel, Msg};
use crate::process::InitError;
use crate::{console, security, sys};

enum Never {}

/// Run the exec'd process; never returns. Failures go to the parent as `Msg::Error`.
pub(super) fn run(args: &ExecArgs<'_>, join: CloneFlags, chan: &Channel) -> ! {
    // Holding the lock would block every later command on this container.
    sys::fd::close_inherited(args.close_in_child);
    let err = match setup(args, join, chan) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = chan.send(&Msg::Error(err.to_string()), None);
    sys::process::exit_now(1)
}

fn setup(args: &ExecArgs<'_>, join: CloneFlags, chan: &Channel) -> Result<Never, InitError> {
    // Until execve we hold host fds (the init's pidfd, the sync socket) and run the
    // runtime's binary: processes of the container, whose pid namespace we may be in
    // already, must not reach them through ptrace or /proc/PID/{fd,exe}.
    sys::process::set_not_dumpable().map_err(InitError::sys("prctl PR_SET_DUMPABLE"))?;
    sys::process::set_pdeathsig(libc::SIGKILL).map_err(InitError::sys("prctl PR_SET_PDEATHSIG"))?;
    chan.expect(|m| matches!(m, Msg::Continue(_)))?;

    join_namespaces(args, join)?;
    setsid().map_err(InitError::sys("setsid"))?;
    new_session_keyring(args.id)?;

    let process = args.process;
    if process.terminal() == Some(true) {
        // No /dev/console bind for an exec'd process: that is the init's (as runc).
        console::setup_and_send(chan, console::console_size(process), false)?;
    }
    // Read while still root, from the container's /etc/passwd (the mount namespace
    // made the container's root ours).
    let env = with_home(args.env, process.user().uid());
    security::set_rlimits(process.rlimits().as_deref().unwrap_or_default())?;
    security::apply_labels(process)?;
    let caps = process.capabilities().as_ref();
    let no_new_privs = process.no_new_privileges() == Some(true);
    // The container's filter, in the init's order: without no_new_privs while
    // CAP_SYS_ADMIN is still held, else after no_new_privs.
    if !no_new_privs {
        load_filter(args.seccomp, chan)?;
    }
    security::drop_bounding_set(caps)?;
    // While still root: the process user gets its stdio (pipes, the pty slave), so it
    // can reopen them through /proc/self/fd (runc's fixStdioPermissions, exec too).
    console::stdio::fix_ownership(process.user().uid())?;
    security::switch_user(process.user())?;
    // After the switch, so that the cwd is checked with the process's own permissions.
    chdir(process.cwd()).map_err(InitError::path("chdir to cwd", process.cwd()))?;
    security::apply_capabilities(caps)?;
    if no_new_privs {
        security::set_no_new_privs()?;
        load_filter(args.seccomp, chan)?;
    }
    security::set_umask(process.user().umask().unwrap_or(0o022));
    let argv0 = process
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .ok_or(InitError::Config("process.args: empty"))?;
    let program = find_program(argv0, &env)?;

    sys::fd::cloexec_from(3 + args.preserve_fds).map_err(InitError::sys("close_range"))?;
    sys::process::reset_signals().map_err(InitError::sys("reset signal dispositions"))?;
    // A detached process outlives the runtime: the parent-death signal would
    // survive execve and kill it when `exec -d` returns.
    sys::process::set_pdeathsig(0).map_err(InitError::sys("prctl PR_SET_PDEATHSIG"))?;
    chan.send(&Msg::Execing, None)?;
    exec(
        &program,
        process.args().as_deref().unwrap_or_default(),
        &env,
    )
}

/// Join the init's namespaces through its pidfd, in one call (the kernel enters the
/// user namespace first), then become root of a joined user namespace as the init did,
/// so the steps below run with the namespace's full privileges and files it creates
/// (the session keyring) belong to its root.
///
/// The mount namespace switch also moves our root and cwd to the namespace's root,
/// following the mounts stacked on it: the rootfs the init pivoted (or chrooted and
/// moved) onto `/`. The host's root is out of reach from here.
fn join_namespaces(args: &ExecArgs<'_>, join: CloneFlags) -> Result<(), InitError> {
    if join.is_empty() {
        return Ok(());
    }
    setns(args.init, join).map_err(|source| InitError::Sys {
        op: format!("setns {} of the container init", describe(join)),
        source,
    })?;
    if join.contains(CloneFlags::CLONE_NEWUSER) {
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0)).map_err(InitError::sys(
            "setresgid 0 in the container's user namespace",
        ))?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).map_err(InitError::sys(
            "setresuid 0 in the container's user namespace",
        ))?;
    }
    if join.contains(CloneFlags::CLONE_NEWNS) {
        chdir("/").map_err(InitError::sys("chdir / in the container"))?;
    }
    Ok(())
}

/// `user+mnt+net` for messages.
fn describe(flags: CloneFlags) -> String {
    super::KINDS
        .iter()
        .filter(|(k, _)| flags.contains(crate::namespaces::clone_flag(*k)))
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join("+")
}

fn exec(program: &CString, args: &[String], env: &[String]) -> Result<Never, InitError> {
    let argv: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| InitError::Config("process.args: NUL byte"))?;
    let envp: Vec<CString> = env
        .iter()
        .map(|e| CString::new(e.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| InitError::Config("process.env: NUL byte"))?;
    let err: Errno = nix::unistd::execve(program, &argv, &envp).unwrap_err();
    Err(InitError::Exec(format!(
        "exec {:?}: {} ({err:?})",
        program,
        err.desc()
    )))
}
