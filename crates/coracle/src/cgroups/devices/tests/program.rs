//! The eBPF generator, run through the interpreter: same decisions as the v1 kernel's
//! exception matching on the emulated state.

use serde_json::json;

use super::super::emulator::Emulator;
use super::super::program::generate;
use super::super::rule::{Kind, Perms};
use super::super::{checked_rules, container_rules, target};
use super::interp::{run, BLOCK, CHAR, MKNOD, READ, WRITE};
use super::{deny_all, spec_devices, spec_rules};
use crate::sys::bpf::Insn;

fn program_for(rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> (Emulator, Vec<Insn>) {
    let emu = target(&checked_rules(rules).unwrap()).unwrap();
    let prog = generate(&emu);
    (emu, prog)
}

/// The v1 controller's decision: an exception matches when kind and numbers match
/// (wildcards match any) and it holds every requested access bit.
fn kernel_v1_decision(emu: &Emulator, dev_type: u32, access: u32, major: u32, minor: u32) -> u64 {
    let kind = if dev_type == BLOCK {
        Kind::Block
    } else {
        Kind::Char
    };
    let mut want = Perms::NONE;
    for (bit, p) in [
        (READ, Perms::READ),
        (WRITE, Perms::WRITE),
        (MKNOD, Perms::MKNOD),
    ] {
        if access & bit != 0 {
            want = want.union(p);
        }
    }
    let hit = emu.exceptions.iter().any(|(m, p)| {
        m.kind == kind
            && (m.major.is_none() || m.major == Some(major))
            && (m.minor.is_none() || m.minor == Some(minor))
            && want.difference(*p).is_empty()
    });
    u64::from(hit != emu.default_allow)
}

fn assert_matches_v1(emu: &Emulator, prog: &[Insn]) {
    for dev_type in [BLOCK, CHAR] {
        for access in 1..=7 {
            for major in [0, 1, 5, 8, 10, 136, 4095] {
                for minor in [0, 2, 3, 5, 7, 9, 200, 229, 1 << 19] {
                    assert_eq!(
                        run(prog, dev_type, access, major, minor),
                        kernel_v1_decision(emu, dev_type, access, major, minor),
                        "type {dev_type} access {access} {major}:{minor}"
                    );
                }
            }
        }
    }
}

#[test]
fn default_container_rules_decide_as_runc_configures_them() {
    let (emu, prog) = program_for(&container_rules(&deny_all(), &[]));
    let cases = [
        (CHAR, READ | WRITE, 1, 3, 1),   // /dev/null
        (CHAR, WRITE, 1, 7, 1),          // /dev/full
        (CHAR, READ | WRITE, 136, 4, 1), // a pty slave
        (CHAR, READ | WRITE, 5, 2, 1),   // /dev/ptmx
        (CHAR, READ, 10, 200, 1),        // /dev/net/tun
        (CHAR, MKNOD, 10, 229, 1),       // mknod of anything
        (BLOCK, MKNOD, 8, 0, 1),
        (CHAR, READ, 10, 229, 0),         // /dev/fuse: not allowed
        (BLOCK, READ, 8, 0, 0),           // a disk
        (CHAR, READ | MKNOD, 10, 229, 0), // m alone does not cover r
    ];
    for (t, a, maj, min, want) in cases {
        assert_eq!(
            run(&prog, t, a, maj, min),
            want,
            "type {t} access {a} {maj}:{min}"
        );
    }
    assert_matches_v1(&emu, &prog);
}

#[test]
fn denied_linux_device_and_mixed_rules_match_v1() {
    let devices = spec_devices(json!([{"path": "/dev/full", "type": "c", "major": 1, "minor": 7}]));
    let mut rules = deny_all();
    rules.extend(spec_rules(json!([
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
        {"allow": true, "type": "b", "major": 8, "access": "r"},
        {"allow": true, "type": "c", "minor": 5, "access": "w"},
    ])));
    let (emu, prog) = program_for(&container_rules(&rules, &devices));
    assert_eq!(run(&prog, CHAR, WRITE, 1, 7), 0, "/dev/full denied");
    assert_eq!(run(&prog, CHAR, READ | WRITE, 10, 229), 1);
    assert_eq!(run(&prog, BLOCK, READ, 8, 16), 1);
    assert_eq!(run(&prog, BLOCK, WRITE, 8, 16), 0);
    assert_matches_v1(&emu, &prog);
}

#[test]
fn allow_all_with_deny_exceptions() {
    let rules = spec_rules(json!([
        {"allow": true, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
        {"allow": false, "type": "b", "access": "w"},
    ]));
    let (emu, prog) = program_for(&rules);
    assert_eq!(run(&prog, CHAR, READ, 1, 7), 0);
    assert_eq!(run(&prog, CHAR, READ, 1, 3), 1);
    assert_eq!(run(&prog, BLOCK, WRITE, 8, 0), 0);
    // As in v1: a deny exception for w does not catch a request for rw.
    assert_eq!(run(&prog, BLOCK, READ | WRITE, 8, 0), 1);
    assert_matches_v1(&emu, &prog);
}

#[test]
fn deny_everything_and_allow_everything() {
    let (_, prog) = program_for(&deny_all());
    assert_eq!(prog.len(), 8, "prologue and the default only");
    assert_eq!(run(&prog, CHAR, READ, 1, 3), 0);
    let (_, prog) = program_for(&spec_rules(json!([{"allow": true, "access": "rwm"}])));
    assert_eq!(run(&prog, BLOCK, READ | WRITE | MKNOD, 8, 0), 1);
}

#[test]
fn numbers_beyond_i32_never_match() {
    let rules = spec_rules(json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 4294967295u64, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 2147483648u64, "access": "rwm"},
    ]));
    let (_, prog) = program_for(&rules);
    for (maj, min) in [(4095, 0), (1, 0), (1, (1 << 20) - 1)] {
        assert_eq!(run(&prog, CHAR, READ, maj, min), 0);
    }
}

#[test]
fn encoding_of_one_rule_is_runcs() {
    let rules = spec_rules(json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"},
    ]));
    let (_, prog) = program_for(&rules);
    let raw: Vec<(u8, u8, i16, i32)> = prog
        .iter()
        .map(|i| (i.code, i.regs, i.off, i.imm))
        .collect();
    assert_eq!(
        raw,
        [
            (0x61, 0x12, 0, 0),      // r2 = *(u32 *)(r1 + 0)
            (0x54, 0x02, 0, 0xffff), // w2 &= 0xffff
            (0x61, 0x13, 0, 0),      // r3 = *(u32 *)(r1 + 0)
            (0x74, 0x03, 0, 16),     // w3 >>= 16
            (0x61, 0x14, 4, 0),      // r4 = *(u32 *)(r1 + 4)
            (0x61, 0x15, 8, 0),      // r5 = *(u32 *)(r1 + 8)
            (0x55, 0x02, 7, 2),      // if r2 != 2 goto +7
            (0xbc, 0x31, 0, 0),      // w1 = w3
            (0x54, 0x01, 0, 2),      // w1 &= BPF_DEVCG_ACC_READ
            (0x5d, 0x31, 4, 0),      // if r1 != r3 goto +4
            (0x55, 0x04, 3, 1),      // if r4 != 1 goto +3
            (0x55, 0x05, 2, 3),      // if r5 != 3 goto +2
            (0xb4, 0x00, 0, 1),      // w0 = 1
            (0x95, 0x00, 0, 0),      // exit
            (0xb4, 0x00, 0, 0),      // w0 = 0
            (0x95, 0x00, 0, 0),      // exit
        ]
    );
}
