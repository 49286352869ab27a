//! The architectures a filter can cover: their audit tokens and syscall tables.

use oci_spec::runtime::Arch;

use super::tables;

/// `AUDIT_ARCH_*` values as the kernel reports them in `seccomp_data.arch`.
pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub(crate) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub(crate) const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
pub(crate) const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
pub(crate) const AUDIT_ARCH_RISCV64: u32 = 0xc000_00f3;

/// x32 shares x86_64's audit token; its syscall numbers carry this bit instead.
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// One architecture a filter covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArchInfo {
    /// The OCI name, for error messages.
    pub name: &'static str,
    /// `seccomp_data.arch` for this ABI.
    pub token: u32,
    /// Syscall numbers this ABI owns under `token`: x86_64 and x32 split one token.
    pub nr_range: (u32, u32),
    /// 64-bit arguments are compared in both halves; 32-bit ABIs compare the low word only.
    pub is64: bool,
    /// The multiplexer numbers (socketcall, ipc) for ABIs that have them: rules on
    /// socket and SysV IPC calls also match the multiplexed form, as libseccomp does.
    pub mux: Option<(u32, u32)>,
    pub table: &'static [(&'static str, u32)],
}

const ALL_NR: (u32, u32) = (0, u32::MAX);

pub(crate) const X86_64: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_X86_64",
    token: AUDIT_ARCH_X86_64,
    nr_range: (0, X32_SYSCALL_BIT - 1),
    is64: true,
    mux: None,
    table: tables::X86_64,
};
pub(crate) const X32: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_X32",
    token: AUDIT_ARCH_X86_64,
    nr_range: (X32_SYSCALL_BIT, u32::MAX),
    is64: false,
    mux: None,
    table: tables::X32,
};
pub(crate) const X86: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_X86",
    token: AUDIT_ARCH_I386,
    nr_range: ALL_NR,
    is64: false,
    mux: Some((102, 117)),
    table: tables::X86,
};
pub(crate) const AARCH64: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_AARCH64",
    token: AUDIT_ARCH_AARCH64,
    nr_range: ALL_NR,
    is64: true,
    mux: None,
    table: tables::AARCH64,
};
pub(crate) const ARM: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_ARM",
    token: AUDIT_ARCH_ARM,
    nr_range: ALL_NR,
    is64: false,
    mux: None,
    table: tables::ARM,
};
pub(crate) const RISCV64: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_RISCV64",
    token: AUDIT_ARCH_RISCV64,
    nr_range: ALL_NR,
    is64: true,
    mux: None,
    table: tables::RISCV64,
};

/// The architecture this library was built for.
pub(crate) fn native() -> Option<ArchInfo> {
    if cfg!(target_arch = "x86_64") {
        Some(X86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(AARCH64)
    } else if cfg!(target_arch = "x86") {
        Some(X86)
    } else if cfg!(target_arch = "arm") {
        Some(ARM)
    } else if cfg!(target_arch = "riscv64") {
        Some(RISCV64)
    } else {
        None
    }
}

/// The table entry for an OCI architecture; `None` when we have no table for it.
pub(crate) fn from_oci(arch: Arch) -> Option<ArchInfo> {
    match arch {
        Arch::ScmpArchNative => native(),
        Arch::ScmpArchX86_64 => Some(X86_64),
        Arch::ScmpArchX86 => Some(X86),
        Arch::ScmpArchX32 => Some(X32),
        Arch::ScmpArchAarch64 => Some(AARCH64),
        Arch::ScmpArchArm => Some(ARM),
        Arch::ScmpArchRiscv64 => Some(RISCV64),
        _ => None,
    }
}

/// Calls that ABIs with socketcall(2) also reach through it, with their `call` number.
pub(crate) const SOCKETCALLS: &[(&str, u32)] = &[
    ("socket", 1),
    ("bind", 2),
    ("connect", 3),
    ("listen", 4),
    ("accept", 5),
    ("getsockname", 6),
    ("getpeername", 7),
    ("socketpair", 8),
    ("send", 9),
    ("recv", 10),
    ("sendto", 11),
    ("recvfrom", 12),
    ("shutdown", 13),
    ("setsockopt", 14),
    ("getsockopt", 15),
    ("sendmsg", 16),
    ("recvmsg", 17),
    ("accept4", 18),
    ("recvmmsg", 19),
    ("sendmmsg", 20),
];

/// Calls that ABIs with ipc(2) also reach through it, with their `call` number.
pub(crate) const IPCCALLS: &[(&str, u32)] = &[
    ("semop", 1),
    ("semget", 2),
    ("semctl", 3),
    ("semtimedop", 4),
    ("msgsnd", 11),
    ("msgrcv", 12),
    ("msgget", 13),
    ("msgctl", 14),
    ("shmat", 21),
    ("shmdt", 22),
    ("shmget", 23),
    ("shmctl", 24),
];
