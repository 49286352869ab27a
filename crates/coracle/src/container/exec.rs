//! `exec`: another process in a running (or created) container.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

use nix::unistd::Pid;
use oci_spec::runtime::Process;

use super::{io_errno, sys_err, Container, Error};
use crate::console::ConsoleTarget;
use crate::members;
use crate::process::exec::{self as spawn_exec, ExecArgs};
use crate::state::Status;

/// Options of `exec`.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The process to run, complete: callers that take the container's process as
    /// a base (runc's command line does) merge before calling.
    pub process: Process,
    /// Where to write the new process's host pid (absolute, or relative to our cwd).
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to (`process.terminal`).
    pub console_socket: Option<PathBuf>,
    /// An already connected socket the pty master is sent to instead of
    /// `console_socket`: how `exec -t` without `--detach` receives the terminal it
    /// proxies.
    pub console_stream: Option<Arc<OwnedFd>>,
    /// Pass fds 3..3+N to the process.
    pub preserve_fds: u32,
    /// Exec into a paused container too (the process starts frozen).
    pub ignore_paused: bool,
}

/// A process started by [`Container::exec`]; it is our child until waited for.
#[derive(Debug)]
pub struct ExecProcess {
    pid: Pid,
    pidfd: OwnedFd,
}

impl ExecProcess {
    /// Its host pid.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Its pidfd (to wait on or signal it without racing pid reuse).
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Wait for it, forwarding the signals runc forwards; returns its exit code
    /// (128+N when killed by signal N).
    pub fn wait(self) -> Result<i32, Error> {
        members::wait_forwarding(&self.pidfd).map_err(sys_err("wait for exec'd process"))
    }

    /// Leave it running on its own; it is reaped by whoever inherits it.
    pub fn detach(self) {}
}

impl Container {
    /// Start `opts.process` inside the container: it joins every namespace of the
    /// init, gets the process's rlimits, user, capabilities, no_new_privs, labels and
    /// cwd, and only fds 0-2 plus `preserve_fds`. With `process.terminal` it gets a
    /// pty of the container's devpts as controlling terminal and stdio, whose master
    /// goes to `console_stream` or `console_socket` (one is required then, and
    /// refused without a terminal). Returns once its execve succeeded; a failure
    /// before that (a missing program, a bad cwd, an unreachable console socket) is
    /// the error.
    ///
    /// Allowed while the container is created or running (as runc); refused when it is
    /// stopped, or paused unless `ignore_paused`.
    pub fn exec(&self, opts: &ExecOptions) -> Result<ExecProcess, Error> {
        let allowed: &[Status] = if opts.ignore_paused {
            &[Status::Created, Status::Running, Status::Paused]
        } else {
            &[Status::Created, Status::Running]
        };
        let status = self.require("exec in", allowed)?;
        self.check_exec_support(opts)?;
        spawn_exec::validate(&opts.process)?;
        crate::security::check_labels(&opts.process)
            .map_err(|e| Error::Unsupported(e.to_string()))?;

        // Pinned and verified first: everything below goes through this very init.
        let init = self.pidfd()?;
        let cgroup = self.exec_cgroup()?;
        let env = spawn_exec::dedup_env(opts.process.env().as_deref().unwrap_or_default());
        // The container's filter, as runc: an exec'd process is confined like the init,
        // and a notify listener of its own goes to the same agent.
        let seccomp = super::filter::compile(&self.state.config)?;
        let running = self.state.oci_state(status);
        let config = &self.state.config;
        let hand_over = |pidfd: std::os::fd::BorrowedFd<'_>, fd: i32| {
            super::filter::hand_over_listener(pidfd, fd, config, &running)
                .map_err(|e| crate::process::InitError::Exec(e.to_string()))
        };
        let args = ExecArgs {
            process: &opts.process,
            env: &env,
            init: init.as_fd(),
            init_pid: self.state.pid,
            id: self.id(),
            preserve_fds: opts.preserve_fds,
            close_in_child: &[self.dir.lock_fd()],
            cgroup: cgroup.as_ref().map(|fd| fd.as_fd()),
            console: match (&opts.console_stream, &opts.console_socket) {
                (Some(sock), _) => Some(ConsoleTarget::Stream(sock.as_fd())),
                (None, Some(path)) => Some(ConsoleTarget::Path(path)),
                (None, None) => None,
            },
            seccomp: seccomp.as_ref(),
            listener: Some(spawn_exec::ListenerHandOff(&hand_over)),
        };
        // Into the container's cgroup before the process may run: at birth on v2
        // (clone3 CLONE_INTO_CGROUP with `cgroup`), else through cgroup.procs.
        let manager = self.cgroup()?;
        let spawned = spawn_exec::spawn(&args, |pid| match (&manager, &cgroup) {
            (Some(m), None) => Ok(m.apply(pid.as_raw())?),
            _ => Ok(()),
        })?;
        let process = ExecProcess {
            pid: spawned.pid,
            pidfd: spawned.pidfd,
        };
        if let Some(p) = &opts.pid_file {
            if let Err(e) = crate::support::write_pid_file(p, process.pid()) {
                let _ = crate::sys::pidfd::pidfd_send_signal(process.pidfd.as_fd(), libc::SIGKILL);
                let _ = nix::sys::wait::waitpid(process.pid, None);
                return Err(sys_err(format!("write pid file {}", p.display()))(
                    io_errno(&e),
                ));
            }
        }
        Ok(process)
    }

    /// The cgroup v2 directory fd the exec'd process is cloned into (None on v1 and
    /// hybrid hosts, where it joins through cgroup.procs).
    fn exec_cgroup(&self) -> Result<Option<OwnedFd>, Error> {
        match self.cgroup()? {
            Some(m) => Ok(m.clone_fd()?),
            None => Ok(None),
        }
    }

    /// Refuse what exec cannot honour yet, naming the option or field (fail closed).
    fn check_exec_support(&self, opts: &ExecOptions) -> Result<(), Error> {
        let no = |field: &str, what: &str| {
            Err(Error::Unsupported(format!(
                "{field}: {what} is not supported yet"
            )))
        };
        // A terminal needs somewhere to send its master, a console socket a terminal.
        let p = &opts.process;
        let terminal = p.terminal() == Some(true);
        let target = opts.console_socket.is_some() || opts.console_stream.is_some();
        if terminal && !target {
            return Err(Error::Unsupported(
                "process.terminal: a terminal for exec needs a console socket (--console-socket)"
                    .into(),
            ));
        }
        if target && !terminal {
            return Err(Error::Unsupported(
                "--console-socket: a console socket for exec needs a terminal (process.terminal)"
                    .into(),
            ));
        }
        if p.io_priority().is_some() {
            return no("process.ioPriority", "io priority");
        }
        if p.scheduler().is_some() {
            return no("process.scheduler", "scheduler policy");
        }
        if p.exec_cpu_affinity().is_some() {
            return no("process.execCPUAffinity", "exec cpu affinity");
        }
        Ok(())
    }
}
