//! Per-architecture syscall number tables, generated from the kernel's UAPI headers by
//! `generate.sh` (plus `newer.txt` for calls added after those headers). Each table is
//! sorted by name so lookups are a binary search.

mod aarch64;
mod arm;
mod riscv64;
mod x32;
mod x86;
mod x86_64;

pub(crate) use aarch64::AARCH64;
pub(crate) use arm::ARM;
pub(crate) use riscv64::RISCV64;
pub(crate) use x32::X32;
pub(crate) use x86::X86;
pub(crate) use x86_64::X86_64;

/// The number of `name` in `table`, if that architecture has the call.
pub(crate) fn lookup(table: &[(&str, u32)], name: &str) -> Option<u32> {
    table
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| table[i].1)
}
