//! Making the rootfs `/`: pivot_root, or MS_MOVE + chroot.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root as sys_pivot_root};

use super::safe_path::is_under;
use super::{sys_err, RootfsError};

const NONE: Option<&str> = None;

/// pivot_root(".", "."): the old root ends up stacked on the new one, where we
/// detach it; no directory for the old root is needed inside the rootfs.
pub(super) fn pivot_root(rootfs: &Path) -> Result<(), RootfsError> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old_root = open("/", flags, Mode::empty()).map_err(sys_err("open", "/"))?;
    let new_root = open(rootfs, flags, Mode::empty()).map_err(sys_err("open", rootfs))?;
    fchdir(&new_root).map_err(sys_err("chdir", rootfs))?;
    sys_pivot_root(".", ".").map_err(sys_err("pivot_root", rootfs))?;
    // The kernel leaves "." at the old root today, but promises nothing.
    fchdir(&old_root).map_err(sys_err("chdir", "old root"))?;
    // rslave, not rprivate, so the unmount cannot reach the host while host
    // tools that still see these mounts keep working.
    mount(NONE, ".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
        .map_err(sys_err("set propagation of", "old root"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(sys_err("unmount", "old root"))?;
    chdir("/").map_err(sys_err("chdir", "/"))
}

/// `--no-pivot`: move the rootfs mount onto `/` and chroot into it. Full proc and
/// sysfs mounts of the host left outside would still count for the kernel's
/// "fully visible" check, so they are detached (or covered with a tmpfs) first.
pub(super) fn move_root(rootfs: &Path) -> Result<(), RootfsError> {
    for p in host_proc_sys_mounts(rootfs)? {
        match mount(NONE, &p, NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE) {
            Err(Errno::ENOENT | Errno::EINVAL) => continue,
            other => other.map_err(sys_err("set propagation of", &p))?,
        }
        match umount2(&p, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(Errno::EINVAL | Errno::EPERM) => {
                mount(Some("tmpfs"), &p, Some("tmpfs"), MsFlags::empty(), NONE)
                    .map_err(sys_err("mount tmpfs on", &p))?
            }
            Err(e) => return Err(sys_err("unmount", &p)(e)),
        }
    }
    chdir(rootfs).map_err(sys_err("chdir", rootfs))?;
    mount(Some(rootfs), "/", NONE, MsFlags::MS_MOVE, NONE)
        .map_err(sys_err("move mount to /", rootfs))?;
    chroot(".").map_err(sys_err("chroot", rootfs))?;
    chdir("/").map_err(sys_err("chdir", "/"))
}

/// Mount points of proc and sysfs outside `rootfs`, deepest first.
fn host_proc_sys_mounts(rootfs: &Path) -> Result<Vec<PathBuf>, RootfsError> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| {
        sys_err("read", "/proc/self/mountinfo")(Errno::from_raw(
            e.raw_os_error().unwrap_or(libc::EIO),
        ))
    })?;
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(parse_mountinfo_line)
        .filter(|(_, fstype)| fstype == "proc" || fstype == "sysfs")
        .map(|(mp, _)| mp)
        .filter(|mp| !is_under(mp, rootfs))
        .collect();
    out.reverse();
    Ok(out)
}

/// (mount point, fs type) from one /proc/self/mountinfo line.
pub(super) fn parse_mountinfo_line(line: &str) -> Option<(PathBuf, String)> {
    let (pre, post) = line.split_once(" - ")?;
    let mp = pre.split(' ').nth(4)?;
    let fstype = post.split(' ').next()?;
    Some((PathBuf::from(unescape(mp)), fstype.to_string()))
}

/// Undo mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_line_parsing() {
        let l = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue";
        assert_eq!(
            parse_mountinfo_line(l),
            Some((PathBuf::from("/mnt/with space"), "ext3".to_string()))
        );
        let l = "22 27 0:21 / /proc rw,relatime - proc proc rw";
        assert_eq!(
            parse_mountinfo_line(l),
            Some((PathBuf::from("/proc"), "proc".to_string()))
        );
        assert_eq!(parse_mountinfo_line("garbage"), None);
    }
}
