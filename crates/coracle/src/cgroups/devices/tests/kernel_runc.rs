//! Cross-check with runc on pure cgroup v2: the device filter runc attaches for its own
//! default spec is, instruction for instruction (as the kernel holds both after
//! verification), the one we generate for the same spec.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::super::program::generate;
use super::super::v2::load;
use super::super::{attached, checked_rules, container_rules, target};
use super::deny_all;
use super::support::unique;
use crate::sys::bpf;

const RUNC: &str = "/usr/sbin/runc";

/// A runc container in `create` state, deleted (with its bundle) on drop.
struct RuncContainer {
    root: PathBuf,
    bundle: PathBuf,
    id: String,
}

impl RuncContainer {
    fn create(cgroup: &str) -> RuncContainer {
        let tag = format!("{}-{}", std::process::id(), unique());
        // Guest tmpfs: FIFOs do not work on the 9p shares.
        let c = RuncContainer {
            root: PathBuf::from(format!("/run/coracle-devtest-runc-{tag}")),
            bundle: PathBuf::from(format!("/run/coracle-devtest-bundle-{tag}")),
            id: format!("coracle-devtest-{tag}"),
        };
        let bin = c.bundle.join("rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", bin.join("sleep")).unwrap();
        let ok = Command::new(RUNC)
            .arg("spec")
            .current_dir(&c.bundle)
            .status()
            .unwrap();
        assert!(ok.success(), "runc spec");
        let path = c.bundle.join("config.json");
        let mut spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        spec["process"]["terminal"] = false.into();
        spec["process"]["args"] = serde_json::json!(["sleep", "60"]);
        spec["linux"]["cgroupsPath"] = cgroup.into();
        // runc's template: exactly the rule our expectation is built from.
        assert_eq!(
            spec["linux"]["resources"]["devices"],
            serde_json::json!([{"allow": false, "access": "rwm"}])
        );
        std::fs::write(&path, serde_json::to_vec(&spec).unwrap()).unwrap();
        // The container's init inherits runc's stdio: no pipes, or waiting for their
        // end would wait for the container.
        let log = c.bundle.join("create.err");
        let status = Command::new(RUNC)
            .arg("--root")
            .arg(&c.root)
            .args(["create", "-b"])
            .arg(&c.bundle)
            .arg(&c.id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "runc create: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        c
    }
}

impl Drop for RuncContainer {
    fn drop(&mut self) {
        let _ = Command::new(RUNC)
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "-f", &self.id])
            .status();
        let _ = std::fs::remove_dir_all(&self.bundle);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[test]
fn v2_filter_is_runcs_instruction_for_instruction() {
    let unified = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap();
    if !unified {
        eprintln!(
            "SKIPPED kernel part: /sys/fs/cgroup is not cgroup2 here; run in the pure v2 guest"
        );
        return;
    }
    if !Path::new(RUNC).exists() {
        eprintln!("SKIPPED: {RUNC} is not installed");
        return;
    }
    let cgroup = format!("/coracle-devtest-runc-{}-{}", std::process::id(), unique());
    let container = RuncContainer::create(&cgroup);
    let dir = nix::fcntl::open(
        Path::new("/sys/fs/cgroup")
            .join(cgroup.trim_start_matches('/'))
            .as_path(),
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    let theirs = attached(dir.as_fd()).unwrap();
    assert_eq!(theirs.len(), 1, "runc attaches one filter");
    let theirs = bpf::prog_xlated(theirs[0].as_fd()).unwrap();

    let rules = container_rules(&deny_all(), &[]);
    let ours = load(&generate(&target(&checked_rules(&rules).unwrap()).unwrap())).unwrap();
    let ours = bpf::prog_xlated(ours.as_fd()).unwrap();
    // Prologue 6, b/c *:* m 6 each, eight c N:M rwm 5 each, c 136:* rwm 4, default 2.
    assert_eq!(ours.len(), 64);
    assert_eq!(ours, theirs);
    drop(container);
}
