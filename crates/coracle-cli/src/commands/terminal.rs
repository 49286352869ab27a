//! `run` and `exec` with `process.terminal` and without `--detach`: as runc, coracle
//! receives the pty master itself and proxies it to its own stdio. The caller's
//! terminal is put in raw mode (output processing kept, so `\n` still returns the
//! carriage) and restored on the way out; window-size changes (SIGWINCH) reach the
//! container's pty; other signals runc forwards go to the process (the init, or the
//! exec'd process); the exit status is that process's. Both commands share one
//! implementation: [`prepare`] and [`proxy`].

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use coracle::console::{recv_master, WinSize};
use coracle::container::exec::{ExecOptions, ExecProcess};
use coracle::state::{StateError, Store};
use coracle::sys::pidfd::{pidfd_open, pidfd_send_signal};
use coracle::sys::tty;
use coracle::{Container, CreateOptions};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::termios::{self, OutputFlags, SetArg, Termios};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::CliError;

/// Signals forwarded to the container, as runc's `run` does; SIGWINCH resizes instead.
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

/// How long output is still drained after the init exited, when something outside
/// the container's pid namespace keeps the pty slave open.
const DRAIN_MS: u16 = 1000;

/// Create with the master sent to a socketpair of ours, start, proxy until the
/// container exits, delete it; the container's exit code (128+N for signal N).
pub fn run(store: &Store, id: &str, mut opts: CreateOptions) -> Result<i32, CliError> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| sys("console socketpair", e))?;
    opts.console_stream = Some(Arc::new(theirs));
    let mut c = Container::create(store, id, &opts)?;
    drop(opts);
    let setup = (|| {
        let (_, master) = recv_master(ours.as_fd()).map_err(|e| CliError::Msg(e.to_string()))?;
        // The init is our child (create cloned it): a pidfd to wait on and signal.
        let pidfd =
            pidfd_open(Pid::from_raw(c.state().pid)).map_err(|e| sys("pidfd_open init", e))?;
        Ok::<_, CliError>((master, pidfd))
    })();
    let (master, pidfd) = match setup {
        Ok(v) => v,
        Err(e) => {
            let _ = c.delete(true);
            return Err(e);
        }
    };
    let host = HostTerminal::find();
    let raw = match prepare(&master, &host) {
        Ok(raw) => raw,
        Err(e) => {
            let _ = c.delete(true);
            return Err(e);
        }
    };
    if let Err(e) = c.start() {
        drop(raw);
        let _ = c.delete(true);
        return Err(e.into());
    }
    // Wait without holding the container's lock, as the library's run does.
    drop(c);
    let code = proxy(&master, pidfd.as_fd(), &host);
    drop(raw);
    drop(master);
    let code = code?;
    match Container::load(store, id) {
        Ok(c) => c.delete(true)?,
        Err(coracle::Error::State(StateError::NotFound(_))) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(code)
}

/// `exec -t` without `--detach`: exec with the master sent to a socketpair of ours,
/// proxy until the process exits; its exit code (128+N for signal N).
pub fn exec(c: Container, mut opts: ExecOptions) -> Result<i32, CliError> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| sys("console socketpair", e))?;
    opts.console_stream = Some(Arc::new(theirs));
    let host = HostTerminal::find();
    // Unlike the init, the exec'd process runs as soon as `exec` returns and may ask
    // for its size at once: its pty is born with the caller's (the proxy keeps the
    // two in step afterwards).
    if let Some(size) = host.size() {
        let b = oci_spec::runtime::BoxBuilder::default()
            .height(size.rows)
            .width(size.cols)
            .build()
            .map_err(|e| CliError::Msg(format!("process.consoleSize: {e}")))?;
        opts.process.set_console_size(Some(b));
    }
    let started = c.exec(&opts).map_err(super::exec::paused_hint)?;
    drop(opts);
    // Wait without holding the container's lock, as plain `exec` does.
    drop(c);
    let attached = recv_master(ours.as_fd())
        .map_err(|e| CliError::Msg(e.to_string()))
        .and_then(|(_, master)| {
            let raw = prepare(&master, &host)?;
            Ok((master, raw))
        });
    let (master, raw) = match attached {
        Ok(v) => v,
        Err(e) => {
            kill(&started);
            return Err(e);
        }
    };
    let code = proxy(&master, started.pidfd(), &host);
    drop(raw);
    code
}

/// Kill and reap an exec'd process we cannot attach to.
fn kill(p: &ExecProcess) {
    let _ = pidfd_send_signal(p.pidfd(), libc::SIGKILL);
    let _ = waitid(Id::PIDFd(p.pidfd()), WaitPidFlag::WEXITED);
}

fn sys(op: &str, e: Errno) -> CliError {
    CliError::Msg(format!("{op}: {} ({e:?})", e.desc()))
}

/// The caller's terminal (a dup of it), found as runc's initHostConsole does: the
/// first of stderr, stdout, stdin that is one, else the controlling terminal
/// (/dev/tty). Unlike runc, having none is not an error: the container's output is
/// still copied, without raw mode or window sizes.
#[derive(Debug)]
struct HostTerminal(Option<OwnedFd>);

impl HostTerminal {
    fn find() -> HostTerminal {
        let (i, o, e) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
        let found = [e.as_fd(), o.as_fd(), i.as_fd()]
            .into_iter()
            .find(|fd| nix::unistd::isatty(fd) == Ok(true))
            .and_then(|fd| nix::unistd::dup(fd).ok());
        HostTerminal(found.or_else(|| {
            nix::fcntl::open(
                "/dev/tty",
                OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok()
        }))
    }

    fn size(&self) -> Option<WinSize> {
        tty::window_size(self.0.as_ref()?.as_fd())
            .ok()
            .filter(|s| s.rows != 0 && s.cols != 0)
    }
}

/// Restores the caller's terminal mode on drop.
struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// The container's pty without ONLCR (the caller's terminal translates `\n` itself),
/// the caller's terminal in raw mode and the container's window size from it; the
/// master non-blocking.
fn prepare<'a>(master: &OwnedFd, host: &'a HostTerminal) -> Result<Option<RawMode<'a>>, CliError> {
    let mut t = termios::tcgetattr(master).map_err(|e| sys("tcgetattr pty master", e))?;
    t.output_flags.remove(OutputFlags::ONLCR);
    termios::tcsetattr(master, SetArg::TCSANOW, &t).map_err(|e| sys("tcsetattr pty master", e))?;
    let flags = fcntl(master, FcntlArg::F_GETFL).map_err(|e| sys("fcntl pty master", e))?;
    fcntl(
        master,
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .map_err(|e| sys("fcntl pty master", e))?;
    let Some(fd) = host.0.as_ref().map(|f| f.as_fd()) else {
        return Ok(None);
    };
    if let Some(size) = host.size() {
        tty::set_window_size(master.as_fd(), size)
            .map_err(|e| sys("ioctl TIOCSWINSZ pty master", e))?;
    }
    let saved = termios::tcgetattr(fd).map_err(|e| sys("tcgetattr terminal", e))?;
    let mut raw = saved.clone();
    termios::cfmakeraw(&mut raw);
    // As containerd/console's SetRaw: output processing stays on.
    raw.output_flags.insert(OutputFlags::OPOST);
    termios::tcsetattr(fd, SetArg::TCSANOW, &raw).map_err(|e| sys("tcsetattr terminal", e))?;
    Ok(Some(RawMode { fd, saved }))
}

/// Copy stdin to the master and the master to stdout until the container exited and
/// its output is drained; returns the exit code.
fn proxy(master: &OwnedFd, pidfd: BorrowedFd<'_>, host: &HostTerminal) -> Result<i32, CliError> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(|e| sys("sigprocmask", e))?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).map_err(|e| sys("signalfd", e))?;
    let stdin_handle = std::io::stdin();
    let stdin = stdin_handle.as_fd();
    let mut stdin_open = true;
    let mut master_open = true;
    let mut exited = false;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    while master_open {
        // Input is read only while the pty has taken the previous chunk, so a
        // container that does not read cannot make us buffer without bound.
        let want_stdin = stdin_open && !exited && pending.is_empty();
        let mut master_events = PollFlags::POLLIN;
        if !pending.is_empty() {
            master_events |= PollFlags::POLLOUT;
        }
        let mut fds = vec![
            PollFd::new(master.as_fd(), master_events),
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(
                pidfd,
                if exited {
                    PollFlags::empty()
                } else {
                    PollFlags::POLLIN
                },
            ),
        ];
        if want_stdin {
            fds.push(PollFd::new(stdin, PollFlags::POLLIN));
        }
        let timeout = if exited {
            PollTimeout::from(DRAIN_MS)
        } else {
            PollTimeout::NONE
        };
        let n = match poll(&mut fds, timeout) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(sys("poll", e)),
            Ok(n) => n,
        };
        if n == 0 {
            // Exited, and nothing more came for a while: somebody else holds the slave.
            break;
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .unwrap_or(PollFlags::empty())
        };
        let (m, s, p, i) = (ready(0), ready(1), ready(2), ready(3));
        if !m.is_empty() {
            master_open = pump_master(master, &mut buf)?;
            if !pending.is_empty() && m.contains(PollFlags::POLLOUT) {
                write_pending(master, &mut pending)?;
            }
        }
        if s.contains(PollFlags::POLLIN) {
            if let Ok(Some(info)) = sfd.read_signal() {
                if info.ssi_signo == Signal::SIGWINCH as u32 {
                    if let Some(size) = host.size() {
                        let _ = tty::set_window_size(master.as_fd(), size);
                    }
                } else {
                    let _ = pidfd_send_signal(pidfd, info.ssi_signo as i32);
                }
            }
        }
        if !i.is_empty() {
            match nix::unistd::read(stdin, &mut buf) {
                Ok(0) => stdin_open = false,
                Ok(k) => pending.extend_from_slice(&buf[..k]),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(_) => stdin_open = false,
            }
            if !pending.is_empty() {
                write_pending(master, &mut pending)?;
            }
        }
        if !p.is_empty() {
            exited = true;
        }
    }
    if !exited {
        // Every holder of the slave closed it: the container is exiting.
        let mut fds = [PollFd::new(pidfd, PollFlags::POLLIN)];
        loop {
            match poll(&mut fds, PollTimeout::NONE) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(sys("poll", e)),
                Ok(_) => break,
            }
        }
    }
    let status = waitid(Id::PIDFd(pidfd), WaitPidFlag::WEXITED).map_err(|e| sys("waitid", e))?;
    Ok(match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 255,
    })
}

/// Copy what the master has to stdout; false once the slave side is closed for good.
fn pump_master(master: &OwnedFd, buf: &mut [u8]) -> Result<bool, CliError> {
    loop {
        match nix::unistd::read(master, buf) {
            // EIO: every slave fd is closed and the buffer is drained.
            Ok(0) | Err(Errno::EIO) => return Ok(false),
            Ok(k) => {
                let mut out = std::io::stdout().lock();
                // A closed stdout must not stop the container: its output is dropped.
                let _ = out.write_all(&buf[..k]).and_then(|()| out.flush());
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return Ok(true),
            Err(e) => return Err(sys("read pty master", e)),
        }
    }
}

/// Write as much pending input to the master as it takes now.
fn write_pending(master: &OwnedFd, pending: &mut Vec<u8>) -> Result<(), CliError> {
    while !pending.is_empty() {
        match nix::unistd::write(master, pending) {
            Ok(k) => {
                pending.drain(..k);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return Ok(()),
            // The slave is gone: the input has nobody to go to.
            Err(Errno::EIO) => {
                pending.clear();
                return Ok(());
            }
            Err(e) => return Err(sys("write pty master", e)),
        }
    }
    Ok(())
}
