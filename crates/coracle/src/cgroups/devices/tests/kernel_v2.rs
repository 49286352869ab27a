//! The eBPF device filter against a real kernel. Loading runs everywhere (the verifier
//! does not care about the cgroup mode); attaching and enforcing needs a pure cgroup v2
//! host: run this binary filtered on `devices` in the guest of
//! /work/shared/vm/run-in-vm.sh (see the report / scripts/vm-tests.sh).

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{mknod, Mode, SFlag};
use serde_json::json;

use super::super::program::generate;
use super::super::v2::load;
use super::super::{
    apply_v2, attached, checked_rules, container_rules, target, DeviceError, PROGRAM_NAME,
};
use super::support::{in_cgroup, open_errno, unique, TempCgroup};
use super::{deny_all, spec_devices, spec_rules};
use crate::sys::bpf::{self, Insn};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The unified root when this is a pure v2 host; otherwise None after saying why, and
/// after checking that this really is not one (so the VM run cannot skip by mistake).
fn v2_root() -> Option<&'static Path> {
    let root = Path::new(CGROUP_ROOT);
    let fs = nix::sys::statfs::statfs(root)
        .expect("statfs /sys/fs/cgroup")
        .filesystem_type();
    if fs == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
        return Some(root);
    }
    let hybrid = Path::new("/sys/fs/cgroup/devices/devices.list").exists();
    assert!(
        hybrid || fs == nix::sys::statfs::TMPFS_MAGIC,
        "/sys/fs/cgroup is neither cgroup2 nor a v1 tmpfs: {fs:?}"
    );
    eprintln!(
        "SKIPPED kernel part: /sys/fs/cgroup is not cgroup2 here (v1 or hybrid, devices controller on v1: {hybrid}); \
         run this test in the pure v2 guest (/work/shared/vm/run-in-vm.sh)"
    );
    None
}

fn dir_fd(path: &Path) -> OwnedFd {
    nix::fcntl::open(
        path,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .unwrap()
}

/// (id, name) of the device programs attached to the cgroup.
fn programs(cg: &OwnedFd) -> Vec<(u32, String)> {
    attached(cg.as_fd())
        .unwrap()
        .iter()
        .map(|fd| {
            let info = bpf::prog_info(fd.as_fd()).unwrap();
            assert_eq!(info.prog_type, bpf::PROG_TYPE_CGROUP_DEVICE);
            (info.id, info.name)
        })
        .collect()
}

#[test]
fn v2_generated_programs_pass_this_kernels_verifier() {
    let mut mixed = deny_all();
    mixed.extend(spec_rules(json!([
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
        {"allow": true, "type": "b", "major": 8, "access": "r"},
    ])));
    let sets = [
        container_rules(&deny_all(), &[]),
        container_rules(&mixed, &[]),
        deny_all(),
        spec_rules(
            json!([{"allow": true, "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 7, "access": "w"}]),
        ),
    ];
    for rules in sets {
        let prog = load(&generate(&target(&checked_rules(&rules).unwrap()).unwrap())).unwrap();
        let info = bpf::prog_info(prog.as_fd()).unwrap();
        assert_eq!(
            (info.prog_type, info.name.as_str()),
            (bpf::PROG_TYPE_CGROUP_DEVICE, PROGRAM_NAME)
        );
    }
}

#[test]
fn v2_rejected_program_reports_the_verifier_message() {
    // exit without setting r0: the verifier refuses to read an uninitialised register.
    let bad = [Insn {
        code: super::super::program::EXIT,
        regs: 0,
        off: 0,
        imm: 0,
    }];
    match load(&bad) {
        Err(e @ DeviceError::Verifier { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with("bpf BPF_PROG_LOAD (device filter, 1 instructions): "),
                "{msg}"
            );
            assert!(msg.ends_with(": verifier: R0 !read_ok"), "{msg}");
        }
        other => panic!("expected a verifier error, got {other:?}"),
    }
}

#[test]
fn v2_filter_denies_full_allows_null_and_update_replaces_it() {
    let Some(root) = v2_root() else { return };
    let cg = TempCgroup::new(root);
    let fd = dir_fd(cg.path());
    assert!(programs(&fd).is_empty());

    // /dev/full in linux.devices drops runc's default rule for it: denied.
    let full = spec_devices(json!([{"path": "/dev/full", "type": "c", "major": 1, "minor": 7}]));
    apply_v2(fd.as_fd(), &container_rules(&deny_all(), &full)).unwrap();
    let first = programs(&fd);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].1, PROGRAM_NAME);
    let probe = || {
        vec![
            open_errno("/dev/full", libc::O_WRONLY),
            open_errno("/dev/null", libc::O_RDWR),
            open_errno("/dev/zero", libc::O_RDONLY),
        ]
    };
    assert_eq!(
        in_cgroup(&cg, probe),
        [Errno::EPERM as i32, 0, 0],
        "open /dev/full, /dev/null, /dev/zero"
    );

    // Update: now /dev/zero is the spec's device and /dev/full is allowed again.
    let zero = spec_devices(json!([{"path": "/dev/zero", "type": "c", "major": 1, "minor": 5}]));
    apply_v2(fd.as_fd(), &container_rules(&deny_all(), &zero)).unwrap();
    let second = programs(&fd);
    assert_eq!(
        second.len(),
        1,
        "exactly one filter after the update: {second:?}"
    );
    assert_ne!(second[0].0, first[0].0, "the filter was replaced");
    assert_eq!(
        in_cgroup(&cg, probe),
        [0, 0, Errno::EPERM as i32],
        "after update"
    );

    // Two old programs (say, someone attached one more): both go, ours stays alone.
    let extra = load(&generate(
        &target(&checked_rules(&deny_all()).unwrap()).unwrap(),
    ))
    .unwrap();
    bpf::prog_attach(
        fd.as_fd(),
        extra.as_fd(),
        bpf::ATTACH_CGROUP_DEVICE,
        bpf::F_ALLOW_MULTI,
        None,
    )
    .unwrap();
    assert_eq!(programs(&fd).len(), 2);
    assert_eq!(
        in_cgroup(&cg, probe),
        [Errno::EPERM as i32; 3],
        "both filters must allow"
    );
    apply_v2(fd.as_fd(), &container_rules(&deny_all(), &[])).unwrap();
    let third = programs(&fd);
    assert_eq!(third.len(), 1, "{third:?}");
    assert!(third[0].0 != second[0].0 && third[0].1 == PROGRAM_NAME);
    assert_eq!(in_cgroup(&cg, probe), [0, 0, 0], "defaults allow all three");
}

#[test]
fn v2_mknod_of_a_denied_device_is_refused() {
    let Some(root) = v2_root() else { return };
    let cg = TempCgroup::new(root);
    let fd = dir_fd(cg.path());
    let rules = spec_rules(json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    ]));
    apply_v2(fd.as_fd(), &rules).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "coracle-devices-v2-{}-{}",
        std::process::id(),
        unique()
    ));
    std::fs::create_dir(&dir).unwrap();
    let (denied, allowed) = (dir.join("full"), dir.join("null"));
    let got = in_cgroup(&cg, || {
        let node = |p: &Path, minor| match mknod(
            p,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o600),
            nix::sys::stat::makedev(1, minor),
        ) {
            Ok(()) => 0,
            Err(e) => e as i32,
        };
        vec![node(&denied, 7), node(&allowed, 3)]
    });
    let (denied_exists, allowed_exists) = (denied.exists(), allowed.exists());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(got, [Errno::EPERM as i32, 0], "mknod c 1:7, c 1:3");
    assert!(!denied_exists && allowed_exists);
}
