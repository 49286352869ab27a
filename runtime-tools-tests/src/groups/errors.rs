//! runtime.md "Errors" and "create": invalid configs are rejected and nothing is left behind.

use crate::harness::{Bundle, T};
use crate::host::{self, Cgroups};
use crate::Test;
use serde_json::json;

/// The tests of this module.
pub fn tests() -> Vec<Test> {
    vec![
        Test {
            group: "errors",
            name: "args-empty",
            run: |t| invalid(t, |b| b.config["process"]["args"] = json!([])),
        },
        Test {
            group: "errors",
            name: "cwd-relative",
            run: |t| invalid(t, |b| b.config["process"]["cwd"] = json!("tmp")),
        },
        Test {
            group: "errors",
            name: "root-path-missing",
            run: |t| invalid(t, |b| b.config["root"]["path"] = json!("no-such-rootfs")),
        },
        Test {
            group: "errors",
            name: "config-not-json",
            run: |t| invalid(t, |b| b.config = json!("not a config object")),
        },
        Test {
            group: "errors",
            name: "namespace-unknown-type",
            run: |t| invalid(t, |b| push_ns(b, json!({"type": "rtt-bogus"}))),
        },
        Test {
            group: "errors",
            name: "namespace-duplicated",
            run: |t| invalid(t, |b| push_ns(b, json!({"type": "pid"}))),
        },
        Test {
            group: "errors",
            name: "namespace-path-of-wrong-type",
            run: |t| {
                invalid(t, |b| {
                    b.config["linux"]["namespaces"] = json!([
                        {"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                        {"type": "ipc", "path": "/proc/self/ns/net"}
                    ])
                })
            },
        },
        Test {
            group: "errors",
            name: "rlimit-unknown-type",
            run: |t| {
                invalid(t, |b| {
                    b.config["process"]["rlimits"] =
                        json!([{"type": "RLIMIT_RTT_BOGUS", "soft": 1, "hard": 1}])
                })
            },
        },
        Test {
            group: "errors",
            name: "rlimit-duplicated",
            run: |t| {
                invalid(t, |b| {
                    b.config["process"]["rlimits"] = json!([
                        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100},
                        {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200}
                    ])
                })
            },
        },
        Test {
            group: "errors",
            name: "executable-not-found",
            run: |t| {
                invalid(t, |b| {
                    b.config["process"]["args"] = json!(["/rtt/no-such-program"])
                })
            },
        },
        Test {
            group: "errors",
            name: "mount-unknown-fstype",
            run: |t| {
                invalid(t, |b| {
                    b.config["mounts"].as_array_mut().unwrap().push(
                        json!({"destination": "/mnt/x", "type": "rttnosuchfs", "source": "none"}),
                    )
                })
            },
        },
        Test {
            group: "errors",
            name: "sysctl-unknown",
            run: |t| {
                invalid(t, |b| {
                    b.config["linux"]["sysctl"] = json!({"kernel.rtt_no_such_sysctl": "1"})
                })
            },
        },
        Test {
            group: "errors",
            name: "seccomp-unknown-action",
            run: |t| {
                invalid(t, |b| {
                    b.config["linux"]["seccomp"] =
                        json!({"defaultAction": "SCMP_ACT_RTT_BOGUS", "syscalls": []})
                })
            },
        },
        Test {
            group: "errors",
            name: "device-path-exists-as-other-file",
            run: |t| {
                invalid(t, |b| {
                    std::fs::write(b.rootfs().join("tmp/rtt-dev"), b"regular file").unwrap();
                    b.config["mounts"] =
                        json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
                    b.config["linux"]["devices"] =
                        json!([{"path": "/tmp/rtt-dev", "type": "c", "major": 1, "minor": 3}]);
                })
            },
        },
    ]
}

fn push_ns(b: &mut Bundle, ns: serde_json::Value) {
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(ns);
}

/// "If the runtime is unable to create the environment specified in the config.json, it MUST
/// generate an error" and "a new container MUST NOT be created": create fails, state fails,
/// the program never ran and no cgroup was left behind.
fn invalid(t: &mut T, mutate: fn(&mut Bundle)) {
    let mut b = t.bundle();
    // With a cgroup, so the check below can see that none is left behind.
    b.with_cgroup();
    b.annotate("rtt.touch", "/rtt/started");
    let cg = b.config["linux"]["cgroupsPath"]
        .as_str()
        .unwrap_or("")
        .to_string();
    mutate(&mut b);
    let c = b.container(t.suite);
    let cr = c.create();
    t.check("create fails", !cr.ok(), || {
        format!("create succeeded; status {}", c.status())
    });
    let s = c.state();
    t.check("no container state is left", s.is_err(), || {
        format!("state: {s:?}")
    });
    t.check(
        "program never ran",
        !b.rootfs().join("rtt/started").exists(),
        || "program ran".into(),
    );
    let probe = match host::cgroups() {
        Cgroups::V1 => Some(host::cgroup_file("pids", &cg, "")),
        Cgroups::V2 => Some(host::cgroup_file("", &cg, "")),
        Cgroups::None => None,
    };
    if let Some(p) = probe {
        // Give an asynchronous cleanup a moment.
        std::thread::sleep(std::time::Duration::from_millis(20));
        t.check("no cgroup is left", !p.exists(), || {
            format!("{} exists", p.display())
        });
    }
}
