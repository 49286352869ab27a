//! Path resolution with the rootfs as root.
//!
//! Destinations come from the bundle and the image, both untrusted: a symlink
//! `etc -> /etc`, `../../..` or a loop must never reach the host. The walk below
//! opens one component at a time with `O_NOFOLLOW` relative to the directory fd
//! reached so far, expands symlinks itself (absolute targets restart at the
//! rootfs, `..` never climbs above it) and creates what is missing, like runc's
//! `MkdirAllInRoot`. Lookups that create nothing use openat2(RESOLVE_IN_ROOT).

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};

/// Linux's own limit on symlinks followed in one lookup.
const MAX_SYMLINKS: usize = 40;

/// What to create when a component is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// Nothing: a missing component is ENOENT.
    Nothing,
    /// Missing directories, the final component included (mode 0755).
    Dir,
    /// Missing parent directories, and the final component as an empty file (mode 0644).
    File,
}

/// A path resolved inside the root.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// An `O_PATH` fd of what the path names.
    pub fd: OwnedFd,
    /// The path from the root with every symlink expanded, e.g. `/etc` for `link`.
    pub path: PathBuf,
}

/// The components of `path` relative to the root: leading `/` and `.` dropped.
fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

fn open_path(dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Resolve `path` inside `root`, creating missing components as `create` says.
///
/// Symlinks anywhere in the path, the final component included, are followed
/// with `root` as `/`. A dangling symlink is followed too, so with `Create::File`
/// `resolv.conf -> ../run/resolv.conf` creates `/run/resolv.conf` in the root.
pub(crate) fn resolve(root: BorrowedFd<'_>, path: &Path, create: Create) -> nix::Result<Resolved> {
    let mut pending: VecDeque<OsString> = components(path).collect();
    // The directories entered below the root, with their names: `..` pops one.
    let mut stack: Vec<(OwnedFd, OsString)> = Vec::new();
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            stack.pop();
            continue;
        }
        let parent = stack.last().map_or(root, |(fd, _)| fd.as_fd());
        let fd = match open_path(parent, &name) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if create != Create::Nothing => {
                let last = pending.is_empty();
                let made = if last && create == Create::File {
                    let flags = OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC
                        | OFlag::O_WRONLY;
                    openat(
                        parent,
                        name.as_os_str(),
                        flags,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop)
                } else {
                    mkdirat(parent, name.as_os_str(), Mode::from_bits_truncate(0o755))
                };
                match made {
                    // EEXIST: someone raced us; look again (it may now be a symlink).
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e),
                }
                pending.push_front(name);
                continue;
            }
            Err(e) => return Err(e),
        };
        let st = fstat(fd.as_fd())?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFLNK {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Errno::ELOOP);
            }
            let target = readlinkat(fd.as_fd(), "")?;
            let target = Path::new(&target);
            if target.is_absolute() {
                stack.clear();
            }
            for comp in components(target).collect::<Vec<_>>().into_iter().rev() {
                pending.push_front(comp);
            }
            continue;
        }
        if kind == SFlag::S_IFDIR {
            stack.push((fd, name));
            continue;
        }
        if !pending.is_empty() {
            return Err(Errno::ENOTDIR);
        }
        let mut path = in_root_path(&stack);
        path.push(&name);
        return Ok(Resolved { fd, path });
    }
    let path = in_root_path(&stack);
    let fd = match stack.pop() {
        Some((fd, _)) => fd,
        None => openat(
            root,
            ".",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?,
    };
    Ok(Resolved { fd, path })
}

fn in_root_path(stack: &[(OwnedFd, OsString)]) -> PathBuf {
    let mut p = PathBuf::from("/");
    for (_, name) in stack {
        p.push(name);
    }
    p
}

/// Resolve the parent of `path` inside `root` (creating missing directories) and
/// return it with the final name, for calls that create the final entry
/// themselves (mknodat, symlinkat).
pub(crate) fn resolve_parent(
    root: BorrowedFd<'_>,
    path: &Path,
) -> nix::Result<(Resolved, OsString)> {
    let name = match path.components().next_back() {
        Some(Component::Normal(n)) => n.to_os_string(),
        _ => return Err(Errno::EINVAL),
    };
    let parent = path.parent().unwrap_or(Path::new("/"));
    Ok((resolve(root, parent, Create::Dir)?, name))
}

/// Open an existing `path` inside `root` with openat2(RESOLVE_IN_ROOT |
/// RESOLVE_NO_MAGICLINKS): the kernel clamps `..` and absolute symlinks at `root`.
pub(crate) fn open_in_root(root: BorrowedFd<'_>, path: &Path) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    // openat2 wants a relative path for RESOLVE_IN_ROOT to be obvious; "/" works too,
    // but strip it so an empty path becomes ".".
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    openat2(root, rel, how)
}

/// `/proc/self/fd/N` for an fd: the path the classic mount(2) call takes to act
/// on exactly the object the fd holds.
pub(crate) fn proc_fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Lexically clean an absolute container path (`//a/./b/` → `/a/b`); `..` is kept.
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in components(path) {
        if c == ".." {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out
}

/// True when the byte string names the path itself or something below it.
pub(crate) fn is_under(path: &Path, dir: &Path) -> bool {
    let (p, d) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
    p == d || (p.starts_with(d) && (d.ends_with(b"/") || p.get(d.len()) == Some(&b'/')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::symlink;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let p = PathBuf::from(format!(
                "/tmp/coracle-safepath-{tag}-{}-{n}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(p.join("root")).unwrap();
            TempDir(p)
        }
        fn root(&self) -> PathBuf {
            self.0.join("root")
        }
        fn root_fd(&self) -> OwnedFd {
            nix::fcntl::open(
                &self.root(),
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .unwrap()
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// The host path an fd names, from /proc/self/fd.
    fn real(fd: &OwnedFd) -> PathBuf {
        fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap()
    }

    #[test]
    fn absolute_symlink_stays_in_root() {
        let t = TempDir::new("abs");
        symlink("/etc", t.root().join("link")).unwrap();
        let r = resolve(
            t.root_fd().as_fd(),
            Path::new("/link/passwd-marker"),
            Create::Dir,
        )
        .unwrap();
        assert_eq!(r.path, Path::new("/etc/passwd-marker"));
        assert_eq!(real(&r.fd), t.root().join("etc/passwd-marker"));
        assert!(!Path::new("/etc/passwd-marker").exists());
    }

    #[test]
    fn dotdot_escape_stays_in_root() {
        let t = TempDir::new("dotdot");
        fs::create_dir(t.root().join("a")).unwrap();
        symlink("../../../../../../..", t.root().join("a/up")).unwrap();
        let r = resolve(
            t.root_fd().as_fd(),
            Path::new("/../../a/up/../escaped"),
            Create::Dir,
        )
        .unwrap();
        assert_eq!(r.path, Path::new("/escaped"));
        assert_eq!(real(&r.fd), t.root().join("escaped"));
        assert!(!t.0.join("escaped").exists());
    }

    #[test]
    fn dangling_relative_symlink_creates_file_in_root() {
        let t = TempDir::new("dangling");
        fs::create_dir(t.root().join("etc")).unwrap();
        symlink("../run/x/resolv.conf", t.root().join("etc/resolv.conf")).unwrap();
        let r = resolve(
            t.root_fd().as_fd(),
            Path::new("/etc/resolv.conf"),
            Create::File,
        )
        .unwrap();
        assert_eq!(r.path, Path::new("/run/x/resolv.conf"));
        assert!(t.root().join("run/x/resolv.conf").is_file());
    }

    #[test]
    fn symlink_loop_is_eloop() {
        let t = TempDir::new("loop");
        symlink("b", t.root().join("a")).unwrap();
        symlink("a", t.root().join("b")).unwrap();
        let err = resolve(t.root_fd().as_fd(), Path::new("/a/x"), Create::Dir).unwrap_err();
        assert_eq!(err, Errno::ELOOP);
        let err = open_in_root(t.root_fd().as_fd(), Path::new("/a")).unwrap_err();
        assert_eq!(err, Errno::ELOOP);
    }

    #[test]
    fn file_in_the_middle_is_enotdir() {
        let t = TempDir::new("enotdir");
        fs::write(t.root().join("f"), b"").unwrap();
        let err = resolve(t.root_fd().as_fd(), Path::new("/f/x"), Create::Dir).unwrap_err();
        assert_eq!(err, Errno::ENOTDIR);
    }

    #[test]
    fn missing_without_create_is_enoent() {
        let t = TempDir::new("enoent");
        let err = resolve(t.root_fd().as_fd(), Path::new("/nope/x"), Create::Nothing).unwrap_err();
        assert_eq!(err, Errno::ENOENT);
        assert!(!t.root().join("nope").exists());
    }

    #[test]
    fn root_itself_resolves_to_root() {
        let t = TempDir::new("self");
        let r = resolve(t.root_fd().as_fd(), Path::new("/.."), Create::Nothing).unwrap();
        assert_eq!(r.path, Path::new("/"));
        assert_eq!(real(&r.fd), t.root());
    }

    #[test]
    fn openat2_in_root_clamps_absolute_symlink() {
        let t = TempDir::new("openat2");
        fs::create_dir(t.root().join("etc")).unwrap();
        symlink("/etc", t.root().join("link")).unwrap();
        let fd = open_in_root(t.root_fd().as_fd(), Path::new("/link/../../link")).unwrap();
        assert_eq!(real(&fd), t.root().join("etc"));
    }

    #[test]
    fn resolve_parent_returns_name() {
        let t = TempDir::new("parent");
        symlink("/dev", t.root().join("d")).unwrap();
        let (p, name) = resolve_parent(t.root_fd().as_fd(), Path::new("/d/null")).unwrap();
        assert_eq!(name, "null");
        assert_eq!(real(&p.fd), t.root().join("dev"));
        assert_eq!(
            resolve_parent(t.root_fd().as_fd(), Path::new("/")).unwrap_err(),
            Errno::EINVAL
        );
    }

    #[test]
    fn clean_and_is_under() {
        assert_eq!(clean(Path::new("//dev/./")), Path::new("/dev"));
        assert_eq!(clean(Path::new("/a/../../proc/x")), Path::new("/proc/x"));
        assert!(is_under(Path::new("/proc/sys"), Path::new("/proc")));
        assert!(is_under(Path::new("/proc"), Path::new("/proc")));
        assert!(!is_under(Path::new("/procfoo"), Path::new("/proc")));
        assert!(is_under(Path::new("/x"), Path::new("/")));
    }
}
