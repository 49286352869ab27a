//! A tiny eBPF interpreter for the instructions the device filter uses, with the
//! kernel's semantics (32-bit ALU ops zero-extend, JMP compares all 64 bits with a
//! sign-extended immediate). Anything else panics, so the generator cannot quietly start
//! emitting something the tests do not model.

use super::super::program::{AND32_K, EXIT, JNE_K, JNE_X, LDX_W, MOV32_K, MOV32_X, RSH32_K};
use crate::sys::bpf::Insn;

/// `BPF_DEVCG_DEV_*` and `BPF_DEVCG_ACC_*`.
pub(super) const BLOCK: u32 = 1;
pub(super) const CHAR: u32 = 2;
pub(super) const MKNOD: u32 = 1;
pub(super) const READ: u32 = 2;
pub(super) const WRITE: u32 = 4;

/// Run `prog` on a `bpf_cgroup_dev_ctx`; returns r0 (1 allow, 0 deny).
pub(super) fn run(prog: &[Insn], dev_type: u32, access: u32, major: u32, minor: u32) -> u64 {
    let ctx = [dev_type | (access << 16), major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < 100_000, "runaway program");
        let i = prog
            .get(pc)
            .unwrap_or_else(|| panic!("pc {pc} past the end"));
        let (dst, src) = ((i.regs & 0x0f) as usize, (i.regs >> 4) as usize);
        let imm64 = i.imm as i64 as u64;
        pc += 1;
        match i.code {
            LDX_W => {
                assert_eq!(src, 1, "loads only from the ctx in r1");
                assert!(
                    i.off >= 0 && i.off % 4 == 0 && i.off < 12,
                    "ctx offset {}",
                    i.off
                );
                r[dst] = u64::from(ctx[i.off as usize / 4]);
            }
            AND32_K => r[dst] = u64::from((r[dst] as u32) & (i.imm as u32)),
            RSH32_K => r[dst] = u64::from((r[dst] as u32) >> (i.imm as u32 & 31)),
            MOV32_K => r[dst] = u64::from(i.imm as u32),
            MOV32_X => r[dst] = u64::from(r[src] as u32),
            JNE_K | JNE_X => {
                let rhs = if i.code == JNE_K { imm64 } else { r[src] };
                if r[dst] != rhs {
                    let target = pc as i64 + i64::from(i.off);
                    assert!(
                        target >= 0 && (target as usize) < prog.len(),
                        "jump out of program"
                    );
                    pc = target as usize;
                }
            }
            EXIT => return r[0],
            other => panic!("opcode {other:#04x} not modelled"),
        }
    }
}
