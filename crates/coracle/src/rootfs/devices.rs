//! /dev: the default devices, `linux.devices`, /dev/ptmx and the /dev symlinks.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknodat, umask, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::safe_path::{clean, proc_fd_path, resolve, resolve_parent, Create};
use super::{invalid, sys_err, RootfsError};

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Device {
    path: PathBuf,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// The devices every container gets (runc's default set), 0666 root:root.
const DEFAULTS: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// False when the spec bind-mounts /dev: then /dev is the host's or the user's, left as is.
pub(super) fn needs_setup_dev(spec: &Spec) -> bool {
    !spec.mounts().iter().flatten().any(|m| {
        let bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        bind && clean(m.destination()) == Path::new("/dev")
    })
}

/// The default devices, overridden by and followed by `linux.devices`.
pub(super) fn device_list(spec: &Spec) -> Result<Vec<Device>, RootfsError> {
    let mut out = Vec::new();
    let spec_devs = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for (i, d) in spec_devs.into_iter().flatten().enumerate() {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(invalid(
                    format!("linux.devices[{i}].type"),
                    "\"a\" is not a device type",
                ))
            }
        };
        let (major, minor) = (d.major(), d.minor());
        if major < 0 || minor < 0 {
            return Err(invalid(
                format!("linux.devices[{i}]"),
                "major and minor must not be negative",
            ));
        }
        if !d.path().is_absolute() {
            return Err(invalid(
                format!("linux.devices[{i}].path"),
                "must be absolute",
            ));
        }
        out.push(Device {
            path: d.path().clone(),
            kind,
            major: major as u64,
            minor: minor as u64,
            mode: d.file_mode().map_or(0o666, |m| m & 0o7777),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    let mut all: Vec<Device> = DEFAULTS
        .iter()
        .filter(|(p, _, _)| !out.iter().any(|d| clean(&d.path) == Path::new(p)))
        .map(|&(p, major, minor)| Device {
            path: PathBuf::from(p),
            kind: SFlag::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
    all.extend(out);
    Ok(all)
}

/// Restores the umask when dropped.
struct UmaskGuard(Mode);
impl Drop for UmaskGuard {
    fn drop(&mut self) {
        umask(self.0);
    }
}

/// Create the devices, /dev/ptmx and the /dev symlinks inside `root`.
pub(super) fn setup_dev(
    root: BorrowedFd<'_>,
    spec: &Spec,
    in_userns: bool,
) -> Result<(), RootfsError> {
    let devices = device_list(spec)?;
    {
        // The modes in the spec are exact.
        let _umask = UmaskGuard(umask(Mode::empty()));
        for d in &devices {
            create_device(root, d, in_userns)?;
        }
    }
    setup_ptmx(root)?;
    dev_symlinks(root)
}

fn create_device(root: BorrowedFd<'_>, d: &Device, in_userns: bool) -> Result<(), RootfsError> {
    // A user namespace may not mknod: bind the host's node instead.
    if in_userns {
        return bind_device(root, d);
    }
    let (parent, name) =
        resolve_parent(root, &d.path).map_err(sys_err("create parent of", &d.path))?;
    let mode = Mode::from_bits_truncate(d.mode);
    match mknodat(
        parent.fd.as_fd(),
        name.as_os_str(),
        d.kind,
        mode,
        makedev(d.major, d.minor),
    ) {
        Ok(()) => {}
        // An existing node is kept when it is the requested device (as runc); anything
        // else there is an error (config-linux: "MUST generate an error").
        Err(Errno::EEXIST) => return check_existing(parent.fd.as_fd(), &name, d),
        Err(Errno::EPERM) => return bind_device(root, d),
        Err(e) => return Err(sys_err("mknod", &d.path)(e)),
    }
    let owner = (Some(Uid::from_raw(d.uid)), Some(Gid::from_raw(d.gid)));
    fchownat(
        parent.fd.as_fd(),
        name.as_os_str(),
        owner.0,
        owner.1,
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(sys_err("chown", &d.path))
}

fn check_existing(
    parent: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    d: &Device,
) -> Result<(), RootfsError> {
    let st = nix::sys::stat::fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(sys_err("stat", &d.path))?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind == d.kind && st.st_rdev == makedev(d.major, d.minor) {
        return Ok(());
    }
    Err(invalid(
        "linux.devices",
        format!(
            "{} exists and is not the requested device {}:{}",
            d.path.display(),
            d.major,
            d.minor
        ),
    ))
}

fn bind_device(root: BorrowedFd<'_>, d: &Device) -> Result<(), RootfsError> {
    let src = open(&d.path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(sys_err("open host device", &d.path))?;
    let dst = resolve(root, &d.path, Create::File).map_err(sys_err("create", &d.path))?;
    mount(
        Some(&proc_fd_path(src.as_fd())),
        &proc_fd_path(dst.fd.as_fd()),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(sys_err(
        format!("bind mount {} on", d.path.display()),
        &d.path,
    ))
}

/// /dev/ptmx → pts/ptmx, so the container's devpts instance serves ptys.
fn setup_ptmx(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let path = Path::new("/dev/ptmx");
    let (parent, name) = resolve_parent(root, path).map_err(sys_err("create parent of", path))?;
    match unlinkat(
        parent.fd.as_fd(),
        name.as_os_str(),
        UnlinkatFlags::NoRemoveDir,
    ) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(sys_err("unlink", path)(e)),
    }
    symlinkat("pts/ptmx", parent.fd.as_fd(), name.as_os_str()).map_err(sys_err("symlink", path))
}

fn dev_symlinks(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let mut links = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ];
    // Kernels without CONFIG_PROC_KCORE have no /proc/kcore: no dangling link.
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        let link = Path::new(link);
        let (parent, name) =
            resolve_parent(root, link).map_err(sys_err("create parent of", link))?;
        match symlinkat(target, parent.fd.as_fd(), name.as_os_str()) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(sys_err("symlink", link)(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxDeviceBuilder, MountBuilder, SpecBuilder};

    #[test]
    fn defaults_then_spec_devices_override_by_path() {
        let dev = LinuxDeviceBuilder::default()
            .path("/dev/null")
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .file_mode(0o600u32)
            .uid(5u32)
            .build()
            .unwrap();
        let fuse = LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .build()
            .unwrap();
        let spec = SpecBuilder::default()
            .linux(
                LinuxBuilder::default()
                    .devices(vec![dev, fuse])
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let list = device_list(&spec).unwrap();
        assert_eq!(list.len(), 7);
        let null: Vec<_> = list
            .iter()
            .filter(|d| d.path == Path::new("/dev/null"))
            .collect();
        assert_eq!(null.len(), 1);
        assert_eq!((null[0].mode, null[0].uid), (0o600, 5));
        let fuse = list
            .iter()
            .find(|d| d.path == Path::new("/dev/fuse"))
            .unwrap();
        assert_eq!(
            (fuse.major, fuse.minor, fuse.mode, fuse.kind),
            (10, 229, 0o666, SFlag::S_IFCHR)
        );
    }

    #[test]
    fn device_type_a_is_rejected() {
        let dev = LinuxDeviceBuilder::default()
            .path("/dev/x")
            .typ(LinuxDeviceType::A)
            .build()
            .unwrap();
        let spec = SpecBuilder::default()
            .linux(LinuxBuilder::default().devices(vec![dev]).build().unwrap())
            .build()
            .unwrap();
        let err = device_list(&spec).unwrap_err().to_string();
        assert_eq!(err, "linux.devices[0].type: \"a\" is not a device type");
    }

    #[test]
    fn bind_mounted_dev_skips_device_setup() {
        assert!(needs_setup_dev(&Spec::default()));
        let m = MountBuilder::default()
            .destination("/dev/")
            .typ("none")
            .source("/dev")
            .options(vec!["rbind".to_string()])
            .build()
            .unwrap();
        let spec = SpecBuilder::default().mounts(vec![m]).build().unwrap();
        assert!(!needs_setup_dev(&spec));
    }
}
