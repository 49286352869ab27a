//! config-linux.md "Control groups": cgroupsPath and resource values, read from the host.

use crate::harness::T;
use crate::host::{self, Cgroups};
use crate::Test;
use serde_json::json;

/// The tests of this module.
pub fn tests() -> Vec<Test> {
    vec![
        Test {
            group: "cgroups",
            name: "v1-resources",
            run: v1,
        },
        Test {
            group: "cgroups",
            name: "v2-resources",
            run: v2,
        },
    ]
}

fn read(ctrl: &str, path: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(host::cgroup_file(ctrl, path, file))
        .ok()
        .map(|s| s.trim().to_string())
}

fn resources(swap: bool) -> serde_json::Value {
    let mut r = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": 67108864, "reservation": 33554432},
        "pids": {"limit": 42},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"}
    });
    if swap {
        r["memory"]["swap"] = json!(134217728);
    }
    r
}

/// "If the value is specified, the runtime MUST consistently attach to the same place in the
/// cgroups hierarchy given the same value of cgroupsPath" and each resource's v1 file.
fn v1(t: &mut T) {
    if host::cgroups() != Cgroups::V1 {
        t.skip("cgroup v1", "host has no cgroup v1 hierarchies");
        return;
    }
    let mut b = t.bundle();
    let swap = host::cgroup_file("memory", "/", "memory.memsw.limit_in_bytes").exists();
    if !swap {
        t.skip(
            "memory.swap",
            "host kernel has no swap accounting (memory.memsw.*)",
        );
    }
    b.with_cgroup();
    b.config["linux"]["resources"] = resources(swap);
    b.annotate("rtt.skip-checks", "1");
    let path = b.config["linux"]["cgroupsPath"]
        .as_str()
        .unwrap()
        .to_string();
    let c = b.container(t.suite);
    let cr = c.create();
    if !t.check("create", cr.ok(), || cr.describe()) {
        return;
    }
    let pid = c.pid().unwrap_or(0).to_string();
    for ctrl in ["memory", "pids", "cpu", "cpuset"] {
        let procs = read(ctrl, &path, "cgroup.procs").unwrap_or_default();
        t.check(
            &format!("{ctrl}: process attached to cgroupsPath"),
            procs.lines().any(|l| l == pid),
            || format!("cgroup.procs {procs:?} lacks {pid}"),
        );
    }
    let mut want = vec![
        ("memory", "memory.limit_in_bytes", "67108864"),
        ("memory", "memory.soft_limit_in_bytes", "33554432"),
        ("pids", "pids.max", "42"),
        ("cpu", "cpu.shares", "512"),
        ("cpu", "cpu.cfs_quota_us", "50000"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpuset", "cpuset.cpus", "0"),
        ("cpuset", "cpuset.mems", "0"),
    ];
    if swap {
        want.push(("memory", "memory.memsw.limit_in_bytes", "134217728"));
    }
    for (ctrl, file, v) in want {
        t.eq(file, read(ctrl, &path, file), Some(v.to_string()));
    }
    let devs = read("devices", &path, "devices.list").unwrap_or_default();
    t.check(
        "devices.list is an allowlist (default deny applied)",
        !devs.lines().any(|l| l == "a *:* rwm"),
        || devs.clone(),
    );
}

/// The same resources on the unified hierarchy (runc's documented v1 -> v2 conversions).
fn v2(t: &mut T) {
    if host::cgroups() != Cgroups::V2 {
        t.skip(
            "cgroup v2",
            "host has no pure cgroup v2 hierarchy at /sys/fs/cgroup",
        );
        return;
    }
    let mut b = t.bundle();
    b.with_cgroup();
    b.config["linux"]["resources"] = resources(true);
    b.annotate("rtt.skip-checks", "1");
    let path = b.config["linux"]["cgroupsPath"]
        .as_str()
        .unwrap()
        .to_string();
    let c = b.container(t.suite);
    let cr = c.create();
    if !t.check("create", cr.ok(), || cr.describe()) {
        return;
    }
    let pid = c.pid().unwrap_or(0).to_string();
    let procs = read("", &path, "cgroup.procs").unwrap_or_default();
    t.check(
        "process attached to cgroupsPath",
        procs.lines().any(|l| l == pid),
        || procs.clone(),
    );
    for (file, v) in [
        ("memory.max", "67108864"),
        ("memory.low", "33554432"),
        ("memory.swap.max", "67108864"),
        ("pids.max", "42"),
        ("cpu.max", "50000 100000"),
        ("cpuset.cpus", "0"),
        ("cpuset.mems", "0"),
    ] {
        t.eq(file, read("", &path, file), Some(v.to_string()));
    }
    // The spec leaves shares -> weight to the runtime: runc before 1.3.2 (and crun
    // before 1.23) map 512 linearly to 20, newer ones quadratically to 59.
    let weight = read("", &path, "cpu.weight");
    t.check(
        "cpu.weight",
        matches!(weight.as_deref(), Some("20" | "59")),
        || format!("got {weight:?}, want 20 (linear) or 59 (quadratic)"),
    );
}
