//! cgroup v2: an eBPF device filter attached to the cgroup, replacing the previous one.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
use oci_spec::runtime::LinuxDeviceCgroup;

use super::{checked_rules, program, target, DeviceError};
use crate::sys::bpf::{self, Insn, LoadOptions};

/// Name the filter carries (`bpftool prog` shows it), so ours can be told apart.
pub const PROGRAM_NAME: &str = "coracle_devices";

/// Verifier log size for the retry after a rejected load.
const LOG_SIZE: usize = 1 << 20;

/// Generate a BPF_PROG_TYPE_CGROUP_DEVICE program from `rules` (replayed onto a
/// deny-all state as on v1, so both versions enforce the same thing), load it, attach it
/// to `cgroup_dir` (an O_DIRECTORY fd of the cgroup) with BPF_F_ALLOW_MULTI, and detach
/// the device programs attached there before, as runc: with exactly one old program,
/// BPF_F_REPLACE swaps it atomically (Linux 5.6+); otherwise the new program is attached
/// first and the old ones detached after, so the cgroup is never unfiltered (while both
/// are attached an access needs both to allow it).
pub fn apply_v2(
    cgroup_dir: BorrowedFd<'_>,
    rules: &[LinuxDeviceCgroup],
) -> Result<(), DeviceError> {
    let insns = program::generate(&target(&checked_rules(rules)?)?);
    let old = attached(cgroup_dir)?;
    let prog = load(&insns)?;
    let flags = bpf::F_ALLOW_MULTI;
    if let [only] = old.as_slice() {
        match bpf::prog_attach(
            cgroup_dir,
            prog.as_fd(),
            bpf::ATTACH_CGROUP_DEVICE,
            flags | bpf::F_REPLACE,
            Some(only.as_fd()),
        ) {
            Ok(()) => return Ok(()),
            // A kernel without BPF_F_REPLACE: attach, then detach below.
            Err(Errno::EINVAL) => {}
            Err(source) => {
                return Err(DeviceError::Bpf {
                    op: "BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI|BPF_F_REPLACE)"
                        .into(),
                    source,
                })
            }
        }
    }
    bpf::prog_attach(
        cgroup_dir,
        prog.as_fd(),
        bpf::ATTACH_CGROUP_DEVICE,
        flags,
        None,
    )
    .map_err(|source| DeviceError::Bpf {
        op: "BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)".into(),
        source,
    })?;
    for old_prog in &old {
        bpf::prog_detach(cgroup_dir, old_prog.as_fd(), bpf::ATTACH_CGROUP_DEVICE).map_err(
            |source| DeviceError::Bpf {
                op: "BPF_PROG_DETACH (BPF_CGROUP_DEVICE) of the previous filter".into(),
                source,
            },
        )?;
    }
    Ok(())
}

/// The device programs attached directly to the cgroup, as fds. Programs we may not
/// open (EPERM/EACCES: an LSM guarding another manager's program) are skipped, as runc
/// does: extra device programs can only deny more, never allow.
pub fn attached(cgroup_dir: BorrowedFd<'_>) -> Result<Vec<OwnedFd>, DeviceError> {
    let ids = bpf::prog_query(cgroup_dir, bpf::ATTACH_CGROUP_DEVICE).map_err(|source| {
        DeviceError::Bpf {
            op: "BPF_PROG_QUERY (BPF_CGROUP_DEVICE)".into(),
            source,
        }
    })?;
    let mut fds = Vec::with_capacity(ids.len());
    for id in ids {
        match bpf::prog_get_fd_by_id(id) {
            Ok(fd) => fds.push(fd),
            Err(Errno::EPERM | Errno::EACCES) => {}
            // Detached and freed since the query: nothing to replace.
            Err(Errno::ENOENT) => {}
            Err(source) => {
                return Err(DeviceError::Bpf {
                    op: format!("BPF_PROG_GET_FD_BY_ID {id}"),
                    source,
                })
            }
        }
    }
    Ok(fds)
}

pub(crate) fn load(insns: &[Insn]) -> Result<OwnedFd, DeviceError> {
    let attempt = |log: Option<&mut [u8]>| {
        bpf::prog_load(
            insns,
            LoadOptions {
                prog_type: bpf::PROG_TYPE_CGROUP_DEVICE,
                license: c"Apache",
                name: PROGRAM_NAME,
                log,
            },
        )
    };
    let first = match attempt(None) {
        // Before Linux 5.11 programs are charged to RLIMIT_MEMLOCK: lift it for the
        // load (as runc does) and put it back, so nothing forked later inherits it.
        Err(Errno::EPERM) => with_memlock_lifted(|| attempt(None)),
        other => other,
    };
    if let Ok(fd) = first {
        return Ok(fd);
    }
    // Load again with a log so the error carries the verifier's reason.
    let mut log = vec![0u8; LOG_SIZE];
    let source = match with_memlock_lifted(|| attempt(Some(&mut log))) {
        Ok(fd) => return Ok(fd),
        Err(source) => source,
    };
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
    if text.is_empty() {
        return Err(DeviceError::Bpf {
            op: "BPF_PROG_LOAD (BPF_PROG_TYPE_CGROUP_DEVICE)".into(),
            source,
        });
    }
    Err(DeviceError::Verifier {
        source,
        insns: insns.len(),
        reason: verifier_reason(&text).to_string(),
        log: text,
    })
}

/// The verifier's complaint: the last log line that is not its closing statistics.
fn verifier_reason(log: &str) -> &str {
    log.lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
        })
        .unwrap_or("")
}

fn with_memlock_lifted<T>(f: impl FnOnce() -> nix::Result<T>) -> nix::Result<T> {
    let Ok(saved) = getrlimit(Resource::RLIMIT_MEMLOCK) else {
        return f();
    };
    if setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY).is_err() {
        return f();
    }
    let out = f();
    // Lowering back is always permitted; a failure leaves the lifted limit, which is
    // what runc leaves for good.
    let _ = setrlimit(Resource::RLIMIT_MEMLOCK, saved.0, saved.1);
    out
}
