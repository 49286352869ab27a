//! From an OCI profile to per-architecture rule sets, resolved the way runc drives
//! libseccomp: names looked up per architecture, rules whose action equals the default
//! skipped, several conditions on one argument split into one rule each, socket and IPC
//! calls also matched through socketcall(2)/ipc(2), and libseccomp's precedence between
//! rules on one syscall.

use std::collections::BTreeMap;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompOperator, LinuxSyscall};

use super::action::{self, Action};
use super::arch::{ArchInfo, IPCCALLS, SOCKETCALLS};
use super::SeccompError;

/// Number of syscall arguments in `seccomp_data`.
pub(crate) const ARG_COUNT: usize = 6;

/// A comparison operator after normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & mask) == datum`, datum already masked (as libseccomp does).
    MaskedEq,
}

/// One argument comparison, in the width the architecture compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Cmp {
    pub arg: u8,
    pub op: Op,
    pub datum: u64,
    pub mask: u64,
}

/// A conditional rule: every comparison holds → `action`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Rule {
    pub conds: Vec<Cmp>,
    pub action: Action,
}

/// What one syscall on one architecture does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SysRules {
    /// Every call gets this action.
    Always(Action),
    /// The most restrictive action among the matching rules; the default when none match.
    Rules(Vec<Rule>),
}

/// The rules of one architecture: syscall number → rules.
#[derive(Debug, Clone)]
pub(crate) struct ArchRules {
    pub arch: ArchInfo,
    pub syscalls: BTreeMap<u32, SysRules>,
}

/// All architectures of a profile, plus the names no architecture knows.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub arches: Vec<ArchRules>,
    pub skipped: Vec<String>,
    /// A NOTIFY rule resolved on some architecture (libseccomp then asks for a listener,
    /// even when an earlier rule shadows it).
    pub notify: bool,
}

/// Conditions as the profile states them (full 64-bit values), before any architecture.
type Group = Vec<Cmp>;

/// Resolve every `linux.seccomp.syscalls` entry for every architecture in `arches`.
pub(crate) fn resolve(
    profile: &LinuxSeccomp,
    default: Action,
    arches: &[ArchInfo],
) -> Result<Resolved, SeccompError> {
    let mut out: Vec<ArchRules> = arches
        .iter()
        .map(|a| ArchRules {
            arch: *a,
            syscalls: BTreeMap::new(),
        })
        .collect();
    let mut skipped: Vec<String> = Vec::new();
    let mut notify = false;
    let empty = Vec::new();
    for (i, sc) in profile
        .syscalls()
        .as_ref()
        .unwrap_or(&empty)
        .iter()
        .enumerate()
    {
        let act = action::from_oci(
            sc.action(),
            sc.errno_ret(),
            &format!("linux.seccomp.syscalls[{i}].errnoRet"),
        )?;
        let groups = groups(sc, i)?;
        if act == default {
            // libseccomp refuses a rule whose action is the default (EACCES); runc skips it.
            continue;
        }
        for name in sc.names() {
            let mut known = false;
            for ar in out.iter_mut() {
                known |= add_name(ar, name, act, &groups);
            }
            notify |= known && act == super::action::USER_NOTIF;
            if !known && !skipped.contains(name) {
                skipped.push(name.clone());
            }
        }
    }
    Ok(Resolved {
        arches: out,
        skipped,
        notify,
    })
}

/// The condition groups of one entry: all its conditions ANDed, or, when two name the same
/// argument (which libseccomp rejects), each condition a rule of its own as runc does.
fn groups(sc: &LinuxSyscall, i: usize) -> Result<Vec<Group>, SeccompError> {
    let empty = Vec::new();
    let args = sc.args().as_ref().unwrap_or(&empty);
    let mut conds = Vec::with_capacity(args.len());
    let mut seen = [0u8; ARG_COUNT];
    for (j, a) in args.iter().enumerate() {
        if a.index() >= ARG_COUNT {
            return Err(SeccompError::ArgIndex {
                field: format!("linux.seccomp.syscalls[{i}].args[{j}].index"),
                index: a.index(),
            });
        }
        seen[a.index()] += 1;
        let (op, datum, mask) = match a.op() {
            LinuxSeccompOperator::ScmpCmpNe => (Op::Ne, a.value(), u64::MAX),
            LinuxSeccompOperator::ScmpCmpLt => (Op::Lt, a.value(), u64::MAX),
            LinuxSeccompOperator::ScmpCmpLe => (Op::Le, a.value(), u64::MAX),
            LinuxSeccompOperator::ScmpCmpEq => (Op::Eq, a.value(), u64::MAX),
            LinuxSeccompOperator::ScmpCmpGe => (Op::Ge, a.value(), u64::MAX),
            LinuxSeccompOperator::ScmpCmpGt => (Op::Gt, a.value(), u64::MAX),
            // OCI's value is the mask and valueTwo the datum (runc, crun, libseccomp).
            LinuxSeccompOperator::ScmpCmpMaskedEq => {
                (Op::MaskedEq, a.value_two().unwrap_or(0), a.value())
            }
        };
        conds.push(Cmp {
            arg: a.index() as u8,
            op,
            datum,
            mask,
        });
    }
    if seen.iter().any(|&n| n > 1) {
        Ok(conds.into_iter().map(|c| vec![c]).collect())
    } else {
        Ok(vec![conds])
    }
}

/// Add the rules of `name` to one architecture; false when that architecture lacks the call.
fn add_name(ar: &mut ArchRules, name: &str, act: Action, groups: &[Group]) -> bool {
    let direct = super::tables::lookup(ar.arch.table, name);
    let muxed = ar.arch.mux.and_then(|(socketcall, ipc)| {
        let find = |t: &[(&str, u32)]| t.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
        find(SOCKETCALLS)
            .map(|c| (socketcall, c))
            .or_else(|| find(IPCCALLS).map(|c| (ipc, c)))
    });
    if direct.is_none() && muxed.is_none() {
        return false;
    }
    for g in groups {
        if let Some((mux_nr, call)) = muxed {
            // libseccomp rewrites argument 0 into the multiplexer's call number and keeps
            // the other comparisons as they are.
            let mut conds: Vec<Cmp> = g.iter().filter(|c| c.arg != 0).copied().collect();
            conds.push(Cmp {
                arg: 0,
                op: Op::Eq,
                datum: u64::from(call),
                mask: u64::MAX,
            });
            add_rule(ar, mux_nr, &conds, act);
        }
        if let Some(nr) = direct {
            add_rule(ar, nr, g, act);
        }
    }
    true
}

/// Narrow comparisons to the architecture's width and drop those that always hold.
fn narrow(arch: &ArchInfo, conds: &[Cmp]) -> Vec<Cmp> {
    let width = if arch.is64 {
        u64::MAX
    } else {
        u64::from(u32::MAX)
    };
    let mut out: Vec<Cmp> = conds
        .iter()
        .filter_map(|c| {
            let mask = if c.op == Op::MaskedEq {
                c.mask & width
            } else {
                width
            };
            if c.op == Op::MaskedEq && mask == 0 {
                return None;
            }
            Some(Cmp {
                arg: c.arg,
                op: c.op,
                datum: c.datum & mask,
                mask,
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// libseccomp's precedence on one syscall: the first unconditional rule wins over
/// everything after it, an unconditional rule replaces earlier conditional ones, and
/// conditional rules accumulate (the most restrictive matching one applies).
fn add_rule(ar: &mut ArchRules, nr: u32, conds: &[Cmp], act: Action) {
    let conds = narrow(&ar.arch, conds);
    let entry = ar.syscalls.get_mut(&nr);
    match (entry, conds.is_empty()) {
        (None, true) => {
            ar.syscalls.insert(nr, SysRules::Always(act));
        }
        (None, false) => {
            ar.syscalls
                .insert(nr, SysRules::Rules(vec![Rule { conds, action: act }]));
        }
        (Some(SysRules::Always(_)), _) => {}
        (Some(e @ SysRules::Rules(_)), true) => *e = SysRules::Always(act),
        (Some(SysRules::Rules(rules)), false) => {
            let r = Rule { conds, action: act };
            if !rules.contains(&r) {
                rules.push(r);
            }
        }
    }
}
