//! One device cgroup rule, checked and normalised from the spec's `LinuxDeviceCgroup`.

use std::fmt;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// The device node kinds a cgroup rule can name; the order (b before c) is the order
/// runc's emulator sorts its exceptions in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Block,
    Char,
}

impl Kind {
    pub(crate) fn letter(self) -> char {
        match self {
            Kind::Block => 'b',
            Kind::Char => 'c',
        }
    }
}

/// A set of access bits: read, write, mknod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub(crate) struct Perms(u8);

impl Perms {
    pub(crate) const READ: Perms = Perms(1);
    pub(crate) const WRITE: Perms = Perms(2);
    pub(crate) const MKNOD: Perms = Perms(4);
    pub(crate) const ALL: Perms = Perms(7);
    pub(crate) const NONE: Perms = Perms(0);

    /// Parse an access string such as `rwm` (any order, repeats allowed as the
    /// kernel allows them); the offending character on failure.
    pub(crate) fn parse(s: &str) -> Result<Perms, char> {
        let mut bits = 0;
        for c in s.chars() {
            bits |= match c {
                'r' => 1,
                'w' => 2,
                'm' => 4,
                other => return Err(other),
            };
        }
        Ok(Perms(bits))
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub(crate) fn union(self, other: Perms) -> Perms {
        Perms(self.0 | other.0)
    }
    pub(crate) fn intersection(self, other: Perms) -> Perms {
        Perms(self.0 & other.0)
    }
    pub(crate) fn difference(self, other: Perms) -> Perms {
        Perms(self.0 & !other.0)
    }
}

impl fmt::Display for Perms {
    /// Always in `rwm` order, as the kernel prints devices.list.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [(1, 'r'), (2, 'w'), (4, 'm')] {
            if self.0 & bit != 0 {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// The match part of a rule for one node kind: `None` numbers are wildcards (`*`).
/// Field order gives runc's sort order: major, then minor, then kind, wildcards first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Meta {
    pub(crate) major: Option<u32>,
    pub(crate) minor: Option<u32>,
    pub(crate) kind: Kind,
}

impl fmt::Display for Meta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.kind.letter())?;
        match self.major {
            Some(n) => write!(f, "{n}:")?,
            None => write!(f, "*:")?,
        }
        match self.minor {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "*"),
        }
    }
}

/// A checked rule. `meta: None` is the `a` (every device, every access) wildcard, whose
/// numbers and access the kernel and runc ignore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) meta: Option<Meta>,
    pub(crate) perms: Perms,
    pub(crate) allow: bool,
}

impl Rule {
    /// The "a *:* rwm" rule that switches a cgroup to allow-all (`allow`) or deny-all.
    pub(crate) fn all(allow: bool) -> Rule {
        Rule {
            meta: None,
            perms: Perms::ALL,
            allow,
        }
    }

    /// Check one spec rule as runc's specconv does: type absent means `a`, numbers absent
    /// (or runc's -1) are wildcards, access must be a non-empty subset of `rwm`.
    pub(crate) fn from_spec(rule: &LinuxDeviceCgroup) -> Result<Rule, String> {
        let kind = match rule.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(Kind::Block),
            LinuxDeviceType::C => Some(Kind::Char),
            other => {
                return Err(format!(
                    "type: invalid cgroup device type {:?} (a, b or c)",
                    other.as_str()
                ))
            }
        };
        let major = number(rule.major(), "major")?;
        let minor = number(rule.minor(), "minor")?;
        let access = rule.access().as_deref().unwrap_or("");
        if access.is_empty() {
            return Err("access: cannot be empty".into());
        }
        let perms = Perms::parse(access)
            .map_err(|c| format!("access: unknown access {c:?} in {access:?} (r, w, m)"))?;
        Ok(Rule {
            meta: kind.map(|kind| Meta { major, minor, kind }),
            perms,
            allow: rule.allow(),
        })
    }
}

fn number(n: Option<i64>, field: &str) -> Result<Option<u32>, String> {
    match n {
        None | Some(-1) => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| {
            format!("{field}: {n} is out of range (0..=4294967295, or absent for any)")
        }),
    }
}

impl fmt::Display for Rule {
    /// The form devices.allow/devices.deny take: `c 1:3 rwm`, `a *:* rwm`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.meta {
            Some(meta) => write!(f, "{meta} {}", self.perms),
            None => write!(f, "a *:* {}", self.perms),
        }
    }
}
