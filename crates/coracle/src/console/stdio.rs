//! Stdio ownership: the process user must own the stdio it is handed.
//!
//! The runtime's caller passes 0/1/2 (pipes, FIFOs, files, a pty slave) and they reach
//! the container process unchanged. They were made by root outside the container; a
//! process running as another uid could use them but not reopen them through
//! `/proc/self/fd/N` (`/dev/stdout`), which many programs do. Like runc's
//! fixStdioPermissions, before the uid switch each stdio fd is given to the process
//! uid (its gid kept: for a pty slave that is the devpts `gid=`, the tty group).

use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;
use nix::sys::stat::{fstat, major, minor, SFlag};
use nix::unistd::{fchown, Gid, Uid};

use super::ConsoleError;

/// fchown each of fds 0, 1, 2 to `uid` (keeping its gid), as runc does before the
/// uid switch. Skipped: a closed fd, one already owned by `uid`, and `/dev/null`
/// (shared by everyone). EINVAL (uid or gid not mapped in the user namespace), EPERM
/// (the owner is not mapped, so not ours to change) and EROFS leave the fd as it is,
/// as in runc: the process still has the fd itself.
pub fn fix_ownership(uid: u32) -> Result<(), ConsoleError> {
    for (n, fd) in [
        std::io::stdin().as_fd(),
        std::io::stdout().as_fd(),
        std::io::stderr().as_fd(),
    ]
    .into_iter()
    .enumerate()
    {
        fix_one(n, fd, uid)?;
    }
    Ok(())
}

fn fix_one(n: usize, fd: BorrowedFd<'_>, uid: u32) -> Result<(), ConsoleError> {
    let st = match fstat(fd) {
        Ok(st) => st,
        Err(Errno::EBADF) => return Ok(()),
        Err(e) => return Err(ConsoleError::at(format!("stdio: fstat fd {n}"))(e)),
    };
    if st.st_uid == uid || is_dev_null(&st) {
        return Ok(());
    }
    match fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(st.st_gid))) {
        Ok(()) | Err(Errno::EINVAL | Errno::EPERM | Errno::EROFS) => Ok(()),
        Err(e) => Err(ConsoleError::at(format!(
            "stdio: chown fd {n} to process.user.uid {uid}"
        ))(e)),
    }
}

/// The null device, character 1:3, wherever it is mounted.
fn is_dev_null(st: &nix::sys::stat::FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFCHR
        && major(st.st_rdev) == 1
        && minor(st.st_rdev) == 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_get_the_uid_dev_null_does_not() {
        let (r, w) = nix::unistd::pipe().unwrap();
        fix_one(1, w.as_fd(), 4321).unwrap();
        let st = fstat(w.as_fd()).unwrap();
        assert_eq!(st.st_uid, 4321);
        assert_eq!(fstat(r.as_fd()).unwrap().st_uid, 4321, "same pipe inode");
        let null = std::fs::File::open("/dev/null").unwrap();
        let before = fstat(null.as_fd()).unwrap();
        fix_one(0, null.as_fd(), 4321).unwrap();
        assert!(is_dev_null(&before));
        assert_eq!(fstat(null.as_fd()).unwrap().st_uid, before.st_uid);
    }
}
