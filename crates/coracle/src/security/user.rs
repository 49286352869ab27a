//! `process.user`: supplementary groups, gid and uid.

use nix::errno::Errno;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::User;

use super::SecurityError;
use crate::procfs::ProcFs;

/// setgroups(additionalGids), setresgid, setresuid, keeping permitted caps across the switch.
///
/// PR_SET_KEEPCAPS keeps the permitted set when the uid leaves 0, so that
/// [`apply_capabilities`](super::apply_capabilities) can still grant the
/// spec's capabilities afterwards; it is cleared again at the end so it does
/// not leak into the container. Groups go first and the uid last: changing
/// groups and gid needs CAP_SETGID, which a non-root uid no longer has in
/// effect.
///
/// In a user namespace whose `setgroups` file says `deny`, setgroups(2) is
/// impossible: then it is skipped when `additionalGids` is empty (the groups
/// are whatever the namespace was created with, as with runc) and an error
/// otherwise.
pub fn switch_user(user: &User) -> Result<(), SecurityError> {
    nix::sys::prctl::set_keepcaps(true).map_err(SecurityError::sys("prctl PR_SET_KEEPCAPS 1"))?;
    let gids: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    if let Err(e) = setgroups(&gids) {
        handle_setgroups_error(e, &gids)?;
    }
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid).map_err(SecurityError::sys(format!("setresgid {gid}")))?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid).map_err(SecurityError::sys(format!("setresuid {uid}")))?;
    nix::sys::prctl::set_keepcaps(false).map_err(SecurityError::sys("prctl PR_SET_KEEPCAPS 0"))?;
    Ok(())
}

/// setgroups failed: EPERM in a user namespace with `setgroups` denied is
/// expected (and harmless if no groups were asked for); anything else is an error.
fn handle_setgroups_error(e: Errno, gids: &[Gid]) -> Result<(), SecurityError> {
    let list = gids
        .iter()
        .map(|g| g.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let err = || SecurityError::sys(format!("setgroups [{list}]"))(e);
    if e != Errno::EPERM || !setgroups_denied()? {
        return Err(err());
    }
    if gids.is_empty() {
        return Ok(());
    }
    Err(SecurityError::unsupported(
        "process.user.additionalGids",
        "setgroups is denied in this user namespace (/proc/self/setgroups is \"deny\")",
    ))
}

/// Whether `/proc/self/setgroups` says `deny`. Only asked after setgroups
/// failed, so a container without /proc is not affected otherwise.
fn setgroups_denied() -> Result<bool, SecurityError> {
    let proc = ProcFs::open()?;
    let v = proc.read("self/setgroups")?;
    Ok(v.trim_ascii() == b"deny")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::testutil::{in_child, status_field};
    use oci_spec::runtime::UserBuilder;

    fn user(uid: u32, gid: u32, groups: Vec<u32>) -> User {
        UserBuilder::default()
            .uid(uid)
            .gid(gid)
            .additional_gids(groups)
            .build()
            .unwrap()
    }

    fn ids() -> Result<String, String> {
        Ok(format!(
            "{}|{}|{}",
            status_field("Uid")?,
            status_field("Gid")?,
            status_field("Groups")?
        ))
    }

    #[test]
    fn user_uid_gid_additional_gids_are_applied() {
        let out = in_child(0, || {
            switch_user(&user(1000, 1001, vec![10, 20])).map_err(|e| e.to_string())?;
            ids()
        });
        assert_eq!(
            out,
            Ok("1000\t1000\t1000\t1000|1001\t1001\t1001\t1001|10 20".to_string())
        );
    }

    #[test]
    fn user_without_additional_gids_drops_supplementary_groups() {
        let out = in_child(0, || {
            setgroups(&[Gid::from_raw(5)]).map_err(|e| e.to_string())?;
            switch_user(&user(0, 0, vec![])).map_err(|e| e.to_string())?;
            ids()
        });
        assert_eq!(out, Ok("0\t0\t0\t0|0\t0\t0\t0|".to_string()));
    }

    #[test]
    fn keepcaps_keeps_permitted_and_is_cleared_after() {
        let out = in_child(0, || {
            switch_user(&user(1000, 1000, vec![])).map_err(|e| e.to_string())?;
            let keep = nix::sys::prctl::get_keepcaps().map_err(|e| e.to_string())?;
            Ok(format!(
                "{}|{}|{keep}",
                status_field("CapPrm")?,
                status_field("CapEff")?
            ))
        });
        let out = out.unwrap();
        let (prm, rest) = out.split_once('|').unwrap();
        assert_ne!(
            prm, "0000000000000000",
            "permitted set lost across setresuid"
        );
        assert_eq!(rest, "0000000000000000|false");
    }

    /// A user namespace as an unprivileged runtime gets it: only our own id
    /// mapped (to 0) and setgroups denied.
    fn enter_userns_with_setgroups_denied() -> Result<(), String> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|e| e.to_string())?;
        std::fs::write("/proc/self/setgroups", "deny").map_err(|e| e.to_string())?;
        std::fs::write("/proc/self/uid_map", "0 0 1").map_err(|e| e.to_string())?;
        std::fs::write("/proc/self/gid_map", "0 0 1").map_err(|e| e.to_string())?;
        Ok(())
    }

    #[test]
    fn setgroups_denied_userns_without_additional_gids_is_fine() {
        let out = in_child(0, || {
            enter_userns_with_setgroups_denied()?;
            switch_user(&user(0, 0, vec![])).map_err(|e| e.to_string())?;
            Ok(format!("{}|{}", status_field("Uid")?, status_field("Gid")?))
        });
        assert_eq!(out, Ok("0\t0\t0\t0|0\t0\t0\t0".to_string()));
    }

    #[test]
    fn setgroups_denied_userns_with_additional_gids_is_an_error() {
        let out = in_child(0, || {
            enter_userns_with_setgroups_denied()?;
            match switch_user(&user(0, 0, vec![0])) {
                Ok(()) => Err("additionalGids silently ignored".into()),
                Err(e) => Ok(e.to_string()),
            }
        });
        assert_eq!(
            out,
            Ok("process.user.additionalGids: setgroups is denied in this user namespace (/proc/self/setgroups is \"deny\")".to_string())
        );
    }

    #[test]
    fn unmapped_uid_in_userns_is_an_error() {
        let out = in_child(0, || {
            enter_userns_with_setgroups_denied()?;
            match switch_user(&user(1000, 0, vec![])) {
                Ok(()) => Err("unmapped uid accepted".into()),
                Err(e) => Ok(e.to_string()),
            }
        });
        assert_eq!(
            out,
            Ok("setresuid 1000: Invalid argument (EINVAL)".to_string())
        );
    }
}
