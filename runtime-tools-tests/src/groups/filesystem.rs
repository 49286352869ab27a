//! config.md "Root" and "Mounts"; config-linux.md "Devices", "Default Devices", "Rootfs Mount
//! Propagation", "Masked Paths" and "Readonly Paths".

use crate::harness::T;
use crate::host;
use crate::Test;
use serde_json::json;
use std::path::PathBuf;

/// The tests of this module.
pub fn tests() -> Vec<Test> {
    vec![
        Test {
            group: "root",
            name: "readonly",
            run: root_readonly,
        },
        Test {
            group: "root",
            name: "writable",
            run: root_writable,
        },
        Test {
            group: "root",
            name: "propagation-shared",
            run: |t| propagation(t, "shared"),
        },
        Test {
            group: "root",
            name: "propagation-private",
            run: |t| propagation(t, "private"),
        },
        Test {
            group: "root",
            name: "propagation-slave",
            run: |t| propagation(t, "slave"),
        },
        Test {
            group: "mounts",
            name: "types-and-options",
            run: mount_options,
        },
        Test {
            group: "mounts",
            name: "order",
            run: mount_order,
        },
        Test {
            group: "mounts",
            name: "proc-outside-slash-proc",
            run: second_proc,
        },
        Test {
            group: "mounts",
            name: "bind-and-rbind",
            run: bind_rbind,
        },
        Test {
            group: "mounts",
            name: "recursive-attributes",
            run: recursive,
        },
        Test {
            group: "devices",
            name: "default-and-linux-devices",
            run: devices,
        },
        Test {
            group: "devices",
            name: "device-cgroup",
            run: device_cgroup,
        },
        Test {
            group: "masked-readonly-paths",
            name: "masked-and-readonly",
            run: masked,
        },
    ]
}

/// "readonly (bool, OPTIONAL) If true then the root filesystem MUST be read-only inside the
/// container."
fn root_readonly(t: &mut T) {
    let mut b = t.bundle();
    b.config["root"]["readonly"] = json!(true);
    t.run_checker(&b);
}

fn root_writable(t: &mut T) {
    let b = t.bundle();
    t.run_checker(&b);
}

/// "rootfsPropagation (string, OPTIONAL) sets the rootfs's mount propagation."
fn propagation(t: &mut T, p: &str) {
    let mut b = t.bundle();
    b.config["linux"]["rootfsPropagation"] = json!(p);
    t.run_checker(&b);
}

/// A host directory with a marker file and a tmpfs submount `sub` holding `subm`, mounted in the
/// runner's private mount namespace and detached on drop.
struct SourceTree {
    dir: PathBuf,
}

impl SourceTree {
    fn new(t: &T) -> Result<SourceTree, String> {
        let dir = t.suite.tmp.join("sources").join(t.id());
        std::fs::create_dir_all(dir.join("sub")).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("marker"), b"m").map_err(|e| e.to_string())?;
        host::mount_tmpfs(&dir.join("sub"), "size=1m")?;
        let tree = SourceTree { dir };
        std::fs::write(tree.dir.join("sub/subm"), b"s").map_err(|e| e.to_string())?;
        Ok(tree)
    }
    fn path(&self) -> String {
        self.dir.display().to_string()
    }
}

impl Drop for SourceTree {
    fn drop(&mut self) {
        host::umount(&self.dir.join("sub"));
    }
}

/// "type", "options": filesystem types and per-mount flags and data.
fn mount_options(t: &mut T) {
    let mut b = t.bundle();
    let src = t.suite.tmp.join("sources").join(t.id());
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("marker"), b"m").unwrap();
    let m = b.config["mounts"].as_array_mut().unwrap();
    m.push(
        json!({"destination": "/mnt/tmpfs-opts", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "noatime", "size=1m", "mode=700"]}),
    );
    m.push(json!({"destination": "/mnt/tmpfs-ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "relatime"]}));
    m.push(json!({"destination": "/mnt/bind-ro", "type": "bind", "source": src.display().to_string(), "options": ["bind", "ro", "nosuid"]}));
    m.push(json!({"destination": "/mnt/bind-rw", "type": "none", "source": src.display().to_string(), "options": ["rbind", "rw"]}));
    b.annotate(
        "rtt.expect.exists",
        "/mnt/bind-ro/marker,/mnt/bind-rw/marker",
    );
    t.run_checker(&b);
}

/// A second procfs at another destination (the spec restricts neither type nor destination).
fn second_proc(t: &mut T) {
    let mut b = t.bundle();
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/mnt/proc2", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}));
    t.run_checker(&b);
}

/// "The runtime MUST mount entries in the listed order."
fn mount_order(t: &mut T) {
    let mut b = t.bundle();
    let src = t.suite.tmp.join("sources").join(t.id());
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("marker"), b"m").unwrap();
    let m = b.config["mounts"].as_array_mut().unwrap();
    // A bind onto a directory the runtime creates inside an earlier tmpfs.
    m.push(json!({"destination": "/mnt/order", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}));
    m.push(json!({"destination": "/mnt/order/sub", "type": "bind", "source": src.display().to_string(), "options": ["bind"]}));
    // Two mounts on one destination: the later one is on top.
    m.push(json!({"destination": "/mnt/twice", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}));
    m.push(json!({"destination": "/mnt/twice", "type": "tmpfs", "source": "tmpfs", "options": ["size=2m", "mode=711"]}));
    b.annotate("rtt.expect.exists", "/mnt/order/sub/marker");
    t.run_checker(&b);
}

/// bind does not carry submounts; rbind does.
fn bind_rbind(t: &mut T) {
    let tree = match SourceTree::new(t) {
        Ok(s) => s,
        Err(e) => {
            t.check("source tree", false, || e);
            return;
        }
    };
    let mut b = t.bundle();
    let m = b.config["mounts"].as_array_mut().unwrap();
    m.push(json!({"destination": "/mnt/bind", "type": "bind", "source": tree.path(), "options": ["bind"]}));
    m.push(json!({"destination": "/mnt/rbind", "type": "bind", "source": tree.path(), "options": ["rbind"]}));
    b.annotate(
        "rtt.expect.exists",
        "/mnt/bind/marker,/mnt/rbind/marker,/mnt/rbind/sub/subm",
    );
    b.annotate("rtt.expect.absent", "/mnt/bind/sub/subm");
    t.run_checker(&b);
}

/// "rro", "rnosuid", "rnodev", "rnoexec": recursive mount attributes (mount_setattr).
fn recursive(t: &mut T) {
    let tree = match SourceTree::new(t) {
        Ok(s) => s,
        Err(e) => {
            t.check("source tree", false, || e);
            return;
        }
    };
    let mut b = t.bundle();
    let m = b.config["mounts"].as_array_mut().unwrap();
    m.push(json!({"destination": "/mnt/rro", "type": "bind", "source": tree.path(), "options": ["rbind", "rro"]}));
    m.push(
        json!({"destination": "/mnt/rflags", "type": "bind", "source": tree.path(),
        "options": ["rbind", "rnosuid", "rnodev", "rnoexec"]}),
    );
    b.annotate(
        "rtt.expect.exists",
        "/mnt/rro/sub/subm,/mnt/rflags/sub/subm",
    );
    t.run_checker(&b);
}

/// Default devices and linux.devices (type, numbers, fileMode, uid, gid).
fn devices(t: &mut T) {
    let mut b = t.bundle();
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/rtt-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1000, "gid": 1000},
        {"path": "/dev/rtt-fifo", "type": "p", "fileMode": 0o600, "uid": 0, "gid": 0},
        {"path": "/dev/rtt-loop", "type": "b", "major": 7, "minor": 200, "fileMode": 0o660, "uid": 0, "gid": 6},
        {"path": "/dev/rtt-kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600},
        {"path": "/dev/rtt-zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666}
    ]);
    b.annotate("rtt.expect.open-allowed", "/dev/rtt-zero");
    t.run_checker(&b);
}

/// The device cgroup (linux.resources.devices): denied devices cannot be opened.
fn device_cgroup(t: &mut T) {
    let mut b = t.bundle();
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/rtt-kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600},
        {"path": "/dev/rtt-zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666}
    ]);
    b.with_cgroup();
    b.config["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rw"},
        {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "rwm"}
    ]);
    b.annotate("rtt.expect.open-allowed", "/dev/rtt-zero");
    if host::cgroups() == host::Cgroups::None {
        t.skip("device cgroup denies", "host has no cgroup hierarchy");
    } else {
        b.annotate("rtt.expect.open-denied", "/dev/rtt-kmsg");
    }
    t.run_checker(&b);
}

/// maskedPaths over a directory and a file in the rootfs; readonlyPaths over a directory.
fn masked(t: &mut T) {
    let mut b = t.bundle();
    let r = b.rootfs();
    std::fs::create_dir_all(r.join("rtt-masked-dir")).unwrap();
    std::fs::write(r.join("rtt-masked-dir/secret"), b"s").unwrap();
    std::fs::write(r.join("rtt-masked-file"), b"secret").unwrap();
    std::fs::create_dir_all(r.join("rtt-ro-dir")).unwrap();
    std::fs::write(r.join("rtt-ro-dir/file"), b"f").unwrap();
    b.config["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .extend([
            json!("/rtt-masked-dir"),
            json!("/rtt-masked-file"),
            json!("/rtt-does-not-exist"),
        ]);
    b.config["linux"]["readonlyPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/rtt-ro-dir"));
    b.annotate("rtt.expect.absent", "/rtt-masked-dir/secret");
    t.run_checker(&b);
}
