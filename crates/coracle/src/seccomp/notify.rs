//! Handing the SCMP_ACT_NOTIFY listener to the seccomp agent at `listenerPath`, as
//! the OCI runtime spec describes: one connection to the unix socket, the fd as
//! SCM_RIGHTS, and the `ContainerProcessState` JSON as the message body.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{
    connect, recvmsg, sendmsg, socket, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType, UnixAddr,
};
use serde_json::{json, Value};

use super::load::LoadError;

/// The OCI `ContainerProcessState` for `state` (the container's OCI state JSON):
/// `ociVersion`, `fds` (the one fd sent, named `seccompFd`), `pid`, `metadata`
/// (left out when there is none, as runc does) and `state`.
pub fn process_state(state: &Value, metadata: Option<&str>) -> Value {
    let mut v = json!({
        "ociVersion": state.get("ociVersion").cloned().unwrap_or(Value::Null),
        "fds": ["seccompFd"],
        "pid": state.get("pid").cloned().unwrap_or(Value::Null),
    });
    if let Some(m) = metadata.filter(|m| !m.is_empty()) {
        v["metadata"] = m.into();
    }
    v["state"] = state.clone();
    v
}

/// Send the listener fd to `path` with SCM_RIGHTS and the OCI ContainerProcessState
/// JSON (see [`process_state`]). The caller keeps and closes its own copy.
pub fn send_listener(
    path: &Path,
    listener: BorrowedFd<'_>,
    state: &Value,
    metadata: Option<&str>,
) -> Result<(), LoadError> {
    let fail = |op: &'static str| {
        move |source: Errno| LoadError::Listener {
            path: path.display().to_string(),
            op,
            source,
        }
    };
    let addr = UnixAddr::new(path).map_err(fail("socket address"))?;
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(fail("socket"))?;
    loop {
        match connect(sock.as_raw_fd(), &addr) {
            Err(Errno::EINTR) => continue,
            r => break r.map_err(fail("connect"))?,
        }
    }
    let body = serde_json::to_vec(&process_state(state, metadata)).unwrap_or_default();
    let fds = [listener.as_raw_fd()];
    let rights = [ControlMessage::ScmRights(&fds)];
    let mut sent = 0;
    while sent < body.len() {
        // The fd goes with the first byte; a short write sends the rest without it.
        let cmsgs: &[ControlMessage] = if sent == 0 { &rights } else { &[] };
        match sendmsg::<()>(
            sock.as_raw_fd(),
            &[IoSlice::new(&body[sent..])],
            cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => sent += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(fail("sendmsg")(e)),
        }
    }
    Ok(())
}

/// The agent's side: read one runtime's message from the accepted connection `conn`
/// until EOF; returns the listener fd and the ContainerProcessState JSON. For agents
/// written against this crate, and for the tests.
pub fn receive_listener(conn: BorrowedFd<'_>) -> std::io::Result<(OwnedFd, Value)> {
    let mut body = Vec::new();
    let mut listener = None;
    loop {
        let mut buf = [0u8; 4096];
        let mut cmsg = nix::cmsg_space!([RawFd; 4]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let r = match recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(r) => r,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        for c in r.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for raw in fds {
                    let fd = crate::sys::fd::owned_from_received(raw);
                    listener.get_or_insert(fd);
                }
            }
        }
        let n = r.bytes;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let listener = listener.ok_or_else(|| std::io::Error::other("no fd came with the message"))?;
    Ok((listener, serde_json::from_slice(&body)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixListener;

    #[test]
    fn process_state_has_the_oci_layout() {
        let state = json!({"ociVersion": "1.2.0", "id": "c", "status": "creating", "pid": 42, "bundle": "/b"});
        let v = process_state(&state, Some("meta"));
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"ociVersion":"1.2.0","fds":["seccompFd"],"pid":42,"metadata":"meta","state":{"ociVersion":"1.2.0","id":"c","status":"creating","pid":42,"bundle":"/b"}}"#
        );
        assert!(process_state(&state, None).get("metadata").is_none());
        assert!(process_state(&state, Some("")).get("metadata").is_none());
    }

    #[test]
    fn the_fd_and_the_state_reach_the_agent() {
        let dir = std::env::temp_dir().join(format!("coracle-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("agent.sock");
        let server = UnixListener::bind(&path).unwrap();
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let state = json!({"ociVersion": "1.2.0", "id": "c", "status": "creating", "pid": 7});
        send_listener(&path, file.as_fd(), &state, Some("m")).unwrap();
        let (conn, _) = server.accept().unwrap();
        let (fd, v) = receive_listener(conn.as_fd()).unwrap();
        assert_eq!(v["pid"], 7);
        assert_eq!(v["metadata"], "m");
        assert_eq!(v["state"]["id"], "c");
        // The same open file: it reads like /proc/self/stat.
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut s).unwrap();
        assert!(s.contains(") "), "{s}");
        let err = send_listener(&dir.join("nobody"), file.as_fd(), &state, None).unwrap_err();
        assert!(
            err.to_string().starts_with("linux.seccomp.listenerPath ")
                && err
                    .to_string()
                    .ends_with("connect: No such file or directory (ENOENT)"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
