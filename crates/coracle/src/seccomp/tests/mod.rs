//! Compiler tests: tables against libc and libseccomp, program validity, and verdicts
//! equal to libseccomp's on every input we generate (libseccomp-dev is the oracle).

mod accflow;
mod deprecated_name;
mod divergences;
mod oracle;
mod profiles;

use std::collections::BTreeSet;

use oci_spec::runtime::LinuxSeccomp;

use super::arch::{self, ArchInfo, X32_SYSCALL_BIT};
use super::interp::{run, validate, SeccompData};
use super::reference::{self, RefVerdict, REF_ARCHES};
use super::rules::{self, Cmp, Op, SysRules};
use super::{action, compile, tables};
use profiles::{Rng, VALUES};

fn all_arches() -> [ArchInfo; 6] {
    [
        arch::X86_64,
        arch::X86,
        arch::X32,
        arch::AARCH64,
        arch::ARM,
        arch::RISCV64,
    ]
}

/// Argument values worth testing for one profile: its values, their neighbours, and the
/// 32-bit halves swapped around.
fn interesting(profile: &LinuxSeccomp) -> Vec<u64> {
    let mut v: BTreeSet<u64> = VALUES.iter().copied().collect();
    for s in profile.syscalls().iter().flatten() {
        for a in s.args().iter().flatten() {
            for x in [Some(a.value()), a.value_two()].into_iter().flatten() {
                for y in [
                    x,
                    x.wrapping_add(1),
                    x.wrapping_sub(1),
                    x & 0xffff_ffff,
                    x >> 32,
                    x | (1 << 32),
                ] {
                    v.insert(y);
                }
            }
        }
    }
    for i in 1..=24 {
        v.insert(i);
    }
    v.into_iter().collect()
}

struct Stats {
    inputs: usize,
    ours_max: usize,
    /// Inputs where two conditional rules with different actions both match: libseccomp
    /// then decides by its rule-tree order, we by restrictiveness.
    overlaps: usize,
    /// Inputs where libseccomp's program drops a rule it applies when given that rule's
    /// entry alone (its 64-bit tree merge; see the module docs).
    dropped: usize,
}

/// Why the differential comparison of a profile did not run.
#[derive(Debug, PartialEq, Eq)]
enum Skip {
    /// libseccomp (hence runc) refuses the profile.
    Refused,
    /// libseccomp's program compares a stale accumulator or misses the syscall-number
    /// load (see [`accflow`]).
    Acc(accflow::AccDefect),
}

fn holds(is64: bool, c: &Cmp, args: &[u64; 6]) -> bool {
    let mut v = args[c.arg as usize];
    if !is64 {
        v &= 0xffff_ffff;
    }
    match c.op {
        Op::Ne => v != c.datum,
        Op::Lt => v < c.datum,
        Op::Le => v <= c.datum,
        Op::Eq => v == c.datum,
        Op::Ge => v >= c.datum,
        Op::Gt => v > c.datum,
        Op::MaskedEq => v & c.mask == c.datum,
    }
}

/// The distinct actions of the conditional rules matching `d`, from the resolved rules.
fn matching(resolved: &rules::Resolved, d: &SeccompData) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for a in &resolved.arches {
        let (lo, hi) = a.arch.nr_range;
        if a.arch.token != d.arch || d.nr < lo || d.nr > hi {
            continue;
        }
        if let Some(SysRules::Rules(rs)) = a.syscalls.get(&d.nr) {
            for r in rs {
                if r.conds.iter().all(|c| holds(a.arch.is64, c, &d.args)) {
                    out.insert(r.action);
                }
            }
        }
    }
    out
}

/// Run both programs on many inputs; panic with the first disagreement.
fn differential(
    name: &str,
    profile: &LinuxSeccomp,
    rng: &mut Rng,
    per_nr: usize,
) -> Result<Stats, Skip> {
    let ours = compile(profile).unwrap_or_else(|e| panic!("{name}: compile: {e}"));
    validate(&ours.program).unwrap_or_else(|e| panic!("{name}: invalid program: {e}"));
    assert_eq!(
        accflow::ambiguous_acc(&ours.program),
        None,
        "{name}: our program compares a stale accumulator"
    );
    let theirs = oracle::program(profile).ok_or(Skip::Refused)?;
    if let Some(pc) = accflow::ambiguous_acc(&theirs) {
        return Err(Skip::Acc(pc));
    }
    let default =
        action::from_oci(profile.default_action(), profile.default_errno_ret(), "").unwrap();
    let mut arches = vec![arch::native().unwrap()];
    for a in profile.architectures().iter().flatten() {
        let info = arch::from_oci(*a).unwrap();
        if !arches.contains(&info) {
            arches.push(info);
        }
    }
    let resolved = rules::resolve(profile, default, &arches).unwrap();
    let values = interesting(profile);
    let mut tokens: Vec<u32> = all_arches().iter().map(|a| a.token).collect();
    tokens.extend([0, 0x4000_003e, u32::MAX, 0xc000_0016]);
    let mut stats = Stats {
        inputs: 0,
        ours_max: 0,
        overlaps: 0,
        dropped: 0,
    };
    let reference = Reference::new(profile);
    let alone = Alone(profile, std::cell::OnceCell::new());
    for &token in &tokens {
        let mut nrs: BTreeSet<u32> = (0..600).collect();
        nrs.extend((0..600).map(|n| n | X32_SYSCALL_BIT));
        nrs.extend([
            0xf0001,
            0xf0005,
            0x3fff_ffff,
            u32::MAX,
            u32::MAX - 1,
            0x8000_0000,
        ]);
        for _ in 0..50 {
            nrs.insert(rng.next() as u32);
        }
        for nr in nrs {
            for k in 0..per_nr {
                let mut d = SeccompData {
                    nr,
                    arch: token,
                    ip: rng.next(),
                    args: [0; 6],
                };
                for a in d.args.iter_mut() {
                    *a = if k == 0 {
                        0
                    } else if rng.below(8) == 0 {
                        rng.next()
                    } else {
                        *rng.pick(&values)
                    };
                }
                let (v1, steps) =
                    run(&ours.program, &d).unwrap_or_else(|e| panic!("{name}: ours: {e}"));
                let (v2, _) =
                    run(&theirs, &d).unwrap_or_else(|e| panic!("{name}: libseccomp: {e}"));
                if v1 != v2 || reference.names(d.arch, d.nr) {
                    match reference.eval(&d) {
                        RefVerdict::Overlap(acts) => {
                            assert!(
                                matching(&resolved, &d).len() > 1,
                                "{name}: {d:x?} {acts:x?}"
                            );
                            stats.overlaps += 1;
                            continue;
                        }
                        RefVerdict::Action(r) => assert_eq!(
                            v1,
                            r,
                            "{name}: ours {v1:#x}, the rules {r:#x}, for {d:x?}\nprofile: {}",
                            serde_json::to_string(profile).unwrap()
                        ),
                    }
                    if v1 != v2 && alone.dropped_by_merge(&d, v1) {
                        stats.dropped += 1;
                        continue;
                    }
                }
                assert_eq!(
                    v1, v2,
                    "{name}: verdict differs for {d:x?}: ours {v1:#x}, libseccomp {v2:#x}\nprofile: {}",
                    serde_json::to_string(profile).unwrap()
                );
                stats.inputs += 1;
                stats.ours_max = stats.ours_max.max(steps);
            }
        }
    }
    Ok(stats)
}

/// The reference evaluation of a profile, with libseccomp's syscall numbers cached.
struct Reference<'a> {
    profile: &'a LinuxSeccomp,
    numbers: std::collections::HashMap<String, Vec<(&'static str, Option<u32>)>>,
    named: BTreeSet<(u32, u32)>,
}

impl<'a> Reference<'a> {
    fn new(profile: &'a LinuxSeccomp) -> Self {
        let mut numbers = std::collections::HashMap::new();
        let mut named = BTreeSet::new();
        for sc in profile.syscalls().iter().flatten() {
            for n in sc.names() {
                for a in REF_ARCHES {
                    let nr = oracle::resolve(n, a.name);
                    numbers
                        .entry(n.clone())
                        .or_insert_with(Vec::new)
                        .push((a.name, nr));
                    if let Some(nr) = nr {
                        named.insert((a.token, nr));
                    }
                    if let Some((s, i)) = a.mux {
                        named.extend([(a.token, s), (a.token, i)]);
                    }
                }
            }
        }
        Reference {
            profile,
            numbers,
            named,
        }
    }

    /// The input's syscall is one the profile may name (otherwise both programs give the
    /// default or the bad-architecture action, and the reference adds nothing).
    fn names(&self, token: u32, nr: u32) -> bool {
        // x86's direct socket and IPC calls (359-373, 393-402) are muxed names libseccomp
        // resolves to pseudo-numbers.
        self.named.contains(&(token, nr))
            || (token == arch::AUDIT_ARCH_I386 && (337..=402).contains(&nr))
    }

    fn eval(&self, d: &SeccompData) -> RefVerdict {
        let native = REF_ARCHES[0];
        let resolve = |n: &str, a: &str| {
            self.numbers
                .get(n)
                .and_then(|v| v.iter().find(|(arch, _)| *arch == a))
                .and_then(|(_, nr)| *nr)
        };
        reference::evaluate(self.profile, native, &resolve, d.arch, d.nr, &d.args)
    }
}

/// libseccomp's program for each entry of the profile alone (same default and
/// architectures), built on first use.
struct Alone<'a>(
    &'a LinuxSeccomp,
    std::cell::OnceCell<Vec<Vec<libc::sock_filter>>>,
);

impl Alone<'_> {
    /// libseccomp applies `expected` (the rules' verdict) to `d` given alone some entry,
    /// but not within the whole profile: its 64-bit tree merge dropped that rule.
    fn dropped_by_merge(&self, d: &SeccompData, expected: u32) -> bool {
        let progs = self.1.get_or_init(|| {
            let mut json = serde_json::to_value(self.0).unwrap();
            let entries = json["syscalls"].as_array().cloned().unwrap_or_default();
            entries
                .into_iter()
                .filter_map(|e| {
                    json["syscalls"] = serde_json::Value::Array(vec![e]);
                    let alone: LinuxSeccomp = serde_json::from_value(json.clone()).unwrap();
                    oracle::program(&alone).filter(|p| accflow::ambiguous_acc(p).is_none())
                })
                .collect()
        });
        progs.iter().any(|p| run(p, d).unwrap().0 == expected)
    }
}

fn containers_common() -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(profiles::CONTAINERS_COMMON).ok()?;
    Some(serde_json::from_str(&text).expect("containers-common profile is JSON"))
}

#[test]
fn tables_match_libc_on_x86_64() {
    let pairs: &[(&str, libc::c_long)] = &[
        ("read", libc::SYS_read),
        ("getppid", libc::SYS_getppid),
        ("socket", libc::SYS_socket),
        ("clone3", libc::SYS_clone3),
        ("openat2", libc::SYS_openat2),
        ("rt_sigreturn", libc::SYS_rt_sigreturn),
        ("futex_waitv", libc::SYS_futex_waitv),
        ("set_mempolicy_home_node", libc::SYS_set_mempolicy_home_node),
        ("fchmodat2", libc::SYS_fchmodat2),
        ("mseal", libc::SYS_mseal),
    ];
    for (name, nr) in pairs {
        assert_eq!(
            tables::lookup(tables::X86_64, name),
            Some(*nr as u32),
            "{name}"
        );
    }
    assert!(
        tables::X86_64.windows(2).all(|w| w[0].0 < w[1].0),
        "sorted by name"
    );
}

/// Every name both we and libseccomp know has the same number on every architecture.
#[test]
fn tables_match_libseccomp() {
    let mut compared = 0;
    for a in all_arches() {
        assert!(
            a.table.windows(2).all(|w| w[0].0 < w[1].0),
            "{} sorted",
            a.name
        );
        for (name, nr) in a.table {
            if let Some(theirs) = oracle::resolve(name, a.name) {
                assert_eq!(*nr, theirs, "{name} on {}", a.name);
                compared += 1;
            }
        }
    }
    assert!(compared > 1500, "only {compared} names compared");
}

#[test]
fn containers_common_matches_libseccomp() {
    let Some(engine) = containers_common() else {
        panic!(
            "{} missing: apt-get install golang-github-containers-common",
            profiles::CONTAINERS_COMMON
        );
    };
    let all_caps: Vec<&str> = profiles::DEFAULT_CAPS
        .iter()
        .copied()
        .chain([
            "CAP_SYS_ADMIN",
            "CAP_SYS_PTRACE",
            "CAP_SYS_BOOT",
            "CAP_SYS_MODULE",
            "CAP_SYSLOG",
            "CAP_SYS_TIME",
            "CAP_BPF",
            "CAP_PERFMON",
            "CAP_SYS_NICE",
            "CAP_SYS_RAWIO",
            "CAP_SYS_PACCT",
            "CAP_SYS_TTY_CONFIG",
            "CAP_SYS_RESOURCE",
            "CAP_DAC_READ_SEARCH",
            "CAP_NET_ADMIN",
        ])
        .collect();
    let mut rng = Rng(0x5eed);
    for (label, caps) in [
        ("default caps", profiles::DEFAULT_CAPS),
        ("many caps", &all_caps[..]),
    ] {
        let p = profiles::prepare(&engine, caps);
        let s = differential(label, &p, &mut rng, 6).expect("libseccomp accepts containers-common");
        assert_eq!(s.overlaps, 0, "containers-common has no overlapping rules");
        eprintln!(
            "containers-common ({label}): {} inputs agree, at most {} instructions",
            s.inputs, s.ours_max
        );
    }
}

#[test]
fn docker_fixture_matches_libseccomp() {
    let p: LinuxSeccomp =
        serde_json::from_str(include_str!("../testdata/docker-default.json")).unwrap();
    let mut rng = Rng(0xd0c);
    let s = differential("docker", &p, &mut rng, 6).expect("libseccomp accepts the fixture");
    assert_eq!(s.overlaps, 0);
    eprintln!("docker fixture: {} inputs agree", s.inputs);
}

/// Random profiles over x86_64, x86, x32, aarch64 and arm agree with libseccomp on every
/// input, except the two documented divergences (see the module docs): inputs two
/// conditional rules with different actions both match, and profiles for which
/// libseccomp's program compares a stale accumulator.
#[test]
fn random_profiles_match_libseccomp() {
    let seeds: u64 = std::env::var("CORACLE_SECCOMP_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let (mut agreed, mut refused, mut inputs, mut overlaps, mut dropped) = (0, 0, 0, 0, 0);
    let (mut stale, mut no_load) = (0, 0);
    for seed in 0..seeds {
        let mut rng = Rng(0x1234_5678_9abc_def1 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        for i in 0..100 {
            let p = profiles::random(&mut rng);
            match differential(&format!("seed {seed} random #{i}"), &p, &mut rng, 2) {
                Ok(s) => {
                    agreed += 1;
                    inputs += s.inputs;
                    overlaps += s.overlaps;
                    dropped += s.dropped;
                }
                Err(Skip::Refused) => refused += 1,
                Err(Skip::Acc(accflow::AccDefect::Stale(_))) => stale += 1,
                Err(Skip::Acc(accflow::AccDefect::NoSyscallLoad(_))) => no_load += 1,
            }
        }
    }
    eprintln!(
        "random profiles: {agreed} compared ({inputs} inputs agree, {overlaps} inputs matched by \
         rules with different actions, {dropped} where libseccomp dropped a merged rule); \
         skipped: {stale} with libseccomp's stale accumulator, {no_load} without its syscall \
         load, {refused} refused by libseccomp ({} hung)",
        oracle::HANGS.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(
        agreed * 10 > seeds as usize * 100 * 7,
        "too few profiles compared: {agreed}"
    );
}

/// Program size and cost on containers-common's profile, ours against libseccomp's.
#[test]
fn containers_common_size_and_cost() {
    let engine = containers_common().expect("containers-common profile installed");
    let p = profiles::prepare(&engine, profiles::DEFAULT_CAPS);
    let ours = compile(&p).unwrap().program;
    let theirs = oracle::program(&p).unwrap();
    let steps = |prog: &[libc::sock_filter], nr: libc::c_long| {
        let d = SeccompData {
            nr: nr as u32,
            arch: arch::AUDIT_ARCH_X86_64,
            ..Default::default()
        };
        run(prog, &d).unwrap()
    };
    for (name, nr) in [("getppid", libc::SYS_getppid), ("read", libc::SYS_read)] {
        let (v1, s1) = steps(&ours, nr);
        let (v2, s2) = steps(&theirs, nr);
        assert_eq!(
            (v1, v2),
            (super::action::ALLOW, super::action::ALLOW),
            "{name}"
        );
        eprintln!("{name}: ours {s1} instructions, libseccomp {s2}");
        // libseccomp tests rules one by one: cheap for read (first), dear for getppid.
        if name == "getppid" {
            assert!(s1 < s2, "{name}: ours {s1} >= libseccomp {s2}");
        }
        assert!(s1 <= 16, "{name}: {s1} instructions");
    }
    eprintln!(
        "program size: ours {}, libseccomp {}",
        ours.len(),
        theirs.len()
    );
}
