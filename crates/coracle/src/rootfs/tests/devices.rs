//! Devices, user namespaces and the /dev/null check, on the real kernel.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::*;

#[test]
fn devices_in_userns_mode_are_bind_mounts_of_host_nodes() {
    let b = Bundle::new("userns-dev");
    let s = spec(
        r#""mounts":[{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["mode=755"]}]"#,
    );
    b.run(|b| {
        crate::rootfs::prepare(&s, &b.rootfs(), true).map_err(|e| e.to_string())?;
        let (o, t, _) = mountinfo(b.rootfs().join("dev/null").to_str().unwrap())
            .ok_or("/dev/null is not a mount")?;
        ensure!(t == "devtmpfs" || t == "tmpfs", "/dev/null from {t} {o}");
        let m = fs::metadata(b.rootfs().join("dev/null")).unwrap();
        ensure!(
            m.file_type().is_char_device() && m.rdev() == nix::sys::stat::makedev(1, 3),
            "not the null device"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn linux_devices_mknod_with_mode_and_owner() {
    let b = Bundle::new("devices");
    let s = spec(
        r#""mounts":[{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["mode=755"]}],
      "linux":{"devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":416,"uid":7,"gid":8},
                          {"path":"/dev/loopx","type":"b","major":7,"minor":0},
                          {"path":"/dev/fifo","type":"p"}]}"#,
    );
    b.run(|b| {
        crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        let m = fs::symlink_metadata(b.rootfs().join("dev/fuse")).unwrap();
        ensure!(
            m.file_type().is_char_device() && m.rdev() == nix::sys::stat::makedev(10, 229),
            "fuse node"
        );
        ensure!(
            m.permissions().mode() & 0o7777 == 0o640 && m.uid() == 7 && m.gid() == 8,
            "fuse mode/owner {:o}",
            m.mode()
        );
        let m = fs::symlink_metadata(b.rootfs().join("dev/loopx")).unwrap();
        ensure!(
            m.file_type().is_block_device() && m.rdev() == nix::sys::stat::makedev(7, 0),
            "block node"
        );
        ensure!(
            fs::symlink_metadata(b.rootfs().join("dev/fifo"))
                .unwrap()
                .file_type()
                .is_fifo(),
            "fifo"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn masked_path_refuses_a_fake_dev_null() {
    let b = Bundle::new("fakenull");
    fs::create_dir(b.0.join("fakedev")).unwrap();
    fs::write(b.0.join("fakedev/null"), b"not null").unwrap();
    fs::write(b.rootfs().join("secret"), b"s").unwrap();
    let s = spec(
        r#""mounts":[{"destination":"/dev","type":"bind","source":"fakedev","options":["rbind"]}],
      "linux":{"maskedPaths":["/secret"]}"#,
    );
    let err = b
        .run(|b| {
            crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
            crate::rootfs::pivot(&b.rootfs(), false).map_err(|e| e.to_string())?;
            crate::rootfs::finalize(&s).map_err(|e| e.to_string())
        })
        .unwrap_err();
    assert_eq!(
        err,
        "linux.maskedPaths: /dev/null is not the null device (char 1:3)"
    );
}

/// Enter a new user namespace (root mapped to root) with its own mount
/// namespace, so the mounts copied from the parent have locked flags.
fn enter_userns() -> Check {
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("unshare userns: {e}"))?;
    fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
    fs::write("/proc/self/uid_map", "0 0 1").map_err(|e| format!("uid_map: {e}"))?;
    fs::write("/proc/self/gid_map", "0 0 1").map_err(|e| format!("gid_map: {e}"))?;
    Ok(())
}

#[test]
fn userns_sysfs_falls_back_to_bind_and_locked_flags_are_kept() {
    let b = Bundle::new("userns");
    fs::create_dir(b.0.join("locked")).unwrap();
    let s = spec(
        r#""mounts":[
      {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},
      {"destination":"/locked","type":"bind","source":"locked","options":["rbind","ro"]},
      {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["mode=755"]}
    ]"#,
    );
    b.run(|b| {
        // nosuid,nodev on the source, made before the user namespace: locked in it.
        let f = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        mount(
            Some("tmpfs"),
            &b.0.join("locked"),
            Some("tmpfs"),
            f,
            None::<&str>,
        )
        .map_err(|e| e.to_string())?;
        enter_userns()?;
        crate::rootfs::prepare(&s, &b.rootfs(), true).map_err(|e| e.to_string())?;
        let sys = mountinfo(b.rootfs().join("sys").to_str().unwrap()).ok_or("no /sys")?;
        ensure!(sys.1 == "sysfs" && has_opt(&sys.0, "ro"), "/sys: {sys:?}");
        let locked = mountinfo(b.rootfs().join("locked").to_str().unwrap()).ok_or("no /locked")?;
        ensure!(
            ["ro", "nosuid", "nodev"]
                .iter()
                .all(|o| has_opt(&locked.0, o)),
            "/locked: {locked:?}"
        );
        let null = b.rootfs().join("dev/null");
        ensure!(
            mountinfo(null.to_str().unwrap()).is_some(),
            "/dev/null is not a bind mount"
        );
        Ok(())
    })
    .unwrap();
}
