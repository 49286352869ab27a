//! libseccomp as the oracle: build the filter the way runc does and export its BPF.

use std::io::{Read, Seek};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompOperator};

use crate::seccomp::action;

fn scmp_action(a: u32) -> ScmpAction {
    let data = a & 0xffff;
    match a & 0xffff_0000 {
        action::KILL_PROCESS => ScmpAction::KillProcess,
        action::KILL_THREAD => ScmpAction::KillThread,
        action::TRAP => ScmpAction::Trap,
        action::ERRNO => ScmpAction::Errno(data as i32),
        action::USER_NOTIF => ScmpAction::Notify,
        action::TRACE => ScmpAction::Trace(data as u16),
        action::LOG => ScmpAction::Log,
        _ => ScmpAction::Allow,
    }
}

/// Profiles libseccomp did not finish building within [`TIMEOUT`] (see [`program`]).
pub(super) static HANGS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How long libseccomp gets to build one filter.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// libseccomp's program for `profile`, or `None` when libseccomp (hence runc) refuses it
/// or does not finish: 2.5.4 can loop forever in `seccomp_rule_add` (e.g. `read` with
/// `a0 < 1 && a1 < 0xebb8000000000000` then `a0 < 1 && a1 < 0x80000000`, both ERRNO(23)).
/// The build runs on its own thread; a hung one is left spinning and counted in [`HANGS`].
pub(super) fn program(profile: &LinuxSeccomp) -> Option<Vec<libc::sock_filter>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let p = profile.clone();
    std::thread::spawn(move || {
        let _ = tx.send(build(&p));
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(prog) => prog,
        Err(_) => {
            HANGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            None
        }
    }
}

fn build(profile: &LinuxSeccomp) -> Option<Vec<libc::sock_filter>> {
    let default =
        action::from_oci(profile.default_action(), profile.default_errno_ret(), "").ok()?;
    let mut ctx = ScmpFilterContext::new(scmp_action(default)).ok()?;
    for a in profile.architectures().iter().flatten() {
        let arch: ScmpArch = a.to_string().parse().ok()?;
        ctx.add_arch(arch).ok()?;
    }
    for sc in profile.syscalls().iter().flatten() {
        let act = action::from_oci(sc.action(), sc.errno_ret(), "").ok()?;
        if act == default {
            continue;
        }
        let args = sc.args().clone().unwrap_or_default();
        let conds: Vec<ScmpArgCompare> = args
            .iter()
            .map(|a| {
                let op = match a.op() {
                    LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
                    LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
                    LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
                    LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
                    LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
                    LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
                    LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(a.value()),
                };
                let datum = if a.op() == LinuxSeccompOperator::ScmpCmpMaskedEq {
                    a.value_two().unwrap_or(0)
                } else {
                    a.value()
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
                continue; // runc: unknown syscall, debug log, go on
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
    let mut f = tempfile()?;
    ctx.export_bpf(&f).ok()?;
    let mut bytes = Vec::new();
    f.rewind().ok()?;
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

fn tempfile() -> Option<std::fs::File> {
    let dir = std::env::temp_dir();
    let path = dir.join(format!(
        "coracle-seccomp-oracle-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .ok()?;
    std::fs::remove_file(&path).ok()?;
    Some(f)
}

/// libseccomp's own number for `name` on `arch` (for the table tests).
pub(super) fn resolve(name: &str, arch: &str) -> Option<u32> {
    let arch: ScmpArch = arch.parse().ok()?;
    let s = ScmpSyscall::from_name_by_arch(name, arch).ok()?;
    let n = i32::from(s);
    (n >= 0).then_some(n as u32)
}
