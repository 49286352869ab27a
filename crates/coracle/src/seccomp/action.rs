//! OCI actions as `SECCOMP_RET_*` values, and the kernel's order of restrictiveness.

use oci_spec::runtime::LinuxSeccompAction;

use super::SeccompError;

/// A filter return value (`SECCOMP_RET_*` action plus its 16 data bits).
pub(crate) type Action = u32;

pub(crate) const KILL_PROCESS: Action = 0x8000_0000;
pub(crate) const KILL_THREAD: Action = 0x0000_0000;
pub(crate) const TRAP: Action = 0x0003_0000;
pub(crate) const ERRNO: Action = 0x0005_0000;
pub(crate) const USER_NOTIF: Action = 0x7fc0_0000;
pub(crate) const TRACE: Action = 0x7ff0_0000;
pub(crate) const LOG: Action = 0x7ffc_0000;
pub(crate) const ALLOW: Action = 0x7fff_0000;

/// The action of an OCI rule. ERRNO and TRACE carry `errno_ret` (EPERM when absent, as
/// runc and crun do); the kernel keeps 16 bits of it, so a larger value is an error
/// naming `field` rather than a silently different errno.
pub(crate) fn from_oci(
    act: LinuxSeccompAction,
    errno_ret: Option<u32>,
    field: &str,
) -> Result<Action, SeccompError> {
    let data = || -> Result<u32, SeccompError> {
        match errno_ret {
            None => Ok(libc::EPERM as u32),
            Some(v) if v <= 0xffff => Ok(v),
            Some(v) => Err(SeccompError::ErrnoRet {
                field: field.to_string(),
                value: v,
            }),
        }
    };
    Ok(match act {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => KILL_THREAD,
        LinuxSeccompAction::ScmpActKillProcess => KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => TRAP,
        LinuxSeccompAction::ScmpActErrno => ERRNO | data()?,
        LinuxSeccompAction::ScmpActTrace => TRACE | data()?,
        LinuxSeccompAction::ScmpActNotify => USER_NOTIF,
        LinuxSeccompAction::ScmpActLog => LOG,
        LinuxSeccompAction::ScmpActAllow => ALLOW,
    })
}

/// Sort key: smaller is more restrictive. The kernel ranks actions by their signed value
/// (KILL_PROCESS < KILL_THREAD < TRAP < ERRNO < USER_NOTIF < TRACE < LOG < ALLOW).
pub(crate) fn restrictiveness(a: Action) -> (i32, i32) {
    ((a & 0xffff_0000) as i32, a as i32)
}
