//! config-linux.md "Namespaces", "User namespace mappings" and "Offset for Time Namespace".

use crate::harness::{Bundle, T};
use crate::host;
use crate::Test;
use serde_json::json;
use std::time::Duration;

/// The tests of this module.
pub fn tests() -> Vec<Test> {
    vec![
        Test {
            group: "namespaces",
            name: "new",
            run: new_ns,
        },
        Test {
            group: "namespaces",
            name: "absent-type-inherits-runtime",
            run: inherit,
        },
        Test {
            group: "namespaces",
            name: "join-by-path",
            run: join,
        },
        Test {
            group: "namespaces",
            name: "user-mappings",
            run: user,
        },
        Test {
            group: "namespaces",
            name: "time-offsets",
            run: time,
        },
    ]
}

/// The /proc/PID/ns name of an OCI namespace type.
fn proc_name(t: &str) -> &str {
    match t {
        "network" => "net",
        "mount" => "mnt",
        o => o,
    }
}

/// Creates the container, compares its namespaces with the runtime's (the runner's) and with
/// the joined paths, then starts it and records the checker.
fn run_ns(t: &mut T, b: &Bundle) {
    let c = b.container(t.suite);
    let cr = c.create();
    if !t.check("create", cr.ok(), || {
        format!("{}; {}", cr.describe(), c.output().trim())
    }) {
        return;
    }
    let pid = c.pid().unwrap_or(0).to_string();
    for ns in b.config["linux"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let ty = ns["type"].as_str().unwrap_or("");
        let mine = host::ns_link(&pid, proc_name(ty));
        // pid and time namespaces of a created process are its *_for_children only when the
        // runtime forked after unsharing; /proc/PID/ns/pid is the namespace it lives in.
        if let Some(path) = ns["path"].as_str() {
            let want = std::fs::read_link(path)
                .ok()
                .map(|p| p.display().to_string());
            t.check(
                &format!("{ty} joined by path"),
                mine.is_some() && mine == want,
                || format!("{mine:?} vs {want:?}"),
            );
        } else {
            let host = host::ns_link("self", proc_name(ty));
            t.check(
                &format!("{ty} is a new namespace"),
                mine.is_some() && mine != host,
                || format!("{mine:?} vs runtime {host:?}"),
            );
        }
    }
    let st = c.start();
    if !t.check("start", st.ok(), || st.describe()) {
        return;
    }
    t.check("exits", c.wait_stopped(Duration::from_secs(15)), || {
        c.status()
    });
    t.record_checker(&c.output());
}

/// "If a namespace type is specified without a path, the runtime MUST create a new
/// container namespace of that type."
fn new_ns(t: &mut T) {
    let mut b = t.bundle();
    if std::path::Path::new("/proc/self/ns/cgroup").exists() {
        b.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "cgroup"}));
    } else {
        t.skip("cgroup namespace", "host kernel has no cgroup namespaces");
    }
    run_ns(t, &b);
}

/// "If a namespace type is not specified in the namespaces array, the container MUST
/// inherit the runtime namespace of that type."
fn inherit(t: &mut T) {
    let mut b = t.bundle();
    b.config["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]);
    b.config["linux"]["sysctl"] = json!({});
    let c = b.container(t.suite);
    let cr = c.create();
    if !t.check("create", cr.ok(), || cr.describe()) {
        return;
    }
    let pid = c.pid().unwrap_or(0).to_string();
    for ns in ["net", "ipc"] {
        let (mine, host) = (host::ns_link(&pid, ns), host::ns_link("self", ns));
        t.check(
            &format!("{ns} inherited from runtime"),
            mine.is_some() && mine == host,
            || format!("{mine:?} vs {host:?}"),
        );
    }
}

/// "If a path is specified, the runtime MUST ... join the namespace at path."
fn join(t: &mut T) {
    let holder = match host::NsHolder::spawn(&["--net", "--ipc", "--uts"]) {
        Ok(h) => h,
        Err(e) => {
            t.check("namespace holder", false, || e);
            return;
        }
    };
    let pid_holder = host::NsHolder::spawn(&["--pid", "--fork"]);
    let mut b = t.bundle();
    let p = &holder.pid;
    let mut nss = vec![
        json!({"type": "network", "path": format!("/proc/{p}/ns/net")}),
        json!({"type": "ipc", "path": format!("/proc/{p}/ns/ipc")}),
        json!({"type": "uts", "path": format!("/proc/{p}/ns/uts")}),
        json!({"type": "mount"}),
    ];
    match &pid_holder {
        Ok(h) => nss.push(json!({"type": "pid", "path": format!("/proc/{}/ns/pid", h.pid)})),
        Err(e) => {
            t.check("pid namespace holder", false, || e.clone());
        }
    }
    b.config["linux"]["namespaces"] = json!(nss);
    // Joined uts namespace: do not change its hostname.
    b.config.as_object_mut().unwrap().remove("hostname");
    run_ns(t, &b);
}

/// User namespace with uid/gid mappings.
fn user(t: &mut T) {
    if !host::has_user_ns() {
        t.skip(
            "user namespace",
            "host kernel has no (enabled) user namespaces",
        );
        return;
    }
    let mut b = t.bundle();
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    // The container's root must own its rootfs to write to it.
    let _ = std::os::unix::fs::chown(b.rootfs(), Some(100000), Some(200000));
    run_ns(t, &b);
}

/// "timeOffsets ... sets the offset for Time Namespace."
fn time(t: &mut T) {
    if !host::has_time_ns() {
        t.skip(
            "time namespace",
            "host kernel has no time namespaces (/proc/self/ns/time)",
        );
        return;
    }
    let mut b = t.bundle();
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({
        "monotonic": {"secs": 864000, "nanosecs": 0},
        "boottime": {"secs": 172800, "nanosecs": 500}
    });
    run_ns(t, &b);
}
