//! The parent <-> init protocol: small typed binary messages over one
//! SOCK_SEQPACKET socketpair, fds via SCM_RIGHTS, and a checked phase order.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

/// Largest message: error texts and state JSON fit easily.
const MAX_MSG: usize = 64 * 1024;

/// One message of the protocol, in the order they normally flow.
#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    /// bootstrap → parent: I unshared a user namespace, write my maps.
    NeedMaps,
    /// parent → init/bootstrap: go on (maps written, hooks run). Carries the state
    /// JSON for hooks the init runs itself, or nothing.
    Continue(Vec<u8>),
    /// bootstrap → parent: the init's host pid (its pidfd travels with it).
    InitPid(i32),
    /// init → parent: mounts are done, run prestart and createRuntime hooks.
    RunHooks,
    /// init → parent: the seccomp filter is loaded and this fd number (in the init) is
    /// its notification listener; the parent takes it with pidfd_getfd, hands it to
    /// the agent and answers `Continue`. A number, not SCM_RIGHTS: the filtered init
    /// makes as few system calls as it can.
    SeccompListener(i32),
    /// init → parent: set up, now blocking on exec.fifo.
    Ready,
    /// any → parent: setup failed with this message.
    Error(String),
    /// init/exec → parent: the pty master of process.terminal travels with this
    /// (SCM_RIGHTS), for `--console-socket`.
    Console,
    /// exec'd process → parent: set up, execve comes next (EOF after this means it
    /// succeeded; an `Error` after this is the execve failure).
    Execing,
}

impl Msg {
    fn encode(&self) -> Vec<u8> {
        let (tag, body): (u8, &[u8]) = match self {
            Msg::NeedMaps => (1, &[]),
            Msg::Continue(b) => (2, b),
            Msg::InitPid(p) => return [&[3u8][..], &p.to_le_bytes()].concat(),
            Msg::RunHooks => (4, &[]),
            Msg::Ready => (5, &[]),
            Msg::Error(s) => (6, s.as_bytes()),
            Msg::Console => (10, &[]),
            // Far from the others, so variants added meanwhile on other branches
            // cannot take the same tag.
            Msg::Execing => (16, &[]),
            Msg::SeccompListener(fd) => return [&[7u8][..], &fd.to_le_bytes()].concat(),
        };
        [&[tag][..], body].concat()
    }

    fn decode(buf: &[u8]) -> Result<Msg, SyncError> {
        let (&tag, body) = buf.split_first().ok_or(SyncError::Closed)?;
        Ok(match tag {
            1 => Msg::NeedMaps,
            2 => Msg::Continue(body.to_vec()),
            3 => Msg::InitPid(i32::from_le_bytes(
                body.try_into().map_err(|_| SyncError::Malformed(tag))?,
            )),
            4 => Msg::RunHooks,
            5 => Msg::Ready,
            6 => Msg::Error(String::from_utf8_lossy(body).into_owned()),
            10 => Msg::Console,
            16 => Msg::Execing,
            7 => Msg::SeccompListener(i32::from_le_bytes(
                body.try_into().map_err(|_| SyncError::Malformed(tag))?,
            )),
            _ => return Err(SyncError::Malformed(tag)),
        })
    }
}

/// A protocol failure.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The peer closed its end (it exited).
    #[error("sync socket closed by peer")]
    Closed,
    /// A message we cannot decode.
    #[error("malformed sync message (tag {0})")]
    Malformed(u8),
    /// A syscall failed.
    #[error("sync socket {op}: {desc} ({source:?})", desc = source.desc())]
    Sys {
        /// "send", "recv", "socketpair".
        op: &'static str,
        /// The errno.
        #[source]
        source: Errno,
    },
}

/// One end of the sync socket.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair: (parent end, child end).
pub fn channel_pair() -> Result<(Channel, Channel), SyncError> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|source| SyncError::Sys {
        op: "socketpair",
        source,
    })?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// Send a message, with an fd attached if given.
    pub fn send(&self, msg: &Msg, fd: Option<BorrowedFd<'_>>) -> Result<(), SyncError> {
        let bytes = msg.encode();
        let iov = [IoSlice::new(&bytes)];
        let fds: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
        let cmsg = [ControlMessage::ScmRights(&fds)];
        let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &iov,
                cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(Errno::EPIPE | Errno::ECONNRESET) => return Err(SyncError::Closed),
                Err(source) => return Err(SyncError::Sys { op: "send", source }),
            }
        }
    }

    /// Receive one message and the fd that came with it, if any.
    pub fn recv(&self) -> Result<(Msg, Option<OwnedFd>), SyncError> {
        let mut buf = vec![0u8; MAX_MSG];
        let mut cmsg_buf = nix::cmsg_space!([RawFd; 1]);
        let (len, fd) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg_buf),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(r) => {
                    let mut fd = None;
                    for c in r
                        .cmsgs()
                        .map_err(|source| SyncError::Sys { op: "recv", source })?
                    {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for raw in fds {
                                let owned = crate::sys::fd::owned_from_received(raw);
                                fd.get_or_insert(owned);
                            }
                        }
                    }
                    break (r.bytes, fd);
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::ECONNRESET) => return Err(SyncError::Closed),
                Err(source) => return Err(SyncError::Sys { op: "recv", source }),
            }
        };
        if len == 0 {
            return Err(SyncError::Closed);
        }
        Ok((Msg::decode(&buf[..len])?, fd))
    }

    /// Receive and require a specific message; an `Error` from the peer becomes `Err(Peer)`.
    pub fn expect(&self, want: fn(&Msg) -> bool) -> Result<(Msg, Option<OwnedFd>), Expected> {
        let (msg, fd) = self.recv().map_err(Expected::Sync)?;
        match msg {
            Msg::Error(e) => Err(Expected::Peer(e)),
            m if want(&m) => Ok((m, fd)),
            m => Err(Expected::Unexpected(format!("{m:?}"))),
        }
    }

    /// The raw fd (to keep it across execve-free forks).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Why `expect` failed.
#[derive(Debug, thiserror::Error)]
pub enum Expected {
    /// Transport failure.
    #[error(transparent)]
    Sync(SyncError),
    /// The peer reported an error.
    #[error("{0}")]
    Peer(String),
    /// A message out of phase order.
    #[error("unexpected sync message {0}")]
    Unexpected(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for m in [
            Msg::NeedMaps,
            Msg::Continue(b"{\"id\":1}".to_vec()),
            Msg::Continue(vec![]),
            Msg::InitPid(4242),
            Msg::RunHooks,
            Msg::Ready,
            Msg::Error("mount proc on /proc: EPERM".into()),
            Msg::Console,
            Msg::Execing,
            Msg::SeccompListener(5),
        ] {
            assert_eq!(Msg::decode(&m.encode()).unwrap(), m);
        }
        assert!(matches!(Msg::decode(&[99]), Err(SyncError::Malformed(99))));
        assert!(matches!(Msg::decode(&[3, 1]), Err(SyncError::Malformed(3))));
        assert!(matches!(Msg::decode(&[7]), Err(SyncError::Malformed(7))));
    }

    #[test]
    fn fds_travel_and_errors_surface() {
        let (a, b) = channel_pair().unwrap();
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        a.send(&Msg::InitPid(7), Some(file.as_fd())).unwrap();
        let (m, fd) = b.recv().unwrap();
        assert_eq!(m, Msg::InitPid(7));
        assert!(fd.is_some());
        a.send(&Msg::Error("boom".into()), None).unwrap();
        assert!(
            matches!(b.expect(|m| matches!(m, Msg::Ready)), Err(Expected::Peer(e)) if e == "boom")
        );
        drop(a);
        assert!(matches!(b.recv(), Err(SyncError::Closed)));
    }
}
