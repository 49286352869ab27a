//! A tiny classic-BPF assembler: symbolic forward labels, and long conditional jumps
//! rewritten through `JA` trampolines (a conditional jump reaches 255 instructions).

use libc::sock_filter;

pub(crate) const BPF_LD: u16 = 0x00;
pub(crate) const BPF_ALU: u16 = 0x04;
pub(crate) const BPF_JMP: u16 = 0x05;
pub(crate) const BPF_RET: u16 = 0x06;
pub(crate) const BPF_W: u16 = 0x00;
pub(crate) const BPF_ABS: u16 = 0x20;
pub(crate) const BPF_K: u16 = 0x00;
pub(crate) const BPF_AND: u16 = 0x50;
pub(crate) const BPF_JA: u16 = 0x00;
pub(crate) const BPF_JEQ: u16 = 0x10;
pub(crate) const BPF_JGT: u16 = 0x20;
pub(crate) const BPF_JGE: u16 = 0x30;

/// Longest program the kernel loads (BPF_MAXINSNS).
pub(crate) const MAX_INSNS: usize = 4096;

/// A position in the program, bound once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Label(usize);

#[derive(Debug, Clone, Copy)]
enum Ins {
    Ld(u32),
    And(u32),
    Jmp {
        op: u16,
        k: u32,
        jt: Label,
        jf: Label,
    },
    Ja(Label),
    Ret(u32),
}

/// Instructions with symbolic targets; `finish` lays them out.
#[derive(Debug, Default)]
pub(crate) struct Asm {
    code: Vec<Ins>,
    /// label → index in `code` of the instruction it names.
    bound: Vec<Option<usize>>,
}

impl Asm {
    pub(crate) fn label(&mut self) -> Label {
        self.bound.push(None);
        Label(self.bound.len() - 1)
    }

    /// Bind `l` to the next instruction emitted.
    pub(crate) fn bind(&mut self, l: Label) {
        debug_assert!(self.bound[l.0].is_none(), "label bound twice");
        self.bound[l.0] = Some(self.code.len());
    }

    pub(crate) fn ld(&mut self, offset: u32) {
        self.code.push(Ins::Ld(offset));
    }

    pub(crate) fn and(&mut self, k: u32) {
        self.code.push(Ins::And(k));
    }

    pub(crate) fn jmp(&mut self, op: u16, k: u32, jt: Label, jf: Label) {
        self.code.push(Ins::Jmp { op, k, jt, jf });
    }

    pub(crate) fn ja(&mut self, l: Label) {
        self.code.push(Ins::Ja(l));
    }

    pub(crate) fn ret(&mut self, k: u32) {
        self.code.push(Ins::Ret(k));
    }

    /// Resolve labels, inserting a `JA` trampoline after every conditional jump whose
    /// target lies beyond 255 instructions, until every jump is in range.
    pub(crate) fn finish(mut self) -> Vec<sock_filter> {
        let mut target: Vec<usize> = self
            .bound
            .iter()
            .map(|b| b.expect("every label is bound before finish"))
            .collect();
        loop {
            let mut far: Vec<(usize, bool)> = Vec::new();
            for (pc, ins) in self.code.iter().enumerate() {
                if let Ins::Jmp { jt, jf, .. } = *ins {
                    for (l, is_t) in [(jt, true), (jf, false)] {
                        let t = target[l.0];
                        assert!(t > pc, "BPF jumps only forward");
                        if t - pc - 1 > 255 {
                            far.push((pc, is_t));
                        }
                    }
                }
            }
            if far.is_empty() {
                break;
            }
            // Insert from the end so earlier indices stay valid while we edit.
            for &(pc, is_t) in far.iter().rev() {
                let Ins::Jmp { op, k, jt, jf } = self.code[pc] else {
                    unreachable!()
                };
                let dest = if is_t { jt } else { jf };
                let tramp = Label(target.len());
                target.push(pc + 1);
                let new = if is_t {
                    Ins::Jmp {
                        op,
                        k,
                        jt: tramp,
                        jf,
                    }
                } else {
                    Ins::Jmp {
                        op,
                        k,
                        jt,
                        jf: tramp,
                    }
                };
                self.code[pc] = new;
                self.code.insert(pc + 1, Ins::Ja(dest));
                for (i, t) in target.iter_mut().enumerate() {
                    // Every position after the jump moves down by one, except the new
                    // trampoline's own label which points at the inserted instruction.
                    if i != tramp.0 && *t > pc {
                        *t += 1;
                    }
                }
            }
        }
        self.code
            .iter()
            .enumerate()
            .map(|(pc, ins)| match *ins {
                Ins::Ld(k) => stmt(BPF_LD | BPF_W | BPF_ABS, k),
                Ins::And(k) => stmt(BPF_ALU | BPF_AND | BPF_K, k),
                Ins::Ret(k) => stmt(BPF_RET | BPF_K, k),
                Ins::Ja(l) => stmt(BPF_JMP | BPF_JA, (target[l.0] - pc - 1) as u32),
                Ins::Jmp { op, k, jt, jf } => sock_filter {
                    code: BPF_JMP | op | BPF_K,
                    jt: (target[jt.0] - pc - 1) as u8,
                    jf: (target[jf.0] - pc - 1) as u8,
                    k,
                },
            })
            .collect()
    }
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
