//! `process.apparmorProfile` and `process.selinuxLabel`: exec labels written to
//! procfs, so the kernel applies them at the container's execve.
//!
//! A label on a host whose LSM is not enabled is an error (fail closed): the
//! container would otherwise run unconfined.

use std::path::Path;

use nix::sys::statfs::{statfs, SELINUX_MAGIC};
use oci_spec::runtime::Process;

use super::SecurityError;
use crate::procfs::{ProcFs, ProcfsError};

const APPARMOR_ENABLED: &str = "/sys/module/apparmor/parameters/enabled";
const SELINUXFS: &str = "/sys/fs/selinux";

/// Whether AppArmor is enabled (its module parameter says `Y`).
pub fn apparmor_enabled() -> bool {
    std::fs::read(APPARMOR_ENABLED).is_ok_and(|v| v.starts_with(b"Y"))
}

/// Whether SELinux is enabled (selinuxfs is mounted at /sys/fs/selinux).
pub fn selinux_enabled() -> bool {
    statfs(Path::new(SELINUXFS)).is_ok_and(|fs| fs.filesystem_type() == SELINUX_MAGIC)
}

/// Fail if the process asks for a label this host cannot apply. Reads /sys:
/// call it before pivot_root (ideally in `create`, before anything is made);
/// [`apply_labels`] runs it again.
pub fn check_labels(process: &Process) -> Result<(), SecurityError> {
    if process.apparmor_profile().is_some() && !apparmor_enabled() {
        return Err(SecurityError::unsupported(
            "process.apparmorProfile",
            "apparmor is not enabled on this host",
        ));
    }
    if process.selinux_label().is_some() && !selinux_enabled() {
        return Err(SecurityError::unsupported(
            "process.selinuxLabel",
            "selinux is not enabled on this host",
        ));
    }
    Ok(())
}

/// Check (before anything is created) and apply the process's apparmor profile
/// and selinux label; a label this host cannot apply is an error (fail closed).
///
/// Both are exec labels: written to `/proc/thread-self/attr/.../exec` through the
/// verified procfs, they take effect at the next execve.
pub fn apply_labels(process: &Process) -> Result<(), SecurityError> {
    check_labels(process)?;
    let profile = process.apparmor_profile().as_deref();
    let label = process.selinux_label().as_deref();
    if profile.is_none() && label.is_none() {
        return Ok(());
    }
    let proc = ProcFs::open()?;
    if let Some(profile) = profile {
        let value = format!("exec {profile}");
        // The LSM-specific file exists since Linux 5.8; older kernels only have
        // the shared one.
        match proc.write("thread-self/attr/apparmor/exec", value.as_bytes()) {
            Err(ProcfsError::Sys {
                op: "open",
                source: nix::errno::Errno::ENOENT,
                ..
            }) => proc.write("thread-self/attr/exec", value.as_bytes())?,
            r => r?,
        }
    }
    if let Some(label) = label {
        proc.write("thread-self/attr/exec", label.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::ProcessBuilder;

    #[test]
    fn no_labels_is_a_no_op() {
        let p = ProcessBuilder::default().build().unwrap();
        assert!(apply_labels(&p).is_ok());
    }

    #[test]
    fn apparmor_profile_without_apparmor_is_an_error() {
        if apparmor_enabled() {
            eprintln!("apparmor is enabled here: the error path cannot be checked");
            return;
        }
        let p = ProcessBuilder::default()
            .apparmor_profile("coracle-default")
            .build()
            .unwrap();
        assert_eq!(
            apply_labels(&p).unwrap_err().to_string(),
            "process.apparmorProfile: apparmor is not enabled on this host"
        );
    }

    #[test]
    fn selinux_label_without_selinux_is_an_error() {
        if selinux_enabled() {
            eprintln!("selinux is enabled here: the error path cannot be checked");
            return;
        }
        let p = ProcessBuilder::default()
            .selinux_label("system_u:system_r:container_t:s0")
            .build()
            .unwrap();
        assert_eq!(
            apply_labels(&p).unwrap_err().to_string(),
            "process.selinuxLabel: selinux is not enabled on this host"
        );
    }

    #[test]
    fn apparmor_unconfined_exec_label_is_written() {
        if !apparmor_enabled() {
            eprintln!("apparmor is not enabled here: the write path cannot be checked");
            return;
        }
        let out = crate::security::testutil::in_child(0, || {
            let p = ProcessBuilder::default()
                .apparmor_profile("unconfined")
                .build()
                .map_err(|e| e.to_string())?;
            apply_labels(&p).map_err(|e| e.to_string())?;
            Ok(String::new())
        });
        assert_eq!(out, Ok(String::new()));
    }
}
