//! mounts[], pivot and finalize on the real kernel.

use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};
use std::path::Path;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

use super::*;

const DEFAULT_MOUNTS: &str = r#""mounts":[
  {"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},
  {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
  {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
  {"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]},
  {"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},
  {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},
  {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]},
  {"destination":"/data","type":"tmpfs","source":"tmpfs","options":["size=1m"]},
  {"destination":"/ro-tmp","type":"tmpfs","source":"tmpfs","options":["ro","mode=700"]}
]"#;

const DEFAULT_LINUX: &str = r#""linux":{
  "maskedPaths":["/proc/timer_list","/proc/kcore","/sys/firmware","/proc/does-not-exist"],
  "readonlyPaths":["/proc/sys","/data","/no/such/path"]
}"#;

#[test]
fn default_mounts_devices_masked_and_readonly_paths_from_inside() {
    let b = Bundle::new("default");
    let s = spec(&format!("{DEFAULT_MOUNTS},{DEFAULT_LINUX}"));
    b.run(|b| {
        crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        crate::rootfs::pivot(&b.rootfs(), false).map_err(|e| e.to_string())?;
        crate::rootfs::finalize(&s).map_err(|e| e.to_string())?;
        ensure!(
            fs::read_to_string("/marker").ok().as_deref() == Some("inside"),
            "not in the rootfs after pivot"
        );
        let (o, t, _) = mountinfo("/proc").ok_or("no /proc mount")?;
        ensure!(
            t == "proc" && ["nosuid", "nodev", "noexec"].iter().all(|x| has_opt(&o, x)),
            "/proc: {t} {o}"
        );
        let (o, t, so) = mountinfo("/dev").ok_or("no /dev mount")?;
        ensure!(
            t == "tmpfs" && has_opt(&o, "nosuid") && has_opt(&so, "size=65536k"),
            "/dev: {t} {o} {so}"
        );
        ensure!(
            fs::metadata("/dev").unwrap().mode() & 0o7777 == 0o755,
            "/dev mode"
        );
        for (p, ma, mi) in [
            ("/dev/null", 1, 3),
            ("/dev/zero", 1, 5),
            ("/dev/full", 1, 7),
            ("/dev/random", 1, 8),
            ("/dev/urandom", 1, 9),
            ("/dev/tty", 5, 0),
        ] {
            let m = fs::symlink_metadata(p).map_err(|e| format!("{p}: {e}"))?;
            let rdev = m.rdev();
            ensure!(m.file_type().is_char_device(), "{p} not a char device");
            ensure!(
                nix::sys::stat::major(rdev) == ma && nix::sys::stat::minor(rdev) == mi,
                "{p} is {rdev:x}"
            );
            ensure!(
                m.mode() & 0o7777 == 0o666 && m.uid() == 0,
                "{p} mode {:o}",
                m.mode()
            );
        }
        ensure!(
            fs::read_link("/dev/ptmx").ok() == Some(PathBuf::from("pts/ptmx")),
            "/dev/ptmx link"
        );
        ensure!(
            fs::read_link("/dev/fd").ok() == Some(PathBuf::from("/proc/self/fd")),
            "/dev/fd link"
        );
        ensure!(
            fs::read_link("/dev/stderr").ok() == Some(PathBuf::from("/proc/self/fd/2")),
            "/dev/stderr link"
        );
        let (_, t, so) = mountinfo("/dev/pts").ok_or("no /dev/pts")?;
        ensure!(
            t == "devpts" && has_opt(&so, "ptmxmode=666"),
            "/dev/pts: {t} {so}"
        );
        ensure!(
            fs::metadata("/dev/shm").unwrap().mode() & 0o7777 == 0o1777,
            "/dev/shm mode"
        );
        ensure!(
            mountinfo("/dev/mqueue").is_some_and(|m| m.1 == "mqueue"),
            "/dev/mqueue"
        );
        let (o, t, _) = mountinfo("/sys").ok_or("no /sys")?;
        ensure!(t == "sysfs" && has_opt(&o, "ro"), "/sys: {t} {o}");
        let (o, _, _) = mountinfo("/sys/fs/cgroup").ok_or("no /sys/fs/cgroup")?;
        ensure!(
            has_opt(&o, "ro") && has_opt(&o, "nosuid"),
            "/sys/fs/cgroup: {o}"
        );
        // Every hierarchy below is read-only too (v1/hybrid: recursive bind).
        for l in fs::read_to_string("/proc/self/mountinfo").unwrap().lines() {
            if let Some((mp, _)) = parse_mountinfo_line(l) {
                if mp.starts_with("/sys/fs/cgroup/") {
                    ensure!(
                        has_opt(l.split(' ').nth(5).unwrap(), "ro"),
                        "rw cgroup mount: {l}"
                    );
                }
            }
        }
        // Masked: file reads empty, directory is an empty read-only tmpfs.
        let timer_list = fs::read("/proc/timer_list").map(|v| v.len());
        ensure!(
            timer_list.as_ref().ok() == Some(&0),
            "/proc/timer_list not masked: {timer_list:?}"
        );
        ensure!(
            fs::read_dir("/sys/firmware").unwrap().next().is_none(),
            "/sys/firmware not empty"
        );
        ensure!(
            write_errno("/sys/firmware/x") == Some(Errno::EROFS),
            "/sys/firmware writable"
        );
        // Read-only paths.
        ensure!(
            mountinfo("/proc/sys").is_some_and(|m| has_opt(&m.0, "ro")),
            "/proc/sys not ro"
        );
        ensure!(
            write_errno("/data/x") == Some(Errno::EROFS),
            "/data writable"
        );
        // ro tmpfs: mode applied, read-only after finalize.
        ensure!(
            fs::metadata("/ro-tmp").unwrap().mode() & 0o7777 == 0o700,
            "/ro-tmp mode"
        );
        ensure!(
            write_errno("/ro-tmp/x") == Some(Errno::EROFS),
            "/ro-tmp writable"
        );
        ensure!(
            write_errno("/newfile").is_none(),
            "/ not writable without root.readonly"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn root_readonly_gives_erofs() {
    let b = Bundle::new("rootro");
    let s = spec(
        r#""root":{"path":"rootfs","readonly":true},"mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/tmp","type":"tmpfs","source":"tmpfs"}]"#,
    );
    b.run(|b| {
        crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        crate::rootfs::pivot(&b.rootfs(), false).map_err(|e| e.to_string())?;
        crate::rootfs::finalize(&s).map_err(|e| e.to_string())?;
        ensure!(write_errno("/newfile") == Some(Errno::EROFS), "/ writable");
        ensure!(
            write_errno("/tmp/ok").is_none(),
            "/tmp should stay writable"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn bind_mounts_ro_rro_and_files() {
    let b = Bundle::new("bind");
    fs::create_dir_all(b.0.join("src/sub")).unwrap();
    fs::write(b.0.join("hostfile"), b"hello").unwrap();
    let s = spec(
        r#""mounts":[
      {"destination":"/proc","type":"proc","source":"proc"},
      {"destination":"/ro","type":"bind","source":"src","options":["ro"]},
      {"destination":"/rbind-ro","type":"none","source":"src","options":["rbind","ro"]},
      {"destination":"/rro","type":"none","source":"src","options":["rbind","rro"]},
      {"destination":"/etc/hostfile","type":"bind","source":"hostfile","options":["bind","nosuid"]}
    ]"#,
    );
    b.run(|b| {
        // A submount in the source, in the child's namespace only.
        mount(
            Some("tmpfs"),
            &b.0.join("src/sub"),
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        crate::rootfs::pivot(&b.rootfs(), false).map_err(|e| e.to_string())?;
        crate::rootfs::finalize(&s).map_err(|e| e.to_string())?;
        ensure!(write_errno("/ro/x") == Some(Errno::EROFS), "/ro writable");
        ensure!(
            write_errno("/rbind-ro/x") == Some(Errno::EROFS),
            "/rbind-ro writable"
        );
        ensure!(
            write_errno("/rbind-ro/sub/x").is_none(),
            "ro on rbind is not recursive (runc)"
        );
        ensure!(write_errno("/rro/x") == Some(Errno::EROFS), "/rro writable");
        ensure!(
            write_errno("/rro/sub/x") == Some(Errno::EROFS),
            "rro did not reach the submount"
        );
        ensure!(
            fs::read_to_string("/etc/hostfile").ok().as_deref() == Some("hello"),
            "file bind"
        );
        ensure!(
            mountinfo("/etc/hostfile").is_some_and(|m| has_opt(&m.0, "nosuid")),
            "file bind nosuid: {:?}",
            mountinfo("/etc/hostfile")
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn destinations_through_symlinks_and_dotdot_stay_in_rootfs() {
    let b = Bundle::new("escape");
    symlink("/etc", b.rootfs().join("link")).unwrap();
    fs::create_dir(b.rootfs().join("a")).unwrap();
    symlink("../../../../../../..", b.rootfs().join("a/up")).unwrap();
    let escaped = format!("coracle-escaped-{}", std::process::id());
    let s = spec(&format!(
        r#""mounts":[
      {{"destination":"/link","type":"tmpfs","source":"tmpfs"}},
      {{"destination":"/a/up/{escaped}","type":"tmpfs","source":"tmpfs"}},
      {{"destination":"/../../../{escaped}-2","type":"tmpfs","source":"tmpfs"}},
      {{"destination":"/link/hostfile","type":"bind","source":"/etc/hostname","options":["bind"]}}
    ]"#
    ));
    b.run(|b| {
        crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        let tmpfs = |p: &Path| {
            nix::sys::statfs::statfs(p)
                .map(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
                .unwrap_or(false)
        };
        ensure!(!tmpfs(Path::new("/etc")), "the host's /etc got the tmpfs");
        ensure!(
            tmpfs(&b.rootfs().join("etc")),
            "rootfs/etc is not the tmpfs"
        );
        ensure!(
            !Path::new("/etc/hostfile").exists(),
            "file created in the host's /etc"
        );
        ensure!(
            b.rootfs().join("etc/hostfile").is_file(),
            "rootfs/etc/hostfile missing"
        );
        for e in [escaped.clone(), format!("{escaped}-2")] {
            ensure!(
                !Path::new("/").join(&e).exists(),
                "/{e} created on the host"
            );
            ensure!(!b.0.join(&e).exists(), "{e} created in the bundle");
            ensure!(tmpfs(&b.rootfs().join(&e)), "rootfs/{e} is not the tmpfs");
        }
        Ok(())
    })
    .unwrap();
    assert!(!Path::new("/").join(&escaped).exists());
}

#[test]
fn mounts_inside_proc_are_refused() {
    let b = Bundle::new("procdest");
    let s = spec(
        r#""mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/proc/sys","type":"tmpfs","source":"tmpfs"}]"#,
    );
    let err = b
        .run(|b| crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
        .unwrap_err();
    assert_eq!(
        err,
        "mounts[1].destination: /proc/sys cannot be mounted because it is inside /proc"
    );
    let s = spec(r#""mounts":[{"destination":"/proc","type":"tmpfs","source":"tmpfs"}]"#);
    let err = b
        .run(|b| crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
        .unwrap_err();
    assert_eq!(
        err,
        "mounts[0].destination: /proc cannot be mounted because it is not of type proc"
    );
}

#[test]
fn proc_on_a_symlink_is_refused() {
    let b = Bundle::new("procsym");
    symlink("/etc", b.rootfs().join("proc")).unwrap();
    let s = spec(r#""mounts":[{"destination":"/proc","type":"proc","source":"proc"}]"#);
    let err = b
        .run(|b| crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
        .unwrap_err();
    assert_eq!(
        err,
        "mounts[0].destination: proc must be mounted on an ordinary directory"
    );
}

#[test]
fn failed_mount_names_type_destination_and_errno() {
    let b = Bundle::new("enodev");
    let s = spec(r#""mounts":[{"destination":"/x","type":"nosuchfs","source":"none"}]"#);
    let err = b
        .run(|b| crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
        .unwrap_err();
    assert_eq!(err, "mount nosuchfs on /x: No such device (ENODEV)");
}

#[test]
fn idmap_and_bad_propagation_fail_closed() {
    let b = Bundle::new("idmap");
    let s = spec(
        r#""mounts":[{"destination":"/x","type":"bind","source":"rootfs","options":["rbind","idmap"]}]"#,
    );
    let err = b
        .run(|b| crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
        .unwrap_err();
    assert_eq!(err, "mounts[0].options: idmapped mounts are not supported");
    let s = spec(r#""linux":{"mountLabel":"system_u:object_r:container_file_t:s0"}"#);
    let err = b
        .run(|b| crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
        .unwrap_err();
    assert_eq!(err, "linux.mountLabel: selinux is not enabled");
}

#[test]
fn no_pivot_moves_rootfs_to_slash() {
    let b = Bundle::new("nopivot");
    let s = spec(r#""mounts":[{"destination":"/proc","type":"proc","source":"proc"}]"#);
    b.run(|b| {
        crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        crate::rootfs::pivot(&b.rootfs(), true).map_err(|e| e.to_string())?;
        crate::rootfs::finalize(&s).map_err(|e| e.to_string())?;
        ensure!(
            fs::read_to_string("/marker").ok().as_deref() == Some("inside"),
            "not in the rootfs"
        );
        ensure!(Path::new("/bin/busybox").exists(), "busybox missing");
        ensure!(
            std::env::current_dir().unwrap() == Path::new("/"),
            "cwd not /"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn mount_propagation_options_apply() {
    let b = Bundle::new("prop");
    let s = spec(
        r#""mounts":[{"destination":"/proc","type":"proc","source":"proc"},
      {"destination":"/shared","type":"tmpfs","source":"tmpfs","options":["shared"]},
      {"destination":"/plain","type":"tmpfs","source":"tmpfs"}]"#,
    );
    b.run(|b| {
        crate::rootfs::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        crate::rootfs::pivot(&b.rootfs(), false).map_err(|e| e.to_string())?;
        crate::rootfs::finalize(&s).map_err(|e| e.to_string())?;
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let line = |mp: &str| {
            info.lines()
                .find(|l| l.split(' ').nth(4) == Some(mp))
                .unwrap_or("")
                .to_string()
        };
        ensure!(
            line("/shared").contains(" shared:"),
            "/shared not shared: {}",
            line("/shared")
        );
        ensure!(
            !line("/plain").contains(" shared:"),
            "/plain shared: {}",
            line("/plain")
        );
        Ok(())
    })
    .unwrap();
}
