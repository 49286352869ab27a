//! prepare + pivot + finalize on the real kernel. Each test forks a child that
//! unshares its mount namespace and makes `/` rprivate before anything else, so
//! nothing can reach the host; the child checks what it sees from inside and
//! reports over a pipe; the parent asserts, checks the host's mount table has
//! no trace of the bundle, and removes it.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, pipe2, ForkResult};
use oci_spec::runtime::Spec;

use super::pivot::parse_mountinfo_line;
use crate::sys::testing::{exit_now, fork};

type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// A bundle directory under /tmp: `rootfs/` plus whatever the test adds.
struct Bundle(PathBuf);

impl Bundle {
    fn new(tag: &str) -> Bundle {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = PathBuf::from(format!(
            "/tmp/coracle-rootfs-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        for d in ["rootfs/etc", "rootfs/tmp", "rootfs/bin"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        fs::copy("/bin/busybox", dir.join("rootfs/bin/busybox")).unwrap();
        fs::write(dir.join("rootfs/marker"), b"inside").unwrap();
        Bundle(dir)
    }
    fn rootfs(&self) -> PathBuf {
        self.0.join("rootfs")
    }
    /// Run `f` in a child with its own mount namespace and cwd at the bundle.
    fn run(&self, f: impl FnOnce(&Bundle) -> Check) -> Check {
        let (r, w) = pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        match fork().unwrap() {
            ForkResult::Child => {
                drop(r);
                let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare: {e}"))?;
                    mount(
                        None::<&str>,
                        "/",
                        None::<&str>,
                        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                        None::<&str>,
                    )
                    .map_err(|e| format!("rprivate: {e}"))?;
                    chdir(&self.0).map_err(|e| format!("chdir: {e}"))?;
                    f(self)
                }));
                let msg = match res {
                    Ok(Ok(())) => String::new(),
                    Ok(Err(e)) => e,
                    Err(p) => p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".into()),
                };
                let _ = fs::File::from(w).write_all(msg.as_bytes());
                exit_now(if msg.is_empty() { 0 } else { 1 });
            }
            ForkResult::Parent { child } => {
                drop(w);
                let mut msg = String::new();
                fs::File::from(r).read_to_string(&mut msg).unwrap();
                let status = waitpid(child, None).unwrap();
                let leaked = fs::read_to_string("/proc/self/mountinfo")
                    .unwrap()
                    .contains(self.0.to_str().unwrap());
                assert!(
                    !leaked,
                    "a mount of {} leaked to the host",
                    self.0.display()
                );
                if !msg.is_empty() {
                    return Err(msg);
                }
                assert_eq!(status, WaitStatus::Exited(child, 0));
                Ok(())
            }
        }
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn spec(json: &str) -> Spec {
    let root = if json.contains(r#""root":"#) {
        ""
    } else {
        r#""root":{"path":"rootfs"},"#
    };
    let full = format!(r#"{{"ociVersion":"1.2.0",{root}{json}}}"#);
    serde_json::from_str(&full).unwrap_or_else(|e| panic!("{e}: {full}"))
}

/// (per-mount options, fs type, super options) of the top mount at `mp`.
fn mountinfo(mp: &str) -> Option<(String, String, String)> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .rfind(|l| parse_mountinfo_line(l).is_some_and(|(p, _)| p == Path::new(mp)))
        .map(|l| {
            let (pre, post) = l.split_once(" - ").unwrap();
            let opts = pre.split(' ').nth(5).unwrap().to_string();
            let mut post = post.split(' ');
            let fstype = post.next().unwrap().to_string();
            let sopts = post.nth(1).unwrap_or("").to_string();
            (opts, fstype, sopts)
        })
}

fn has_opt(opts: &str, o: &str) -> bool {
    opts.split(',').any(|x| x == o)
}

fn write_errno(path: &str) -> Option<Errno> {
    fs::write(path, b"x")
        .err()
        .map(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
}

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
        super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        super::pivot(&b.rootfs(), false).map_err(|e| e.to_string())?;
        super::finalize(&s).map_err(|e| e.to_string())?;
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
        super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        super::pivot(&b.rootfs(), false).map_err(|e| e.to_string())?;
        super::finalize(&s).map_err(|e| e.to_string())?;
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
        super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        super::pivot(&b.rootfs(), false).map_err(|e| e.to_string())?;
        super::finalize(&s).map_err(|e| e.to_string())?;
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
        super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
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
        .run(|b| super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
        .unwrap_err();
    assert_eq!(
        err,
        "mounts[1].destination: /proc/sys cannot be mounted because it is inside /proc"
    );
    let s = spec(r#""mounts":[{"destination":"/proc","type":"tmpfs","source":"tmpfs"}]"#);
    let err = b
        .run(|b| super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
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
        .run(|b| super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
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
        .run(|b| super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
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
        .run(|b| super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
        .unwrap_err();
    assert_eq!(err, "mounts[0].options: idmapped mounts are not supported");
    let s = spec(r#""linux":{"mountLabel":"system_u:object_r:container_file_t:s0"}"#);
    let err = b
        .run(|b| super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string()))
        .unwrap_err();
    assert_eq!(err, "linux.mountLabel: selinux is not enabled");
}

#[test]
fn devices_in_userns_mode_are_bind_mounts_of_host_nodes() {
    let b = Bundle::new("userns-dev");
    let s = spec(
        r#""mounts":[{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["mode=755"]}]"#,
    );
    b.run(|b| {
        super::prepare(&s, &b.rootfs(), true).map_err(|e| e.to_string())?;
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
        super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
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
            super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
            super::pivot(&b.rootfs(), false).map_err(|e| e.to_string())?;
            super::finalize(&s).map_err(|e| e.to_string())
        })
        .unwrap_err();
    assert_eq!(
        err,
        "linux.maskedPaths: /dev/null is not the null device (char 1:3)"
    );
}

#[test]
fn no_pivot_moves_rootfs_to_slash() {
    let b = Bundle::new("nopivot");
    let s = spec(r#""mounts":[{"destination":"/proc","type":"proc","source":"proc"}]"#);
    b.run(|b| {
        super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        super::pivot(&b.rootfs(), true).map_err(|e| e.to_string())?;
        super::finalize(&s).map_err(|e| e.to_string())?;
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
        super::prepare(&s, &b.rootfs(), false).map_err(|e| e.to_string())?;
        super::pivot(&b.rootfs(), false).map_err(|e| e.to_string())?;
        super::finalize(&s).map_err(|e| e.to_string())?;
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
