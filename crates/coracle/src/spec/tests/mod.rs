//! Tests of config.json loading: good configs accepted, bad ones named by field.

mod malformed;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{default_spec, load, parse, SpecError};

/// A unique bundle directory with a `rootfs/` subdirectory, removed on drop.
pub(super) struct TempBundle(pub PathBuf);

impl TempBundle {
    pub fn new() -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "coracle-spec-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        TempBundle(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempBundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Parse a JSON value in a fresh bundle.
pub(super) fn parse_value(v: &Value) -> Result<super::Bundle, SpecError> {
    let b = TempBundle::new();
    parse(&serde_json::to_vec(v).unwrap(), b.path())
}

/// Set the member at a JSON pointer, creating it in its (existing) parent.
pub(super) fn set(doc: &mut Value, ptr: &str, val: Value) {
    let (parent, last) = ptr.rsplit_once('/').unwrap();
    let last = last.replace("~1", "/").replace("~0", "~");
    match doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no parent {parent}"))
    {
        Value::Object(m) => {
            m.insert(last, val);
        }
        Value::Array(a) => {
            let i: usize = last.parse().unwrap();
            if i == a.len() {
                a.push(val);
            } else {
                a[i] = val;
            }
        }
        other => panic!("parent of {ptr} is {other}"),
    }
}

/// Remove the member at a JSON pointer.
pub(super) fn del(doc: &mut Value, ptr: &str) {
    let (parent, last) = ptr.rsplit_once('/').unwrap();
    match doc.pointer_mut(parent).unwrap() {
        Value::Object(m) => {
            m.remove(last).unwrap_or_else(|| panic!("no member {ptr}"));
        }
        Value::Array(a) => {
            a.remove(last.parse().unwrap());
        }
        other => panic!("parent of {ptr} is {other}"),
    }
}

const ALL_CAPS: &[&str] = super::tables::CAPABILITIES;

/// A config that sets every field we know, to valid values.
pub(super) fn every_field() -> Value {
    json!({
        "ociVersion": "1.9.0",
        "process": {
            "terminal": true,
            "consoleSize": { "height": 24, "width": 80 },
            "user": { "uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 6] },
            "args": ["/bin/sh", "-c", "true"],
            "env": ["PATH=/bin", "EMPTY=", "EQ=a=b"],
            "cwd": "/tmp/../",
            "capabilities": {
                "bounding": ALL_CAPS, "effective": ALL_CAPS, "inheritable": ALL_CAPS,
                "permitted": ALL_CAPS, "ambient": ALL_CAPS
            },
            "rlimits": [
                { "type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024 },
                { "type": "RLIMIT_CORE", "hard": 0, "soft": 0 },
                { "type": "RLIMIT_AS", "hard": 18446744073709551615u64, "soft": 18446744073709551615u64 }
            ],
            "noNewPrivileges": true,
            "apparmorProfile": "coracle-default",
            "selinuxLabel": "system_u:system_r:container_t:s0:c1,c2",
            "oomScoreAdj": -1000,
            "ioPriority": { "class": "IOPRIO_CLASS_BE", "priority": 4 },
            "scheduler": { "policy": "SCHED_OTHER", "nice": 5 }
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "every",
        "domainname": "field.example",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/data/../data", "type": "bind", "source": "/tmp", "options": ["rbind", "ro"] },
            { "destination": "/idmapped", "type": "bind", "source": "/tmp", "options": ["bind"],
              "uidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }],
              "gidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }] }
        ],
        "hooks": {
            "prestart": [{ "path": "/bin/true" }],
            "createRuntime": [{ "path": "/bin/true", "args": ["true"], "env": ["A=1"], "timeout": 5 }],
            "createContainer": [{ "path": "/bin/true" }],
            "startContainer": [{ "path": "/bin/true" }],
            "poststart": [{ "path": "/bin/true" }],
            "poststop": [{ "path": "/bin/true", "timeout": 1 }]
        },
        "annotations": { "org.example.key": "value" },
        "linux": {
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "mount" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "user" }, { "type": "cgroup" }, { "type": "time", "path": "" }
            ],
            "uidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }],
            "gidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }],
            "timeOffsets": { "monotonic": { "secs": 10, "nanosecs": 0 }, "boottime": { "secs": -5 } },
            "sysctl": {
                "kernel.shmmax": "4096", "fs.mqueue.msg_max": "10",
                "net.ipv4.ip_forward": "1", "kernel.domainname": "example.org"
            },
            "devices": [
                { "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0 },
                { "path": "/dev/loop9", "type": "b", "major": 7, "minor": 9 },
                { "path": "/dev/myfifo", "type": "p" }
            ],
            "resources": {
                "devices": [{ "allow": false, "access": "rwm" }, { "allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw" }],
                "memory": { "limit": 536870912, "reservation": 268435456, "swap": 1073741824 },
                "cpu": { "shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0" },
                "pids": { "limit": 100 },
                "blockIO": { "weight": 500 },
                "hugepageLimits": [{ "pageSize": "2MB", "limit": 0 }],
                "unified": { "memory.high": "max" }
            },
            "cgroupsPath": "/coracle/every",
            "seccomp": {
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{ "names": ["read", "write"], "action": "SCMP_ACT_ALLOW" }]
            },
            "rootfsPropagation": "rslave",
            "maskedPaths": ["/proc/kcore", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys"],
            "mountLabel": "system_u:object_r:container_file_t:s0",
            "personality": { "domain": "LINUX" }
        }
    })
}

#[test]
fn default_spec_is_accepted() {
    let b = parse_value(&default_spec()).unwrap();
    assert_eq!(b.spec.hostname().as_deref(), Some("coracle"));
    assert_eq!(b.spec.version(), crate::OCI_VERSION);
}

/// runc's template minus what this build refuses for now (cgroup resources, terminals).
#[test]
fn default_spec_mirrors_runc_spec_template() {
    let golden: Value =
        serde_json::from_str(include_str!("../testdata/runc-1.1.5-spec.json")).unwrap();
    let mut ours = default_spec();
    set(&mut ours, "/ociVersion", json!("1.0.2-dev"));
    set(&mut ours, "/hostname", json!("runc"));
    assert_eq!(ours, golden);
}

#[test]
fn default_spec_mirrors_installed_runc() {
    let b = TempBundle::new();
    let st = std::process::Command::new("runc")
        .arg("spec")
        .current_dir(b.path())
        .status()
        .expect("runc is installed (the golden-file test covers machines without it)");
    assert!(st.success());
    let bytes = std::fs::read(b.path().join("config.json")).unwrap();
    let mut theirs: Value = serde_json::from_slice(&bytes).unwrap();
    set(&mut theirs, "/ociVersion", json!(crate::OCI_VERSION));
    set(&mut theirs, "/hostname", json!("coracle"));
    assert_eq!(default_spec(), theirs);
    // And runc's own template loads, relative rootfs and all.
    let loaded = load(b.path()).unwrap();
    assert_eq!(
        loaded.rootfs,
        b.path().join("rootfs").canonicalize().unwrap()
    );
}

#[test]
fn every_field_is_accepted() {
    let b = parse_value(&every_field()).unwrap();
    let p = b.spec.process().as_ref().unwrap();
    assert_eq!(p.user().uid(), 1000);
    let caps = p.capabilities().as_ref().unwrap();
    assert_eq!(caps.bounding().as_ref().unwrap().len(), ALL_CAPS.len());
    assert_eq!(b.spec.mounts().as_ref().unwrap().len(), 3);
    assert_eq!(
        b.spec
            .linux()
            .as_ref()
            .unwrap()
            .sysctl()
            .as_ref()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn oci_versions_1_x_are_accepted() {
    for v in [
        "1.0.0",
        "1.0.2-dev",
        "1.1.0",
        "1.2.0",
        "1.9.0",
        "1.0.0-rc5+dev.1",
        "1.10.100",
    ] {
        let mut doc = default_spec();
        set(&mut doc, "/ociVersion", json!(v));
        parse_value(&doc).unwrap_or_else(|e| panic!("{v}: {e}"));
    }
}

#[test]
fn semver_parser() {
    use super::validate::semver_major;
    assert_eq!(semver_major("1.0.2-dev"), Some(1));
    assert_eq!(semver_major("2.0.0"), Some(2));
    assert_eq!(semver_major("0.5.0+build.7"), Some(0));
    for bad in [
        "",
        "1",
        "1.0",
        "1.0.0.0",
        "01.0.0",
        "1.0.0-",
        "1.0.0+",
        "1..0",
        "v1.0.0",
        "1.0.0-a..b",
        "1.0.x",
    ] {
        assert_eq!(semver_major(bad), None, "{bad}");
    }
}

#[test]
fn bundle_and_rootfs_are_canonical() {
    let b = TempBundle::new();
    // A symlink to the bundle and a rootfs reached through `..`: both come back canonical.
    let link = b.path().with_extension("link");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(b.path(), &link).unwrap();
    let mut doc = default_spec();
    set(&mut doc, "/root/path", json!("./rootfs/../rootfs"));
    let got = parse(&serde_json::to_vec(&doc).unwrap(), &link);
    std::fs::remove_file(&link).unwrap();
    let got = got.unwrap();
    let canon = b.path().canonicalize().unwrap();
    assert_eq!(got.dir, canon);
    assert_eq!(got.rootfs, canon.join("rootfs"));
    assert!(got.dir.is_absolute() && got.rootfs.is_absolute());
}

#[test]
fn absolute_root_path_is_used_as_is() {
    let b = TempBundle::new();
    let elsewhere = TempBundle::new();
    let mut doc = default_spec();
    set(
        &mut doc,
        "/root/path",
        json!(elsewhere.path().join("rootfs")),
    );
    let got = parse(&serde_json::to_vec(&doc).unwrap(), b.path()).unwrap();
    assert_eq!(
        got.rootfs,
        elsewhere.path().join("rootfs").canonicalize().unwrap()
    );
}

#[test]
fn load_reads_config_json_and_names_missing_file() {
    let b = TempBundle::new();
    let err = load(b.path()).unwrap_err();
    assert!(matches!(err, SpecError::Read { .. }));
    let msg = err.to_string();
    assert!(
        msg.ends_with("config.json: No such file or directory (ENOENT)"),
        "{msg}"
    );
    std::fs::write(
        b.path().join("config.json"),
        serde_json::to_vec(&default_spec()).unwrap(),
    )
    .unwrap();
    assert_eq!(load(b.path()).unwrap().spec.version(), crate::OCI_VERSION);
}

#[test]
fn missing_bundle_is_named() {
    let err = parse(
        &serde_json::to_vec(&default_spec()).unwrap(),
        Path::new("/nonexistent/coracle-bundle"),
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("bundle"));
    assert!(err.to_string().contains("ENOENT"), "{err}");
}

#[test]
fn net_sysctl_in_a_joined_netns_that_is_not_the_hosts() {
    // A thread that unshares its network namespace: its ns file is a netns that
    // is not ours, and it disappears with the thread.
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        tx.send(format!(
            "/proc/{}/task/{}/ns/net",
            std::process::id(),
            nix::unistd::gettid()
        ))
        .unwrap();
        let _ = done_rx.recv();
    });
    let path = rx.recv().unwrap();
    let mut doc = default_spec();
    set(
        &mut doc,
        "/linux/namespaces/1",
        json!({ "type": "network", "path": path }),
    );
    set(
        &mut doc,
        "/linux/sysctl",
        json!({ "net.ipv4.ip_forward": "1" }),
    );
    let got = parse_value(&doc);
    done_tx.send(()).unwrap();
    t.join().unwrap();
    got.unwrap();
}

#[test]
fn joined_user_namespace_ignores_missing_mappings() {
    let mut doc = default_spec();
    set(
        &mut doc,
        "/linux/namespaces/5",
        json!({ "type": "user", "path": "/proc/1/ns/user" }),
    );
    parse_value(&doc).unwrap();
}

#[test]
fn mount_destination_with_dotdot_is_syntactically_fine() {
    let mut doc = default_spec();
    set(
        &mut doc,
        "/mounts/7",
        json!({ "destination": "/../../etc", "type": "tmpfs", "source": "tmpfs" }),
    );
    parse_value(&doc).unwrap();
}

/// Writes the fuzz seeds (`fuzz/seeds/config/`) from the configs these tests use:
/// `CORACLE_FUZZ_SEEDS=fuzz/seeds/config cargo test -p coracle write_fuzz_seeds -- --ignored`.
#[test]
#[ignore = "writes files; run by hand to refresh the fuzz seeds"]
fn write_fuzz_seeds() {
    let dir = PathBuf::from(std::env::var("CORACLE_FUZZ_SEEDS").expect("CORACLE_FUZZ_SEEDS"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut seeds = vec![
        ("default.json", default_spec()),
        ("every-field.json", every_field()),
        (
            "runc-1.1.5.json",
            serde_json::from_str(include_str!("../testdata/runc-1.1.5-spec.json")).unwrap(),
        ),
    ];
    let mut userns = default_spec();
    set(
        &mut userns,
        "/linux/namespaces/5",
        json!({ "type": "user" }),
    );
    set(
        &mut userns,
        "/linux/uidMappings",
        json!([{ "containerID": 0, "hostID": 1000, "size": 1 }]),
    );
    set(
        &mut userns,
        "/linux/gidMappings",
        json!([{ "containerID": 0, "hostID": 1000, "size": 1 }]),
    );
    seeds.push(("userns.json", userns));
    let mut joined = default_spec();
    set(
        &mut joined,
        "/linux/namespaces/1/path",
        json!("/proc/self/ns/net"),
    );
    set(
        &mut joined,
        "/linux/sysctl",
        json!({ "net.ipv4.ip_forward": "1", "kernel.shmmax": "1" }),
    );
    seeds.push(("joined-netns-sysctl.json", joined));
    for (name, v) in seeds {
        std::fs::write(dir.join(name), serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }
    std::fs::write(
        dir.join("truncated.json"),
        b"{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [",
    )
    .unwrap();
}
