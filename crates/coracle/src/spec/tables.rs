//! Static name tables: capabilities, rlimits, namespaces and namespaced sysctls.
//!
//! One table per kind, each tested against the kernel's headers or libc, so a
//! name we accept is a name the kernel knows by that number.

/// Every capability the kernel defines, `CAP_CHOWN` (0) to `CAP_CHECKPOINT_RESTORE` (40),
/// indexed by number (`include/uapi/linux/capability.h`).
pub const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The kernel number of a capability named exactly as in capabilities(7) (`CAP_SYS_ADMIN`).
pub fn capability_number(name: &str) -> Option<u8> {
    CAPABILITIES
        .iter()
        .position(|c| *c == name)
        .and_then(|i| u8::try_from(i).ok())
}

/// Namespace types of `linux.namespaces[].type` and their clone(2) flags.
pub const NAMESPACES: &[(&str, i32)] = &[
    ("pid", 0x2000_0000),
    ("network", 0x4000_0000),
    ("mount", 0x0002_0000),
    ("ipc", 0x0800_0000),
    ("uts", 0x0400_0000),
    ("user", 0x1000_0000),
    ("cgroup", 0x0200_0000),
    ("time", 0x0000_0080),
];

/// The clone(2) flag of an OCI namespace type (`network` → `CLONE_NEWNET`).
pub fn namespace_flag(name: &str) -> Option<i32> {
    NAMESPACES.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// IPC-namespaced sysctls besides `fs.mqueue.*` (runc's list, from ipc/ipc_sysctl.c).
pub const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// `#define NAME NUMBER` lines of a kernel uapi header.
    fn header_defines(path: &str, prefix: &str) -> Vec<(String, i64)> {
        let text = std::fs::read_to_string(path).expect("kernel uapi header");
        text.lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                if it.next()? != "#define" {
                    return None;
                }
                let name = it.next()?;
                let val = it.next()?;
                if !name.starts_with(prefix) {
                    return None;
                }
                let n = if let Some(hex) = val.strip_prefix("0x") {
                    i64::from_str_radix(hex, 16).ok()?
                } else {
                    val.parse().ok()?
                };
                Some((name.to_string(), n))
            })
            .collect()
    }

    #[test]
    fn capability_table_matches_kernel_header() {
        let defs = header_defines("/usr/include/linux/capability.h", "CAP_");
        let mut checked = 0;
        for (name, n) in defs {
            if let Some(ours) = capability_number(&name) {
                assert_eq!(i64::from(ours), n, "{name}");
                checked += 1;
            }
        }
        assert_eq!(
            checked,
            CAPABILITIES.len(),
            "every table entry is in the header"
        );
    }

    #[test]
    fn capability_table_covers_running_kernel() {
        let last: usize = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            CAPABILITIES.len() > last,
            "kernel knows cap {last}, table stops earlier"
        );
    }

    #[test]
    fn capability_table_matches_caps_crate() {
        for cap in caps::all() {
            let name = cap.to_string();
            assert_eq!(capability_number(&name), Some(cap.index()), "{name}");
        }
        assert_eq!(caps::all().len(), CAPABILITIES.len());
    }

    #[test]
    fn namespace_table_matches_kernel_header() {
        let defs = header_defines("/usr/include/linux/sched.h", "CLONE_NEW");
        let kernel = |n: &str| defs.iter().find(|(d, _)| d == n).map(|(_, v)| *v);
        let expect = [
            ("pid", "CLONE_NEWPID"),
            ("network", "CLONE_NEWNET"),
            ("mount", "CLONE_NEWNS"),
            ("ipc", "CLONE_NEWIPC"),
            ("uts", "CLONE_NEWUTS"),
            ("user", "CLONE_NEWUSER"),
            ("cgroup", "CLONE_NEWCGROUP"),
            ("time", "CLONE_NEWTIME"),
        ];
        assert_eq!(expect.len(), NAMESPACES.len());
        for (oci, clone) in expect {
            assert_eq!(namespace_flag(oci).map(i64::from), kernel(clone), "{oci}");
        }
    }

    #[test]
    fn ipc_sysctls_exist_in_proc() {
        // The test process runs in an ipc namespace, so these files exist.
        for s in IPC_SYSCTLS {
            let p = format!("/proc/sys/{}", s.replace('.', "/"));
            assert!(std::path::Path::new(&p).exists(), "{p}");
        }
    }
}
