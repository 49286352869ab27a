//! BPF generation: an architecture check, then per audit token a balanced binary search
//! over syscall-number intervals, then the argument checks of conditional syscalls, then
//! one shared `RET` per distinct action.

use std::collections::BTreeMap;

use libc::sock_filter;

use super::action::{self, Action};
use super::asm::{Asm, Label, BPF_JEQ, BPF_JGE, BPF_JGT};
use super::rules::{ArchRules, Cmp, Op, Rule, SysRules};

/// `offsetof(struct seccomp_data, nr)`, `arch` and `args[0]`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// Where an interval of syscall numbers goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ret(Action),
    /// Index into the list of conditional syscalls.
    Chain(usize),
}

struct Gen<'a> {
    asm: Asm,
    rets: BTreeMap<Action, Label>,
    chains: Vec<(bool, &'a [Rule], Label)>,
    default: Action,
}

impl Gen<'_> {
    fn ret_label(&mut self, a: Action) -> Label {
        if let Some(l) = self.rets.get(&a) {
            return *l;
        }
        let l = self.asm.label();
        self.rets.insert(a, l);
        l
    }

    fn outcome_label(&mut self, o: Outcome) -> Label {
        match o {
            Outcome::Ret(a) => self.ret_label(a),
            Outcome::Chain(i) => self.chains[i].2,
        }
    }

    fn subtree_label(&mut self, iv: &[(u32, Outcome)]) -> Label {
        if iv.len() == 1 {
            self.outcome_label(iv[0].1)
        } else {
            self.asm.label()
        }
    }

    /// Emit a balanced binary search over `iv` (interval starts, sorted) at label `l`;
    /// a single interval needs no code, its outcome label is the target.
    fn emit_subtree(&mut self, iv: &[(u32, Outcome)], l: Label) {
        if iv.len() > 1 {
            self.asm.bind(l);
            let mid = iv.len() / 2;
            let (left, right) = iv.split_at(mid);
            let ll = self.subtree_label(left);
            let rl = self.subtree_label(right);
            self.asm.jmp(BPF_JGE, right[0].0, rl, ll);
            // The "below" half follows directly: its branch falls through.
            self.emit_subtree(left, ll);
            self.emit_subtree(right, rl);
        }
    }

    /// One comparison: control goes to `pass` or `fail`.
    fn cmp(&mut self, is64: bool, c: &Cmp, pass: Label, fail: Label) {
        let lo_off = OFF_ARGS + 8 * u32::from(c.arg);
        let hi_off = lo_off + 4;
        let (d_hi, d_lo) = ((c.datum >> 32) as u32, c.datum as u32);
        let (m_hi, m_lo) = ((c.mask >> 32) as u32, c.mask as u32);
        let a = &mut self.asm;
        match c.op {
            Op::Eq | Op::Ne => {
                let (t, f) = if c.op == Op::Eq {
                    (pass, fail)
                } else {
                    (fail, pass)
                };
                if is64 {
                    let next = a.label();
                    a.ld(hi_off);
                    a.jmp(BPF_JEQ, d_hi, next, f);
                    a.bind(next);
                }
                a.ld(lo_off);
                a.jmp(BPF_JEQ, d_lo, t, f);
            }
            Op::MaskedEq => {
                if is64 && m_hi != 0 {
                    a.ld(hi_off);
                    if m_hi != u32::MAX {
                        a.and(m_hi);
                    }
                    if m_lo == 0 {
                        a.jmp(BPF_JEQ, d_hi, pass, fail);
                        return;
                    }
                    let next = a.label();
                    a.jmp(BPF_JEQ, d_hi, next, fail);
                    a.bind(next);
                }
                a.ld(lo_off);
                if m_lo != u32::MAX {
                    a.and(m_lo);
                }
                a.jmp(BPF_JEQ, d_lo, pass, fail);
            }
            Op::Gt | Op::Ge | Op::Lt | Op::Le => {
                // GT/GE pass on "above"; LT/LE are their negations (LT = !GE, LE = !GT).
                let (above, below) = match c.op {
                    Op::Gt | Op::Ge => (pass, fail),
                    _ => (fail, pass),
                };
                let lo_op = match c.op {
                    Op::Gt | Op::Le => BPF_JGT,
                    _ => BPF_JGE,
                };
                if is64 {
                    let eq = a.label();
                    let lo = a.label();
                    a.ld(hi_off);
                    a.jmp(BPF_JGT, d_hi, above, eq);
                    a.bind(eq);
                    a.jmp(BPF_JEQ, d_hi, lo, below);
                    a.bind(lo);
                }
                a.ld(lo_off);
                a.jmp(lo_op, d_lo, above, below);
            }
        }
    }

    /// The rules of one conditional syscall, most restrictive first: the first whose
    /// comparisons all hold decides; none → the default.
    fn chain(&mut self, is64: bool, rules: &[Rule], entry: Label) {
        let mut order: Vec<&Rule> = rules.iter().collect();
        order.sort_by_key(|r| action::restrictiveness(r.action));
        self.asm.bind(entry);
        let default = self.default;
        for (i, r) in order.iter().enumerate() {
            let ret = self.ret_label(r.action);
            let fail = if i + 1 == order.len() {
                self.ret_label(default)
            } else {
                self.asm.label()
            };
            for (j, c) in r.conds.iter().enumerate() {
                let pass = if j + 1 == r.conds.len() {
                    ret
                } else {
                    self.asm.label()
                };
                self.cmp(is64, c, pass, fail);
                if pass != ret {
                    self.asm.bind(pass);
                }
            }
            if i + 1 != order.len() {
                self.asm.bind(fail);
            }
        }
    }
}

/// The intervals of one audit token, covering every syscall number: each ABI's own
/// numbers (x86_64 below the x32 bit, x32 above it), numbers no ABI owns going to
/// `badarch`.
fn intervals(
    abis: &[&ArchRules],
    first_chain: &mut usize,
    default: Action,
    badarch: Action,
) -> Vec<(u32, Outcome)> {
    let mut abis: Vec<&ArchRules> = abis.to_vec();
    abis.sort_by_key(|a| a.arch.nr_range.0);
    let mut iv: Vec<(u32, Outcome)> = Vec::new();
    let push = |iv: &mut Vec<(u32, Outcome)>, start: u32, o: Outcome| {
        if iv.last().map(|l| l.1) != Some(o) {
            iv.push((start, o));
        }
    };
    let mut next: u64 = 0;
    for a in abis {
        let (lo, hi) = a.arch.nr_range;
        if u64::from(lo) > next {
            push(&mut iv, next as u32, Outcome::Ret(badarch));
        }
        let mut cur = u64::from(lo);
        for (&nr, rules) in a.syscalls.range(lo..=hi) {
            if u64::from(nr) > cur {
                push(&mut iv, cur as u32, Outcome::Ret(default));
            }
            let o = match rules {
                SysRules::Always(act) => Outcome::Ret(*act),
                SysRules::Rules(_) => {
                    *first_chain += 1;
                    Outcome::Chain(*first_chain - 1)
                }
            };
            push(&mut iv, nr, o);
            cur = u64::from(nr) + 1;
        }
        if cur <= u64::from(hi) {
            push(&mut iv, cur as u32, Outcome::Ret(default));
        }
        next = u64::from(hi) + 1;
    }
    if next <= u64::from(u32::MAX) {
        push(&mut iv, next as u32, Outcome::Ret(badarch));
    }
    // Syscall -1 (a tracer's skip) is not an x32 call: libseccomp lets it through to the
    // default action rather than the bad-architecture action.
    if iv.last().map(|l| l.1) == Some(Outcome::Ret(badarch)) && next <= u64::from(u32::MAX) {
        push(&mut iv, u32::MAX, Outcome::Ret(default));
    }
    iv
}

/// The whole program for `arches` (all of one byte order).
pub(crate) fn generate(arches: &[ArchRules], default: Action, badarch: Action) -> Vec<sock_filter> {
    // Group ABIs by audit token, keeping the caller's order (native first).
    let mut tokens: Vec<(u32, Vec<&ArchRules>)> = Vec::new();
    for a in arches {
        match tokens.iter_mut().find(|(t, _)| *t == a.arch.token) {
            Some((_, v)) => v.push(a),
            None => tokens.push((a.arch.token, vec![a])),
        }
    }
    let mut g = Gen {
        asm: Asm::default(),
        rets: BTreeMap::new(),
        chains: Vec::new(),
        default,
    };
    // Conditional syscalls, in the order `intervals` numbers them.
    let mut per_token: Vec<Vec<(u32, Outcome)>> = Vec::new();
    let mut n_chains = 0;
    for (_, abis) in &tokens {
        per_token.push(intervals(abis, &mut n_chains, default, badarch));
    }
    for (_, abis) in &tokens {
        let mut sorted: Vec<&ArchRules> = abis.to_vec();
        sorted.sort_by_key(|a| a.arch.nr_range.0);
        for a in sorted {
            let (lo, hi) = a.arch.nr_range;
            for rules in a.syscalls.range(lo..=hi).map(|(_, r)| r) {
                if let SysRules::Rules(r) = rules {
                    let l = g.asm.label();
                    g.chains.push((a.arch.is64, r.as_slice(), l));
                }
            }
        }
    }

    g.asm.ld(OFF_ARCH);
    let entries: Vec<Label> = tokens.iter().map(|_| g.asm.label()).collect();
    for (i, (token, _)) in tokens.iter().enumerate() {
        let miss = if i + 1 == tokens.len() {
            g.ret_label(badarch)
        } else {
            g.asm.label()
        };
        g.asm.jmp(BPF_JEQ, *token, entries[i], miss);
        if i + 1 != tokens.len() {
            g.asm.bind(miss);
        }
    }
    for (i, iv) in per_token.iter().enumerate() {
        g.asm.bind(entries[i]);
        g.asm.ld(OFF_NR);
        let root = g.subtree_label(iv);
        if iv.len() == 1 {
            g.asm.ja(root);
        } else {
            g.emit_subtree(iv, root);
        }
    }
    let chains = std::mem::take(&mut g.chains);
    for (is64, rules, l) in &chains {
        g.chain(*is64, rules, *l);
    }
    let rets: Vec<(Action, Label)> = g.rets.iter().map(|(a, l)| (*a, *l)).collect();
    for (a, l) in rets {
        g.asm.bind(l);
        g.asm.ret(a);
    }
    g.asm.finish()
}
