//! `process.rlimits`: one static table from the OCI names to the kernel's
//! resources, applied with setrlimit(2).

use nix::sys::resource::{setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use super::SecurityError;

/// Every OCI rlimit type with its name and kernel resource.
const RLIMITS: [(PosixRlimitType, &str, Resource); 16] = [
    (
        PosixRlimitType::RlimitCpu,
        "RLIMIT_CPU",
        Resource::RLIMIT_CPU,
    ),
    (
        PosixRlimitType::RlimitFsize,
        "RLIMIT_FSIZE",
        Resource::RLIMIT_FSIZE,
    ),
    (
        PosixRlimitType::RlimitData,
        "RLIMIT_DATA",
        Resource::RLIMIT_DATA,
    ),
    (
        PosixRlimitType::RlimitStack,
        "RLIMIT_STACK",
        Resource::RLIMIT_STACK,
    ),
    (
        PosixRlimitType::RlimitCore,
        "RLIMIT_CORE",
        Resource::RLIMIT_CORE,
    ),
    (
        PosixRlimitType::RlimitRss,
        "RLIMIT_RSS",
        Resource::RLIMIT_RSS,
    ),
    (
        PosixRlimitType::RlimitNproc,
        "RLIMIT_NPROC",
        Resource::RLIMIT_NPROC,
    ),
    (
        PosixRlimitType::RlimitNofile,
        "RLIMIT_NOFILE",
        Resource::RLIMIT_NOFILE,
    ),
    (
        PosixRlimitType::RlimitMemlock,
        "RLIMIT_MEMLOCK",
        Resource::RLIMIT_MEMLOCK,
    ),
    (PosixRlimitType::RlimitAs, "RLIMIT_AS", Resource::RLIMIT_AS),
    (
        PosixRlimitType::RlimitLocks,
        "RLIMIT_LOCKS",
        Resource::RLIMIT_LOCKS,
    ),
    (
        PosixRlimitType::RlimitSigpending,
        "RLIMIT_SIGPENDING",
        Resource::RLIMIT_SIGPENDING,
    ),
    (
        PosixRlimitType::RlimitMsgqueue,
        "RLIMIT_MSGQUEUE",
        Resource::RLIMIT_MSGQUEUE,
    ),
    (
        PosixRlimitType::RlimitNice,
        "RLIMIT_NICE",
        Resource::RLIMIT_NICE,
    ),
    (
        PosixRlimitType::RlimitRtprio,
        "RLIMIT_RTPRIO",
        Resource::RLIMIT_RTPRIO,
    ),
    (
        PosixRlimitType::RlimitRttime,
        "RLIMIT_RTTIME",
        Resource::RLIMIT_RTTIME,
    ),
];

/// The kernel resource for an rlimit name (`RLIMIT_NOFILE`), `None` if unknown.
pub fn rlimit_resource(name: &str) -> Option<Resource> {
    RLIMITS
        .iter()
        .find(|(_, n, _)| *n == name)
        .map(|(_, _, r)| *r)
}

fn entry(typ: PosixRlimitType) -> (&'static str, Resource) {
    let (_, name, res) = RLIMITS
        .iter()
        .find(|(t, _, _)| *t == typ)
        .expect("RLIMITS covers every PosixRlimitType");
    (name, *res)
}

/// Apply `process.rlimits` (before dropping privileges).
///
/// Raising a hard limit needs CAP_SYS_RESOURCE; without it the error is
/// reported (`setrlimit RLIMIT_NOFILE: Operation not permitted (EPERM)`), never
/// ignored.
pub fn set_rlimits(rlimits: &[PosixRlimit]) -> Result<(), SecurityError> {
    for rl in rlimits {
        let (name, res) = entry(rl.typ());
        setrlimit(res, rl.soft(), rl.hard())
            .map_err(SecurityError::sys(format!("setrlimit {name}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::testutil::in_child;
    use nix::sys::resource::getrlimit;
    use oci_spec::runtime::PosixRlimitBuilder;

    fn rlimit(typ: PosixRlimitType, soft: u64, hard: u64) -> PosixRlimit {
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(soft)
            .hard(hard)
            .build()
            .unwrap()
    }

    #[test]
    fn rlimit_table_names_match_oci_and_kernel() {
        for (typ, name, res) in RLIMITS {
            assert_eq!(typ.to_string(), name);
            // The serde name (what config.json holds) is the same string.
            assert_eq!(serde_json::to_value(typ).unwrap(), serde_json::json!(name));
            assert_eq!(rlimit_resource(name), Some(res));
        }
        let kernel: Vec<i64> = RLIMITS.iter().map(|(_, _, r)| *r as i64).collect();
        let expected: Vec<i64> = [
            libc::RLIMIT_CPU,
            libc::RLIMIT_FSIZE,
            libc::RLIMIT_DATA,
            libc::RLIMIT_STACK,
            libc::RLIMIT_CORE,
            libc::RLIMIT_RSS,
            libc::RLIMIT_NPROC,
            libc::RLIMIT_NOFILE,
            libc::RLIMIT_MEMLOCK,
            libc::RLIMIT_AS,
            libc::RLIMIT_LOCKS,
            libc::RLIMIT_SIGPENDING,
            libc::RLIMIT_MSGQUEUE,
            libc::RLIMIT_NICE,
            libc::RLIMIT_RTPRIO,
            libc::RLIMIT_RTTIME,
        ]
        .iter()
        .map(|r| *r as i64)
        .collect();
        assert_eq!(kernel, expected);
        // Every resource the kernel has (RLIM_NLIMITS = 16 since Linux 2.6.25) is covered once.
        let mut sorted = kernel.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn unknown_rlimit_is_rejected() {
        assert_eq!(rlimit_resource("RLIMIT_FOO"), None);
        assert_eq!(rlimit_resource("rlimit_nofile"), None);
        let bad = serde_json::from_str::<PosixRlimit>(r#"{"type":"RLIMIT_FOO","soft":1,"hard":1}"#);
        assert!(bad.is_err(), "an unknown rlimit type must not parse");
    }

    #[test]
    fn rlimit_nofile_is_applied() {
        let out = in_child(0, || {
            set_rlimits(&[
                rlimit(PosixRlimitType::RlimitNofile, 100, 200),
                rlimit(PosixRlimitType::RlimitCore, 0, 0),
            ])
            .map_err(|e| e.to_string())?;
            let (s, h) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| e.to_string())?;
            let (cs, ch) = getrlimit(Resource::RLIMIT_CORE).map_err(|e| e.to_string())?;
            Ok(format!("{s}/{h} {cs}/{ch}"))
        });
        assert_eq!(out, Ok("100/200 0/0".to_string()));
    }

    #[test]
    fn raising_a_hard_limit_without_cap_sys_resource_is_an_error() {
        let out = in_child(0, || {
            // Whatever the host's bounding set, give up CAP_SYS_RESOURCE first.
            caps::drop(
                None,
                caps::CapSet::Effective,
                caps::Capability::CAP_SYS_RESOURCE,
            )
            .map_err(|e| e.to_string())?;
            let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| e.to_string())?;
            match set_rlimits(&[rlimit(PosixRlimitType::RlimitNofile, hard + 1, hard + 1)]) {
                Ok(()) => Err("raising the hard limit succeeded".into()),
                Err(e) => Ok(e.to_string()),
            }
        });
        assert_eq!(
            out,
            Ok("setrlimit RLIMIT_NOFILE: Operation not permitted (EPERM)".to_string())
        );
    }

    #[test]
    fn soft_above_hard_is_an_error() {
        let out = in_child(0, || {
            match set_rlimits(&[rlimit(PosixRlimitType::RlimitCore, 10, 5)]) {
                Ok(()) => Err("soft > hard accepted".into()),
                Err(e) => Ok(e.to_string()),
            }
        });
        assert_eq!(
            out,
            Ok("setrlimit RLIMIT_CORE: Invalid argument (EINVAL)".to_string())
        );
    }
}
