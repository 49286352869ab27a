//! Differential verdicts: for a profile and `seccomp_data` inputs decoded from the fuzzer's
//! bytes, our program's verdict equals (1) an independent evaluation of the profile's
//! rules (`reference.rs`) on every input no two rules with different actions match, and
//! (2) the verdict of libseccomp's own program (linked from the system's libseccomp), except
//! for the divergences documented in the seccomp module: profiles whose libseccomp program
//! reads a stale accumulator or misses the syscall load (`accflow.rs`), overlapping rules,
//! and rules libseccomp drops when merging (it applies the entry alone). libseccomp is
//! not asked at all for a profile with a `SCMP_CMP_MASKED_EQ` whose mask is 0, and gets 2 s
//! per profile otherwise: 2.5.4 can loop forever in `seccomp_rule_add` (found by this
//! target); the rules' evaluation still checks ours there.
#![no_main]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompOperator};
use serde_json::{json, Value};

#[path = "../../crates/coracle/src/seccomp/tests/accflow.rs"]
#[allow(dead_code)]
mod accflow;
#[path = "../../crates/coracle/src/seccomp/interp.rs"]
#[allow(dead_code)]
mod interp;
#[path = "../../crates/coracle/src/seccomp/reference.rs"]
#[allow(dead_code)]
mod reference;

use reference::{evaluate, ret_value, RefVerdict, REF_ARCHES};

const NAMES: &[&str] = &[
    "read",
    "write",
    "getppid",
    "personality",
    "socket",
    "socketcall",
    "clone",
    "ioctl",
    "mmap",
    "kill",
    "shmget",
    "semop",
    "recv",
    "send",
    "accept4",
    "arm_fadvise64_64",
    "set_tls",
    "open",
    "openat",
    "waitpid",
    "fcntl64",
    "no_such_call",
    "sethostname",
    "prctl",
    "setsockopt",
    "futex",
    "ipc",
    "ptrace",
];
const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_LOG",
];
const OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];
const VALUES: &[u64] = &[
    0,
    1,
    2,
    3,
    22,
    0xff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0xffff_ffff_0000_0000,
    0x8000_0000_0000_0000,
    u64::MAX,
];
const ARCH_SETS: &[&[&str]] = &[
    &[],
    &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    &["SCMP_ARCH_X86"],
    &["SCMP_ARCH_X32"],
    &["SCMP_ARCH_AARCH64"],
    &["SCMP_ARCH_ARM"],
    &[
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM",
    ],
];
const TOKENS: &[u32] = &[
    0xc000_003e,
    0x4000_0003,
    0xc000_00b7,
    0x4000_0028,
    0xc000_00f3,
    0,
];

/// Bytes consumed front to back; zeros once exhausted.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self
            .0
            .split_first()
            .map(|(b, r)| (*b, r))
            .unwrap_or((0, &[]));
        self.0 = rest;
        b
    }
    fn pick<'b, T>(&mut self, v: &'b [T]) -> &'b T {
        &v[self.byte() as usize % v.len()]
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |a, _| a << 8 | u64::from(self.byte()))
    }
    fn value(&mut self) -> u64 {
        let b = self.byte();
        if b < 224 {
            VALUES[b as usize % VALUES.len()]
        } else {
            self.u64()
        }
    }
}

fn profile(b: &mut Bytes) -> Value {
    let mut syscalls = Vec::new();
    for _ in 0..b.byte() % 8 + 1 {
        let names: Vec<&str> = (0..b.byte() % 3 + 1).map(|_| *b.pick(NAMES)).collect();
        let args: Vec<Value> = (0..b.byte() % 4)
            .map(|_| {
                json!({"index": b.byte() % 3, "value": b.value(), "valueTwo": b.value(),
                       "op": *b.pick(OPS)})
            })
            .collect();
        let mut r = json!({"names": names, "action": *b.pick(ACTIONS), "args": args});
        if b.byte() & 1 == 1 {
            r["errnoRet"] = json!(b.byte() % 40);
        }
        syscalls.push(r);
    }
    let mut p = json!({
        "defaultAction": *b.pick(ACTIONS),
        "architectures": *b.pick(ARCH_SETS),
        "syscalls": syscalls,
    });
    if b.byte() & 1 == 1 {
        p["defaultErrnoRet"] = json!(38);
    }
    p
}

fn scmp_action(a: u32) -> ScmpAction {
    let data = a & 0xffff;
    match a & 0xffff_0000 {
        0x8000_0000 => ScmpAction::KillProcess,
        0 => ScmpAction::KillThread,
        0x0003_0000 => ScmpAction::Trap,
        0x0005_0000 => ScmpAction::Errno(data as i32),
        0x7fc0_0000 => ScmpAction::Notify,
        0x7ff0_0000 => ScmpAction::Trace(data as u16),
        0x7ffc_0000 => ScmpAction::Log,
        _ => ScmpAction::Allow,
    }
}

/// One file reused for every export.
static EXPORT: Mutex<Option<File>> = Mutex::new(None);

/// libseccomp's program for `p`, or `None` when it refuses the profile or does not finish
/// within 2 s (2.5.4 can loop forever in `seccomp_rule_add`; the hung thread is left
/// spinning and the profile checked against the rules only).
fn libseccomp_program(p: &LinuxSeccomp) -> Option<Vec<libc::sock_filter>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let p = p.clone();
    std::thread::spawn(move || {
        let _ = tx.send(build(&p));
    });
    let r = rx.recv_timeout(std::time::Duration::from_secs(2));
    if r.is_err() {
        eprintln!("libseccomp did not finish; checking against the rules only");
    }
    r.ok().flatten()
}

/// libseccomp's program for `p`, built as runc builds it.
fn build(p: &LinuxSeccomp) -> Option<Vec<libc::sock_filter>> {
    let default = ret_value(p.default_action(), p.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(scmp_action(default)).ok()?;
    for a in p.architectures().iter().flatten() {
        let arch: ScmpArch = a.to_string().parse().ok()?;
        ctx.add_arch(arch).ok()?;
    }
    for sc in p.syscalls().iter().flatten() {
        let act = ret_value(sc.action(), sc.errno_ret());
        if act == default {
            continue;
        }
        let args = sc.args().clone().unwrap_or_default();
        let conds: Vec<ScmpArgCompare> = args
            .iter()
            .map(|a| {
                let (op, datum) = match a.op() {
                    LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, a.value()),
                    LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, a.value()),
                    LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, a.value()),
                    LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, a.value()),
                    LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, a.value()),
                    LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, a.value()),
                    LinuxSeccompOperator::ScmpCmpMaskedEq => (
                        ScmpCompareOp::MaskedEqual(a.value()),
                        a.value_two().unwrap_or(0),
                    ),
                };
                ScmpArgCompare::new(a.index() as u32, op, datum)
            })
            .collect();
        let mut counts = [0; 6];
        for a in &args {
            counts[a.index()] += 1;
        }
        let split = counts.iter().any(|&c| c > 1);
        for name in sc.names() {
            let Ok(sys) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let ok = if conds.is_empty() {
                ctx.add_rule(scmp_action(act), sys).is_ok()
            } else if split {
                conds.iter().all(|c| {
                    ctx.add_rule_conditional(scmp_action(act), sys, &[*c])
                        .is_ok()
                })
            } else {
                ctx.add_rule_conditional(scmp_action(act), sys, &conds)
                    .is_ok()
            };
            if !ok {
                return None;
            }
        }
    }
    let mut guard = EXPORT.lock().unwrap();
    let f = guard.get_or_insert_with(|| {
        let path =
            std::env::temp_dir().join(format!("coracle-fuzz-verdict-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("export file");
        let _ = std::fs::remove_file(&path);
        f
    });
    f.set_len(0).ok()?;
    f.seek(SeekFrom::Start(0)).ok()?;
    ctx.export_bpf(&*f).ok()?;
    f.seek(SeekFrom::Start(0)).ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    Some(
        bytes
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}

fn resolve(name: &str, arch: &str) -> Option<u32> {
    let arch: ScmpArch = arch.parse().ok()?;
    let n = i32::from(ScmpSyscall::from_name_by_arch(name, arch).ok()?);
    (n >= 0).then_some(n as u32)
}

/// libseccomp applies `expected` to `d` given the matching entry alone, but not within
/// the whole profile: its tree merge lost the rule.
fn dropped_by_merge(json: &Value, d: &interp::SeccompData, expected: u32) -> bool {
    let mut json = json.clone();
    let entries = json["syscalls"].as_array().cloned().unwrap_or_default();
    entries.into_iter().any(|e| {
        json["syscalls"] = Value::Array(vec![e]);
        let alone: LinuxSeccomp = serde_json::from_value(json.clone()).unwrap();
        libseccomp_program(&alone)
            .filter(|p| accflow::ambiguous_acc(p).is_none())
            .is_some_and(|p| interp::run(&p, d).unwrap().0 == expected)
    })
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let json = profile(&mut b);
    if std::env::var_os("SECCOMP_VERDICT_PRINT").is_some() {
        eprintln!("profile: {json}");
    }
    let p: LinuxSeccomp = serde_json::from_value(json.clone()).expect("generated profile parses");
    let Ok(ours) = coracle::seccomp::compile(&p) else {
        return;
    };
    interp::validate(&ours.program).expect("valid program");
    assert_eq!(
        accflow::ambiguous_acc(&ours.program),
        None,
        "our accumulator use"
    );
    let zero_mask = p.syscalls().iter().flatten().any(|sc| {
        sc.args()
            .iter()
            .flatten()
            .any(|a| a.op() == LinuxSeccompOperator::ScmpCmpMaskedEq && a.value() == 0)
    });
    let theirs = if zero_mask {
        None
    } else {
        libseccomp_program(&p).filter(|t| accflow::ambiguous_acc(t).is_none())
    };
    while !b.0.is_empty() {
        let token = *b.pick(TOKENS);
        let nr = match b.byte() % 4 {
            0 => u32::from(b.byte()) | u32::from(b.byte() & 1) << 8,
            1 => 0x4000_0000 | u32::from(b.byte()) | u32::from(b.byte() & 1) << 8,
            2 => 0x100 | u32::from(b.byte()), // 256-511, x86's socket and IPC calls
            _ => b.u64() as u32,
        };
        let mut d = interp::SeccompData {
            nr,
            arch: token,
            ip: 0,
            args: [0; 6],
        };
        for a in d.args.iter_mut().take(3) {
            *a = b.value();
        }
        let (v1, _) = interp::run(&ours.program, &d).expect("ours runs");
        let expected = match evaluate(&p, REF_ARCHES[0], &resolve, token, nr, &d.args) {
            RefVerdict::Overlap(_) => continue,
            RefVerdict::Action(r) => r,
        };
        assert_eq!(
            v1, expected,
            "ours vs the rules for {d:x?}\nprofile: {json}"
        );
        if let Some(t) = &theirs {
            let (v2, _) = interp::run(t, &d).expect("libseccomp's runs");
            if v2 != v1 && !dropped_by_merge(&json, &d, v1) {
                panic!("ours {v1:#x}, libseccomp {v2:#x} for {d:x?}\nprofile: {json}");
            }
        }
    }
});
