//! OCI hooks: run with the container state JSON on stdin.
//!
//! Each hook runs with exactly its own argv and environment (ours when the spec
//! leaves `env` out, as runc does), the state on stdin, and stdout plus
//! stderr captured for the error message. One poll loop feeds stdin, collects
//! output and waits on a pidfd with the hook's timeout, so the CLI stays
//! single-threaded and a hook that leaves a background child holding its
//! output pipe cannot hang us.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::Hook;

use crate::state::io_error_message;
use crate::sys::pidfd::{pidfd_open, pidfd_send_signal};

/// At most this much of a hook's output goes into an error message.
const MAX_OUTPUT: usize = 4096;

/// A hook that failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The hook could not be started (or its entry in the spec is unusable).
    #[error("{kind} hook {index} ({path}): {}", io_error_message(.source))]
    Spawn {
        /// "prestart", "createRuntime", ...
        kind: &'static str,
        /// Index in the hook list.
        index: usize,
        /// hook.path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The hook exited non-zero or was killed.
    #[error("{kind} hook {index} ({path}): {status}{output}")]
    Failed {
        /// Kind.
        kind: &'static str,
        /// Index.
        index: usize,
        /// hook.path.
        path: String,
        /// "exit status 1", "killed by signal 9", "timed out after 5s".
        status: String,
        /// ": <stderr and stdout>" when the hook printed anything.
        output: String,
    },
}

/// Run `hooks` of `kind` in order, each with `state_json` on stdin.
///
/// Stops at the first hook that fails. A hook's `timeout` (seconds) must be
/// greater than zero when set; a hook that outlives it is killed with SIGKILL
/// together with its process group.
pub fn run(kind: &'static str, hooks: &[Hook], state_json: &[u8]) -> Result<(), HookError> {
    for (index, hook) in hooks.iter().enumerate() {
        run_one(kind, index, hook, state_json)?;
    }
    Ok(())
}

/// Run every hook of `kind` even when some fail, returning the failures: poststart and
/// poststop hooks only warn, and "the remaining hooks and lifecycle continue".
pub fn run_all(kind: &'static str, hooks: &[Hook], state_json: &[u8]) -> Vec<HookError> {
    hooks
        .iter()
        .enumerate()
        .filter_map(|(index, hook)| run_one(kind, index, hook, state_json).err())
        .collect()
}

/// How a hook ended.
enum Outcome {
    Exited(ExitStatus),
    TimedOut(i64),
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(ErrorKind::InvalidInput, msg)
}

fn run_one(kind: &'static str, index: usize, hook: &Hook, input: &[u8]) -> Result<(), HookError> {
    let path = hook.path().display().to_string();
    let spawn_err = |source| HookError::Spawn {
        kind,
        index,
        path: path.clone(),
        source,
    };
    let cmd = command(hook).map_err(spawn_err)?;
    let timeout = match hook.timeout() {
        Some(secs) if secs <= 0 => {
            let msg = format!("timeout must be greater than zero, got {secs}");
            return Err(spawn_err(invalid(msg)));
        }
        t => t,
    };
    let (outcome, output) = spawn_and_wait(cmd, input, timeout).map_err(spawn_err)?;
    let status = match outcome {
        Outcome::Exited(st) if st.success() => return Ok(()),
        Outcome::Exited(st) => match (st.code(), st.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => format!("{st}"),
        },
        Outcome::TimedOut(secs) => format!("timed out after {secs}s"),
    };
    Err(HookError::Failed {
        kind,
        index,
        path,
        status,
        output: render_output(&output),
    })
}

/// The command for `hook`: argv exactly `args` (argv[0] = path if none), env
/// exactly `env`.
///
/// A hook without `env` inherits our environment, as under runc (Go's
/// `exec.Cmd` with a nil `Env`); hooks installed by engines rely on it for PATH.
/// `"env": []` gives an empty environment.
fn command(hook: &Hook) -> std::io::Result<Command> {
    let path = hook.path();
    // The spec requires an absolute path; a relative one would be looked up in
    // PATH or the cwd, neither of which the bundle author controls.
    if !path.is_absolute() {
        return Err(invalid("hook path must be absolute".into()));
    }
    let mut cmd = Command::new(path);
    if let Some([arg0, rest @ ..]) = hook.args().as_deref() {
        cmd.arg0(arg0).args(rest);
    }
    if let Some(env) = hook.env() {
        cmd.env_clear();
        for entry in env {
            let (key, value) = entry
                .split_once('=')
                .ok_or_else(|| invalid(format!("env entry {entry:?} is not KEY=VALUE")))?;
            cmd.env(key, value);
        }
    }
    // Its own process group, so a timeout can kill what the hook started too.
    cmd.process_group(0);
    Ok(cmd)
}

fn set_nonblocking<F: AsFd>(fd: F) -> std::io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Spawn `cmd`, feed it `input`, collect its output and wait for it (or the timeout).
fn spawn_and_wait(
    mut cmd: Command,
    input: &[u8],
    timeout: Option<i64>,
) -> std::io::Result<(Outcome, Vec<u8>)> {
    // One pipe for stdout and stderr keeps their interleaving.
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    set_nonblocking(&out_r)?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out_w.try_clone()?))
        .stderr(Stdio::from(out_w));
    let mut child = cmd.spawn()?;
    // The Command holds our copies of the pipe's write end.
    drop(cmd);
    let pid = Pid::from_raw(child.id() as i32);
    let pidfd = match pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e.into());
        }
    };
    let mut io = HookIo {
        stdin: child.stdin.take(),
        input,
        out: Some(File::from(out_r)),
        output: Vec::new(),
    };
    if let Some(stdin) = &io.stdin {
        set_nonblocking(stdin)?;
    }
    let deadline =
        timeout.and_then(|secs| Instant::now().checked_add(Duration::from_secs(secs as u64)));
    let exited = io.pump(&pidfd, deadline)?;
    io.stdin = None;
    if !exited {
        kill_hook(&pidfd, pid);
    }
    let status = wait(&mut child)?;
    // Whatever the hook wrote before it ended; background children that keep the
    // pipe open are not waited for.
    io.read_output();
    let outcome = match timeout {
        Some(secs) if !exited => Outcome::TimedOut(secs),
        _ => Outcome::Exited(status),
    };
    Ok((outcome, io.output))
}

/// SIGKILL the hook and its process group.
fn kill_hook(pidfd: &OwnedFd, pid: Pid) {
    // The hook is not reaped yet, so its pid (and pgid) cannot have been reused.
    let _ = pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
    let _ = killpg(pid, Signal::SIGKILL);
}

fn wait(child: &mut Child) -> std::io::Result<ExitStatus> {
    loop {
        match child.wait() {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            res => return res,
        }
    }
}

/// The hook's stdin and output pipes.
struct HookIo<'a> {
    stdin: Option<std::process::ChildStdin>,
    input: &'a [u8],
    out: Option<File>,
    output: Vec<u8>,
}

impl HookIo<'_> {
    /// Feed stdin and read output until the hook exits (true) or `deadline` passes (false).
    fn pump(&mut self, pidfd: &OwnedFd, deadline: Option<Instant>) -> std::io::Result<bool> {
        if self.input.is_empty() {
            self.stdin = None;
        }
        loop {
            let wait = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    // Round up so we never wake just short of the deadline; long
                    // timeouts are waited for in slices poll can express.
                    let ms = left.as_nanos().div_ceil(1_000_000);
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
            };
            let (exited, writable, readable) = {
                let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
                if let Some(stdin) = &self.stdin {
                    fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLOUT));
                }
                let stdin_slot = self.stdin.is_some().then_some(fds.len() - 1);
                if let Some(out) = &self.out {
                    fds.push(PollFd::new(out.as_fd(), PollFlags::POLLIN));
                }
                let out_slot = self.out.is_some().then_some(fds.len() - 1);
                match poll(&mut fds, wait) {
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(e.into()),
                    Ok(_) => {}
                }
                let revents = |slot: Option<usize>| {
                    slot.and_then(|i| fds[i].revents())
                        .unwrap_or(PollFlags::empty())
                };
                (
                    !revents(Some(0)).is_empty(),
                    revents(stdin_slot),
                    !revents(out_slot).is_empty(),
                )
            };
            if writable.contains(PollFlags::POLLERR) {
                // The hook closed its stdin: writing would only raise EPIPE.
                self.stdin = None;
            } else if !writable.is_empty() {
                self.write_input();
            }
            if readable {
                self.read_output();
            }
            if exited {
                return Ok(true);
            }
        }
    }

    /// Write what stdin takes now; close it when all is written or the hook
    /// stopped reading (EPIPE is not an error: a hook need not read its stdin).
    fn write_input(&mut self) {
        let Some(stdin) = &mut self.stdin else { return };
        loop {
            match stdin.write(self.input) {
                Ok(n) => {
                    self.input = &self.input[n..];
                    if self.input.is_empty() {
                        self.stdin = None;
                        return;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.stdin = None;
                    return;
                }
            }
        }
    }

    /// Read what the output pipe holds now, keeping the first [`MAX_OUTPUT`] bytes.
    fn read_output(&mut self) {
        let Some(out) = &mut self.out else { return };
        let mut buf = [0u8; 4096];
        loop {
            match out.read(&mut buf) {
                Ok(0) => {
                    self.out = None;
                    return;
                }
                Ok(n) => {
                    // Keep one byte more than shown, to know we truncated.
                    let room = (MAX_OUTPUT + 1).saturating_sub(self.output.len());
                    self.output.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.out = None;
                    return;
                }
            }
        }
    }
}

/// `: <output>` trimmed, or "" when the hook printed nothing.
fn render_output(output: &[u8]) -> String {
    let truncated = output.len() > MAX_OUTPUT;
    let text = String::from_utf8_lossy(&output[..output.len().min(MAX_OUTPUT)]);
    let text = text.trim();
    match (text.is_empty(), truncated) {
        (true, _) => String::new(),
        (false, false) => format!(": {text}"),
        (false, true) => format!(": {text}... (truncated)"),
    }
}

#[cfg(test)]
mod tests;
