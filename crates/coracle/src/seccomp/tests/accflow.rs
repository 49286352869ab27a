//! A static check of what the accumulator holds where a program compares it.
//!
//! libseccomp 2.5.4 tracks which `seccomp_data` word its accumulator holds while it emits
//! a syscall's argument tree, but carries that state from one node of a tree level to the
//! next in emission order (`_gen_bpf_chain` passes one `acc` to every `_gen_bpf_node` of
//! the level), while control reaches the next node from anywhere inside the previous
//! node's subtree. When the next node compares the same word as the previous node and
//! that subtree loaded another word (the low half after the high half, or another
//! argument), the load is omitted and the comparison reads the wrong word. This check
//! finds exactly that: a comparison or ALU step reached with different words in the
//! accumulator on different paths.
//!
//! The same release omits the syscall-number load of an architecture section (other than
//! x86_64/x32, which load it in their ABI check) when the section's highest-priority
//! syscall is one that architecture lacks: `_gen_bpf_arch` asks only the list head to
//! reset the accumulator, and that head is a pseudo-syscall the generator skips. Every
//! syscall comparison of the section then reads the architecture token. This check finds
//! that too: the architecture word compared again on a path where it already matched.

use std::collections::BTreeSet;

/// What the accumulator holds: the `seccomp_data` offset last loaded, the masks ANDed
/// into it since, and whether it is the architecture word already found equal to a token;
/// `None` before any load.
type Acc = Option<(u32, Vec<u32>, bool)>;

const OFF_ARCH: u32 = 4;

/// A defect of a program's accumulator use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AccDefect {
    /// The instruction at this index may read different words on different paths.
    Stale(usize),
    /// The instruction at this index compares the architecture word again after it
    /// matched a token: the syscall-number load is missing.
    NoSyscallLoad(usize),
}

/// The first instruction that uses the accumulator while it may hold different words
/// depending on the path taken, or compares the architecture word after it matched a
/// token; `None` when the program is consistent.
pub(super) fn ambiguous_acc(prog: &[libc::sock_filter]) -> Option<AccDefect> {
    let mut incoming: Vec<BTreeSet<Acc>> = vec![BTreeSet::new(); prog.len() + 1];
    incoming[0].insert(None);
    for pc in 0..prog.len() {
        let states = std::mem::take(&mut incoming[pc]);
        if states.is_empty() {
            continue; // unreachable
        }
        let i = prog[pc];
        let class = i.code & 0x07;
        let uses_acc = match class {
            0x05 => i.code & 0xf0 != 0x00, // every jump but JA
            0x04 => true,                  // ALU
            0x06 => i.code & 0x18 == 0x10, // RET A
            _ => false,
        };
        let matched_arch = states.iter().any(|s| matches!(s, Some((_, _, true))));
        if uses_acc && states.len() > 1 {
            return Some(AccDefect::Stale(pc));
        }
        if uses_acc && matched_arch {
            return Some(AccDefect::NoSyscallLoad(pc));
        }
        let out: BTreeSet<Acc> = match (class, i.code) {
            (0x00, _) => [Some((i.k, Vec::new(), false))].into(),
            (0x04, 0x54) => states
                .iter()
                .map(|s| {
                    s.clone().map(|(off, mut m, a)| {
                        m.push(i.k);
                        (off, m, a)
                    })
                })
                .collect(),
            _ => states,
        };
        let targets: Vec<usize> = match class {
            0x06 => vec![],
            0x05 if i.code & 0xf0 == 0x00 => vec![pc + 1 + i.k as usize],
            0x05 => vec![pc + 1 + i.jt as usize, pc + 1 + i.jf as usize],
            _ => vec![pc + 1],
        };
        // The true branch of `JEQ token` on the architecture word knows the architecture.
        let arch_eq = i.code == 0x15
            && out
                .iter()
                .all(|s| matches!(s, Some((OFF_ARCH, m, _)) if m.is_empty()));
        for (n, t) in targets.into_iter().enumerate() {
            if t >= incoming.len() {
                continue;
            }
            if arch_eq && n == 0 {
                incoming[t].insert(Some((OFF_ARCH, Vec::new(), true)));
            } else {
                incoming[t].extend(out.iter().cloned());
            }
        }
    }
    None
}
