//! `tmpcopyup`: a new tmpfs starts with a copy of the directory it covers (podman's
//! `--read-only` mounts /tmp, /var/tmp and /run that way).
//!
//! Everything goes through directory fds opened with O_NOFOLLOW: the tree belongs to
//! the container image, and a symlink in it must be copied as a symlink, never
//! followed to somewhere on the host.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, mkdirat, mknodat, FileStat, Mode, SFlag};
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};

/// Copy the contents of directory `src` into directory `dst` (both opened by the
/// caller), keeping types, modes and owners.
pub(super) fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> nix::Result<()> {
    let listing = openat(
        src,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut dir = Dir::from_fd(listing)?;
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        copy_entry(src, dst, name, &st, entry.file_type())?;
    }
    Ok(())
}

fn copy_entry(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &std::ffi::CStr,
    st: &FileStat,
    _hint: Option<Type>,
) -> nix::Result<()> {
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
    let owner = (
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    );
    match kind {
        SFlag::S_IFDIR => {
            mkdirat(dst, name, mode)?;
            let from = open_dir(src, name)?;
            let to = open_dir(dst, name)?;
            copy_tree(from.as_fd(), to.as_fd())?;
            // After the contents: a read-only directory could not be filled.
            fchown(to.as_fd(), owner.0, owner.1)?;
            fchmod(to.as_fd(), mode)
        }
        SFlag::S_IFREG => {
            let from = openat(
                src,
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let to = openat(
                dst,
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?;
            let mut r = std::fs::File::from(from);
            let mut w = std::fs::File::from(to);
            std::io::copy(&mut r, &mut w)
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
            fchown(w.as_fd(), owner.0, owner.1)?;
            // chown clears set-id bits, so the mode goes last.
            fchmod(w.as_fd(), mode)
        }
        SFlag::S_IFLNK => {
            let target = readlinkat(src, name)?;
            symlinkat(target.as_os_str(), dst, name)?;
            fchownat(dst, name, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW)
        }
        _ => {
            mknodat(dst, name, kind, mode, st.st_rdev)?;
            fchownat(dst, name, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW)
        }
    }
}

fn open_dir(at: BorrowedFd<'_>, name: &std::ffi::CStr) -> nix::Result<OwnedFd> {
    openat(
        at,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    #[test]
    fn copies_files_dirs_symlinks_and_modes_without_following_links() {
        let base = std::env::temp_dir().join(format!("coracle-copyup-{}", std::process::id()));
        let (src, dst) = (base.join("src"), base.join("dst"));
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(src.join("sub/file"), b"content").unwrap();
        std::fs::set_permissions(src.join("sub/file"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        std::fs::set_permissions(src.join("sub"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        std::os::unix::fs::symlink("/etc/shadow", src.join("link")).unwrap();
        nix::unistd::mkfifo(&src.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        std::os::unix::fs::chown(src.join("sub/file"), Some(1000), Some(1000)).unwrap();

        let open = |p: &std::path::Path| {
            nix::fcntl::open(
                p,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .unwrap()
        };
        copy_tree(open(&src).as_fd(), open(&dst).as_fd()).unwrap();

        assert_eq!(std::fs::read(dst.join("sub/file")).unwrap(), b"content");
        let m = std::fs::metadata(dst.join("sub/file")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, 1000, 1000));
        assert_eq!(
            std::fs::metadata(dst.join("sub")).unwrap().mode() & 0o7777,
            0o1777
        );
        assert_eq!(
            std::fs::read_link(dst.join("link")).unwrap(),
            std::path::PathBuf::from("/etc/shadow"),
            "a symlink is copied as a symlink"
        );
        assert!(std::fs::symlink_metadata(dst.join("fifo"))
            .unwrap()
            .file_type()
            .is_fifo());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
