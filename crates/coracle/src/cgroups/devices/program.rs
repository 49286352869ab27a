//! The BPF_PROG_TYPE_CGROUP_DEVICE program for an emulated rule set, instruction for
//! instruction the program runc's `devicefilter` emits (itself from crun's ebpf.c).
//!
//! ```text
//!   r2 = ctx->access_type & 0xffff     device type (BPF_DEVCG_DEV_BLOCK 1, _CHAR 2)
//!   r3 = ctx->access_type >> 16        requested access (BPF_DEVCG_ACC_MKNOD 1, _READ 2, _WRITE 4)
//!   r4 = ctx->major
//!   r5 = ctx->minor
//!   per exception:  if r2 != type goto next
//!                   if (r3 & access) != r3 goto next      (left out for rwm)
//!                   if r4 != major goto next              (left out for *)
//!                   if r5 != minor goto next              (left out for *)
//!                   return action
//!   return default
//! ```
//! Every exception carries the action opposite to the default (the emulator guarantees
//! it), so the first match is also the last and the order of blocks does not matter.

use super::emulator::Emulator;
use super::rule::{Kind, Perms};
use crate::sys::bpf::Insn;

// Opcode pieces (include/uapi/linux/bpf_common.h, bpf.h).
const CLASS_LDX: u8 = 0x01;
const CLASS_ALU: u8 = 0x04; // 32-bit ALU: results are zero-extended to 64 bits
const CLASS_JMP: u8 = 0x05; // 64-bit compares
const SIZE_W: u8 = 0x00;
const MODE_MEM: u8 = 0x60;
const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;
const OP_AND: u8 = 0x50;
const OP_RSH: u8 = 0x70;
const OP_MOV: u8 = 0xb0;
const OP_JNE: u8 = 0x50;
const OP_EXIT: u8 = 0x90;

pub(crate) const LDX_W: u8 = CLASS_LDX | MODE_MEM | SIZE_W;
pub(crate) const AND32_K: u8 = CLASS_ALU | OP_AND | SRC_K;
pub(crate) const RSH32_K: u8 = CLASS_ALU | OP_RSH | SRC_K;
pub(crate) const MOV32_K: u8 = CLASS_ALU | OP_MOV | SRC_K;
pub(crate) const MOV32_X: u8 = CLASS_ALU | OP_MOV | SRC_X;
pub(crate) const JNE_K: u8 = CLASS_JMP | OP_JNE | SRC_K;
pub(crate) const JNE_X: u8 = CLASS_JMP | OP_JNE | SRC_X;
pub(crate) const EXIT: u8 = CLASS_JMP | OP_EXIT;

/// `BPF_DEVCG_DEV_*`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
/// `BPF_DEVCG_ACC_*`.
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

fn access_mask(perms: Perms) -> i32 {
    let mut mask = 0;
    if perms.intersection(Perms::READ) != Perms::NONE {
        mask |= ACC_READ;
    }
    if perms.intersection(Perms::WRITE) != Perms::NONE {
        mask |= ACC_WRITE;
    }
    if perms.intersection(Perms::MKNOD) != Perms::NONE {
        mask |= ACC_MKNOD;
    }
    mask
}

/// The program for `emu`: returns 1 (allow) or 0 (deny, the access fails with EPERM).
pub(crate) fn generate(emu: &Emulator) -> Vec<Insn> {
    // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } in r1.
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    let action = i32::from(!emu.default_allow);
    for (meta, perms) in &emu.exceptions {
        let kind = match meta.kind {
            Kind::Block => DEV_BLOCK,
            Kind::Char => DEV_CHAR,
        };
        // Jumps are patched to the block's end once its length is known.
        let mut block = vec![insn(JNE_K, 2, 0, 0, kind)];
        if *perms != Perms::ALL {
            block.push(insn(MOV32_X, 1, 3, 0, 0));
            block.push(insn(AND32_K, 1, 0, 0, access_mask(*perms)));
            block.push(insn(JNE_X, 1, 3, 0, 0));
        }
        // The ctx numbers are u32s zero-extended into 64-bit registers and the
        // immediate is sign-extended: a number above i32::MAX can never compare equal,
        // which is right, since no device has one (majors are 12 bits, minors 20).
        if let Some(major) = meta.major {
            block.push(insn(JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = meta.minor {
            block.push(insn(JNE_K, 5, 0, 0, minor as i32));
        }
        block.push(insn(MOV32_K, 0, 0, 0, action));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K || ins.code == JNE_X {
                // Relative to the next instruction: land on the next block's first one.
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(insn(MOV32_K, 0, 0, 0, i32::from(emu.default_allow)));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}
