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

/// Every name the OCI spec defines for `linux.seccomp`; what is advertised is the
/// subset this build compiles and this kernel loads, found by trying each.
const OCI_ACTIONS: [&str; 9] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];
const OCI_OPERATORS: [&str; 7] = [
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];
const OCI_ARCHS: [&str; 23] = [
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
];

/// Whether this build compiles `profile` and this kernel can load the result.
fn seccomp_accepts(profile: Value) -> bool {
    serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(profile)
        .ok()
        .and_then(|p| crate::seccomp::compile(&p).ok())
        .is_some_and(|f| crate::seccomp::load::check(&f).is_ok())
}

fn seccomp() -> Value {
    let rule = |action: &str, args: Value| {
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/features-probe",
               "syscalls": [{"names": ["getpid"], "action": action, "args": args}]})
    };
    let actions: Vec<&str> = OCI_ACTIONS
        .into_iter()
        .filter(|a| seccomp_accepts(rule(a, json!([]))))
        .collect();
    let operators: Vec<&str> = OCI_OPERATORS
        .into_iter()
        .filter(|op| {
            seccomp_accepts(rule(
                "SCMP_ACT_ERRNO",
                json!([{"index": 0, "value": 1, "op": op}]),
            ))
        })
        .collect();
    let archs: Vec<&str> = OCI_ARCHS
        .into_iter()
        .filter(|arch| {
            let mut p = rule("SCMP_ACT_ERRNO", json!([]));
            p["architectures"] = json!([arch]);
            seccomp_accepts(p)
        })
        .collect();
    let known: Vec<&str> = crate::seccomp::load::FLAG_NAMES
        .iter()
        .map(|(_, n)| *n)
        .collect();
    let supported: Vec<&str> = crate::seccomp::load::FLAG_NAMES
        .iter()
        .filter(|(bit, _)| {
            // WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
            let with = if *bit == 1 << 5 { *bit | 1 << 3 } else { *bit };
            crate::sys::seccomp::filter_flags_supported(with).unwrap_or(false)
        })
        .map(|(_, n)| *n)
        .collect();
    json!({
        "enabled": !actions.is_empty(),
        "actions": actions,
        "operators": operators,
        "archs": archs,
        "knownFlags": known,
        "supportedFlags": supported,
    })
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
    fn seccomp_features_come_from_the_compiler_and_the_kernel() {
        let s = seccomp();
        assert_eq!(s["enabled"], true);
        let list = |k: &str| -> Vec<String> {
            s[k].as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(list("actions").len(), 9, "{s}");
        assert_eq!(list("operators").len(), 7, "{s}");
        let archs = list("archs");
        assert!(archs.contains(&"SCMP_ARCH_X86_64".to_string()), "{archs:?}");
        assert!(
            !archs.contains(&"SCMP_ARCH_S390X".to_string()),
            "no s390x table: {archs:?}"
        );
        let flags = list("supportedFlags");
        assert!(flags.contains(&"SECCOMP_FILTER_FLAG_LOG".to_string()));
        // Since Linux 5.19; every kernel this runs on in CI has it.
        assert!(
            flags.contains(&"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV".to_string()),
            "{flags:?}"
        );
    }

    #[test]
    fn refused_mount_options_are_not_advertised() {
        let opts = mount_options();
        assert!(opts.contains(&"rbind") && opts.contains(&"nosymfollow"));
        assert!(!opts.contains(&"idmap") && opts.contains(&"tmpcopyup"));
    }
}
