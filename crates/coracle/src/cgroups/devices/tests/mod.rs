//! Tests of the device rules: pure ones (rule list, emulator, v1 transition, program
//! generator through a small interpreter) and kernel ones (v1 on this host, v2 in the
//! pure-v2 guest).

mod interp;
mod kernel_runc;
mod kernel_v1;
mod kernel_v2;
mod program;
mod rules;
mod support;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup};
use serde_json::json;

/// A `linux.resources.devices` entry from its JSON form.
pub(super) fn spec_rules(v: serde_json::Value) -> Vec<LinuxDeviceCgroup> {
    serde_json::from_value(v).expect("rules json")
}

/// `linux.devices` entries from their JSON form.
pub(super) fn spec_devices(v: serde_json::Value) -> Vec<LinuxDevice> {
    serde_json::from_value(v).expect("devices json")
}

/// runc's default spec rule: deny everything.
pub(super) fn deny_all() -> Vec<LinuxDeviceCgroup> {
    spec_rules(json!([{"allow": false, "access": "rwm"}]))
}
