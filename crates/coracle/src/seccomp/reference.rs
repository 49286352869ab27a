//! An independent evaluation of an OCI seccomp profile for one `seccomp_data`, straight
//! from the profile's rules, for tests and the `seccomp_verdict` fuzz target (which
//! includes this file by path): no BPF, none of the compiler's rule resolution, syscall
//! numbers from a resolver the caller passes (libseccomp's in tests).
//!
//! The semantics are the compiler's documented ones (see the module docs): rules whose
//! action is the default are skipped; on one syscall the first unconditional rule wins
//! over later ones and replaces earlier conditional ones; conditional rules accumulate;
//! 32-bit ABIs compare the low words; x86 also matches socket and IPC calls through
//! socketcall(2)/ipc(2) with argument 0 replaced by the call number.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};

/// An ABI as this evaluation needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefArch {
    /// libseccomp's name (`SCMP_ARCH_X86_64`), passed to the resolver.
    pub name: &'static str,
    /// `AUDIT_ARCH_*`.
    pub token: u32,
    /// The syscall numbers this ABI owns under its token.
    pub nrs: (u32, u32),
    /// Arguments are compared on 64 bits.
    pub is64: bool,
    /// socketcall(2) and ipc(2) numbers.
    pub mux: Option<(u32, u32)>,
}

/// The ABIs of the random profiles.
pub const REF_ARCHES: [RefArch; 5] = [
    RefArch {
        name: "SCMP_ARCH_X86_64",
        token: 0xc000_003e,
        nrs: (0, 0x3fff_ffff),
        is64: true,
        mux: None,
    },
    RefArch {
        name: "SCMP_ARCH_X32",
        token: 0xc000_003e,
        nrs: (0x4000_0000, u32::MAX),
        is64: false,
        mux: None,
    },
    RefArch {
        name: "SCMP_ARCH_X86",
        token: 0x4000_0003,
        nrs: (0, u32::MAX),
        is64: false,
        mux: Some((102, 117)),
    },
    RefArch {
        name: "SCMP_ARCH_AARCH64",
        token: 0xc000_00b7,
        nrs: (0, u32::MAX),
        is64: true,
        mux: None,
    },
    RefArch {
        name: "SCMP_ARCH_ARM",
        token: 0x4000_0028,
        nrs: (0, u32::MAX),
        is64: false,
        mux: None,
    },
];

/// `linux/net.h` SYS_* call numbers, with the direct x86 syscall where there is one
/// (`arch/x86/entry/syscalls/syscall_32.tbl`; libseccomp resolves these names to
/// pseudo-numbers on x86 but its filters match the direct calls too).
const SOCKETCALL: &[(&str, u32, Option<u32>)] = &[
    ("socket", 1, Some(359)),
    ("bind", 2, Some(361)),
    ("connect", 3, Some(362)),
    ("listen", 4, Some(363)),
    ("accept", 5, None),
    ("getsockname", 6, Some(367)),
    ("getpeername", 7, Some(368)),
    ("socketpair", 8, Some(360)),
    ("send", 9, None),
    ("recv", 10, None),
    ("sendto", 11, Some(369)),
    ("recvfrom", 12, Some(371)),
    ("shutdown", 13, Some(373)),
    ("setsockopt", 14, Some(366)),
    ("getsockopt", 15, Some(365)),
    ("sendmsg", 16, Some(370)),
    ("recvmsg", 17, Some(372)),
    ("accept4", 18, Some(364)),
    ("recvmmsg", 19, Some(337)),
    ("sendmmsg", 20, Some(345)),
];
/// `linux/ipc.h` call numbers, with the direct x86 syscall where there is one.
const IPC: &[(&str, u32, Option<u32>)] = &[
    ("semop", 1, None),
    ("semget", 2, Some(393)),
    ("semctl", 3, Some(394)),
    ("semtimedop", 4, None),
    ("msgsnd", 11, Some(400)),
    ("msgrcv", 12, Some(401)),
    ("msgget", 13, Some(399)),
    ("msgctl", 14, Some(402)),
    ("shmat", 21, Some(397)),
    ("shmdt", 22, Some(398)),
    ("shmget", 23, Some(395)),
    ("shmctl", 24, Some(396)),
];

/// The outcome for one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefVerdict {
    /// This filter return value.
    Action(u32),
    /// Conditional rules with these different actions all match (libseccomp's choice then
    /// follows its rule tree; the compiler takes the most restrictive).
    Overlap(Vec<u32>),
}

/// A filter return value for an OCI action (EPERM when `errnoRet` is absent).
pub fn ret_value(a: LinuxSeccompAction, errno: Option<u32>) -> u32 {
    let data = errno.unwrap_or(1) & 0xffff;
    match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => 0,
        LinuxSeccompAction::ScmpActKillProcess => 0x8000_0000,
        LinuxSeccompAction::ScmpActTrap => 0x0003_0000,
        LinuxSeccompAction::ScmpActErrno => 0x0005_0000 | data,
        LinuxSeccompAction::ScmpActTrace => 0x7ff0_0000 | data,
        LinuxSeccompAction::ScmpActNotify => 0x7fc0_0000,
        LinuxSeccompAction::ScmpActLog => 0x7ffc_0000,
        LinuxSeccompAction::ScmpActAllow => 0x7fff_0000,
    }
}

/// (arg index, op, value, valueTwo)
type Cond = (usize, LinuxSeccompOperator, u64, u64);

fn holds(is64: bool, c: &Cond, args: &[u64; 6]) -> bool {
    let w = if is64 { u64::MAX } else { u64::from(u32::MAX) };
    let (v, x) = (args[c.0] & w, c.2 & w);
    match c.1 {
        LinuxSeccompOperator::ScmpCmpNe => v != x,
        LinuxSeccompOperator::ScmpCmpLt => v < x,
        LinuxSeccompOperator::ScmpCmpLe => v <= x,
        LinuxSeccompOperator::ScmpCmpEq => v == x,
        LinuxSeccompOperator::ScmpCmpGe => v >= x,
        LinuxSeccompOperator::ScmpCmpGt => v > x,
        // value is the mask, valueTwo the datum
        LinuxSeccompOperator::ScmpCmpMaskedEq => v & x == c.3 & x,
    }
}

/// A comparison that holds for every value (a MASKED_EQ whose mask is zero in the ABI's
/// width) does not make a rule conditional.
fn trivial(is64: bool, c: &Cond) -> bool {
    let w = if is64 { u64::MAX } else { u64::from(u32::MAX) };
    c.1 == LinuxSeccompOperator::ScmpCmpMaskedEq && c.2 & w == 0
}

enum Sys {
    Always(u32),
    Rules(Vec<(Vec<Cond>, u32)>),
}

/// Evaluate `profile` (its `architectures` plus `native`) for one input. `resolve` gives
/// a name's number on an ABI (by libseccomp name), `None` when the ABI lacks it.
pub fn evaluate(
    profile: &LinuxSeccomp,
    native: RefArch,
    resolve: &dyn Fn(&str, &str) -> Option<u32>,
    token: u32,
    nr: u32,
    args: &[u64; 6],
) -> RefVerdict {
    let default = ret_value(profile.default_action(), profile.default_errno_ret());
    let mut arches = vec![native];
    for a in profile.architectures().iter().flatten() {
        let name = a.to_string();
        if let Some(r) = REF_ARCHES.iter().find(|r| r.name == name) {
            if !arches.contains(r) {
                arches.push(*r);
            }
        }
    }
    let Some(arch) = arches
        .iter()
        .find(|a| a.token == token && a.nrs.0 <= nr && nr <= a.nrs.1)
    else {
        // A tracer's skip (-1) on x86_64 is not an x32 call.
        if token == 0xc000_003e && nr == u32::MAX && arches.iter().any(|a| a.token == token) {
            return RefVerdict::Action(default);
        }
        return RefVerdict::Action(0); // KILL_THREAD, libseccomp's bad-architecture action
    };
    let mut sys: Option<Sys> = None;
    for sc in profile.syscalls().iter().flatten() {
        let act = ret_value(sc.action(), sc.errno_ret());
        if act == default {
            continue;
        }
        let conds: Vec<Cond> = sc
            .args()
            .iter()
            .flatten()
            .map(|a| (a.index(), a.op(), a.value(), a.value_two().unwrap_or(0)))
            .collect();
        let mut count = [0; 6];
        for c in &conds {
            count[c.0] += 1;
        }
        // several comparisons of one argument: one rule each (as runc adds them)
        let groups: Vec<Vec<Cond>> = if count.iter().any(|&n| n > 1) {
            conds.iter().map(|c| vec![*c]).collect()
        } else {
            vec![conds]
        };
        for name in sc.names() {
            let mut direct = resolve(name, arch.name);
            let muxed = arch.mux.and_then(|(socketcall, ipc)| {
                let find = |t: &[(&str, u32, Option<u32>)]| {
                    t.iter()
                        .find(|(n, _, _)| n == name)
                        .map(|(_, c, d)| (*c, *d))
                };
                find(SOCKETCALL)
                    .map(|c| (socketcall, c))
                    .or_else(|| find(IPC).map(|c| (ipc, c)))
            });
            let muxed = muxed.map(|(mux_nr, (call, x86_direct))| {
                direct = direct.or(x86_direct);
                (mux_nr, call)
            });
            for g in &groups {
                let mut variants = Vec::new();
                if let Some((mux_nr, call)) = muxed {
                    let mut m: Vec<Cond> = g.iter().filter(|c| c.0 != 0).copied().collect();
                    m.push((0, LinuxSeccompOperator::ScmpCmpEq, u64::from(call), 0));
                    variants.push((mux_nr, m));
                }
                if let Some(d) = direct {
                    variants.push((d, g.clone()));
                }
                for (n, cs) in variants {
                    if n != nr {
                        continue;
                    }
                    let cs: Vec<Cond> = cs.into_iter().filter(|c| !trivial(arch.is64, c)).collect();
                    sys = match (sys.take(), cs.is_empty()) {
                        (None, true) => Some(Sys::Always(act)),
                        (None, false) => Some(Sys::Rules(vec![(cs, act)])),
                        (Some(Sys::Always(a)), _) => Some(Sys::Always(a)),
                        (Some(Sys::Rules(_)), true) => Some(Sys::Always(act)),
                        (Some(Sys::Rules(mut r)), false) => {
                            r.push((cs, act));
                            Some(Sys::Rules(r))
                        }
                    };
                }
            }
        }
    }
    match sys {
        None => RefVerdict::Action(default),
        Some(Sys::Always(a)) => RefVerdict::Action(a),
        Some(Sys::Rules(rules)) => {
            let mut hit: Vec<u32> = rules
                .iter()
                .filter(|(cs, _)| cs.iter().all(|c| holds(arch.is64, c, args)))
                .map(|(_, a)| *a)
                .collect();
            hit.sort_unstable();
            hit.dedup();
            match hit.len() {
                0 => RefVerdict::Action(default),
                1 => RefVerdict::Action(hit[0]),
                _ => RefVerdict::Overlap(hit),
            }
        }
    }
}
