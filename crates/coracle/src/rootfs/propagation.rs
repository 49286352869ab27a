//! Mount propagation of `/` and the rootfs bind mount.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Spec;

use super::{invalid, sys_err, RootfsError};

const NONE: Option<&str> = None;

/// `linux.rootfsPropagation` as mount flags; `None` when unset.
pub(super) fn root_propagation(spec: &Spec) -> Result<Option<MsFlags>, RootfsError> {
    let Some(p) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
    else {
        return Ok(None);
    };
    let flags = match p {
        "" => return Ok(None),
        "shared" => MsFlags::MS_SHARED,
        "slave" => MsFlags::MS_SLAVE,
        "private" => MsFlags::MS_PRIVATE,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        other => {
            return Err(invalid(
                "linux.rootfsPropagation",
                format!("unknown propagation {other:?}"),
            ))
        }
    };
    Ok(Some(flags))
}

/// Make `/` recursively slave (or the spec's propagation) so nothing we mount
/// reaches the host, make the rootfs' parent mount private (pivot_root refuses a
/// shared parent, and a shared parent would leak the bind below to the host),
/// then bind the rootfs onto itself so it is a mount point.
pub(super) fn prepare_root(rootfs: &Path, prop: Option<MsFlags>) -> Result<(), RootfsError> {
    let flags = prop.unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    mount(NONE, "/", NONE, flags, NONE).map_err(sys_err("set propagation of", "/"))?;
    parent_mount_private(rootfs)?;
    mount(
        Some(rootfs),
        rootfs,
        Some("bind"),
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .map_err(sys_err("bind mount rootfs on", rootfs))
}

/// Make the mount holding `path` private: walk up until MS_PRIVATE stops failing
/// with EINVAL (not a mount point).
fn parent_mount_private(path: &Path) -> Result<(), RootfsError> {
    let mut p = path;
    loop {
        match mount(NONE, p, NONE, MsFlags::MS_PRIVATE, NONE) {
            Ok(()) => return Ok(()),
            Err(Errno::EINVAL) if p.parent().is_some() => p = p.parent().unwrap_or(Path::new("/")),
            Err(e) => return Err(sys_err("make parent mount private", p)(e)),
        }
    }
}

/// Apply the spec's propagation to the new `/` after the pivot.
pub(super) fn apply_to_root(flags: MsFlags) -> Result<(), RootfsError> {
    mount(NONE, "/", NONE, flags, NONE).map_err(sys_err("set propagation of", "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(p: &str) -> Spec {
        let mut spec = Spec::default();
        if let Some(l) = spec.linux_mut() {
            l.set_rootfs_propagation(Some(p.to_string()));
        }
        spec
    }

    #[test]
    fn rootfs_propagation_values() {
        assert_eq!(root_propagation(&Spec::default()).unwrap(), None);
        assert_eq!(
            root_propagation(&spec_with("rshared")).unwrap(),
            Some(MsFlags::MS_SHARED | MsFlags::MS_REC)
        );
        assert_eq!(
            root_propagation(&spec_with("private")).unwrap(),
            Some(MsFlags::MS_PRIVATE)
        );
        let err = root_propagation(&spec_with("sideways"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "linux.rootfsPropagation: unknown propagation \"sideways\""
        );
    }
}
