//! Terminal helpers of the integration tests: a `--console-socket` listener as
//! containerd's shim or conmon provide, reading a pty until some output shows, and a
//! pty for the runtime's own stdio.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

use super::unique;

/// A `--console-socket` listener, as containerd's shim or conmon provide.
pub struct ConsoleSocket {
    dir: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn new() -> ConsoleSocket {
        let dir = std::env::temp_dir().join(unique("coracle-console"));
        std::fs::create_dir_all(&dir).unwrap();
        let listener = UnixListener::bind(dir.join("console.sock")).unwrap();
        ConsoleSocket { dir, listener }
    }

    pub fn path(&self) -> String {
        self.dir.join("console.sock").to_str().unwrap().to_string()
    }

    /// Accept one connection and receive (payload, fd) with SCM_RIGHTS.
    pub fn receive(&self) -> (String, OwnedFd) {
        self.listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(
                        Instant::now() < deadline,
                        "nothing connected to the console socket"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        let mut buf = [0u8; 4096];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .unwrap();
        let mut fd = None;
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(fds) = c {
                fd = fds.first().copied();
            }
        }
        let len = msg.bytes;
        let fd = fd.expect("no fd came with the console message");
        let fd = coracle::sys::fd::owned_from_received(fd);
        (String::from_utf8_lossy(&buf[..len]).into_owned(), fd)
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Read `fd` until `done` holds for the text so far, EOF/EIO, or the deadline.
pub fn read_until(fd: &OwnedFd, secs: u64, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !done(&String::from_utf8_lossy(&out)) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out; output so far: {:?}",
            String::from_utf8_lossy(&out)
        );
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(left.as_millis().min(1000)).unwrap();
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => panic!("poll: {e}"),
        }
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) | Err(Errno::EIO) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The lines of terminal output, carriage returns dropped.
pub fn lines(out: &str) -> Vec<String> {
    out.split('\n')
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

/// Become the subreaper of the processes a detached runtime leaves behind, so their
/// exit status can be read.
pub fn adopt_orphans() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
}

/// A pty for the runtime's own stdio, as an interactive shell would give it.
pub fn host_pty(rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
    let ws = nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let p = nix::pty::openpty(&ws, None).unwrap();
    (p.master, p.slave)
}
