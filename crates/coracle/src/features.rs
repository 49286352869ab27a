//! `features`: what this build supports on this host, in the OCI features format
//! (runtime-spec features.md). Every entry is derived from the tables the runtime
//! itself uses and from probes of the running kernel, never written out by hand.

use serde_json::{json, Value};

use crate::cgroups::{self, Mode};
use crate::spec::tables;

/// The hook kinds, in the spec's order; all six are run.
const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// The features JSON.
pub fn features() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::OCI_VERSION,
        "hooks": HOOKS,
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": namespaces(),
            "capabilities": capabilities(),
            "cgroup": cgroup(),
            "seccomp": seccomp(),
            "apparmor": {"enabled": crate::security::apparmor_enabled()},
            "selinux": {"enabled": crate::security::selinux_enabled()},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}},
        },
        "annotations": annotations(),
    })
}

fn mount_options() -> Vec<&'static str> {
    let mut names = crate::rootfs::mount_option_names();
    names.sort_unstable();
    names
}

/// Namespace kinds this build knows and this kernel has (/proc/self/ns/<name>).
fn namespaces() -> Vec<&'static str> {
    let mut out: Vec<&str> = tables::NAMESPACES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| {
            std::path::Path::new("/proc/self/ns")
                .join(proc_ns_name(name))
                .exists()
        })
        .collect();
    out.sort_unstable();
    out
}

/// The /proc/self/ns entry of an OCI namespace type.
fn proc_ns_name(oci: &str) -> &str {
    match oci {
        "network" => "net",
        "mount" => "mnt",
        other => other,
    }
}

/// Capabilities this build knows that the kernel also has (up to cap_last_cap).
fn capabilities() -> Vec<&'static str> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
        .unwrap_or(u8::MAX);
    tables::CAPABILITIES
        .iter()
        .copied()
        .filter(|name| tables::capability_number(name).is_some_and(|n| n <= last))
        .collect()
}

/// Both cgroup versions are implemented (hybrid hosts use v1 for the controllers);
/// systemd's cgroup driver is not.
fn cgroup() -> Value {
    json!({"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true})
}

fn seccomp() -> Value {
    json!({"enabled": false})
}

/// What the host looks like to this build: the cgroup mode it detected.
fn annotations() -> Value {
    let mode = match cgroups::detect() {
        Ok(Mode::Legacy) => "v1",
        Ok(Mode::Hybrid) => "hybrid",
        Ok(Mode::Unified) => "v2",
        Err(_) => "unknown",
    };
    json!({
        "org.coracle.version": env!("CARGO_PKG_VERSION"),
        "org.coracle.cgroup.mode": mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_follow_the_kernel() {
        let ns = namespaces();
        for must in ["mount", "pid", "network", "ipc", "uts", "user", "cgroup"] {
            assert!(ns.contains(&must), "{ns:?} lacks {must}");
        }
        assert_eq!(
            ns.contains(&"time"),
            std::path::Path::new("/proc/self/ns/time").exists()
        );
    }

    #[test]
    fn capabilities_stop_at_cap_last_cap() {
        let last: usize = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(
            capabilities().len(),
            (last + 1).min(tables::CAPABILITIES.len())
        );
    }

    #[test]
    fn refused_mount_options_are_not_advertised() {
        let opts = mount_options();
        assert!(opts.contains(&"rbind") && opts.contains(&"nosymfollow"));
        assert!(!opts.contains(&"idmap") && opts.contains(&"tmpcopyup"));
    }
}
