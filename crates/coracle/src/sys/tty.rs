//! Terminal ioctls nix does not wrap safely: pty allocation, the controlling
//! terminal and window sizes.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// A terminal window size (`struct winsize` without the unused pixel fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WinSize {
    /// Rows (height).
    pub rows: u16,
    /// Columns (width).
    pub cols: u16,
}

/// TIOCSPTLCK 0 on a pty master: unlockpt(3).
pub fn unlock_pt(master: BorrowedFd<'_>) -> nix::Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one c_int through the pointer, which outlives the call.
    let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) };
    Errno::result(ret).map(drop)
}

/// TIOCGPTN on a pty master: the number N of its slave `/dev/pts/N`.
pub fn pty_number(master: BorrowedFd<'_>) -> nix::Result<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one c_uint through the pointer, which outlives the call.
    let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) };
    Errno::result(ret).map(|_| n)
}

/// TIOCGPTPEER on a pty master: open its slave through the master's own devpts
/// instance (no path lookup that a mount could redirect), with `flags` (O_RDWR,
/// O_NOCTTY, O_CLOEXEC...).
pub fn open_peer(master: BorrowedFd<'_>, flags: libc::c_int) -> nix::Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes its flags by value and returns a new fd or -1.
    let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    let fd = Errno::result(ret)?;
    // SAFETY: the kernel just installed `fd` for this process; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// TIOCSCTTY: make the terminal the calling session leader's controlling terminal
/// (`steal` = 1 takes it from another session, which needs CAP_SYS_ADMIN).
pub fn set_controlling_terminal(tty: BorrowedFd<'_>, steal: bool) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument by value.
    let ret = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, libc::c_int::from(steal)) };
    Errno::result(ret).map(drop)
}

/// TIOCGWINSZ: the terminal's window size.
pub fn window_size(tty: BorrowedFd<'_>) -> nix::Result<WinSize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one struct winsize through the pointer, which outlives the call.
    let ret = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    Errno::result(ret).map(|_| WinSize {
        rows: ws.ws_row,
        cols: ws.ws_col,
    })
}

/// TIOCSWINSZ: set the terminal's window size (the foreground process group gets SIGWINCH).
pub fn set_window_size(tty: BorrowedFd<'_>, size: WinSize) -> nix::Result<()> {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one struct winsize through the pointer, which outlives the call.
    let ret = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    Errno::result(ret).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn pty_pair_and_window_size() {
        let master = nix::fcntl::open(
            "/dev/ptmx",
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        unlock_pt(master.as_fd()).unwrap();
        let n = pty_number(master.as_fd()).unwrap();
        let slave = open_peer(
            master.as_fd(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
        .unwrap();
        let st = nix::sys::stat::fstat(&slave).unwrap();
        assert_eq!(nix::sys::stat::minor(st.st_rdev) as u32, n % 256);
        let size = WinSize {
            rows: 33,
            cols: 101,
        };
        set_window_size(master.as_fd(), size).unwrap();
        assert_eq!(window_size(slave.as_fd()).unwrap(), size);
        // Not a terminal: the errno comes back.
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        assert_eq!(window_size(file.as_fd()), Err(Errno::ENOTTY));
    }
}
