//! The effective rule list: the spec's rules followed by runc's default allow list.

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

/// One entry of runc's `specconv.AllowedDevices` (runc 1.1.5, checked against the
/// devices.list it writes): the device node path it stands for, if any, and the rule.
struct Allowed {
    path: Option<&'static str>,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &'static str,
}

const fn dev(path: &'static str, major: i64, minor: i64) -> Allowed {
    Allowed {
        path: Some(path),
        typ: LinuxDeviceType::C,
        major: Some(major),
        minor: Some(minor),
        access: "rwm",
    }
}

/// In runc's order. The two `m` wildcards let the container mknod any node (opening it
/// is still checked); 136:* are the devpts slaves, 5:2 /dev/ptmx, 10:200 /dev/net/tun.
const ALLOWED: &[Allowed] = &[
    Allowed {
        path: None,
        typ: LinuxDeviceType::C,
        major: None,
        minor: None,
        access: "m",
    },
    Allowed {
        path: None,
        typ: LinuxDeviceType::B,
        major: None,
        minor: None,
        access: "m",
    },
    dev("/dev/null", 1, 3),
    dev("/dev/random", 1, 8),
    dev("/dev/full", 1, 7),
    dev("/dev/tty", 5, 0),
    dev("/dev/zero", 1, 5),
    dev("/dev/urandom", 1, 9),
    Allowed {
        path: None,
        typ: LinuxDeviceType::C,
        major: Some(136),
        minor: None,
        access: "rwm",
    },
    Allowed {
        path: None,
        typ: LinuxDeviceType::C,
        major: Some(5),
        minor: Some(2),
        access: "rwm",
    },
    Allowed {
        path: None,
        typ: LinuxDeviceType::C,
        major: Some(10),
        minor: Some(200),
        access: "rwm",
    },
];

/// The rules a container really gets, as runc builds them (specconv
/// `CreateCgroupConfig` + `createDevices`): the spec's `linux.resources.devices` in
/// order, then runc's default allow list, minus each default whose device path also
/// appears in `linux.devices` (runc lets the spec's node "take priority" and drops the
/// default's rule with it).
///
/// `linux.devices` entries get no rule of their own: runc creates the nodes but leaves
/// access to `linux.resources.devices` (engines list their devices there). Even the
/// first rule decides nothing by itself: whatever the rules, the result starts from
/// deny-all unless a rule of type `a` says allow (see [`super::apply_v1`]).
pub fn container_rules(
    spec_rules: &[LinuxDeviceCgroup],
    devices: &[LinuxDevice],
) -> Vec<LinuxDeviceCgroup> {
    let mut rules = spec_rules.to_vec();
    for allowed in ALLOWED {
        if let Some(path) = allowed.path {
            // runc compares the strings as given, not cleaned paths.
            if devices.iter().any(|d| d.path().as_os_str() == path) {
                continue;
            }
        }
        let mut rule = LinuxDeviceCgroup::default();
        rule.set_allow(true)
            .set_typ(Some(allowed.typ))
            .set_major(allowed.major)
            .set_minor(allowed.minor)
            .set_access(Some(allowed.access.to_string()));
        rules.push(rule);
    }
    rules
}
