//! Installing a compiled filter, and checking beforehand that this kernel can honour it.
//!
//! The check runs in the parent (`create` fails before anything exists); the load
//! runs in the init, as late as the kernel's privilege rules allow.

use std::os::fd::OwnedFd;

use nix::errno::Errno;

use super::Filter;
use crate::sys::seccomp as sys;

/// Why a filter cannot be installed, or its listener not handed over.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A filter flag this kernel does not know.
    #[error("linux.seccomp.flags: {0} is not supported by this kernel")]
    FlagUnsupported(&'static str),
    /// Flags the kernel refuses together.
    #[error("linux.seccomp.flags: {0}")]
    FlagConflict(&'static str),
    /// A filter return action this kernel does not implement.
    #[error("linux.seccomp: action {0} is not supported by this kernel")]
    ActionUnsupported(&'static str),
    /// A seccomp(2) call failed.
    #[error("seccomp {op}: {desc} ({source:?})", desc = source.desc())]
    Sys {
        /// The operation.
        op: &'static str,
        /// The errno.
        #[source]
        source: Errno,
    },
    /// The listener fd could not be delivered to `linux.seccomp.listenerPath`.
    #[error("linux.seccomp.listenerPath {path}: {op}: {desc} ({source:?})", desc = source.desc())]
    Listener {
        /// The socket path.
        path: String,
        /// What failed.
        op: &'static str,
        /// The errno.
        #[source]
        source: Errno,
    },
}

/// The SECCOMP_FILTER_FLAG_* bits by the names `linux.seccomp.flags` uses.
pub const FLAG_NAMES: [(u32, &str); 6] = [
    (1 << 0, "SECCOMP_FILTER_FLAG_TSYNC"),
    (1 << 1, "SECCOMP_FILTER_FLAG_LOG"),
    (1 << 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
    (1 << 3, "SECCOMP_FILTER_FLAG_NEW_LISTENER"),
    (1 << 4, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
    (1 << 5, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
];

const TSYNC: u32 = 1 << 0;
const NEW_LISTENER: u32 = 1 << 3;
const TSYNC_ESRCH: u32 = 1 << 4;
const WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// The filter return actions (SECCOMP_RET_ACTION_FULL bits) and their OCI names.
const ACTIONS: [(u32, &str); 8] = [
    (0x8000_0000, "SCMP_ACT_KILL_PROCESS"),
    (0x0000_0000, "SCMP_ACT_KILL_THREAD"),
    (0x0003_0000, "SCMP_ACT_TRAP"),
    (0x0005_0000, "SCMP_ACT_ERRNO"),
    (0x7fc0_0000, "SCMP_ACT_NOTIFY"),
    (0x7ff0_0000, "SCMP_ACT_TRACE"),
    (0x7ffc_0000, "SCMP_ACT_LOG"),
    (0x7fff_0000, "SCMP_ACT_ALLOW"),
];

/// BPF_RET | BPF_K: return a constant.
const BPF_RET_K: u16 = 0x06;

/// Check, without installing anything, that this kernel supports every flag of
/// `filter` and every action its program can return; call it in the parent so an
/// unsupported feature fails `create` before the container exists (fail closed: the
/// kernel would treat an unknown action as KILL_PROCESS).
pub fn check(filter: &Filter) -> Result<(), LoadError> {
    check_flag_combination(filter.flags)?;
    check_flags_supported(filter.flags)?;
    for action in returned_actions(&filter.program) {
        let available = sys::action_available(action).map_err(|source| LoadError::Sys {
            op: "SECCOMP_GET_ACTION_AVAIL",
            source,
        })?;
        if !available {
            return Err(LoadError::ActionUnsupported(action_name(action)));
        }
    }
    Ok(())
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags) on the calling thread; returns the
/// listener fd when the flags ask for one (the profile uses SCMP_ACT_NOTIFY).
///
/// The caller must already hold no_new_privs or CAP_SYS_ADMIN; the kernel says EACCES
/// otherwise. An EINVAL is diagnosed: a flag this kernel lacks is named.
pub fn load(filter: &Filter) -> Result<Option<OwnedFd>, LoadError> {
    check_flag_combination(filter.flags)?;
    match sys::set_mode_filter(filter.flags, &filter.program) {
        Ok(fd) => {
            if filter.flags & NEW_LISTENER != 0 && fd.is_none() {
                return Err(LoadError::Sys {
                    op: "SECCOMP_SET_MODE_FILTER (no listener fd returned)",
                    source: Errno::EINVAL,
                });
            }
            Ok(fd)
        }
        Err(Errno::EINVAL) => {
            check_flags_supported(filter.flags)?;
            Err(LoadError::Sys {
                op: "SECCOMP_SET_MODE_FILTER",
                source: Errno::EINVAL,
            })
        }
        Err(source) => Err(LoadError::Sys {
            op: "SECCOMP_SET_MODE_FILTER",
            source,
        }),
    }
}

/// The combinations the kernel refuses whatever its version, named plainly.
fn check_flag_combination(flags: u32) -> Result<(), LoadError> {
    if flags & !FLAG_NAMES.iter().fold(0, |acc, (bit, _)| acc | bit) != 0 {
        return Err(LoadError::FlagUnsupported("an unknown flag bit"));
    }
    if flags & TSYNC != 0 && flags & NEW_LISTENER != 0 && flags & TSYNC_ESRCH == 0 {
        return Err(LoadError::FlagConflict(
            "SECCOMP_FILTER_FLAG_TSYNC with SCMP_ACT_NOTIFY needs SECCOMP_FILTER_FLAG_TSYNC_ESRCH",
        ));
    }
    if flags & WAIT_KILLABLE_RECV != 0 && flags & NEW_LISTENER == 0 {
        return Err(LoadError::FlagConflict(
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a profile with SCMP_ACT_NOTIFY",
        ));
    }
    Ok(())
}

/// Probe each flag on its own (WAIT_KILLABLE_RECV only makes sense with NEW_LISTENER).
fn check_flags_supported(flags: u32) -> Result<(), LoadError> {
    for &(bit, name) in &FLAG_NAMES {
        if flags & bit == 0 {
            continue;
        }
        let probe = if bit == WAIT_KILLABLE_RECV {
            bit | NEW_LISTENER
        } else {
            bit
        };
        let known = sys::filter_flags_supported(probe).map_err(|source| LoadError::Sys {
            op: "SECCOMP_SET_MODE_FILTER (flag probe)",
            source,
        })?;
        if !known {
            return Err(LoadError::FlagUnsupported(name));
        }
    }
    Ok(())
}

/// Every distinct action (SECCOMP_RET_ACTION_FULL part) the program returns as a constant.
fn returned_actions(program: &[libc::sock_filter]) -> Vec<u32> {
    let mut actions: Vec<u32> = program
        .iter()
        .filter(|i| i.code == BPF_RET_K)
        .map(|i| i.k & libc::SECCOMP_RET_ACTION_FULL)
        .collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}

fn action_name(action: u32) -> &'static str {
    ACTIONS
        .iter()
        .find(|(a, _)| *a == action)
        .map_or("(unknown return value)", |(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ret(k: u32) -> libc::sock_filter {
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k,
        }
    }

    fn filter(program: Vec<libc::sock_filter>, flags: u32) -> Filter {
        Filter {
            program,
            flags,
            listener: flags & NEW_LISTENER != 0,
            skipped: Vec::new(),
        }
    }

    #[test]
    fn actions_are_read_from_the_program() {
        let p = vec![
            ret(0x7fff_0000),
            ret(0x0005_0026),
            ret(0x0005_0001),
            libc::sock_filter {
                code: 0x20,
                jt: 0,
                jf: 0,
                k: 0x8000_0000,
            },
        ];
        assert_eq!(returned_actions(&p), vec![0x0005_0000, 0x7fff_0000]);
        assert_eq!(action_name(0x7fc0_0000), "SCMP_ACT_NOTIFY");
    }

    #[test]
    fn this_kernel_passes_the_check_and_bad_requests_are_named() {
        let f = filter(
            vec![ret(0x7fff_0000), ret(0x7fc0_0000), ret(0x8000_0000)],
            2,
        );
        check(&f).unwrap();
        let err = check(&filter(vec![ret(0x7ff8_0000)], 0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.seccomp: action (unknown return value) is not supported by this kernel"
        );
        let err = check(&filter(vec![ret(0x7fff_0000)], TSYNC | NEW_LISTENER)).unwrap_err();
        assert!(err.to_string().contains("TSYNC_ESRCH"), "{err}");
        let err = check(&filter(vec![ret(0x7fff_0000)], WAIT_KILLABLE_RECV)).unwrap_err();
        assert!(
            err.to_string().starts_with("linux.seccomp.flags: "),
            "{err}"
        );
        let err = check(&filter(vec![ret(0x7fff_0000)], 1 << 20)).unwrap_err();
        assert!(matches!(err, LoadError::FlagUnsupported(_)), "{err}");
    }

    /// In a forked child (the filter stays there): with no_new_privs, a filter that
    /// answers getpgid with errno 77 and allows the rest is really in force.
    #[test]
    fn load_installs_the_filter_on_the_calling_thread() {
        use crate::sys::testing::{exit_now, fork};
        use nix::sys::wait::{waitpid, WaitStatus};
        const LD_NR: u16 = 0x20;
        const JEQ_K: u16 = 0x15;
        let program = vec![
            libc::sock_filter {
                code: LD_NR,
                jt: 0,
                jf: 0,
                k: 0,
            },
            libc::sock_filter {
                code: JEQ_K,
                jt: 0,
                jf: 1,
                k: libc::SYS_getpgid as u32,
            },
            ret(0x0005_0000 | 77),
            ret(0x7fff_0000),
        ];
        let f = filter(program, 0);
        match fork().unwrap() {
            nix::unistd::ForkResult::Child => {
                let code = (|| {
                    if nix::sys::prctl::set_no_new_privs().is_err() {
                        return 10;
                    }
                    if nix::unistd::getpgid(None).is_err() {
                        return 11;
                    }
                    if !matches!(load(&f), Ok(None)) {
                        return 12;
                    }
                    if nix::unistd::getpgid(None) != Err(Errno::from_raw(77)) {
                        return 13;
                    }
                    // Everything else still works.
                    if nix::unistd::getppid().as_raw() <= 0 {
                        return 14;
                    }
                    0
                })();
                exit_now(code)
            }
            nix::unistd::ForkResult::Parent { child } => {
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
            }
        }
    }
}
