//! The five capability sets: one static table from the OCI names to the
//! kernel's capabilities, the bounding-set drop, and the final sets.
//!
//! Capabilities the running kernel does not know (numbers above
//! `/proc/sys/kernel/cap_last_cap`, e.g. CAP_CHECKPOINT_RESTORE on a kernel
//! older than 5.9) are skipped without error. This does not make a weaker
//! container: such a capability names a privilege that does not exist on this
//! kernel, so no process can hold it and nothing can be checked against it.
//! Every capability the kernel does know is applied exactly as asked, and a
//! failure to apply one is an error. The kernel answers PR_CAPBSET_READ with
//! EINVAL precisely for numbers above CAP_LAST_CAP, which is how the known set
//! is found without needing /proc.

use caps::{CapSet, Capability as KCap, CapsHashSet};
use nix::errno::Errno;
use oci_spec::runtime::{Capabilities, Capability as OciCap, LinuxCapabilities};

use super::SecurityError;

/// Every OCI capability with its kernel counterpart, in kernel number order.
const CAPABILITIES: [(OciCap, KCap); 41] = [
    (OciCap::Chown, KCap::CAP_CHOWN),
    (OciCap::DacOverride, KCap::CAP_DAC_OVERRIDE),
    (OciCap::DacReadSearch, KCap::CAP_DAC_READ_SEARCH),
    (OciCap::Fowner, KCap::CAP_FOWNER),
    (OciCap::Fsetid, KCap::CAP_FSETID),
    (OciCap::Kill, KCap::CAP_KILL),
    (OciCap::Setgid, KCap::CAP_SETGID),
    (OciCap::Setuid, KCap::CAP_SETUID),
    (OciCap::Setpcap, KCap::CAP_SETPCAP),
    (OciCap::LinuxImmutable, KCap::CAP_LINUX_IMMUTABLE),
    (OciCap::NetBindService, KCap::CAP_NET_BIND_SERVICE),
    (OciCap::NetBroadcast, KCap::CAP_NET_BROADCAST),
    (OciCap::NetAdmin, KCap::CAP_NET_ADMIN),
    (OciCap::NetRaw, KCap::CAP_NET_RAW),
    (OciCap::IpcLock, KCap::CAP_IPC_LOCK),
    (OciCap::IpcOwner, KCap::CAP_IPC_OWNER),
    (OciCap::SysModule, KCap::CAP_SYS_MODULE),
    (OciCap::SysRawio, KCap::CAP_SYS_RAWIO),
    (OciCap::SysChroot, KCap::CAP_SYS_CHROOT),
    (OciCap::SysPtrace, KCap::CAP_SYS_PTRACE),
    (OciCap::SysPacct, KCap::CAP_SYS_PACCT),
    (OciCap::SysAdmin, KCap::CAP_SYS_ADMIN),
    (OciCap::SysBoot, KCap::CAP_SYS_BOOT),
    (OciCap::SysNice, KCap::CAP_SYS_NICE),
    (OciCap::SysResource, KCap::CAP_SYS_RESOURCE),
    (OciCap::SysTime, KCap::CAP_SYS_TIME),
    (OciCap::SysTtyConfig, KCap::CAP_SYS_TTY_CONFIG),
    (OciCap::Mknod, KCap::CAP_MKNOD),
    (OciCap::Lease, KCap::CAP_LEASE),
    (OciCap::AuditWrite, KCap::CAP_AUDIT_WRITE),
    (OciCap::AuditControl, KCap::CAP_AUDIT_CONTROL),
    (OciCap::Setfcap, KCap::CAP_SETFCAP),
    (OciCap::MacOverride, KCap::CAP_MAC_OVERRIDE),
    (OciCap::MacAdmin, KCap::CAP_MAC_ADMIN),
    (OciCap::Syslog, KCap::CAP_SYSLOG),
    (OciCap::WakeAlarm, KCap::CAP_WAKE_ALARM),
    (OciCap::BlockSuspend, KCap::CAP_BLOCK_SUSPEND),
    (OciCap::AuditRead, KCap::CAP_AUDIT_READ),
    (OciCap::Perfmon, KCap::CAP_PERFMON),
    (OciCap::Bpf, KCap::CAP_BPF),
    (OciCap::CheckpointRestore, KCap::CAP_CHECKPOINT_RESTORE),
];

/// The kernel capability for an OCI capability.
pub fn to_kernel_cap(cap: OciCap) -> KCap {
    CAPABILITIES
        .iter()
        .find(|(o, _)| *o == cap)
        .map(|(_, k)| *k)
        .expect("CAPABILITIES covers every OCI capability")
}

/// The capabilities the running kernel knows (numbers up to `cap_last_cap`).
pub fn kernel_capabilities() -> CapsHashSet {
    caps::runtime::thread_all_supported()
}

/// The kernel capabilities for one OCI set (a missing set is empty), keeping
/// only those the running kernel knows (see the module comment).
fn kernel_set(set: Option<&Capabilities>, known: &CapsHashSet) -> CapsHashSet {
    set.into_iter()
        .flatten()
        .map(|c| to_kernel_cap(*c))
        .filter(|k| known.contains(k))
        .collect()
}

/// The caps crate keeps only a message, but the failed syscall's errno is still
/// in errno when its error comes back.
fn caps_err(op: impl Into<String>) -> impl FnOnce(caps::errors::CapsError) -> SecurityError {
    let op = op.into();
    move |_| SecurityError::Sys {
        op,
        source: Errno::last(),
    }
}

/// Sorted names for messages.
fn names(set: &CapsHashSet) -> String {
    let mut v: Vec<KCap> = set.iter().copied().collect();
    v.sort_by_key(|c| c.index());
    v.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Drop from the bounding set every capability not in `caps.bounding` (None: keep none).
///
/// Runs before [`switch_user`](super::switch_user): PR_CAPBSET_DROP needs
/// CAP_SETPCAP in the effective set, which a switch to a non-zero uid clears.
/// Only capabilities still in the bounding set are dropped, so a bounding set
/// that is already small enough needs no privilege at all. A capability asked
/// for but already missing from our bounding set cannot come back; the
/// container's bounding set is then smaller than asked, never larger.
pub fn drop_bounding_set(caps: Option<&LinuxCapabilities>) -> Result<(), SecurityError> {
    let known = kernel_capabilities();
    let keep = kernel_set(caps.and_then(|c| c.bounding().as_ref()), &known);
    let mut known: Vec<KCap> = known.into_iter().collect();
    known.sort_by_key(|c| c.index());
    for cap in known {
        if keep.contains(&cap) {
            continue;
        }
        let held = caps::has_cap(None, CapSet::Bounding, cap)
            .map_err(caps_err(format!("read bounding set {cap}")))?;
        if held {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(caps_err(format!("drop {cap} from the bounding set")))?;
        }
    }
    Ok(())
}

/// Set effective, permitted, inheritable and ambient sets (after `switch_user`).
///
/// A missing set (or `caps` None) is empty. The order follows the kernel's
/// capset rules: effective is emptied first (it must stay within permitted
/// while permitted shrinks), inheritable is set while the old permitted set
/// still covers it, then permitted (which can only shrink), then effective
/// within it, and last the ambient set, each of whose caps must be permitted
/// and inheritable. Requests the kernel would refuse are reported naming the
/// capability and the field.
pub fn apply_capabilities(caps: Option<&LinuxCapabilities>) -> Result<(), SecurityError> {
    let known = kernel_capabilities();
    let set = |f: fn(&LinuxCapabilities) -> &Option<Capabilities>| {
        kernel_set(caps.and_then(|c| f(c).as_ref()), &known)
    };
    let effective = set(LinuxCapabilities::effective);
    let permitted = set(LinuxCapabilities::permitted);
    let inheritable = set(LinuxCapabilities::inheritable);
    let ambient = set(LinuxCapabilities::ambient);

    let outside =
        |a: &CapsHashSet, b: &CapsHashSet| -> CapsHashSet { a.difference(b).copied().collect() };
    let bad = outside(&effective, &permitted);
    if !bad.is_empty() {
        return Err(SecurityError::unsupported(
            "process.capabilities.effective",
            format!("{} not in process.capabilities.permitted", names(&bad)),
        ));
    }
    let both: CapsHashSet = permitted.intersection(&inheritable).copied().collect();
    let bad = outside(&ambient, &both);
    // For uid 0 the ambient set changes nothing: execve gives root every capability of
    // its bounding set anyway. runc's own default spec lists ambient caps without
    // inheritable ones, so for root such entries are left out rather than refused; for
    // any other uid they are the only way to keep a capability across execve, and an
    // ambient request the kernel cannot honour is an error.
    let ambient: CapsHashSet = if nix::unistd::geteuid().is_root() {
        ambient.intersection(&both).copied().collect()
    } else {
        ambient
    };
    if !bad.is_empty() && !nix::unistd::geteuid().is_root() {
        return Err(SecurityError::unsupported(
            "process.capabilities.ambient",
            format!("{} must also be in permitted and inheritable", names(&bad)),
        ));
    }
    let current = caps::read(None, CapSet::Permitted).map_err(caps_err("capget"))?;
    let bad = outside(&permitted, &current);
    if !bad.is_empty() {
        return Err(SecurityError::unsupported(
            "process.capabilities.permitted",
            format!(
                "{} cannot be granted: the runtime does not hold it",
                names(&bad)
            ),
        ));
    }

    caps::clear(None, CapSet::Effective).map_err(caps_err("capset effective (clear)"))?;
    caps::set(None, CapSet::Inheritable, &inheritable).map_err(caps_err(format!(
        "capset inheritable [{}]",
        names(&inheritable)
    )))?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(caps_err(format!(
        "capset permitted [{}]",
        names(&permitted)
    )))?;
    caps::set(None, CapSet::Effective, &effective).map_err(caps_err(format!(
        "capset effective [{}]",
        names(&effective)
    )))?;
    caps::clear(None, CapSet::Ambient).map_err(caps_err("prctl PR_CAP_AMBIENT_CLEAR_ALL"))?;
    let mut ambient: Vec<KCap> = ambient.into_iter().collect();
    ambient.sort_by_key(|c| c.index());
    for cap in ambient {
        caps::raise(None, CapSet::Ambient, cap).map_err(caps_err(format!(
            "process.capabilities.ambient: raise {cap}"
        )))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::ProcFs;
    use crate::security::switch_user;
    use crate::security::testutil::{in_child, status_field};
    use oci_spec::runtime::{LinuxCapabilitiesBuilder, UserBuilder};

    fn set(caps: &[OciCap]) -> Capabilities {
        caps.iter().copied().collect()
    }

    fn caps_all(bounding: &[OciCap], rest: &[OciCap], ambient: &[OciCap]) -> LinuxCapabilities {
        LinuxCapabilitiesBuilder::default()
            .bounding(set(bounding))
            .effective(set(rest))
            .permitted(set(rest))
            .inheritable(set(rest))
            .ambient(set(ambient))
            .build()
            .unwrap()
    }

    /// As config.json gives them: a missing set is None (the builder would
    /// fill in oci-spec's defaults instead).
    fn from_json(json: &str) -> LinuxCapabilities {
        serde_json::from_str(json).unwrap()
    }

    fn cap_status() -> Result<String, String> {
        let f = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"];
        let v: Result<Vec<String>, String> = f.iter().map(|f| status_field(f)).collect();
        Ok(v?.join(" "))
    }

    #[test]
    fn capability_table_covers_every_kernel_capability_in_order() {
        assert_eq!(CAPABILITIES.len(), caps::all().len());
        let table: CapsHashSet = CAPABILITIES.iter().map(|(_, k)| *k).collect();
        assert_eq!(table, caps::all());
        for (i, (oci, k)) in CAPABILITIES.iter().enumerate() {
            assert_eq!(usize::from(k.index()), i, "{k} out of kernel order");
            // config.json spells it exactly as the kernel headers do.
            let json = serde_json::to_value(oci).unwrap();
            assert_eq!(json, serde_json::json!(k.to_string()));
            let back: OciCap = serde_json::from_value(json).unwrap();
            assert_eq!(to_kernel_cap(back), *k);
        }
    }

    #[test]
    fn kernel_capabilities_match_cap_last_cap() {
        let proc = ProcFs::open().unwrap();
        let last: u8 = String::from_utf8(proc.read("sys/kernel/cap_last_cap").unwrap())
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let known = kernel_capabilities();
        let max = known.iter().map(|c| c.index()).max().unwrap();
        assert_eq!(max, last.min(40));
        assert_eq!(known.len(), usize::from(max) + 1);
    }

    #[test]
    fn capabilities_unknown_to_the_kernel_are_skipped() {
        let known: CapsHashSet = [KCap::CAP_KILL].into_iter().collect();
        let asked = set(&[OciCap::Kill, OciCap::CheckpointRestore]);
        let got = kernel_set(Some(&asked), &known);
        assert_eq!(got, known);
        assert!(kernel_set(None, &known).is_empty());
    }

    #[test]
    fn user_with_cap_kill_everywhere() {
        let out = in_child(0, || {
            let c = caps_all(&[OciCap::Kill], &[OciCap::Kill], &[OciCap::Kill]);
            drop_bounding_set(Some(&c)).map_err(|e| e.to_string())?;
            let user = UserBuilder::default()
                .uid(1000u32)
                .gid(1000u32)
                .additional_gids(vec![10, 20])
                .build()
                .map_err(|e| e.to_string())?;
            switch_user(&user).map_err(|e| e.to_string())?;
            apply_capabilities(Some(&c)).map_err(|e| e.to_string())?;
            Ok(format!(
                "{}|{}|{}|{}",
                cap_status()?,
                status_field("Uid")?,
                status_field("Gid")?,
                status_field("Groups")?
            ))
        });
        let k = "0000000000000020"; // 1 << CAP_KILL (5)
        assert_eq!(
            out,
            Ok(format!(
                "{k} {k} {k} {k} {k}|1000\t1000\t1000\t1000|1000\t1000\t1000\t1000|10 20"
            ))
        );
    }

    #[test]
    fn root_with_distinct_sets() {
        let out = in_child(0, || {
            let c = LinuxCapabilitiesBuilder::default()
                .bounding(set(&[OciCap::Chown, OciCap::Kill, OciCap::NetRaw]))
                .permitted(set(&[OciCap::Chown, OciCap::Kill]))
                .effective(set(&[OciCap::Chown]))
                .inheritable(set(&[OciCap::Kill, OciCap::NetRaw]))
                .ambient(set(&[OciCap::Kill]))
                .build()
                .map_err(|e| e.to_string())?;
            drop_bounding_set(Some(&c)).map_err(|e| e.to_string())?;
            apply_capabilities(Some(&c)).map_err(|e| e.to_string())?;
            cap_status()
        });
        // CHOWN 0 (0x1), KILL 5 (0x20), NET_RAW 13 (0x2000).
        assert_eq!(
            out,
            Ok("0000000000002020 0000000000000021 0000000000000001 0000000000002021 0000000000000020"
                .to_string())
        );
    }

    #[test]
    fn no_capabilities_clears_every_set() {
        let out = in_child(0, || {
            drop_bounding_set(None).map_err(|e| e.to_string())?;
            apply_capabilities(None).map_err(|e| e.to_string())?;
            cap_status()
        });
        let z = "0000000000000000";
        assert_eq!(out, Ok(format!("{z} {z} {z} {z} {z}")));
    }

    #[test]
    fn missing_sets_are_empty() {
        let out = in_child(0, || {
            let c = from_json(r#"{"bounding":["CAP_KILL"],"permitted":["CAP_KILL"]}"#);
            drop_bounding_set(Some(&c)).map_err(|e| e.to_string())?;
            apply_capabilities(Some(&c)).map_err(|e| e.to_string())?;
            cap_status()
        });
        let (z, k) = ("0000000000000000", "0000000000000020");
        assert_eq!(out, Ok(format!("{z} {k} {z} {k} {z}")));
    }

    fn apply_err(c: LinuxCapabilities) -> Result<String, String> {
        match apply_capabilities(Some(&c)) {
            Ok(()) => Err("accepted".into()),
            Err(e) => Ok(e.to_string()),
        }
    }

    #[test]
    fn effective_outside_permitted_is_an_error() {
        let out = in_child(0, || {
            let c = from_json(r#"{"permitted":["CAP_KILL"],"effective":["CAP_KILL","CAP_CHOWN"]}"#);
            apply_err(c)
        });
        assert_eq!(
            out,
            Ok(
                "process.capabilities.effective: CAP_CHOWN not in process.capabilities.permitted"
                    .to_string()
            )
        );
    }

    #[test]
    fn ambient_outside_inheritable_is_an_error_for_non_root() {
        let out = in_child(0, || {
            let user = UserBuilder::default()
                .uid(1000u32)
                .gid(1000u32)
                .build()
                .unwrap();
            switch_user(&user).map_err(|e| e.to_string())?;
            let c = from_json(
                r#"{"permitted":["CAP_KILL","CAP_CHOWN"],"inheritable":["CAP_CHOWN"],"ambient":["CAP_KILL"]}"#,
            );
            apply_err(c)
        });
        assert_eq!(
            out,
            Ok(
                "process.capabilities.ambient: CAP_KILL must also be in permitted and inheritable"
                    .to_string()
            )
        );
    }

    #[test]
    fn ambient_outside_inheritable_is_left_out_for_root() {
        // runc's default spec: ambient caps, no inheritable ones; root gets them from
        // its bounding set at execve anyway.
        let out = in_child(0, || {
            let c = from_json(
                r#"{"permitted":["CAP_KILL"],"effective":["CAP_KILL"],"ambient":["CAP_KILL"]}"#,
            );
            apply_capabilities(Some(&c)).map_err(|e| e.to_string())?;
            status_field("CapAmb")
        });
        assert_eq!(out, Ok("0000000000000000".to_string()));
    }

    #[test]
    fn permitted_cap_the_runtime_lacks_is_an_error() {
        let out = in_child(0, || {
            let r = KCap::CAP_SYS_RESOURCE;
            caps::drop(None, CapSet::Effective, r).map_err(|e| e.to_string())?;
            caps::drop(None, CapSet::Permitted, r).map_err(|e| e.to_string())?;
            let c = from_json(r#"{"permitted":["CAP_KILL","CAP_SYS_RESOURCE"]}"#);
            apply_err(c)
        });
        assert_eq!(
            out,
            Ok("process.capabilities.permitted: CAP_SYS_RESOURCE cannot be granted: the runtime does not hold it".to_string())
        );
    }

    #[test]
    fn bounding_drop_without_cap_setpcap_is_an_error_naming_the_cap() {
        let out = in_child(0, || {
            caps::drop(None, CapSet::Effective, KCap::CAP_SETPCAP).map_err(|e| e.to_string())?;
            match drop_bounding_set(None) {
                Ok(()) => Err("bounding set dropped without CAP_SETPCAP".into()),
                Err(e) => Ok(e.to_string()),
            }
        });
        assert_eq!(
            out,
            Ok("drop CAP_CHOWN from the bounding set: Operation not permitted (EPERM)".to_string())
        );
    }
}
