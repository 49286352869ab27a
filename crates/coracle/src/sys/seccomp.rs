//! seccomp(2) and the user-notification ioctls, which nix does not wrap.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: the call returns a notification fd.
pub const FLAG_NEW_LISTENER: u32 = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;

fn seccomp(op: libc::c_uint, flags: libc::c_ulong, arg: *mut libc::c_void) -> libc::c_long {
    // SAFETY: every caller passes for `arg` either NULL, a pointer to a u32, or a
    // pointer to a sock_fprog whose program outlives the call; the kernel only reads
    // or writes within those objects (or fails with EFAULT on NULL).
    unsafe { libc::syscall(libc::SYS_seccomp, op, flags, arg) }
}

/// Install `program` as a filter on the calling thread with `flags`
/// (SECCOMP_SET_MODE_FILTER). With `FLAG_NEW_LISTENER` in `flags` the kernel returns
/// the notification fd (close-on-exec), which is returned here.
pub fn set_mode_filter(flags: u32, program: &[libc::sock_filter]) -> nix::Result<Option<OwnedFd>> {
    let len = u16::try_from(program.len()).map_err(|_| Errno::E2BIG)?;
    let mut prog = libc::sock_fprog {
        len,
        // The kernel copies the program and never writes through this pointer.
        filter: program.as_ptr().cast_mut(),
    };
    let ret = seccomp(
        libc::SECCOMP_SET_MODE_FILTER,
        libc::c_ulong::from(flags),
        (&mut prog as *mut libc::sock_fprog).cast(),
    );
    let ret = Errno::result(ret)?;
    if flags & FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER a successful call returns a new fd nobody else owns.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }))
    } else {
        Ok(None)
    }
}

/// Whether the kernel knows every bit of `flags` for SECCOMP_SET_MODE_FILTER, asked
/// without installing anything: a NULL program makes a known flag set fail with
/// EFAULT, an unknown one with EINVAL (as libseccomp probes it).
pub fn filter_flags_supported(flags: u32) -> nix::Result<bool> {
    match Errno::result(seccomp(
        libc::SECCOMP_SET_MODE_FILTER,
        libc::c_ulong::from(flags),
        std::ptr::null_mut(),
    )) {
        Err(Errno::EFAULT) => Ok(true),
        Err(Errno::EINVAL) => Ok(false),
        Err(e) => Err(e),
        // Cannot happen with a NULL program; treat it as an error rather than success.
        Ok(_) => Err(Errno::EINVAL),
    }
}

/// Whether the kernel implements the filter return action `action`
/// (SECCOMP_GET_ACTION_AVAIL; EOPNOTSUPP means it does not).
pub fn action_available(action: u32) -> nix::Result<bool> {
    let mut action = action;
    match Errno::result(seccomp(
        libc::SECCOMP_GET_ACTION_AVAIL,
        0,
        (&mut action as *mut u32).cast(),
    )) {
        Ok(_) => Ok(true),
        Err(Errno::EOPNOTSUPP) => Ok(false),
        Err(e) => Err(e),
    }
}

/// One pending user notification: a filtered process waits in `data.nr` for our answer.
#[derive(Debug, Clone, Copy)]
pub struct Notification {
    /// The cookie to answer with.
    pub id: u64,
    /// The waiting thread's pid, in the listener's pid namespace.
    pub pid: u32,
    /// The system call: number, arch, instruction pointer, arguments.
    pub data: libc::seccomp_data,
}

/// Block until a filtered process triggers SECCOMP_RET_USER_NOTIF on `listener`
/// (SECCOMP_IOCTL_NOTIF_RECV).
pub fn notif_recv(listener: BorrowedFd<'_>) -> nix::Result<Notification> {
    // SAFETY: seccomp_notif is plain old data; all zeroes is valid (and the kernel
    // requires the buffer zeroed).
    let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the ioctl writes one seccomp_notif into `n`, which lives across the call.
    let ret = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut n as *mut libc::seccomp_notif,
        )
    };
    Errno::result(ret)?;
    Ok(Notification {
        id: n.id,
        pid: n.pid,
        data: n.data,
    })
}

/// Answer notification `id`: the system call returns `val`, or fails with `error`
/// (a positive errno) when it is non-zero. With `continue_syscall` the kernel runs
/// the call itself instead (SECCOMP_USER_NOTIF_FLAG_CONTINUE; val and error must be 0).
pub fn notif_send(
    listener: BorrowedFd<'_>,
    id: u64,
    val: i64,
    error: i32,
    continue_syscall: bool,
) -> nix::Result<()> {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val,
        error: -error,
        flags: if continue_syscall {
            libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32
        } else {
            0
        },
    };
    // SAFETY: the ioctl reads one seccomp_notif_resp from `resp`, alive across the call.
    let ret = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp as *mut libc::seccomp_notif_resp,
        )
    };
    Errno::result(ret).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_answer_without_installing_anything() {
        let mode = || {
            let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            status
                .lines()
                .find(|l| l.starts_with("Seccomp:"))
                .map(str::to_string)
        };
        let before = mode();
        assert!(action_available(libc::SECCOMP_RET_ALLOW).unwrap());
        assert!(action_available(libc::SECCOMP_RET_ERRNO).unwrap());
        // No such action.
        assert!(!action_available(0x7ff8_0000).unwrap());
        assert!(filter_flags_supported(0).unwrap());
        assert!(filter_flags_supported(libc::SECCOMP_FILTER_FLAG_LOG as u32).unwrap());
        assert!(!filter_flags_supported(1 << 30).unwrap());
        // The probes installed nothing.
        assert_eq!(mode(), before);
    }
}
