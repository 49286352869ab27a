//! cgroup v1: devices.allow / devices.deny writes computed from the current devices.list.

use std::io::Write;
use std::path::Path;

use nix::errno::Errno;

use super::emulator::Emulator;
use super::rule::Rule;
use super::{checked_rules, target, DeviceError};
use oci_spec::runtime::LinuxDeviceCgroup;

/// Write devices.deny / devices.allow in `dir` (a v1 devices hierarchy directory) so
/// that its effective devices.list equals `rules` replayed onto a deny-all cgroup, as
/// runc's `setV1`: read the current list, write only the transition (a disruptive
/// `a *:* rwm` first only when the default must change or the cgroup is allow-all), then
/// read the list back and fail unless it matches (for an allow-all target, unless the
/// mode matches: devices.list cannot show deny exceptions).
pub fn apply_v1(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), DeviceError> {
    let wanted = target(&checked_rules(rules)?)?;
    let list = dir.join("devices.list");
    let current = read_list(&list)?;
    for rule in current.transition(&wanted) {
        write_rule(dir, &rule)?;
    }
    let after = read_list(&list)?;
    let matches = if wanted.default_allow {
        after.default_allow
    } else {
        after == wanted
    };
    if !matches {
        return Err(DeviceError::Mismatch {
            path: list,
            expected: render(&wanted),
            found: render(&after),
        });
    }
    Ok(())
}

/// The writes `apply_v1` makes to a cgroup whose devices.list reads `list` (pure).
#[cfg(test)]
pub(crate) fn plan(list: &str, rules: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>, DeviceError> {
    let wanted = target(&checked_rules(rules)?)?;
    let current = Emulator::from_list(list).map_err(|reason| DeviceError::List {
        path: "devices.list".into(),
        reason,
    })?;
    Ok(current.transition(&wanted))
}

fn read_list(path: &Path) -> Result<Emulator, DeviceError> {
    let text = std::fs::read_to_string(path).map_err(|e| DeviceError::File {
        op: "read".into(),
        path: path.to_path_buf(),
        source: errno(&e),
    })?;
    Emulator::from_list(&text).map_err(|reason| DeviceError::List {
        path: path.to_path_buf(),
        reason,
    })
}

/// One rule per write(2): the kernel parses exactly one rule per write.
fn write_rule(dir: &Path, rule: &Rule) -> Result<(), DeviceError> {
    let path = dir.join(if rule.allow {
        "devices.allow"
    } else {
        "devices.deny"
    });
    let value = rule.to_string();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|e| DeviceError::File {
            op: format!("write {value:?} to"),
            path,
            source: errno(&e),
        })
}

fn errno(e: &std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

/// A devices.list-like rendering of an emulated state, for error messages.
pub(crate) fn render(emu: &Emulator) -> String {
    let mut out = if emu.default_allow {
        vec!["a *:* rwm".to_string()]
    } else {
        Vec::new()
    };
    let sign = if emu.default_allow { "deny " } else { "" };
    for (meta, perms) in &emu.exceptions {
        out.push(format!("{sign}{meta} {perms}"));
    }
    if out.is_empty() {
        "(nothing allowed)".into()
    } else {
        out.join(", ")
    }
}
