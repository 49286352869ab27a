//! OCI runtime spec, config "Root", "Mounts", config-linux "Devices", "Masked Paths",
//! "Readonly Paths", "Sysctl", and config "Hostname"/"Domainname".

mod common;

use common::*;
use serde_json::json;

/// The mount options field (6th) of the mountinfo line for `dest`.
fn mount_opts(mountinfo: &str, dest: &str) -> Option<String> {
    mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(dest))
        .map(|l| l.split(' ').nth(5).unwrap().to_string())
}

#[test]
fn spec_mounts_are_present_with_their_flags() {
    let rt = Runtime::new();
    let mi = rt.output_of(&Bundle::sh("cat /proc/self/mountinfo"));
    let proc = mount_opts(&mi, "/proc").expect("proc mounted");
    assert!(proc.starts_with("rw"), "{proc}");
    let sys = mount_opts(&mi, "/sys").expect("sysfs mounted");
    for f in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(sys.split(',').any(|o| o == f), "/sys lacks {f}: {sys}");
    }
    let shm = mount_opts(&mi, "/dev/shm").expect("shm mounted");
    assert!(
        shm.contains("nosuid") && shm.contains("nodev") && shm.contains("noexec"),
        "{shm}"
    );
    assert!(mount_opts(&mi, "/dev/pts").is_some() && mount_opts(&mi, "/dev/mqueue").is_some());
    // The root is the rootfs, and nothing of the host's mount table is visible.
    assert!(
        !mi.contains("/sys/fs/cgroup/memory"),
        "host mounts leaked in:\n{mi}"
    );
}

#[test]
fn bind_mounts_honour_ro_and_relative_sources() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /data/file; echo x > /data/new && echo writable || echo readonly");
    std::fs::create_dir_all(b.dir.join("data")).unwrap();
    std::fs::write(b.dir.join("data/file"), "from-host\n").unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro"]}))
    });
    assert_eq!(rt.output_of(&b), "from-host\nreadonly\n");
}

#[test]
fn tmpfs_options_are_applied() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("stat -c %a /scratch; grep ' /scratch ' /proc/self/mountinfo");
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["mode=700", "size=1m", "noexec"]}))
    });
    let out = rt.output_of(&b);
    assert!(out.starts_with("700\n"), "{out}");
    assert!(
        out.contains("noexec") && out.contains("size=1024k"),
        "{out}"
    );
}

#[test]
fn root_readonly_makes_root_unwritable() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("touch /newfile 2>&1 || echo denied; touch /dev/shm/ok && echo shm-ok");
    b.edit(|c| c["root"]["readonly"] = json!(true));
    let out = rt.output_of(&b);
    assert!(
        out.contains("Read-only file system") && out.contains("denied"),
        "{out}"
    );
    assert!(out.contains("shm-ok"), "{out}");
}

#[test]
fn masked_and_readonly_paths() {
    let rt = Runtime::new();
    // /proc/timer_list is readable on the host (as root) and masked by the spec.
    assert!(std::fs::read("/proc/timer_list")
        .map(|b| !b.is_empty())
        .unwrap_or(false));
    let b = Bundle::sh("wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo 1 > /proc/sysrq-trigger 2>&1 || echo ro-denied");
    let out = rt.output_of(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].trim(),
        "0",
        "/proc/timer_list must read empty: {out}"
    );
    assert_eq!(lines[1].trim(), "0", "/sys/firmware must be empty: {out}");
    assert!(out.contains("ro-denied"), "{out}");
}

#[test]
fn default_and_spec_devices_exist() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("for d in null zero full random urandom tty fuse; do stat -c '%n %t:%T %a' /dev/$d; done; for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done");
    b.edit(|c| {
        c["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}])
    });
    let out = rt.output_of(&b);
    for want in [
        "/dev/null 1:3 666",
        "/dev/zero 1:5 666",
        "/dev/full 1:7 666",
        "/dev/random 1:8 666",
        "/dev/urandom 1:9 666",
        "/dev/tty 5:0 666",
        "/dev/fuse a:e5 666",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    for link in [
        "pts/ptmx",
        "/proc/self/fd",
        "/proc/self/fd/0",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
    ] {
        assert!(
            out.lines().any(|l| l == link),
            "missing link {link} in:\n{out}"
        );
    }
}

#[test]
fn hostname_domainname_and_sysctl() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("hostname; cat /proc/sys/kernel/domainname; cat /proc/sys/net/ipv4/ip_forward; cat /proc/sys/kernel/shmmni");
    b.edit(|c| {
        c["hostname"] = json!("box");
        c["domainname"] = json!("example.org");
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
        // /proc/sys is read-only in the container; the sysctls are written before that.
    });
    assert_eq!(rt.output_of(&b), "box\nexample.org\n1\n1234\n");
}

#[test]
fn hostile_destinations_stay_inside_the_rootfs() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("ls /escape-sym /evil");
    // A symlink in the rootfs to the host's /etc, and a `..` walk out of it.
    std::os::unix::fs::symlink("/etc", b.rootfs().join("escape-sym")).unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/escape-sym", "type": "tmpfs", "source": "tmpfs"}));
        m.push(json!({"destination": "/../../../../evil", "type": "tmpfs", "source": "tmpfs"}));
    });
    let before = host_mounts();
    let out = rt.output_of(&b);
    assert_eq!(host_mounts(), before);
    // Both tmpfs landed inside: /etc inside the rootfs and /evil at its top.
    assert!(
        b.rootfs().join("etc").is_dir() && b.rootfs().join("evil").is_dir(),
        "{out}"
    );
    assert!(!std::path::Path::new("/evil").exists());
}

#[test]
fn no_pivot_chroots_into_the_rootfs() {
    let rt = Runtime::new();
    let b = Bundle::sh("ls /; cat /proc/self/mountinfo | wc -l");
    let out = rt.cmd(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.dir.to_str().unwrap(),
        &unique("nopivot"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // The rootfs is the root: the host's top-level directories are not there.
    assert!(
        stdout.contains("bin\n") && !stdout.contains("work\n") && !stdout.contains("usr\n"),
        "{stdout}"
    );
}

/// config.md mounts, runc's `tmpcopyup` (podman's `--read-only` uses it): the tmpfs
/// starts with a copy of the directory it covers, and writes stay in the tmpfs.
#[test]
fn tmpcopyup_fills_the_tmpfs_from_the_directory_below() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("grep -c root /etc/passwd; echo new > /etc/added; stat -c %a /etc; grep tmpfs /proc/self/mountinfo | grep -c ' /etc '");
    b.edit(|c| {
        c["root"]["readonly"] = serde_json::json!(true);
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!(
            {"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "nosuid"]}
        ));
    });
    let out = rt.output_of(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_ne!(lines[0], "0", "passwd was copied: {out}");
    assert_eq!(lines[2], "1", "/etc is a tmpfs: {out}");
    assert!(
        !b.rootfs().join("etc/added").exists(),
        "the write stayed in the tmpfs"
    );
    let mode = std::fs::metadata(b.rootfs().join("etc")).unwrap();
    assert_eq!(
        lines[1],
        format!(
            "{:o}",
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o7777
        ),
        "the directory's mode carries over"
    );
}
