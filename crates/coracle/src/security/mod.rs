//! Process credentials and privileges: rlimits, user and groups, the five
//! capability sets, no_new_privs, umask, oom_score_adj, LSM labels.
//!
//! The kernel's ordering rules drive the split into phases, run by the init in
//! this order:
//! 1. [`set_rlimits`] while still fully privileged (raising a hard limit needs
//!    CAP_SYS_RESOURCE);
//! 2. [`set_oom_score_adj`] (lowering it needs CAP_SYS_RESOURCE too);
//! 3. [`apply_labels`]: the LSM exec labels, written to procfs while we may;
//! 4. [`drop_bounding_set`]: PR_CAPBSET_DROP needs CAP_SETPCAP in the effective
//!    set, which the uid switch clears;
//! 5. [`switch_user`], keeping the permitted set across setresuid;
//! 6. [`apply_capabilities`]: inheritable, permitted, effective, then ambient
//!    (ambient caps must already be permitted and inheritable);
//! 7. [`set_no_new_privs`] last among these: it does not stop any step above,
//!    but must precede an unprivileged seccomp filter.

mod capabilities;
mod labels;
mod rlimits;
mod user;

#[cfg(test)]
pub(crate) mod testutil;

pub use capabilities::{apply_capabilities, drop_bounding_set, kernel_capabilities, to_kernel_cap};
pub use labels::{apparmor_enabled, apply_labels, check_labels, selinux_enabled};
pub use rlimits::{rlimit_resource, set_rlimits};
pub use user::switch_user;

use crate::procfs::{ProcFs, ProcfsError};

/// A privilege step that failed.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A system call failed.
    #[error("{op}: {} ({:?})", source.desc(), source)]
    Sys {
        /// The step, e.g. "setrlimit RLIMIT_NOFILE", "setresuid 1000".
        op: String,
        /// The errno.
        #[source]
        source: nix::errno::Errno,
    },
    /// The spec asks for something this host cannot honour.
    #[error("{field}: {msg}")]
    Unsupported {
        /// JSON field.
        field: String,
        /// Why.
        msg: String,
    },
    /// A write or read through the verified procfs failed.
    #[error(transparent)]
    Procfs(#[from] ProcfsError),
}

impl SecurityError {
    fn sys(op: impl Into<String>) -> impl FnOnce(nix::errno::Errno) -> SecurityError {
        let op = op.into();
        move |source| SecurityError::Sys { op, source }
    }

    fn unsupported(field: impl Into<String>, msg: impl Into<String>) -> SecurityError {
        SecurityError::Unsupported {
            field: field.into(),
            msg: msg.into(),
        }
    }
}

/// prctl(PR_SET_NO_NEW_PRIVS): execve can no longer grant privileges (setuid
/// bits, file capabilities), and an unprivileged seccomp filter becomes allowed.
pub fn set_no_new_privs() -> Result<(), SecurityError> {
    nix::sys::prctl::set_no_new_privs().map_err(SecurityError::sys("prctl PR_SET_NO_NEW_PRIVS"))
}

/// Set the file mode creation mask (`process.user.umask`); umask(2) cannot fail.
pub fn set_umask(mask: u32) {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
}

/// Write `process.oomScoreAdj` to `self/oom_score_adj` through the verified procfs.
pub fn set_oom_score_adj(proc: &ProcFs, value: i32) -> Result<(), SecurityError> {
    proc.write("self/oom_score_adj", value.to_string().as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::testutil::{in_child, status_field};
    use super::*;

    #[test]
    fn no_new_privileges_is_visible_in_status() {
        let out = in_child(0, || {
            set_no_new_privs().map_err(|e| e.to_string())?;
            status_field("NoNewPrivs")
        });
        assert_eq!(out, Ok("1".to_string()));
    }

    #[test]
    fn umask_is_set() {
        let out = in_child(0, || {
            set_umask(0o027);
            let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
            Ok(format!("{:o}", old.bits()))
        });
        assert_eq!(out, Ok("27".to_string()));
    }

    #[test]
    fn oom_score_adj_is_written_and_reads_back() {
        let out = in_child(0, || {
            let proc = ProcFs::open().map_err(|e| e.to_string())?;
            set_oom_score_adj(&proc, 321).map_err(|e| e.to_string())?;
            let back = proc.read("self/oom_score_adj").map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(&back).trim().to_string())
        });
        assert_eq!(out, Ok("321".to_string()));
    }

    #[test]
    fn error_messages_name_the_step_and_errno() {
        let e = SecurityError::sys("setrlimit RLIMIT_NOFILE")(nix::errno::Errno::EPERM);
        assert_eq!(
            e.to_string(),
            "setrlimit RLIMIT_NOFILE: Operation not permitted (EPERM)"
        );
    }
}
