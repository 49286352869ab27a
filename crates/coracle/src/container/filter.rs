//! The container's seccomp filter: compiled and checked before anything exists, and
//! the notify listener handed to the agent at `linux.seccomp.listenerPath`.

use std::os::fd::AsFd;

use super::{sys_err, Error};
use crate::seccomp::{self, Filter};
use crate::sys::pidfd::pidfd_getfd;

/// `linux.seccomp` compiled and checked against this kernel, before anything exists.
pub(super) fn compile(spec: &oci_spec::runtime::Spec) -> Result<Option<Filter>, Error> {
    let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let unsupported = |e: &dyn std::fmt::Display| Error::Unsupported(e.to_string());
    // Also refuses SCMP_ACT_NOTIFY without listenerPath.
    let filter = seccomp::compile(profile).map_err(|e| unsupported(&e))?;
    seccomp::load::check(&filter).map_err(|e| unsupported(&e))?;
    Ok(Some(filter))
}

/// Take the init's listener fd (number `fd` in the init) with pidfd_getfd and send it
/// to the agent at `linux.seccomp.listenerPath` with the container's state; our copy
/// is closed on return.
pub(super) fn hand_over_listener(
    pidfd: std::os::fd::BorrowedFd<'_>,
    fd: i32,
    spec: &oci_spec::runtime::Spec,
    state: &serde_json::Value,
) -> Result<(), Error> {
    let profile = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let Some(path) = profile.and_then(|p| p.listener_path().as_ref()) else {
        return Err(Error::Unsupported(
            "linux.seccomp.listenerPath: required when the profile uses SCMP_ACT_NOTIFY".into(),
        ));
    };
    let listener = pidfd_getfd(pidfd, fd).map_err(sys_err("pidfd_getfd seccomp listener"))?;
    let metadata = profile.and_then(|p| p.listener_metadata().as_deref());
    seccomp::notify::send_listener(path, listener.as_fd(), state, metadata)
        .map_err(|e| Error::Unsupported(e.to_string()))
}
