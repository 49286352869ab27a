//! The documented divergences from libseccomp 2.5.4 (see the module docs), each on its
//! smallest profile: our verdict, libseccomp's, and why.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;

use super::accflow::{ambiguous_acc, AccDefect};
use super::oracle;
use crate::seccomp::arch::{AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64};
use crate::seccomp::interp::{run, SeccompData};
use crate::seccomp::{action, compile};

fn profile(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).unwrap()
}

/// (ours, libseccomp's) verdicts for one input; our program is always consistent.
fn both(p: &LinuxSeccomp, d: &SeccompData) -> (u32, u32, Option<AccDefect>) {
    let ours = compile(p).unwrap().program;
    assert_eq!(ambiguous_acc(&ours), None);
    let theirs = oracle::program(p).expect("libseccomp accepts the profile");
    (
        run(&ours, d).unwrap().0,
        run(&theirs, d).unwrap().0,
        ambiguous_acc(&theirs),
    )
}

fn x86_64(nr: libc::c_long, args: [u64; 6]) -> SeccompData {
    SeccompData {
        nr: nr as u32,
        arch: AUDIT_ARCH_X86_64,
        ip: 0,
        args,
    }
}

/// Two conditional rules with different actions both match: we return the more
/// restrictive action (TRAP); libseccomp tests higher argument indexes first whatever the
/// order or the actions, so arg1's ERRNO wins there.
#[test]
fn overlapping_rules_take_the_most_restrictive_action() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_TRAP",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "args": [{"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
        ]
    }));
    let (ours, theirs, defect) = both(&p, &x86_64(libc::SYS_read, [1, 2, 0, 0, 0, 0]));
    assert_eq!(ours, action::TRAP);
    assert_eq!(theirs, action::ERRNO | 1);
    assert_eq!(defect, None);
    // Either rule alone: both agree.
    let (ours, theirs, _) = both(&p, &x86_64(libc::SYS_read, [1, 0, 0, 0, 0, 0]));
    assert_eq!((ours, theirs), (action::TRAP, action::TRAP));
}

/// Two comparisons of one argument, split into two rules: `arg2 >= 2^32` or `arg2 < 2`.
/// 0xff matches neither, so the default (ALLOW) applies; libseccomp's program compares the
/// low word where it means the high word (a stale accumulator) and returns ERRNO.
#[test]
fn split_comparisons_of_one_argument_match_neither() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["semop"], "action": "SCMP_ACT_ERRNO", "errnoRet": 39, "args": [
            {"index": 2, "value": 4294967296u64, "op": "SCMP_CMP_GE"},
            {"index": 2, "value": 2, "op": "SCMP_CMP_LT"},
        ]}]
    }));
    let (ours, theirs, defect) = both(&p, &x86_64(libc::SYS_semop, [0, 0, 0xff, 0, 0, 0]));
    assert_eq!(ours, action::ALLOW);
    assert_eq!(theirs, action::ERRNO | 39);
    assert!(matches!(defect, Some(AccDefect::Stale(_))), "{defect:?}");
    for (v, want) in [
        (1, action::ERRNO | 39),
        (1 << 32, action::ERRNO | 39),
        (2, action::ALLOW),
    ] {
        let (ours, _, _) = both(&p, &x86_64(libc::SYS_semop, [0, 0, v, 0, 0, 0]));
        assert_eq!(ours, want, "arg2 = {v:#x}");
    }
}

/// aarch64 lacks `open`; with it as the first unconditional entry, libseccomp's aarch64
/// section never loads the syscall number and every aarch64 call gets the default. Ours
/// applies the futex rule (arg2 < 2^64-1 → KILL).
#[test]
fn a_name_the_architecture_lacks_does_not_disable_its_rules() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_AARCH64"],
        "syscalls": [
            {"names": ["open"], "action": "SCMP_ACT_TRAP"},
            {"names": ["futex"], "action": "SCMP_ACT_KILL",
             "args": [{"index": 2, "value": u64::MAX, "op": "SCMP_CMP_LT"}]},
        ]
    }));
    let d = SeccompData {
        nr: 98, // futex on aarch64
        arch: AUDIT_ARCH_AARCH64,
        ip: 0,
        args: [0; 6],
    };
    let (ours, theirs, defect) = both(&p, &d);
    assert_eq!(ours, action::KILL_THREAD);
    assert_eq!(theirs, action::ERRNO | 38);
    assert!(
        matches!(defect, Some(AccDefect::NoSyscallLoad(_))),
        "{defect:?}"
    );
}

/// `arg1 > 0xffffffff` and `arg1 >= 2 && arg2 >= 255` on one syscall, both LOG: libseccomp
/// merges the second into the first's tree and loses its `arg1 < 2^32` branch, so
/// openat(_, 0x18, 0x1000) gets the default there; each rule alone works in libseccomp.
#[test]
fn a_rule_sharing_a_prefix_with_another_is_kept() {
    let first = json!({"names": ["openat"], "action": "SCMP_ACT_LOG",
        "args": [{"index": 1, "value": 4294967295u64, "op": "SCMP_CMP_GT"}]});
    let second = json!({"names": ["openat"], "action": "SCMP_ACT_LOG", "args": [
        {"index": 1, "value": 2, "op": "SCMP_CMP_GE"},
        {"index": 2, "value": 255, "op": "SCMP_CMP_GE"},
    ]});
    let d = x86_64(libc::SYS_openat, [0, 0x18, 0x1000, 0, 0, 0]);
    let p = profile(json!({"defaultAction": "SCMP_ACT_KILL", "syscalls": [first, second.clone()]}));
    let (ours, theirs, defect) = both(&p, &d);
    assert_eq!(ours, action::LOG);
    assert_eq!(theirs, action::KILL_THREAD);
    assert_eq!(defect, None);
    let alone = profile(json!({"defaultAction": "SCMP_ACT_KILL", "syscalls": [second]}));
    assert_eq!(both(&alone, &d).1, action::LOG);
}

/// A MASKED_EQ with a zero mask holds for every value (libseccomp 2.5.4 can hang on it, so
/// this checks ours only): the rule applies whatever arg1 is.
#[test]
fn a_zero_mask_always_holds() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_TRACE", "args": [
            {"index": 0, "value": 0, "op": "SCMP_CMP_LE"},
            {"index": 1, "value": 0, "valueTwo": 0xffff_ffff_0000_0000u64, "op": "SCMP_CMP_MASKED_EQ"},
        ]}]
    }));
    let ours = compile(&p).unwrap().program;
    for a1 in [0, 1, 0xffff_ffff_0000_0000, u64::MAX] {
        let d = x86_64(libc::SYS_getppid, [0, a1, 0, 0, 0, 0]);
        assert_eq!(run(&ours, &d).unwrap().0, action::TRACE | 1, "a1 = {a1:#x}");
    }
    let d = x86_64(libc::SYS_getppid, [1, 0, 0, 0, 0, 0]);
    assert_eq!(run(&ours, &d).unwrap().0, action::ALLOW);
}
