//! `mounts[]`: one entry at a time, in order, onto destinations resolved in the rootfs.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, fstatat, Mode, SFlag};
use nix::sys::statfs::{fstatfs, statfs, CGROUP2_SUPER_MAGIC, PROC_SUPER_MAGIC};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use oci_spec::runtime::Mount;

use super::mount_options::{parse, MountOptions};
use super::safe_path::{
    clean, is_under, open_in_root, proc_fd_path, resolve, resolve_parent, Create, Resolved,
};
use super::{invalid, sys_err, RootfsError};
use crate::sys::mount::{attr, mount_setattr, MountAttr, AT_EMPTY_PATH, AT_RECURSIVE};

const NONE: Option<&str> = None;

/// Where the host's cgroup hierarchies live.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Files under /proc that may be mount targets (lxcfs emulates them), as runc allows.
const PROC_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
];

/// What every mount needs to know.
pub(super) struct Ctx<'a> {
    /// The rootfs bind mount, the root for every destination.
    pub root: BorrowedFd<'a>,
    /// Running in a user namespace: some mounts fall back to binds.
    pub in_userns: bool,
    /// `linux.mountLabel`, already checked against the host.
    pub label: Option<&'a str>,
    /// The container's own cgroup directories on the host (one per hierarchy), for
    /// the `cgroup` mount on v1 and hybrid hosts; empty: bind the whole tree.
    pub cgroup_dirs: &'a [PathBuf],
}

/// One `mounts[i]` entry with its parsed options.
struct Entry<'a> {
    i: usize,
    m: &'a Mount,
    typ: &'a str,
    dest: &'a Path,
    opts: MountOptions,
}

impl Entry<'_> {
    fn field(&self, f: &str) -> String {
        format!("mounts[{}].{f}", self.i)
    }

    fn source(&self) -> PathBuf {
        self.m
            .source()
            .clone()
            .unwrap_or_else(|| PathBuf::from(self.typ))
    }

    /// mount(2) data: the options, plus the SELinux context where labels apply.
    fn data(&self, ctx: &Ctx<'_>) -> String {
        let mut data = self.opts.data.clone();
        if let Some(label) = ctx.label {
            if !matches!(self.typ, "proc" | "sysfs" | "cgroup" | "cgroup2") {
                data.push(format!("context=\"{label}\""));
            }
        }
        data.join(",")
    }
}

/// Mount `mounts[i]` inside the rootfs.
pub(super) fn mount_entry(ctx: &Ctx<'_>, i: usize, m: &Mount) -> Result<(), RootfsError> {
    let mut e = Entry {
        i,
        m,
        typ: m.typ().as_deref().unwrap_or(""),
        dest: m.destination(),
        opts: parse(m.options().as_deref().unwrap_or(&[])),
    };
    if e.opts.idmap || m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        return Err(invalid(
            e.field("options"),
            "idmapped mounts are not supported",
        ));
    }
    if e.opts.copy_up && e.typ != "tmpfs" {
        return Err(invalid(
            e.field("options"),
            "tmpcopyup applies to tmpfs only",
        ));
    }
    if e.typ == "bind" {
        e.opts.flags |= MsFlags::MS_BIND;
    }
    let target = if e.opts.flags.contains(MsFlags::MS_BIND) {
        bind_entry(ctx, &e)?
    } else {
        match e.typ {
            "" => {
                return Err(invalid(
                    e.field("type"),
                    "required for a mount without bind",
                ))
            }
            "proc" | "sysfs" => special_fs(ctx, &e)?,
            "cgroup" => cgroup(ctx, &e)?,
            "tmpfs" => tmpfs(ctx, &e)?,
            _ => {
                let r = resolve(ctx.root, e.dest, Create::Dir)
                    .map_err(sys_err("create mount point", e.dest))?;
                check_proc_dest(&e, &r.path, None)?;
                fs_mount(ctx, &e, &r, without_ro_on_dev(&e))?;
                r.path
            }
        }
    };
    finish(ctx, &e, &target)
}

/// /dev stays writable until finalize so devices can be created in it.
fn without_ro_on_dev(e: &Entry<'_>) -> MsFlags {
    if clean(e.dest) == Path::new("/dev") {
        e.opts.flags - MsFlags::MS_RDONLY
    } else {
        e.opts.flags
    }
}

/// mount(2) of a file system (not a bind) onto the resolved destination.
fn fs_mount(ctx: &Ctx<'_>, e: &Entry<'_>, r: &Resolved, flags: MsFlags) -> Result<(), RootfsError> {
    let data = e.data(ctx);
    let data = (!data.is_empty()).then_some(data.as_str());
    mount(
        Some(&e.source()),
        &proc_fd_path(r.fd.as_fd()),
        Some(e.typ),
        flags,
        data,
    )
    .map_err(sys_err(format!("mount {} on", e.typ), e.dest))
}

/// proc and sysfs: only on a real directory (never through a symlink).
fn special_fs(ctx: &Ctx<'_>, e: &Entry<'_>) -> Result<PathBuf, RootfsError> {
    let (parent, name) =
        resolve_parent(ctx.root, e.dest).map_err(sys_err("create mount point", e.dest))?;
    match fstatat(
        parent.fd.as_fd(),
        name.as_os_str(),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    ) {
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR => {
            let msg = format!("{} must be mounted on an ordinary directory", e.typ);
            return Err(invalid(e.field("destination"), msg));
        }
        Ok(_) | Err(Errno::ENOENT) => {}
        Err(err) => return Err(sys_err("stat", e.dest)(err)),
    }
    let r =
        resolve(ctx.root, e.dest, Create::Dir).map_err(sys_err("create mount point", e.dest))?;
    check_proc_dest(e, &r.path, None)?;
    match fs_mount(ctx, e, &r, e.opts.flags) {
        // A user namespace without its own network namespace cannot mount sysfs:
        // bind the host's /sys instead, as runc does.
        Err(RootfsError::Sys {
            source: Errno::EPERM,
            ..
        }) if e.typ == "sysfs" && ctx.in_userns => {
            let src = open_source(e, Path::new("/sys"))?;
            bind_onto(
                e,
                &src,
                ctx.root,
                &r,
                e.opts.flags | MsFlags::MS_BIND | MsFlags::MS_REC,
            )?;
        }
        other => other?,
    }
    Ok(r.path)
}

/// tmpfs: an existing directory's mode carries over (`mode=` in the options wins),
/// and `ro` waits for finalize so the mount can be filled first.
fn tmpfs(ctx: &Ctx<'_>, e: &Entry<'_>) -> Result<PathBuf, RootfsError> {
    let (r, existed) = match resolve(ctx.root, e.dest, Create::Nothing) {
        Ok(r) => (r, true),
        Err(Errno::ENOENT) => {
            let r = resolve(ctx.root, e.dest, Create::Dir)
                .map_err(sys_err("create mount point", e.dest))?;
            (r, false)
        }
        Err(err) => return Err(sys_err("resolve", e.dest)(err)),
    };
    check_proc_dest(e, &r.path, None)?;
    let mut e2 = Entry {
        opts: e.opts.clone(),
        ..*e
    };
    if existed {
        let st = fstat(r.fd.as_fd()).map_err(sys_err("stat", e.dest))?;
        e2.opts
            .data
            .insert(0, format!("mode={:04o}", st.st_mode & 0o7777));
    }
    // tmpcopyup: the directory about to be covered, opened before the mount hides it.
    let under = match (e.opts.copy_up, existed) {
        (true, true) => Some(
            nix::fcntl::openat(
                r.fd.as_fd(),
                ".",
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(sys_err("open for tmpcopyup", e.dest))?,
        ),
        _ => None,
    };
    fs_mount(ctx, &e2, &r, e.opts.flags - MsFlags::MS_RDONLY)?;
    if let Some(under) = under {
        let top = reopen(ctx.root, e, &r.path)?;
        super::copyup::copy_tree(under.as_fd(), top.as_fd())
            .map_err(sys_err("tmpcopyup into", e.dest))?;
    }
    Ok(r.path)
}

/// `cgroup`: on a pure cgroup v2 host mount cgroup2 (falling back to a bind of our
/// own cgroup when the kernel refuses, e.g. a user namespace without a cgroup
/// namespace). On a v1 or hybrid host, one bind per hierarchy of the container's own
/// cgroup ([`cgroup_v1`]); without those (a caller that has no cgroup for us), the
/// host's whole tree, with the entry's ro/nosuid/nodev/noexec applied recursively.
fn cgroup(ctx: &Ctx<'_>, e: &Entry<'_>) -> Result<PathBuf, RootfsError> {
    let r =
        resolve(ctx.root, e.dest, Create::Dir).map_err(sys_err("create mount point", e.dest))?;
    check_proc_dest(e, &r.path, None)?;
    let v2 = statfs(CGROUP_ROOT)
        .map(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
        .unwrap_or(false);
    if v2 {
        let e2 = Entry {
            typ: "cgroup2",
            ..Entry {
                opts: e.opts.clone(),
                ..*e
            }
        };
        match fs_mount(ctx, &e2, &r, e.opts.flags) {
            Err(RootfsError::Sys {
                source: Errno::EPERM | Errno::EBUSY,
                ..
            }) => {
                let src = open_source(e, &own_cgroup_v2_path())?;
                bind_onto(e, &src, ctx.root, &r, e.opts.flags | MsFlags::MS_BIND)?;
            }
            other => other?,
        }
        return Ok(r.path);
    }
    if !ctx.cgroup_dirs.is_empty() {
        return cgroup_v1(ctx, e, r);
    }
    let src = open_source(e, Path::new(CGROUP_ROOT))?;
    bind_onto(e, &src, ctx.root, &r, MsFlags::MS_BIND | MsFlags::MS_REC)?;
    let f = e.opts.flags;
    let set = [
        (MsFlags::MS_RDONLY, attr::RDONLY),
        (MsFlags::MS_NOSUID, attr::NOSUID),
        (MsFlags::MS_NODEV, attr::NODEV),
        (MsFlags::MS_NOEXEC, attr::NOEXEC),
    ]
    .iter()
    .filter(|(ms, _)| f.contains(*ms))
    .fold(0, |acc, (_, a)| acc | a);
    if set != 0 {
        let fd = reopen(ctx.root, e, &r.path)?;
        let attr = MountAttr {
            attr_set: set,
            ..MountAttr::default()
        };
        mount_setattr(fd.as_fd(), c"", AT_EMPTY_PATH | AT_RECURSIVE, &attr)
            .map_err(sys_err("set recursive attributes of", e.dest))?;
    }
    Ok(r.path)
}

/// runc's layout on a v1 or hybrid host: a tmpfs at the destination holding one bind
/// of the container's own cgroup per hierarchy, named as on the host (`memory`,
/// `systemd`, `unified`; `cpu,cpuacct` plus `cpu` and `cpuacct` symlinks), so a
/// process reads its own limits at the usual paths and nothing of its ancestors.
fn cgroup_v1(ctx: &Ctx<'_>, e: &Entry<'_>, r: Resolved) -> Result<PathBuf, RootfsError> {
    let per_mount =
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let mut tmpfs_opts = e.opts.clone();
    tmpfs_opts.data = vec!["mode=755".into()];
    let tmpfs = Entry {
        typ: "tmpfs",
        opts: tmpfs_opts,
        ..*e
    };
    let flags = (e.opts.flags | base) - (MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC);
    fs_mount(ctx, &tmpfs, &r, flags)?;
    let top = reopen(ctx.root, e, &r.path)?;
    let mut done: Vec<String> = Vec::new();
    for dir in ctx.cgroup_dirs {
        let Some(name) = dir
            .strip_prefix(CGROUP_ROOT)
            .ok()
            .and_then(|rel| rel.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
        else {
            continue;
        };
        if done.contains(&name) {
            continue;
        }
        let sub_dest = e.dest.join(&name);
        let sub = resolve(ctx.root, &sub_dest, Create::Dir)
            .map_err(sys_err("create mount point", &sub_dest))?;
        let src = open_source(e, dir)?;
        bind_onto(
            e,
            &src,
            ctx.root,
            &sub,
            MsFlags::MS_BIND | (e.opts.flags & per_mount),
        )?;
        if name.contains(',') {
            for part in name.split(',') {
                nix::unistd::symlinkat(name.as_str(), top.as_fd(), part)
                    .map_err(sys_err("symlink", &e.dest.join(part)))?;
            }
        }
        done.push(name);
    }
    if e.opts.flags.contains(MsFlags::MS_RDONLY) {
        let remount = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | flags;
        mount(NONE, &proc_fd_path(top.as_fd()), NONE, remount, NONE)
            .map_err(sys_err("remount read-only", e.dest))?;
    }
    Ok(r.path)
}

/// /sys/fs/cgroup/<our cgroup> from /proc/self/cgroup's `0::` line, or the root.
fn own_cgroup_v2_path() -> PathBuf {
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("0::")
                    .map(|p| p.trim_start_matches('/').to_string())
            })
        });
    let p = Path::new(CGROUP_ROOT).join(own.unwrap_or_default());
    if p.is_dir() {
        p
    } else {
        PathBuf::from(CGROUP_ROOT)
    }
}

/// A bind (type `bind`, or any type with `bind`/`rbind`).
fn bind_entry(ctx: &Ctx<'_>, e: &Entry<'_>) -> Result<PathBuf, RootfsError> {
    let Some(source) = e.m.source() else {
        return Err(invalid(e.field("source"), "required for a bind mount"));
    };
    let src = open_source(e, source)?;
    let st = fstat(src.as_fd()).map_err(sys_err("stat bind source", source))?;
    let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
    let create = if is_dir { Create::Dir } else { Create::File };
    let r = resolve(ctx.root, e.dest, create).map_err(sys_err("create mount point", e.dest))?;
    check_proc_dest(e, &r.path, Some(&src))?;
    bind_onto(e, &src, ctx.root, &r, e.opts.flags)?;
    Ok(r.path)
}

/// Open a bind source on the host (`O_PATH`, symlinks followed); a relative path
/// resolves against the cwd, the bundle directory.
fn open_source(e: &Entry<'_>, source: &Path) -> Result<OwnedFd, RootfsError> {
    open(source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).map_err(|err| {
        invalid(
            e.field("source"),
            format!("open {}: {} ({err:?})", source.display(), err.desc()),
        )
    })
}

/// Bind `src` onto `r`, then remount with the entry's flags if it has any
/// beyond bind/rec: a bind mount ignores them. In a user namespace the source's
/// nosuid/nodev/noexec/ro/atime flags may be locked; on EPERM retry with them added.
fn bind_onto(
    e: &Entry<'_>,
    src: &OwnedFd,
    root: BorrowedFd<'_>,
    r: &Resolved,
    flags: MsFlags,
) -> Result<(), RootfsError> {
    let bind = MsFlags::MS_BIND | (flags & MsFlags::MS_REC);
    mount(
        Some(&proc_fd_path(src.as_fd())),
        &proc_fd_path(r.fd.as_fd()),
        NONE,
        bind,
        NONE,
    )
    .map_err(sys_err(
        format!("bind mount {} on", e.source().display()),
        e.dest,
    ))?;
    let extra = flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if extra.is_empty() {
        return Ok(());
    }
    let fd = reopen(root, e, &r.path)?;
    let target = proc_fd_path(fd.as_fd());
    let remount = extra | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount(NONE, &target, NONE, remount, NONE) {
        Err(Errno::EPERM) => {
            let locked = locked_flags(src, extra).map_err(sys_err("statvfs", e.source()))?;
            if locked.is_empty() || remount.contains(locked) {
                return Err(sys_err("remount", e.dest)(Errno::EPERM));
            }
            mount(NONE, &target, NONE, remount | locked, NONE).map_err(sys_err("remount", e.dest))
        }
        other => other.map_err(sys_err("remount", e.dest)),
    }
}

/// The per-mount flags of `src` a user namespace cannot clear. Atime flags are
/// only carried over when the entry asks for no atime mode of its own.
fn locked_flags(src: &OwnedFd, want: MsFlags) -> nix::Result<MsFlags> {
    let st = fstatvfs(src.as_fd())?.flags();
    let mut out = MsFlags::empty();
    let map = [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ];
    for (st_flag, ms) in map {
        if st.contains(st_flag) {
            out |= ms;
        }
    }
    let atime = MsFlags::MS_NOATIME | MsFlags::MS_RELATIME | MsFlags::MS_STRICTATIME;
    if !want.intersects(atime) {
        for (st_flag, ms) in [
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if st.contains(st_flag) {
                out |= ms;
            }
        }
    }
    Ok(out)
}

/// Re-open a destination after mounting on it: the old fd still names the
/// directory below the new mount.
fn reopen(root: BorrowedFd<'_>, e: &Entry<'_>, path: &Path) -> Result<OwnedFd, RootfsError> {
    open_in_root(root, path).map_err(sys_err("reopen mount point", e.dest))
}

/// Nothing but proc goes on /proc, and below /proc only the files lxcfs emulates:
/// anything else could hide the masked and read-only paths or fake /proc.
fn check_proc_dest(
    e: &Entry<'_>,
    resolved: &Path,
    bind_src: Option<&OwnedFd>,
) -> Result<(), RootfsError> {
    let proc = Path::new("/proc");
    if !is_under(resolved, proc) {
        return Ok(());
    }
    if resolved == proc {
        let ok = match bind_src {
            Some(src) => fstatfs(src.as_fd())
                .map(|s| s.filesystem_type() == PROC_SUPER_MAGIC)
                .unwrap_or(false),
            None => e.typ == "proc",
        };
        if ok {
            return Ok(());
        }
        return Err(invalid(
            e.field("destination"),
            format!(
                "{} cannot be mounted because it is not of type proc",
                resolved.display()
            ),
        ));
    }
    if PROC_ALLOWED.iter().any(|a| Path::new(a) == resolved) {
        return Ok(());
    }
    Err(invalid(
        e.field("destination"),
        format!(
            "{} cannot be mounted because it is inside /proc",
            resolved.display()
        ),
    ))
}

/// Propagation changes, then recursive attributes, on the new mount.
fn finish(ctx: &Ctx<'_>, e: &Entry<'_>, path: &Path) -> Result<(), RootfsError> {
    let rec = e.opts.rec_attr();
    if e.opts.propagation.is_empty() && rec.is_none() {
        return Ok(());
    }
    let fd = reopen(ctx.root, e, path)?;
    for p in &e.opts.propagation {
        mount(NONE, &proc_fd_path(fd.as_fd()), NONE, *p, NONE)
            .map_err(sys_err("set propagation of", e.dest))?;
    }
    if let Some(attr) = rec {
        mount_setattr(fd.as_fd(), c"", AT_EMPTY_PATH | AT_RECURSIVE, &attr)
            .map_err(sys_err("set recursive attributes of", e.dest))?;
    }
    Ok(())
}
