//! Terminals: the pty of a container process and the hand-off of its master to
//! `--console-socket`, as runc does.
//!
//! Two halves, in two processes:
//!
//! * In the container process (the init after `pivot_root`, or an exec'd process
//!   after it entered the container's mount namespace and root), [`setup_and_send`]
//!   allocates a pty from the container's own devpts (`/dev/ptmx`, which the rootfs
//!   links to `pts/ptmx`), applies `consoleSize`, optionally binds the slave over
//!   `/dev/console`, makes the slave the controlling terminal and stdio 0/1/2, and
//!   sends the master to the runtime over the sync channel as [`Msg::Console`].
//! * In the runtime, [`deliver`] passes that master on to its [`ConsoleTarget`]: the
//!   `--console-socket` path (a SOCK_STREAM unix socket; the message payload is the
//!   name runc sends, [`MASTER_NAME`]), or an already connected socket (how `run`
//!   proxies the terminal itself). The runtime's copy is closed afterwards.
//!
//! Exec reuses both: in the exec'd process, after `setsid()` and entering the
//! container's root, call `setup_and_send(chan, size, false)` (runc mounts
//! /dev/console only for the init); in the parent, on `Msg::Console`, call
//! `deliver(&target, master)`.

pub mod stdio;

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, FdFlag, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::socket::{
    connect, recvmsg, sendmsg, socket, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::sys::stat::Mode;
use oci_spec::runtime::Process;

use crate::process::sync::{Channel, Msg};
use crate::process::InitError;
use crate::sys::tty;
pub use crate::sys::tty::WinSize;

/// The payload sent with the master over the console socket: runc sends the name of
/// its master file (containerd/console opens `/dev/ptmx`), and receivers such as
/// containerd's shim and conmon read it as the console's name.
pub const MASTER_NAME: &str = "/dev/ptmx";

/// A terminal step failed: what we did (naming the field or flag) and the errno.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {desc} ({source:?})", desc = source.desc())]
pub struct ConsoleError {
    /// The step, e.g. `process.terminal: open /dev/ptmx`.
    pub op: String,
    /// The errno.
    #[source]
    pub source: Errno,
}

impl ConsoleError {
    fn at(op: impl Into<String>) -> impl FnOnce(Errno) -> ConsoleError {
        let op = op.into();
        move |source| ConsoleError { op, source }
    }
}

impl From<ConsoleError> for InitError {
    fn from(e: ConsoleError) -> InitError {
        InitError::Sys {
            op: e.op,
            source: e.source,
        }
    }
}

/// `process.consoleSize` as a window size; like runc, only when both height and width
/// are set (non-zero).
pub fn console_size(process: &Process) -> Option<WinSize> {
    let b = process.console_size()?;
    let (rows, cols) = (
        u16::try_from(b.height()).ok()?,
        u16::try_from(b.width()).ok()?,
    );
    (rows != 0 && cols != 0).then_some(WinSize { rows, cols })
}

/// Set up the calling process's terminal and send the master to the runtime over
/// `chan` as [`Msg::Console`]; see [`setup_terminal`] for the preconditions.
pub fn setup_and_send(
    chan: &Channel,
    size: Option<WinSize>,
    mount_console: bool,
) -> Result<(), InitError> {
    let master = setup_terminal(size, mount_console)?;
    chan.send(&Msg::Console, Some(master.as_fd()))?;
    Ok(())
}

/// Allocate a pty in the container and make its slave this process's controlling
/// terminal and stdio 0/1/2; returns the master (close-on-exec).
///
/// Preconditions: the process is a session leader without a controlling terminal
/// (`setsid()` done) and its mount namespace and root are the container's, so that
/// `/dev/ptmx` reaches the container's devpts instance: the pty then belongs to the
/// container and is named `/dev/pts/N` there. With `mount_console` the slave is also
/// bind-mounted over `/dev/console` (created as an empty 0666 file when missing), as
/// runc does for the init. The slave is owned by the caller's uid and the devpts
/// `gid=` option; [`stdio::fix_ownership`] gives it to the process user later.
pub fn setup_terminal(size: Option<WinSize>, mount_console: bool) -> Result<OwnedFd, ConsoleError> {
    // With 0, 1 or 2 closed, the fds opened below would take their numbers and be
    // clobbered by the dup2s: fill the gaps with /dev/null first.
    fill_stdio_gaps()?;
    let master = open(
        "/dev/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(ConsoleError::at("process.terminal: open /dev/ptmx"))?;
    tty::unlock_pt(master.as_fd()).map_err(ConsoleError::at("process.terminal: unlockpt"))?;
    let n = tty::pty_number(master.as_fd())
        .map_err(ConsoleError::at("process.terminal: ioctl TIOCGPTN"))?;
    let slave_path = PathBuf::from(format!("/dev/pts/{n}"));
    // Through the master, not the path: the slave of this very devpts instance.
    let slave = tty::open_peer(
        master.as_fd(),
        libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
    )
    .map_err(ConsoleError::at(format!(
        "process.terminal: open {}",
        slave_path.display()
    )))?;
    if let Some(size) = size {
        tty::set_window_size(slave.as_fd(), size)
            .map_err(ConsoleError::at("process.consoleSize: ioctl TIOCSWINSZ"))?;
    }
    if mount_console {
        bind_console(&slave_path)?;
    }
    become_stdio(slave)?;
    tty::set_controlling_terminal(std::io::stdin().as_fd(), false)
        .map_err(ConsoleError::at("process.terminal: ioctl TIOCSCTTY"))?;
    Ok(master)
}

/// Open /dev/null onto whichever of 0, 1, 2 is closed.
fn fill_stdio_gaps() -> Result<(), ConsoleError> {
    for fd in [
        std::io::stdin().as_fd(),
        std::io::stdout().as_fd(),
        std::io::stderr().as_fd(),
    ] {
        if fcntl(fd, FcntlArg::F_GETFD) == Err(Errno::EBADF) {
            let null = open("/dev/null", OFlag::O_RDWR, Mode::empty())
                .map_err(ConsoleError::at("process.terminal: open /dev/null"))?;
            // The lowest free number is the gap: it is stdio from now on.
            let _ = null.into_raw_fd();
        }
    }
    Ok(())
}

/// Bind the slave over /dev/console, so programs writing to the console reach the
/// container's terminal (runc's mountConsole).
fn bind_console(slave_path: &Path) -> Result<(), ConsoleError> {
    let console = Path::new("/dev/console");
    match open(
        console,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o666),
    ) {
        Ok(f) => {
            // The mode above went through the umask.
            nix::sys::stat::fchmod(f.as_fd(), Mode::from_bits_truncate(0o666))
                .map_err(ConsoleError::at("process.terminal: chmod /dev/console"))?;
        }
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(ConsoleError::at("process.terminal: create /dev/console")(e)),
    }
    mount(
        Some(slave_path),
        console,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(ConsoleError::at(format!(
        "process.terminal: bind mount {} on /dev/console",
        slave_path.display()
    )))
}

/// dup the slave onto 0, 1 and 2 (without close-on-exec).
fn become_stdio(slave: OwnedFd) -> Result<(), ConsoleError> {
    let fail = |source| ConsoleError {
        op: "process.terminal: dup2 pty slave onto stdio".into(),
        source,
    };
    nix::unistd::dup2_stdin(&slave).map_err(fail)?;
    nix::unistd::dup2_stdout(&slave).map_err(fail)?;
    nix::unistd::dup2_stderr(&slave).map_err(fail)?;
    for fd in [
        std::io::stdin().as_fd(),
        std::io::stdout().as_fd(),
        std::io::stderr().as_fd(),
    ] {
        // dup2 onto the fd's own number keeps its close-on-exec flag: clear it.
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())).map_err(fail)?;
    }
    if slave.as_raw_fd() < 3 {
        // The slave itself is one of the stdio fds now: do not close it.
        let _ = slave.into_raw_fd();
    }
    Ok(())
}

/// Where the runtime sends a master it received from a container process.
#[derive(Debug, Clone, Copy)]
pub enum ConsoleTarget<'a> {
    /// `--console-socket`: connect to this SOCK_STREAM unix socket and send it.
    Path(&'a Path),
    /// An already connected socket (`run`'s own terminal proxy).
    Stream(BorrowedFd<'a>),
}

/// Send `master` to `target` with [`MASTER_NAME`] as payload; the caller closes its
/// copy (drop) afterwards.
pub fn deliver(target: ConsoleTarget<'_>, master: BorrowedFd<'_>) -> Result<(), ConsoleError> {
    match target {
        ConsoleTarget::Path(path) => send_to_path(path, master),
        ConsoleTarget::Stream(sock) => send_master(sock, master)
            .map_err(|e| ConsoleError::at(format!("console stream: {}", e.op))(e.source)),
    }
}

/// Connect to the unix socket at `path` and send `master` over it.
pub fn send_to_path(path: &Path, master: BorrowedFd<'_>) -> Result<(), ConsoleError> {
    let what = |op: &str| format!("--console-socket {}: {op}", path.display());
    let addr = UnixAddr::new(path).map_err(ConsoleError::at(what("address")))?;
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(ConsoleError::at(what("socket")))?;
    loop {
        match connect(sock.as_raw_fd(), &addr) {
            Ok(()) => break,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(ConsoleError::at(what("connect"))(e)),
        }
    }
    send_master(sock.as_fd(), master).map_err(|e| ConsoleError::at(what(&e.op))(e.source))
}

/// Send `master` over the connected socket `sock` (SCM_RIGHTS, payload [`MASTER_NAME`]).
pub fn send_master(sock: BorrowedFd<'_>, master: BorrowedFd<'_>) -> Result<(), ConsoleError> {
    let iov = [IoSlice::new(MASTER_NAME.as_bytes())];
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(ConsoleError::at("sendmsg")(e)),
        }
    }
}

/// Receive a master sent by [`send_master`] (or runc): the payload name and the fd,
/// close-on-exec.
pub fn recv_master(sock: BorrowedFd<'_>) -> Result<(String, OwnedFd), ConsoleError> {
    let mut buf = vec![0u8; 4096];
    let mut cmsg_buf = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let r = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg_buf),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(r) => r,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(ConsoleError::at("console socket: recvmsg")(e)),
        };
        let len = r.bytes;
        let mut fd = None;
        for c in r
            .cmsgs()
            .map_err(ConsoleError::at("console socket: recvmsg"))?
        {
            if let ControlMessageOwned::ScmRights(raw) = c {
                for raw in raw {
                    fd.get_or_insert(crate::sys::fd::owned_from_received(raw));
                }
            }
        }
        let Some(fd) = fd else {
            // Nothing came: the sender closed (or sent no fd).
            return Err(ConsoleError::at("console socket: no pty master received")(
                Errno::ENOMSG,
            ));
        };
        let name = String::from_utf8_lossy(&buf[..len]).into_owned();
        return Ok((name, fd));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_size_needs_both_dimensions() {
        let p = |v: serde_json::Value| -> Process {
            serde_json::from_value(
                serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "consoleSize": v}),
            )
            .unwrap()
        };
        assert_eq!(
            console_size(&p(serde_json::json!({"height": 24, "width": 80}))),
            Some(WinSize { rows: 24, cols: 80 })
        );
        assert_eq!(
            console_size(&p(serde_json::json!({"height": 0, "width": 80}))),
            None
        );
        assert_eq!(
            console_size(&p(serde_json::json!({"height": 70000, "width": 80}))),
            None
        );
    }

    #[test]
    fn master_travels_to_a_console_socket_path() {
        let dir = std::env::temp_dir().join(format!("coracle-console-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        send_to_path(&path, file.as_fd()).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let (name, fd) = recv_master(conn.as_fd()).unwrap();
        assert_eq!(name, MASTER_NAME);
        let (a, b) = (
            nix::sys::stat::fstat(&file).unwrap(),
            nix::sys::stat::fstat(&fd).unwrap(),
        );
        assert_eq!((a.st_dev, a.st_ino), (b.st_dev, b.st_ino));
        // Nothing listening: the error names the flag and the errno.
        drop(listener);
        std::fs::remove_file(&path).unwrap();
        let err = send_to_path(&path, file.as_fd()).unwrap_err().to_string();
        assert!(
            err.starts_with("--console-socket ") && err.contains("ENOENT"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
