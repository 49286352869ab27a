//! The container init: what the cloned process does between clone3 and execve.
//!
//! Each phase is a function; the order follows the kernel's rules: the user
//! namespace maps before anything that needs privileges, mounts before pivot_root,
//! hostname and sysctl once the container's /proc is in place, privileges dropped
//! last, and exec.fifo only after everything that can fail has been done, so that
//! `create` reports every setup failure.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, sethostname, setresgid, setresuid, setsid, Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::sync::{Channel, Msg};
use super::InitError;
use crate::namespaces::Plan;
use crate::procfs::{write_sysctl, ProcFs};
use crate::seccomp::load::LoadError;
use crate::seccomp::Filter;
use crate::{console, hooks, rootfs, security, sys};

/// Everything the init needs; it lives in the parent's memory, which the clone copied.
#[derive(Debug)]
pub struct InitArgs<'a> {
    /// The validated spec.
    pub spec: &'a Spec,
    /// The bundle directory (the init's cwd while mounting, for relative bind sources).
    pub bundle: &'a Path,
    /// The rootfs, absolute.
    pub rootfs: &'a Path,
    /// chroot instead of pivot_root.
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one named after the container.
    pub no_new_keyring: bool,
    /// The container id (names the session keyring).
    pub id: &'a str,
    /// O_PATH fd of exec.fifo in the state directory.
    pub fifo: BorrowedFd<'a>,
    /// Fds from 3 up to 3+extra_fds reach the program (LISTEN_FDS + --preserve-fds).
    pub extra_fds: u32,
    /// The program's environment, final.
    pub env: &'a [String],
    /// Namespaces.
    pub plan: &'a Plan,
    /// The cgroup the parent puts the init in (clone3 CLONE_INTO_CGROUP on cgroup v2,
    /// cgroup.procs otherwise); the init itself never touches it.
    pub cgroup: Option<&'a crate::cgroups::Manager>,
    /// Parent fds the clone must close at once (the state-directory lock).
    pub close_in_child: &'a [std::os::fd::RawFd],
    /// linux.seccomp, compiled (and checked against this kernel) by the parent.
    pub seccomp: Option<&'a Filter>,
}

/// Run the init; never returns. Failures go to the parent as `Msg::Error`.
pub fn run(args: &InitArgs<'_>, chan: &Channel) -> ! {
    // Holding the lock would block every later command on this container.
    sys::fd::close_inherited(args.close_in_child);
    let err = match setup(args, chan) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    // The parent may be gone already; there is nobody else to tell.
    let _ = chan.send(&Msg::Error(err.to_string()), None);
    sys::process::exit_now(1)
}

enum Never {}

fn setup(args: &InitArgs<'_>, chan: &Channel) -> Result<Never, InitError> {
    // The parent's first Continue says the id maps are written and carries the
    // state JSON for the hooks the init runs itself.
    let (msg, _) = chan.expect(|m| matches!(m, Msg::Continue(_)))?;
    let Msg::Continue(state_json) = msg else {
        unreachable!()
    };
    // Only now is the init in its cgroup, so only now does a new cgroup namespace get
    // that cgroup as its root (clone leaves it out, see spawn::clone_flags).
    if args.plan.is_new(LinuxNamespaceType::Cgroup) {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(InitError::sys("unshare cgroup namespace"))?;
    }
    // Until execve the init holds host fds (procfs, exec.fifo): a process sharing a
    // joined pid namespace must not reach them through ptrace or /proc/PID/fd.
    sys::process::set_not_dumpable().map_err(InitError::sys("prctl PR_SET_DUMPABLE"))?;
    become_root_in_userns(args.plan)?;
    sys::process::set_pdeathsig(libc::SIGKILL).map_err(InitError::sys("prctl PR_SET_PDEATHSIG"))?;
    setsid().map_err(InitError::sys("setsid"))?;
    if !args.no_new_keyring {
        new_session_keyring(args.id)?;
    }

    // The host's /proc, verified, opened before pivot: exec.fifo is reopened through
    // it at the very end, whether or not the container mounts a /proc of its own.
    let host_proc = ProcFs::open()?;
    mount_phase(args, chan, &state_json)?;
    terminal_phase(args.spec, chan)?;
    kernel_phase(args.spec)?;
    rootfs::finalize(args.spec)?;
    let (program, env) = privilege_phase(args, chan)?;

    sys::process::set_pdeathsig(0).map_err(InitError::sys("prctl PR_SET_PDEATHSIG"))?;
    // With no_new_privs, as late as we can: after this only reporting Ready, waiting
    // on exec.fifo, startContainer hooks, close_range, signal resets and execve remain,
    // so the profile filters the container's program rather than the runtime's setup.
    if no_new_privs(args.spec) {
        load_seccomp(args, chan)?;
    }
    chan.send(&Msg::Ready, None)?;
    let fifo = wait_for_start(&host_proc, args.fifo)?;
    drop(host_proc);
    // From here on `start` is the one listening: it reads exec.fifo until EOF. The fd is
    // close-on-exec, so a successful execve is a silent EOF; a failure is written there.
    let err = match start_phase(args, &program, &env, &state_json) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = nix::unistd::write(&fifo, format!("1{err}").as_bytes());
    Err(err)
}

/// What the init does once `start` came: startContainer hooks, fd hygiene, execve.
fn start_phase(
    args: &InitArgs<'_>,
    program: &CString,
    env: &[String],
    state_json: &[u8],
) -> Result<Never, InitError> {
    hooks::run(
        "startContainer",
        start_container_hooks(args.spec),
        &with_status(state_json, "created"),
    )?;
    sys::fd::cloexec_from(3 + args.extra_fds).map_err(InitError::sys("close_range"))?;
    sys::process::reset_signals().map_err(InitError::sys("reset signal dispositions"))?;
    exec(program, args, env)
}

/// A session keyring of the container's own, so keys of the caller's session never
/// reach it (as runc: `_ses.<id>`, all permissions for possessor and user).
pub(crate) fn new_session_keyring(id: &str) -> Result<(), InitError> {
    let name = CString::new(format!("_ses.{id}"))
        .map_err(|_| InitError::Config("container id: NUL byte"))?;
    match sys::process::join_session_keyring(&name) {
        Ok(serial) => sys::process::set_key_perm(serial, 0x3f3f_0000)
            .map_err(InitError::sys("keyctl setperm")),
        // A kernel without keyrings has nothing to share.
        Err(Errno::ENOSYS) => Ok(()),
        Err(e) => Err(InitError::Sys {
            op: "keyctl join session keyring".into(),
            source: e,
        }),
    }
}

/// After the maps are written we can become uid/gid 0 of the new user namespace.
fn become_root_in_userns(plan: &Plan) -> Result<(), InitError> {
    if plan.is_new(LinuxNamespaceType::User) || plan.is_joined(LinuxNamespaceType::User) {
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .map_err(InitError::sys("setresgid 0"))?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .map_err(InitError::sys("setresuid 0"))?;
    }
    Ok(())
}

/// Mounts, hooks that see the container's mounts, and the switch of root.
fn mount_phase(args: &InitArgs<'_>, chan: &Channel, state_json: &[u8]) -> Result<(), InitError> {
    let spec = args.spec;
    // Relative bind-mount sources are relative to the bundle, as in runc.
    chdir(args.bundle).map_err(InitError::path("chdir", args.bundle))?;
    let in_userns =
        args.plan.is_new(LinuxNamespaceType::User) || args.plan.is_joined(LinuxNamespaceType::User);
    let cgroup_dirs: Vec<PathBuf> = args
        .cgroup
        .map(|m| m.paths().paths.into_values().collect())
        .unwrap_or_default();
    rootfs::prepare_with_cgroups(spec, args.rootfs, in_userns, &cgroup_dirs)?;
    if let Some(h) = spec.hooks() {
        #[allow(deprecated)]
        let runtime_hooks = h.prestart().as_ref().is_some_and(|v| !v.is_empty())
            || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty());
        if runtime_hooks {
            chan.send(&Msg::RunHooks, None)?;
            chan.expect(|m| matches!(m, Msg::Continue(_)))?;
        }
        let create_container = h.create_container().as_deref().unwrap_or_default();
        hooks::run("createContainer", create_container, state_json)?;
    }
    rootfs::pivot(args.rootfs, args.no_pivot)?;
    Ok(())
}

/// process.terminal: once the container's root is ours and before /dev may turn
/// read-only, a pty of the container's devpts becomes the controlling terminal, stdio
/// and /dev/console; its master goes to the parent for --console-socket (as runc).
fn terminal_phase(spec: &Spec, chan: &Channel) -> Result<(), InitError> {
    let Some(process) = spec
        .process()
        .as_ref()
        .filter(|p| p.terminal() == Some(true))
    else {
        return Ok(());
    };
    console::setup_and_send(chan, console::console_size(process), true)
}

/// Hostname, domainname and sysctls: written once the container's /proc is its own.
fn kernel_phase(spec: &Spec) -> Result<(), InitError> {
    if let Some(name) = spec.hostname() {
        sethostname(name).map_err(InitError::sys("sethostname"))?;
    }
    if let Some(name) = spec.domainname() {
        sys::process::set_domainname(name).map_err(InitError::sys("setdomainname"))?;
    }
    let sysctl = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref());
    if let Some(sysctl) = sysctl.filter(|s| !s.is_empty()) {
        let proc = ProcFs::open()?;
        let mut keys: Vec<_> = sysctl.keys().collect();
        keys.sort();
        for key in keys {
            write_sysctl(&proc, key, &sysctl[key])?;
        }
    }
    Ok(())
}

/// rlimits, labels, the uid switch, cwd, capabilities, no_new_privs, umask, seccomp;
/// returns the resolved program path.
fn privilege_phase(
    args: &InitArgs<'_>,
    chan: &Channel,
) -> Result<(CString, Vec<String>), InitError> {
    let process = args
        .spec
        .process()
        .as_ref()
        .ok_or(InitError::Config("process: missing"))?;
    // Read while still root, from the container's /etc/passwd.
    let env = with_home(args.env, process.user().uid());
    security::set_rlimits(process.rlimits().as_deref().unwrap_or_default())?;
    security::apply_labels(process)?;
    let caps = process.capabilities().as_ref();
    let no_new_privs = no_new_privs(args.spec);
    // Without no_new_privs the kernel lets only CAP_SYS_ADMIN install a filter: load it
    // now, before the uid switch and the capability drop take that away (as runc).
    if !no_new_privs {
        load_seccomp(args, chan)?;
    }
    // The bounding set needs CAP_SETPCAP, which the uid switch may take away.
    security::drop_bounding_set(caps)?;
    // While still root: the process user gets its stdio (pipes, the pty slave).
    console::stdio::fix_ownership(process.user().uid())?;
    security::switch_user(process.user())?;
    // After the switch, so that the cwd is checked with the process's own permissions.
    chdir(process.cwd()).map_err(InitError::path("chdir to cwd", process.cwd()))?;
    security::apply_capabilities(caps)?;
    if no_new_privs {
        security::set_no_new_privs()?;
    }
    nix::sys::stat::umask(Mode::from_bits_truncate(
        process.user().umask().unwrap_or(0o022),
    ));
    let argv0 = process
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .ok_or(InitError::Config("process.args: empty"))?;
    Ok((find_program(argv0, &env)?, env))
}

fn no_new_privs(spec: &Spec) -> bool {
    spec.process()
        .as_ref()
        .is_some_and(|p| p.no_new_privileges() == Some(true))
}

/// Install the filter; with a listener, give the parent its fd number (it takes the fd
/// with pidfd_getfd and hands it to the agent) and wait until it has done so.
fn load_seccomp(args: &InitArgs<'_>, chan: &Channel) -> Result<(), InitError> {
    load_filter(args.seccomp, chan)
}

/// [`load_seccomp`] for any process the runtime starts (the init, an exec'd process).
pub(crate) fn load_filter(filter: Option<&Filter>, chan: &Channel) -> Result<(), InitError> {
    let Some(filter) = filter else {
        return Ok(());
    };
    let listener = crate::seccomp::load::load(filter).map_err(|e| match e {
        LoadError::Sys { op, source } => InitError::Sys {
            op: format!("linux.seccomp: seccomp {op}"),
            source,
        },
        other => InitError::Sys {
            op: other.to_string(),
            source: Errno::EINVAL,
        },
    })?;
    if let Some(fd) = listener {
        chan.send(&Msg::SeccompListener(fd.as_raw_fd()), None)?;
        chan.expect(|m| matches!(m, Msg::Continue(_)))?;
        // Only the agent may answer; the container keeps no copy (it is close-on-exec too).
        drop(fd);
    }
    Ok(())
}

/// The environment with HOME set as runc sets it when the spec does not: the user's
/// home from the container's /etc/passwd, else `/`.
pub(crate) fn with_home(env: &[String], uid: u32) -> Vec<String> {
    let mut env = env.to_vec();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let home = home_of(&passwd, uid).unwrap_or("/");
        env.push(format!("HOME={home}"));
    }
    env
}

/// The home directory of `uid` in passwd(5) text.
fn home_of(passwd: &str, uid: u32) -> Option<&str> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[2].parse() == Ok(uid) && !f[5].is_empty()).then(|| f[5])
    })
}

/// Resolve args[0] against the container's PATH, as execvp would, so a missing
/// program fails `create` rather than `start`.
pub(crate) fn find_program(argv0: &str, env: &[String]) -> Result<CString, InitError> {
    let candidates: Vec<PathBuf> = if argv0.contains('/') {
        vec![PathBuf::from(argv0)]
    } else {
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("");
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(argv0))
            .collect()
    };
    for c in &candidates {
        if nix::unistd::access(c.as_path(), nix::unistd::AccessFlags::X_OK).is_ok() && !c.is_dir() {
            return CString::new(c.as_os_str().as_encoded_bytes())
                .map_err(|_| InitError::Config("process.args[0]: NUL byte"));
        }
    }
    Err(InitError::Exec(format!(
        "exec {argv0:?}: executable file not found in $PATH or not executable"
    )))
}

/// Block until `start` opens exec.fifo for reading.
fn wait_for_start(host_proc: &ProcFs, fifo: BorrowedFd<'_>) -> Result<OwnedFd, InitError> {
    let rel = format!("self/fd/{}", fifo.as_raw_fd());
    openat(
        host_proc.as_fd(),
        rel.as_str(),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(InitError::sys("open exec.fifo"))
}

fn exec(program: &CString, args: &InitArgs<'_>, env: &[String]) -> Result<Never, InitError> {
    let process = args
        .spec
        .process()
        .as_ref()
        .ok_or(InitError::Config("process: missing"))?;
    let argv: Vec<CString> = process
        .args()
        .as_deref()
        .unwrap_or_default()
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

fn start_container_hooks(spec: &Spec) -> &[oci_spec::runtime::Hook] {
    spec.hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_deref())
        .unwrap_or_default()
}

/// The state JSON with another status.
pub fn with_status(state_json: &[u8], status: &str) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(state_json) {
        Ok(mut v) => {
            v["status"] = status.into();
            serde_json::to_vec(&v).unwrap_or_default()
        }
        Err(_) => state_json.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_comes_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nbroken\nuser:x:1000:1000::/home/user:/bin/sh\nnohome:x:7:7:::/bin/sh\n";
        assert_eq!(home_of(passwd, 0), Some("/root"));
        assert_eq!(home_of(passwd, 1000), Some("/home/user"));
        assert_eq!(home_of(passwd, 7), None);
        assert_eq!(home_of(passwd, 42), None);
    }
}
