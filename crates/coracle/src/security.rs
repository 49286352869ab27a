//! Process credentials and privileges: rlimits, user and groups, the five
//! capability sets, no_new_privs, umask, LSM labels.
//! The kernel's ordering rules drive the split into phases: rlimits and the
//! bounding set while still root, then the uid switch (keeping caps), then the
//! remaining capability sets, then no_new_privs.
//! OWNER: security helper. Stub with the agreed interface.

use oci_spec::runtime::{LinuxCapabilities, PosixRlimit, Process, User};

/// A privilege step that failed.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A system call failed.
    #[error("{op}: {errno} ({errno:?})", errno = source.desc())]
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
}

/// Apply `process.rlimits` (before dropping privileges).
pub fn set_rlimits(rlimits: &[PosixRlimit]) -> Result<(), SecurityError> {
    let _ = rlimits;
    todo!()
}

/// Drop from the bounding set every capability not in `caps.bounding` (None: keep none).
pub fn drop_bounding_set(caps: Option<&LinuxCapabilities>) -> Result<(), SecurityError> {
    let _ = caps;
    todo!()
}

/// setgroups(additionalGids), setresgid, setresuid, keeping permitted caps across the switch.
pub fn switch_user(user: &User) -> Result<(), SecurityError> {
    let _ = user;
    todo!()
}

/// Set effective, permitted, inheritable and ambient sets (after `switch_user`).
pub fn apply_capabilities(caps: Option<&LinuxCapabilities>) -> Result<(), SecurityError> {
    let _ = caps;
    todo!()
}

/// prctl(PR_SET_NO_NEW_PRIVS).
pub fn set_no_new_privs() -> Result<(), SecurityError> {
    todo!()
}

/// Check (before anything is created) and apply the process's apparmor profile
/// and selinux label; a label this host cannot apply is an error (fail closed).
pub fn apply_labels(process: &Process) -> Result<(), SecurityError> {
    let _ = process;
    todo!()
}
