//! Device access control: which device nodes a container may open or mknod.
//!
//! The same rule list drives both cgroup versions. It is replayed as the v1 kernel
//! applies devices.allow/devices.deny writes ([`emulator`], after runc's
//! `devices.Emulator`) onto a deny-all start, giving a default action plus exceptions.
//! v1 writes the transition from the cgroup's current devices.list ([`apply_v1`]); v2
//! compiles the state into an eBPF program attached to the cgroup ([`apply_v2`]).

mod defaults;
pub(crate) mod emulator;
pub(crate) mod program;
pub(crate) mod rule;
mod v1;
pub(crate) mod v2;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use nix::errno::Errno;
use oci_spec::runtime::LinuxDeviceCgroup;

pub use defaults::container_rules;
pub use v1::apply_v1;
pub use v2::{apply_v2, attached, PROGRAM_NAME};

use emulator::Emulator;
use rule::Rule;

/// Why device rules could not be applied. Rule positions count in the list given to
/// `apply_*`: with [`container_rules`], the spec's `linux.resources.devices` come first
/// (same index), runc's defaults after them.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// A rule is malformed or cannot be enforced faithfully.
    #[error("linux.resources.devices[{index}] ({rule}): {reason}")]
    Rule {
        /// Position in the rule list.
        index: usize,
        /// The rule as given (`allow c 1:3 rwm`).
        rule: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing a cgroup file failed.
    #[error("{op} {}: {} ({:?})", path.display(), source.desc(), source)]
    File {
        /// `read`, or `write "c 1:3 rwm" to`.
        op: String,
        /// The cgroup file.
        path: PathBuf,
        /// The failed call's errno.
        source: Errno,
    },
    /// devices.list holds a line we cannot parse.
    #[error("parse {}: {reason}", path.display())]
    List {
        /// The devices.list file.
        path: PathBuf,
        /// The line and what is wrong with it.
        reason: String,
    },
    /// After the writes, devices.list does not say what the rules say (the parent
    /// cgroup may forbid what the rules allow).
    #[error("{}: after writing the rules it allows {found}, expected {expected}", path.display())]
    Mismatch {
        /// The devices.list file.
        path: PathBuf,
        /// What the rules allow.
        expected: String,
        /// What the cgroup allows.
        found: String,
    },
    /// A bpf(2) command failed.
    #[error("bpf {op}: {} ({:?})", source.desc(), source)]
    Bpf {
        /// The command and its arguments of note.
        op: String,
        /// The failed call's errno.
        source: Errno,
    },
    /// The kernel's verifier rejected the generated program.
    #[error(
        "bpf BPF_PROG_LOAD (device filter, {insns} instructions): {} ({:?}): verifier: {reason}",
        source.desc(),
        source
    )]
    Verifier {
        /// The load's errno.
        source: Errno,
        /// Program length.
        insns: usize,
        /// The verifier log's last line.
        reason: String,
        /// The whole verifier log.
        log: String,
    },
}

/// How a spec rule reads in messages: `allow c 1:3 rwm`, `deny a *:* rwm`.
fn describe(rule: &LinuxDeviceCgroup) -> String {
    let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
    format!(
        "{} {} {}:{} {}",
        if rule.allow() { "allow" } else { "deny" },
        rule.typ()
            .map_or("a".to_string(), |t| t.as_str().to_string()),
        num(rule.major()),
        num(rule.minor()),
        rule.access().as_deref().unwrap_or(""),
    )
}

/// Check every rule (runc's specconv checks).
pub(crate) fn checked_rules(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>, DeviceError> {
    rules
        .iter()
        .enumerate()
        .map(|(index, r)| {
            Rule::from_spec(r).map_err(|reason| DeviceError::Rule {
                index,
                rule: describe(r),
                reason,
            })
        })
        .collect()
}

/// The state `rules` lead to from deny-all, or the rule that cannot be honoured.
pub(crate) fn target(rules: &[Rule]) -> Result<Emulator, DeviceError> {
    Emulator::build(rules).map_err(|(index, reason)| DeviceError::Rule {
        index,
        rule: format!(
            "{} {}",
            if rules[index].allow { "allow" } else { "deny" },
            rules[index]
        ),
        reason,
    })
}
