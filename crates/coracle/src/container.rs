//! The public lifecycle API: create, start, state, kill, delete, run.

pub mod exec;

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::cgroups::{CgroupError, Manager};
use crate::console::{self, ConsoleTarget};
use crate::hooks::{self, HookError};
use crate::namespaces::{NamespaceError, Plan};
use crate::process::init::InitArgs;
use crate::process::sync::{Expected, Msg, SyncError};
use crate::process::{spawn, InitError};
use crate::seccomp::Filter;
use crate::spec::{self, Bundle, SpecError};
use crate::state::{self, ContainerDir, State, StateError, Status, Store};
use crate::sys::pidfd::{pidfd_open, pidfd_send_signal};
use crate::{members, support, warn};

/// Any lifecycle failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bundle was rejected.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A hook failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// A cgroup step failed.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// A namespace could not be opened or joined.
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    /// The container init failed during setup.
    #[error(transparent)]
    Init(#[from] InitError),
    /// A system call in the runtime failed.
    #[error("{op}: {desc} ({source:?})", desc = source.desc())]
    Sys {
        /// What we were doing.
        op: String,
        /// The errno.
        #[source]
        source: Errno,
    },
    /// The operation is not allowed in the container's current status.
    #[error("cannot {op} container {id}: container is {status}")]
    BadStatus {
        /// The operation.
        op: &'static str,
        /// The container.
        id: String,
        /// Its status.
        status: Status,
    },
    /// A spec field or option we cannot honour (fail closed).
    #[error("{0}")]
    Unsupported(String),
    /// The container's init went away when it should not have.
    #[error("{0}")]
    InitGone(&'static str),
    /// A container whose `create` died before writing its state; only delete applies.
    #[error("container {0} was never fully created (its creator exited); delete removes it")]
    Unfinished(String),
}

mod cgroup;
mod filter;

pub use cgroup::Monitor;

fn sys_err(op: impl Into<String>) -> impl FnOnce(Errno) -> Error {
    let op = op.into();
    move |source| Error::Sys { op, source }
}

/// Options of `create` and `run`.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Where to write the init's pid (absolute, or relative to the caller's cwd).
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to (process.terminal).
    pub console_socket: Option<PathBuf>,
    /// An already connected socket to send the pty master to instead of
    /// `console_socket`: how `run` without `--detach` receives the terminal it proxies.
    pub console_stream: Option<std::sync::Arc<OwnedFd>>,
    /// chroot + MS_MOVE instead of pivot_root.
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    pub no_new_keyring: bool,
    /// Pass fds 3..3+N to the container process.
    pub preserve_fds: u32,
}

/// A container known to the store, with its directory locked.
#[derive(Debug)]
pub struct Container {
    dir: ContainerDir,
    state: State,
    /// The init's pidfd when this process created it (it is our child then).
    child: Option<OwnedFd>,
}

const EXEC_FIFO: &str = "exec.fifo";

impl Container {
    /// The container id.
    pub fn id(&self) -> &str {
        self.dir.id()
    }

    /// The saved state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The derived status: the init's pid and start time tell a live init from a
    /// recycled pid; a frozen cgroup means paused; exec.fifo exists until `start`
    /// consumed it.
    pub fn status(&self) -> Status {
        if self.state.pid == 0 {
            Status::Creating
        } else if !state::is_alive(self.state.pid, self.state.pid_start_time) {
            Status::Stopped
        } else if self.is_frozen() {
            Status::Paused
        } else if self.dir.path().join(EXEC_FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// The state JSON as `runc state` prints it (OCI state plus rootfs, created, owner).
    pub fn state_json(&self) -> serde_json::Value {
        self.state.runc_state(self.status())
    }

    /// Load an existing container (locks it).
    pub fn load(store: &Store, id: &str) -> Result<Container, Error> {
        let dir = store.lock(id)?;
        match dir.read_state()? {
            Some(state) => Ok(Container {
                dir,
                state,
                child: None,
            }),
            // We hold the lock, so the creator is gone: it died before writing state.json.
            None => Err(Error::Unfinished(id.to_string())),
        }
    }

    /// Remove a container whose creation never finished (no state.json).
    pub fn remove_unfinished(store: &Store, id: &str) -> Result<bool, Error> {
        let dir = store.lock(id)?;
        if dir.read_state()?.is_some() {
            return Ok(false);
        }
        dir.remove()?;
        Ok(true)
    }

    /// Create a container: the init is set up and waits for `start`.
    ///
    /// Everything is validated before the state directory exists; on any failure after
    /// that, the init is killed (its mounts die with its mount namespace) and the
    /// directory removed.
    pub fn create(store: &Store, id: &str, opts: &CreateOptions) -> Result<Container, Error> {
        state::validate_id(id)?;
        let bundle = spec::load(&opts.bundle)?;
        support::check(&bundle.spec, opts)?;
        let seccomp = filter::compile(&bundle.spec)?;
        let plan = Plan::from_spec(&bundle.spec)?;
        let cgroup = cgroup::manager_for(&bundle.spec, id)?;
        // The id is claimed before the cgroup is touched: a second create of a live id
        // must not reach the first container's cgroup.
        let dir = store.create(id)?;
        let mut state = State {
            id: id.to_string(),
            pid: 0,
            pid_start_time: 0,
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            created: state::now_rfc3339(),
            annotations: bundle.spec.annotations().clone().unwrap_or_default(),
            config: bundle.spec.clone(),
            cgroup: None,
        };
        let spawned = cgroup::prepare(&cgroup, &bundle.spec).and_then(|()| {
            // After create: the state must list the directories it made, for delete.
            state.cgroup = Some(cgroup.paths());
            spawn_init(
                &dir,
                &bundle,
                &plan,
                opts,
                &cgroup,
                seccomp.as_ref(),
                &mut state,
            )
        });
        match spawned {
            Ok(child) => Ok(Container {
                dir,
                state,
                child: Some(child),
            }),
            Err(e) => {
                // The init is dead by now (spawn_init kills it), so the cgroup is empty.
                if let Err(rm) = cgroup.remove() {
                    warn::emit(&format!("remove cgroup of {id}: {rm}"));
                }
                if let Err(rm) = dir.remove() {
                    warn::emit(&format!("remove state of {id}: {rm}"));
                }
                Err(e)
            }
        }
    }

    /// Release the init to execve the user program; runs poststart hooks.
    pub fn start(&mut self) -> Result<(), Error> {
        self.require("start", &[Status::Created])?;
        // Pinned before the init is released: a startContainer hook can fail, and the
        // init exit, before we get to look.
        let pidfd = self.pidfd()?;
        let fifo_path = self.dir.path().join(EXEC_FIFO);
        let fifo = nix::fcntl::open(
            &fifo_path,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys_err("open exec.fifo"))?;
        if let Err(e) = wait_fifo(&fifo, &pidfd) {
            // "stop the container": the init is on its way out; make sure it is gone
            // before reporting, so the status is `stopped` when we return.
            if let Err(kill) = self.kill_and_wait() {
                warn::emit(&format!("stop container {}: {kill}", self.id()));
            }
            return Err(e);
        }
        std::fs::remove_file(&fifo_path).map_err(|e| sys_err("remove exec.fifo")(io_errno(&e)))?;
        self.run_warning_hooks(HookKind::Poststart, Status::Running);
        Ok(())
    }

    /// Send signal number `sig` to the init, or with `all` to every process of the container.
    pub fn kill(&self, sig: i32, all: bool) -> Result<(), Error> {
        self.require("kill", &[Status::Created, Status::Running, Status::Paused])?;
        if all {
            return self.signal_all(sig);
        }
        let pidfd = self.pidfd()?;
        pidfd_send_signal(pidfd.as_fd(), sig)
            .map_err(sys_err(format!("kill {} (pid {})", sig, self.state.pid)))?;
        self.thaw_for_kill(sig)
    }

    /// Delete: kill (with `force`, or a created container), remove state; runs poststop hooks.
    pub fn delete(self, force: bool) -> Result<(), Error> {
        let status = self.status();
        match status {
            Status::Stopped | Status::Creating => {}
            Status::Created => self.kill_and_wait()?,
            Status::Running | Status::Paused if force => self.kill_and_wait()?,
            Status::Running | Status::Paused => {
                return Err(Error::BadStatus {
                    op: "delete",
                    id: self.id().into(),
                    status,
                });
            }
        }
        // As runc: the state goes even when the cgroup cannot, and the error is reported.
        let cgroup = self.remove_cgroup();
        self.run_warning_hooks(HookKind::Poststop, Status::Stopped);
        self.dir.remove()?;
        cgroup
    }

    /// SIGKILL every process of the container and wait until the init is gone.
    fn kill_and_wait(&self) -> Result<(), Error> {
        let pidfd = match self.pidfd() {
            Ok(fd) => fd,
            Err(_) => return Ok(()), // already gone
        };
        self.signal_all(libc::SIGKILL)?;
        let _ = pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
        members::wait_exit(&pidfd, self.child.is_some(), self.state.pid)
            .map_err(sys_err("wait for init"))
    }

    /// The derived status, if it is one of `allowed`; else the error naming `op`.
    fn require(&self, op: &'static str, allowed: &[Status]) -> Result<Status, Error> {
        let status = self.status();
        if allowed.contains(&status) {
            Ok(status)
        } else {
            Err(Error::BadStatus {
                op,
                id: self.id().into(),
                status,
            })
        }
    }

    /// A pidfd for the init, checked to be the same process (not a recycled pid).
    fn pidfd(&self) -> Result<OwnedFd, Error> {
        if let Some(fd) = &self.child {
            return fd
                .try_clone()
                .map_err(|e| sys_err("dup pidfd")(io_errno(&e)));
        }
        let pid = nix::unistd::Pid::from_raw(self.state.pid);
        let fd = pidfd_open(pid).map_err(sys_err(format!("pidfd_open {pid}")))?;
        // Checked after opening: from here on the fd pins this very process.
        if !state::is_alive(self.state.pid, self.state.pid_start_time) {
            return Err(Error::BadStatus {
                op: "signal",
                id: self.id().into(),
                status: Status::Stopped,
            });
        }
        Ok(fd)
    }

    /// poststart and poststop hooks: every hook runs, and a failure is only a warning
    /// ("the remaining hooks and lifecycle continue as if the hook had succeeded").
    fn run_warning_hooks(&self, kind: HookKind, status: Status) {
        let json = self.oci_state_bytes(status);
        for e in hooks::run_all(kind.name(), hook_list(&self.state.config, kind), &json) {
            warn::emit(&e.to_string());
        }
    }

    fn oci_state_bytes(&self, status: Status) -> Vec<u8> {
        serde_json::to_vec(&self.state.oci_state(status)).unwrap_or_default()
    }
}

/// `run`: create + start, and unless `detach`, wait, delete and return the exit code
/// (128+signal when killed). With `detach` returns 0 once started.
pub fn run(store: &Store, id: &str, opts: &CreateOptions, detach: bool) -> Result<i32, Error> {
    let mut c = Container::create(store, id, opts)?;
    if let Err(e) = c.start() {
        let _ = c.delete(true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    // Wait without holding the container's lock, so that state, kill and delete from
    // other processes keep working while the container runs.
    let Some(child) = c.child.take() else {
        return Err(Error::InitGone("run: the container init is not our child"));
    };
    drop(c);
    let code = members::wait_forwarding(&child).map_err(sys_err("wait for container"))?;
    match Container::load(store, id) {
        Ok(c) => c.delete(true)?,
        // Somebody deleted it meanwhile: nothing left to clean.
        Err(Error::State(StateError::NotFound(_))) => {}
        Err(e) => return Err(e),
    }
    Ok(code)
}

fn spawn_init(
    dir: &ContainerDir,
    bundle: &Bundle,
    plan: &Plan,
    opts: &CreateOptions,
    cgroup: &Manager,
    seccomp: Option<&Filter>,
    state: &mut State,
) -> Result<OwnedFd, Error> {
    let fifo_path = dir.path().join(EXEC_FIFO);
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .map_err(sys_err("mkfifo exec.fifo"))?;
    // As runc: writable by the init whatever uid it runs as by then (mkfifo applied our umask).
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &fifo_path,
        Mode::from_bits_truncate(0o622),
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .map_err(sys_err("chmod exec.fifo"))?;
    let fifo = nix::fcntl::open(&fifo_path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(sys_err("open exec.fifo"))?;
    let (env, listen_fds) = support::environment(&bundle.spec);
    let args = InitArgs {
        spec: &bundle.spec,
        bundle: &bundle.dir,
        rootfs: &bundle.rootfs,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        id: dir.id(),
        fifo: fifo.as_fd(),
        extra_fds: listen_fds + opts.preserve_fds,
        env: &env,
        plan,
        cgroup: Some(cgroup),
        close_in_child: &[dir.lock_fd()],
        seccomp,
    };
    let oci_creating = |pid: nix::unistd::Pid| {
        let mut s = state.clone();
        s.pid = pid.as_raw();
        serde_json::to_vec(&s.oci_state(Status::Creating)).unwrap_or_default()
    };
    let spawned = spawn::spawn(&args, oci_creating)?;
    state.pid = spawned.pid.as_raw();
    let result = (|| {
        loop {
            match spawned.chan.recv() {
                Ok((Msg::RunHooks, _)) => {
                    let json =
                        serde_json::to_vec(&state.oci_state(Status::Creating)).unwrap_or_default();
                    for kind in [HookKind::Prestart, HookKind::CreateRuntime] {
                        hooks::run(kind.name(), hook_list(&bundle.spec, kind), &json)?;
                    }
                    spawned
                        .chan
                        .send(&Msg::Continue(Vec::new()), None)
                        .map_err(InitError::from)?;
                }
                Ok((Msg::Console, Some(master))) => {
                    let target = match (&opts.console_stream, &opts.console_socket) {
                        (Some(sock), _) => ConsoleTarget::Stream(sock.as_fd()),
                        (None, Some(path)) => ConsoleTarget::Path(path),
                        (None, None) => {
                            return Err(Error::Unsupported(
                                "process.terminal: no console socket for the pty master".into(),
                            ))
                        }
                    };
                    // Our copy of the master closes when this arm ends.
                    console::deliver(target, master.as_fd()).map_err(|e| Error::Sys {
                        op: e.op,
                        source: e.source,
                    })?;
                }
                Ok((Msg::SeccompListener(fd), _)) => {
                    let creating = state.oci_state(Status::Creating);
                    filter::hand_over_listener(spawned.pidfd.as_fd(), fd, &bundle.spec, &creating)?;
                    spawned
                        .chan
                        .send(&Msg::Continue(Vec::new()), None)
                        .map_err(InitError::from)?;
                }
                Ok((Msg::Ready, _)) => break,
                Ok((Msg::Error(e), _)) => return Err(InitError::Peer(Expected::Peer(e)).into()),
                Ok((m, _)) => {
                    return Err(InitError::Peer(Expected::Unexpected(format!("{m:?}"))).into())
                }
                Err(SyncError::Closed) => {
                    return Err(Error::InitGone("container init exited during setup"));
                }
                Err(e) => return Err(InitError::from(e).into()),
            }
        }
        state.pid_start_time = state::process_start_time(state.pid)
            .ok_or(Error::InitGone("container init exited during setup"))?;
        dir.write_state(state)?;
        if let Some(p) = &opts.pid_file {
            support::write_pid_file(p, state.pid)
                .map_err(|e| sys_err(format!("write pid file {}", p.display()))(io_errno(&e)))?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(spawned.pidfd),
        Err(e) => {
            spawned.kill();
            Err(e)
        }
    }
}

/// Wait for the init's answer on exec.fifo: EOF once execve closed the (close-on-exec)
/// writer, or `1<message>` when a startContainer hook or execve failed.
fn wait_fifo(fifo: &OwnedFd, pidfd: &OwnedFd) -> Result<(), Error> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut msg = Vec::new();
    loop {
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(sys_err("poll exec.fifo")(e)),
            Ok(_) => {}
        }
        let fifo_ready = fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP));
        let init_gone = fds[1].revents().is_some_and(|r| !r.is_empty());
        if fifo_ready || init_gone {
            let mut buf = [0u8; 4096];
            loop {
                match nix::unistd::read(fifo, &mut buf) {
                    Ok(0) => return start_outcome(&msg),
                    Ok(n) => msg.extend_from_slice(&buf[..n]),
                    Err(Errno::EINTR) => {}
                    Err(Errno::EAGAIN) => break,
                    Err(e) => return Err(sys_err("read exec.fifo")(e)),
                }
            }
            if init_gone {
                if msg.is_empty() {
                    return Err(Error::InitGone("container init exited before start"));
                }
                return start_outcome(&msg);
            }
        }
    }
}

fn start_outcome(msg: &[u8]) -> Result<(), Error> {
    match msg.split_first() {
        None => Ok(()),
        Some((_, text)) => Err(Error::Init(InitError::Exec(
            String::from_utf8_lossy(text).into_owned(),
        ))),
    }
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Hook kinds run by the runtime (the init runs createContainer and startContainer).
#[derive(Debug, Clone, Copy)]
enum HookKind {
    Prestart,
    CreateRuntime,
    Poststart,
    Poststop,
}

impl HookKind {
    /// The name the spec gives the list.
    fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }
}

fn hook_list(spec: &oci_spec::runtime::Spec, kind: HookKind) -> &[oci_spec::runtime::Hook] {
    let Some(h) = spec.hooks() else { return &[] };
    #[allow(deprecated)]
    let list = match kind {
        HookKind::Prestart => h.prestart(),
        HookKind::CreateRuntime => h.create_runtime(),
        HookKind::Poststart => h.poststart(),
        HookKind::Poststop => h.poststop(),
    };
    list.as_deref().unwrap_or_default()
}
