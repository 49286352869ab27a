//! The v1 devices controller on this (hybrid) host: rules applied to a throwaway
//! cgroup, read back from devices.list, and enforced on a forked child moved into it.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{mknod, Mode, SFlag};
use serde_json::json;

use super::super::{apply_v1, container_rules};
use super::support::{in_cgroup, open_errno, TempCgroup};
use super::{deny_all, spec_devices, spec_rules};

const V1_DEVICES: &str = "/sys/fs/cgroup/devices";

/// The v1 devices hierarchy, or None (with a note) where there is none, as in the pure
/// v2 guest, which runs this binary filtered on `devices` too.
fn v1_root() -> Option<&'static Path> {
    let root = Path::new(V1_DEVICES);
    let is_v1 = nix::sys::statfs::statfs(root)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP_SUPER_MAGIC)
        .unwrap_or(false);
    if is_v1 && root.join("devices.list").exists() {
        Some(root)
    } else {
        eprintln!("SKIPPED kernel part: no cgroup v1 devices hierarchy at {V1_DEVICES} (pure cgroup v2 host)");
        None
    }
}

fn sorted(list: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = list.lines().collect();
    lines.sort_unstable();
    lines
}

fn list_of(cg: &TempCgroup) -> String {
    std::fs::read_to_string(cg.path().join("devices.list")).unwrap()
}

#[test]
fn v1_denied_device_cannot_be_opened_and_allowed_ones_can() {
    let Some(root) = v1_root() else { return };
    let cg = TempCgroup::new(root);
    // The spec's own /dev/full drops runc's default rule for it, so it ends up denied.
    let devices = spec_devices(json!([{"path": "/dev/full", "type": "c", "major": 1, "minor": 7}]));
    apply_v1(cg.path(), &container_rules(&deny_all(), &devices)).unwrap();
    assert_eq!(
        list_of(&cg),
        "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\n\
         c 5:2 rwm\nc 10:200 rwm\nc 136:* rwm\n"
    );
    let got = in_cgroup(&cg, || {
        vec![
            open_errno("/dev/full", libc::O_WRONLY),
            open_errno("/dev/null", libc::O_RDWR),
            open_errno("/dev/zero", libc::O_RDONLY),
        ]
    });
    assert_eq!(
        got,
        [Errno::EPERM as i32, 0, 0],
        "open /dev/full, /dev/null, /dev/zero"
    );
    // The test process itself, outside the cgroup, still can.
    assert_eq!(open_errno("/dev/full", libc::O_WRONLY), 0);
}

#[test]
fn v1_mknod_of_a_denied_device_is_refused() {
    let Some(root) = v1_root() else { return };
    let cg = TempCgroup::new(root);
    let rules = spec_rules(json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    ]));
    apply_v1(cg.path(), &rules).unwrap();
    assert_eq!(list_of(&cg), "c 1:3 rwm\n");
    let dir = TempDir::new();
    let (denied, allowed) = (dir.0.join("full"), dir.0.join("null"));
    let got = in_cgroup(&cg, || {
        let node = |p: &Path, minor| {
            let dev = nix::sys::stat::makedev(1, minor);
            match mknod(p, SFlag::S_IFCHR, Mode::from_bits_truncate(0o600), dev) {
                Ok(()) => 0,
                Err(e) => e as i32,
            }
        };
        vec![node(&denied, 7), node(&allowed, 3)]
    });
    assert_eq!(got, [Errno::EPERM as i32, 0], "mknod c 1:7, c 1:3");
    assert!(!denied.exists());
    assert!(allowed.exists());
}

#[test]
fn v1_update_rewrites_the_list_exactly() {
    let Some(root) = v1_root() else { return };
    let cg = TempCgroup::new(root);
    apply_v1(cg.path(), &container_rules(&deny_all(), &[])).unwrap();
    let mut rules = deny_all();
    rules.extend(spec_rules(json!([
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
        {"allow": true, "type": "b", "major": 7, "access": "r"},
    ])));
    apply_v1(cg.path(), &container_rules(&rules, &[])).unwrap();
    // The kernel appends new exceptions: compare as sets.
    assert_eq!(
        sorted(&list_of(&cg)),
        sorted(
            "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\n\
             c 5:0 rwm\nc 5:2 rwm\nb 7:* r\nc 10:200 rwm\nc 10:229 rw\nc 136:* rwm\n"
        )
    );
    // Back: the two extra exceptions go, nothing else is rewritten.
    apply_v1(cg.path(), &container_rules(&deny_all(), &[])).unwrap();
    assert!(!list_of(&cg).contains("10:229") && !list_of(&cg).contains("b 7:*"));
    // Allow-all, then deny-all again.
    apply_v1(
        cg.path(),
        &spec_rules(json!([{"allow": true, "access": "rwm"}])),
    )
    .unwrap();
    assert_eq!(list_of(&cg), "a *:* rwm\n");
    apply_v1(cg.path(), &deny_all()).unwrap();
    assert_eq!(list_of(&cg), "");
}

#[test]
fn v1_rule_the_parent_forbids_fails_naming_file_and_errno() {
    let Some(root) = v1_root() else { return };
    let parent = TempCgroup::new(root);
    apply_v1(parent.path(), &deny_all()).unwrap();
    let child = TempCgroup::new(parent.path());
    let rules = spec_rules(json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    ]));
    let err = apply_v1(child.path(), &rules).unwrap_err().to_string();
    let want = format!(
        "write \"c 1:3 rwm\" to {}: Operation not permitted (EPERM)",
        child.path().join("devices.allow").display()
    );
    assert_eq!(err, want);
}

/// A temporary directory for device nodes, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "coracle-devices-{}-{}",
            std::process::id(),
            super::support::unique()
        ));
        std::fs::create_dir(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
