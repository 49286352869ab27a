//! The effective rule list and the v1 transition, against what runc 1.1.5 wrote on this
//! host (devices.list of its containers' cgroups, read after `runc create`).

use serde_json::json;

use super::super::emulator::Emulator;
use super::super::rule::Perms;
use super::super::{checked_rules, container_rules, target, v1, DeviceError};
use super::{deny_all, spec_devices, spec_rules};

/// devices.list of a runc 1.1.5 container from `runc spec` (resources.devices =
/// deny rwm), and just as well without any resources.devices or with an empty list.
const RUNC_DEFAULT_LIST: &str = "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\n\
c 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 10:200 rwm\nc 136:* rwm\n";

fn effective(
    rules: &[oci_spec::runtime::LinuxDeviceCgroup],
    devices: &[oci_spec::runtime::LinuxDevice],
) -> Result<Emulator, DeviceError> {
    target(&checked_rules(&container_rules(rules, devices))?)
}

fn list(text: &str) -> Emulator {
    Emulator::from_list(text).expect("devices.list")
}

#[test]
fn default_spec_gets_runc_default_allow_list() {
    assert_eq!(
        effective(&deny_all(), &[]).unwrap(),
        list(RUNC_DEFAULT_LIST)
    );
}

#[test]
fn absent_or_empty_resources_devices_still_start_from_deny_all() {
    assert_eq!(effective(&[], &[]).unwrap(), list(RUNC_DEFAULT_LIST));
}

#[test]
fn spec_rules_come_first_and_defaults_after_them() {
    let rules = container_rules(&deny_all(), &[]);
    assert_eq!(rules.len(), 1 + 11);
    assert_eq!(rules[0], deny_all()[0]);
    assert!(rules[1..].iter().all(|r| r.allow()));
}

#[test]
fn linux_devices_get_no_rule_and_drop_the_default_with_the_same_path() {
    // runc: the spec's /dev/full "takes priority" over the default /dev/full, rule
    // included; /dev/net/tun's default rule has no path and stays; /dev/fuse gets none.
    let devices = spec_devices(json!([
        {"path": "/dev/full", "type": "c", "major": 1, "minor": 7},
        {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200},
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
    ]));
    let want = "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\n\
                c 5:2 rwm\nc 10:200 rwm\nc 136:* rwm\n";
    assert_eq!(effective(&deny_all(), &devices).unwrap(), list(want));
}

#[test]
fn spec_allow_rules_merge_with_defaults_as_runc() {
    let mut rules = deny_all();
    rules.extend(spec_rules(json!([
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
        {"allow": false, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
        {"allow": true, "type": "b", "access": "r"},
    ])));
    // The deny of 1:9 comes before the defaults, which allow it again; "b *:* r" merges
    // into the default "b *:* m".
    let want = "b *:* rm\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\n\
                c 5:0 rwm\nc 5:2 rwm\nc 10:200 rwm\nc 10:229 rw\nc 136:* rwm\n";
    assert_eq!(effective(&rules, &[]).unwrap(), list(want));
}

#[test]
fn allow_all_switches_to_allow_list_with_deny_exceptions() {
    let rules = spec_rules(json!([
        {"allow": true, "access": "rwm"},
        {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 7, "access": "w"},
    ]));
    let emu = effective(&rules, &[]).unwrap();
    assert!(emu.default_allow);
    // runc's defaults then allow 1:7 again (removing the deny); 10:229 stays denied.
    let exceptions: Vec<String> = emu
        .exceptions
        .iter()
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert_eq!(exceptions, ["c 10:229 rwm"]);
}

#[test]
fn punching_a_hole_in_a_wildcard_is_refused_naming_the_rule() {
    // runc: "cannot punch hole in existing wildcard rule" for the same spec.
    let rules = spec_rules(json!([
        {"allow": true, "type": "c", "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    ]));
    let err = effective(&rules, &[]).unwrap_err().to_string();
    assert!(
        err.starts_with("linux.resources.devices[1] (deny c 1:7 rwm): cannot punch a hole in the wildcard rule c *:* rwm"),
        "{err}"
    );
}

#[test]
fn empty_access_is_refused_as_runc() {
    let err = effective(&spec_rules(json!([{"allow": false}])), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "linux.resources.devices[0] (deny a *:* ): access: cannot be empty"
    );
}

#[test]
fn bad_type_access_and_numbers_are_refused() {
    let cases = [
        (
            json!({"allow": true, "type": "u", "access": "r"}),
            "type: invalid cgroup device type \"u\"",
        ),
        (
            json!({"allow": true, "type": "p", "access": "r"}),
            "type: invalid cgroup device type \"p\"",
        ),
        (
            json!({"allow": true, "type": "c", "access": "rx"}),
            "access: unknown access 'x'",
        ),
        (
            json!({"allow": true, "type": "c", "major": -2, "access": "r"}),
            "major: -2 is out of range",
        ),
        (
            json!({"allow": true, "type": "c", "minor": 4294967296i64, "access": "r"}),
            "minor: 4294967296 is out of range",
        ),
    ];
    for (rule, want) in cases {
        let err = effective(&spec_rules(json!([rule])), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err} lacks {want}");
        assert!(err.starts_with("linux.resources.devices[0] "), "{err}");
    }
}

#[test]
fn major_minus_one_is_a_wildcard_as_in_runc() {
    let rules =
        spec_rules(json!([{"allow": true, "type": "c", "major": -1, "minor": 3, "access": "r"}]));
    let emu = target(&checked_rules(&rules).unwrap()).unwrap();
    assert_eq!(emu, list("c *:3 r\n"));
}

#[test]
fn perms_print_in_kernel_order() {
    assert_eq!(Perms::parse("mwr").unwrap().to_string(), "rwm");
    assert_eq!(Perms::parse("mm").unwrap().to_string(), "m");
    assert_eq!(Perms::parse("rwx"), Err('x'));
}

fn plan(list: &str, rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Vec<String> {
    v1::plan(list, rules)
        .unwrap()
        .iter()
        .map(|r| format!("{} {r}", if r.allow { "allow" } else { "deny" }))
        .collect()
}

#[test]
fn v1_fresh_cgroup_gets_deny_all_first_then_the_allows_in_order() {
    let got = plan("a *:* rwm\n", &container_rules(&deny_all(), &[]));
    let mut want = vec!["deny a *:* rwm".to_string()];
    want.extend(RUNC_DEFAULT_LIST.lines().map(|l| format!("allow {l}")));
    assert_eq!(got, want);
}

#[test]
fn v1_update_writes_only_the_difference_without_deny_all() {
    let rules = spec_rules(json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"},
        {"allow": true, "type": "b", "major": 8, "access": "m"},
    ]));
    let got = plan("c 1:3 rw\nc 1:5 rwm\nc 1:7 rwm\n", &rules);
    assert_eq!(
        got,
        [
            "deny c 1:5 wm",
            "deny c 1:7 rwm",
            "allow c 1:3 m",
            "allow b 8:* m"
        ]
    );
    // Already there: nothing to write.
    assert!(plan("b 8:* m\nc 1:3 rwm\nc 1:5 r\n", &rules).is_empty());
}

#[test]
fn v1_to_allow_all_writes_allow_all_then_the_denies() {
    let rules = spec_rules(json!([
        {"allow": true, "access": "rwm"},
        {"allow": false, "type": "b", "major": 8, "minor": 0, "access": "w"},
    ]));
    assert_eq!(
        plan("c 1:3 rwm\n", &rules),
        ["allow a *:* rwm", "deny b 8:0 w"]
    );
    // An allow-all cgroup may hold deny exceptions devices.list cannot show: start over.
    assert_eq!(
        plan("a *:* rwm\n", &rules),
        ["allow a *:* rwm", "deny b 8:0 w"]
    );
}

#[test]
fn v1_devices_list_parse_errors_name_the_line() {
    let err = Emulator::from_list("c 1:3 rwm\nq 1:2 r\n").unwrap_err();
    assert!(err.contains("\"q 1:2 r\""), "{err}");
}
