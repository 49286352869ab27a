//! The thin unsafe layer: raw system calls that nix does not wrap.
//!
//! Every `unsafe` block in the library lives under this module and carries a
//! `// SAFETY:` note. Callers get safe functions returning `nix::Result`.

pub mod bpf;
pub mod clone;
pub mod fd;
pub mod mount;
pub mod pidfd;
pub mod process;
pub mod seccomp;
#[cfg(test)]
pub(crate) mod testing;
pub mod tty;
