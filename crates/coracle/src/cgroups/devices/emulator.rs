//! The state of a v1 devices cgroup, emulated as runc's `devices.Emulator` does: a
//! default (allow-all or deny-all) plus exceptions, built by replaying rules the way the
//! kernel's devices controller applies writes to devices.allow / devices.deny.
//!
//! It serves both versions: v1 diffs the current state against the wanted one to write
//! the fewest disruptive rules; v2 turns the wanted state into a program whose
//! exceptions all carry the same action, so their order cannot matter.

use std::collections::BTreeMap;

use super::rule::{Kind, Meta, Perms, Rule};

/// Default action plus exceptions (which all carry the opposite action).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Emulator {
    /// true: allow-all with deny exceptions (a "blacklist"); false: deny-all with allow
    /// exceptions. A fresh emulator is deny-all, as runc builds a container's target.
    pub(crate) default_allow: bool,
    /// Exceptions in runc's order (major, minor, kind; wildcards first).
    pub(crate) exceptions: BTreeMap<Meta, Perms>,
}

impl Emulator {
    /// Replay `rules` in order onto a fresh deny-all emulator; the index of the rule that
    /// cannot be represented on failure.
    pub(crate) fn build(rules: &[Rule]) -> Result<Emulator, (usize, String)> {
        let mut emu = Emulator::default();
        for (i, rule) in rules.iter().enumerate() {
            emu.apply(rule).map_err(|e| (i, e))?;
        }
        Ok(emu)
    }

    /// Apply one rule as a write to devices.allow (allow) or devices.deny.
    pub(crate) fn apply(&mut self, rule: &Rule) -> Result<(), String> {
        let Some(meta) = rule.meta else {
            // "a": the kernel drops every exception and switches the default.
            *self = Emulator {
                default_allow: rule.allow,
                exceptions: BTreeMap::new(),
            };
            return Ok(());
        };
        if rule.allow == self.default_allow {
            // A rule with the default's action removes (part of) an exception.
            self.remove(meta, rule.perms)
        } else {
            let perms = self.exceptions.entry(meta).or_default();
            *perms = perms.union(rule.perms);
            Ok(())
        }
    }

    fn remove(&mut self, meta: Meta, perms: Perms) -> Result<(), String> {
        // The kernel only subtracts from an exception with exactly this match, silently
        // leaving a wildcard exception that covers the device in place. Refuse that, as
        // runc does, rather than let the user believe the hole was punched.
        for partial in [
            Meta {
                major: None,
                ..meta
            },
            Meta {
                minor: None,
                ..meta
            },
            Meta {
                major: None,
                minor: None,
                ..meta
            },
        ] {
            if partial == meta {
                continue;
            }
            let held = self.exceptions.get(&partial).copied().unwrap_or_default();
            if !held.intersection(perms).is_empty() {
                return Err(format!(
                    "cannot punch a hole in the wildcard rule {partial} {held} \
                     (the v1 devices controller would ignore it)"
                ));
            }
        }
        if let Some(held) = self.exceptions.get_mut(&meta) {
            *held = held.difference(perms);
            if held.is_empty() {
                self.exceptions.remove(&meta);
            }
        }
        Ok(())
    }

    /// Parse a devices.list. It lists what is allowed: "a *:* rwm" alone means allow-all
    /// (whose deny exceptions the file cannot show), anything else is deny-all plus the
    /// listed allow exceptions.
    pub(crate) fn from_list(list: &str) -> Result<Emulator, String> {
        let mut emu = Emulator::default();
        for line in list.lines().filter(|l| !l.trim().is_empty()) {
            let rule = parse_list_line(line).map_err(|e| format!("line {line:?}: {e}"))?;
            emu.apply(&rule)?;
        }
        Ok(emu)
    }

    /// The writes (in order) that take a cgroup in state `self` to `target`: a
    /// disruptive "a" rule only when the default must change, or when `self` is
    /// allow-all (its deny exceptions are unknowable); then the lost permissions; then
    /// the gained ones. This is runc's `Emulator.Transition`.
    pub(crate) fn transition(&self, target: &Emulator) -> Vec<Rule> {
        let mut out = Vec::new();
        let empty = BTreeMap::new();
        let mut old = &self.exceptions;
        if self.default_allow || self.default_allow != target.default_allow {
            out.push(Rule::all(target.default_allow));
            old = &empty;
        }
        for (meta, perms) in old {
            let kept = target.exceptions.get(meta).copied().unwrap_or_default();
            let dropped = perms.difference(kept);
            if !dropped.is_empty() {
                out.push(Rule {
                    meta: Some(*meta),
                    perms: dropped,
                    allow: target.default_allow,
                });
            }
        }
        for (meta, perms) in &target.exceptions {
            let had = old.get(meta).copied().unwrap_or_default();
            let gained = perms.difference(had);
            if !gained.is_empty() {
                out.push(Rule {
                    meta: Some(*meta),
                    perms: gained,
                    allow: !target.default_allow,
                });
            }
        }
        out
    }
}

fn parse_list_line(line: &str) -> Result<Rule, String> {
    let mut fields = line.split_whitespace();
    let (Some(kind), Some(numbers), Some(access), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err("not in devices.list format".into());
    };
    let kind = match kind {
        "a" => return Ok(Rule::all(true)),
        "b" => Kind::Block,
        "c" => Kind::Char,
        other => return Err(format!("unknown device type {other:?}")),
    };
    let (major, minor) = numbers
        .split_once(':')
        .ok_or_else(|| "no major:minor".to_string())?;
    let num = |s: &str| -> Result<Option<u32>, String> {
        if s == "*" {
            Ok(None)
        } else {
            s.parse()
                .map(Some)
                .map_err(|_| format!("bad device number {s:?}"))
        }
    };
    let perms = Perms::parse(access).map_err(|c| format!("unknown access {c:?}"))?;
    if perms.is_empty() {
        return Err("empty access".into());
    }
    Ok(Rule {
        meta: Some(Meta {
            major: num(major)?,
            minor: num(minor)?,
            kind,
        }),
        perms,
        allow: true,
    })
}
