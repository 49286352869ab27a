//! OCI runtime spec, config-linux "Namespaces": each listed namespace is new, or
//! joined when it has a path; user namespaces get their id mappings.

mod common;

use common::*;
use serde_json::json;

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn every_listed_namespace_is_new() {
    let rt = Runtime::new();
    let kinds = ["pid", "net", "ipc", "uts", "mnt", "cgroup"];
    let script: String = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{k};"))
        .collect();
    let out = rt.output_of(&Bundle::sh(&script));
    let inside: Vec<&str> = out.lines().collect();
    assert_eq!(inside.len(), kinds.len(), "{out}");
    for (k, ns) in kinds.iter().zip(inside) {
        assert_ne!(ns, host_ns(k), "{k} namespace is the host's");
    }
}

#[test]
fn pid_one_inside() {
    let rt = Runtime::new();
    assert_eq!(rt.output_of(&Bundle::sh("echo $$")).trim(), "1");
}

#[test]
fn unlisted_namespace_is_shared_with_the_host() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("readlink /proc/self/ns/net");
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}]);
        // A hostname needs a uts namespace of its own.
        c.as_object_mut().unwrap().remove("hostname");
    });
    assert_eq!(rt.output_of(&b).trim(), host_ns("net"));
}

#[test]
fn namespace_with_path_is_joined() {
    let rt = Runtime::new();
    // A holder container owns a network and a uts namespace; the second joins them.
    let holder = Bundle::new(&["sleep", "100"]);
    let id = unique("holder");
    rt.create(&holder, &id);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let want_net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let mut b = Bundle::sh("readlink /proc/self/ns/net; hostname");
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([
            {"type": "pid"}, {"type": "mount"},
            {"type": "network", "path": format!("/proc/{pid}/ns/net")},
            {"type": "uts", "path": format!("/proc/{pid}/ns/uts")}
        ]);
        c.as_object_mut().unwrap().remove("hostname");
    });
    let out = rt.output_of(&b);
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), want_net.to_str().unwrap());
    assert_eq!(
        lines.next().unwrap(),
        "coracle-test",
        "uts namespace of the holder"
    );
}

#[test]
fn user_namespace_gets_its_mappings() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g");
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        // sysfs cannot be mounted from a user namespace that does not own the netns... it does here.
    });
    let out = rt.output_of(&b);
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(&words[..3], ["0", "100000", "65536"], "{out}");
    assert_eq!(&words[3..6], ["0", "100000", "65536"], "{out}");
    assert_eq!(&words[6..], ["0", "0"], "{out}");
}

#[test]
fn time_namespace_applies_offsets() {
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        eprintln!("skipped: kernel without time namespaces");
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/uptime");
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 86400000, "nanosecs": 0}});
    });
    let out = rt.output_of(&b);
    let up: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(up > 86_400_000.0, "uptime {up} lacks the boottime offset");
}

#[test]
fn a_waiting_init_is_out_of_reach_of_its_pid_namespace_peers() {
    let rt = Runtime::new();
    // A: same uid and capabilities as B will have, no CAP_SYS_PTRACE. Once told, it tries
    // to follow an fd link of every process of its pid namespace (a ptrace-mode access)
    // and records what it could.
    let a = Bundle::sh(
        "while [ ! -e /go ]; do sleep 0.05; done; \
         for p in /proc/[0-9]*; do readlink $p/fd/0 >/dev/null 2>&1 && echo open ${p#/proc/} || echo denied ${p#/proc/}; done > /result.tmp; \
         mv /result.tmp /result; sleep 100",
    );
    let a_id = unique("peer-a");
    rt.create(&a, &a_id);
    assert!(rt.cmd(&["start", &a_id]).status.success());
    let a_pid = rt.state(&a_id)["pid"].as_i64().unwrap();
    // B joins A's pid namespace and waits in `created` (holding its host fds).
    let mut b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([
            {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}, {"type": "network"},
            {"type": "pid", "path": format!("/proc/{a_pid}/ns/pid")}
        ])
    });
    let b_id = unique("peer-b");
    rt.create(&b, &b_id);
    let b_host_pid = rt.state(&b_id)["pid"].as_i64().unwrap();
    let b_ns_pid = std::fs::read_to_string(format!("/proc/{b_host_pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|v| v.split_whitespace().last().map(str::to_string))
        .unwrap();
    std::fs::write(a.rootfs().join("go"), "").unwrap();
    let result = a.rootfs().join("result");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !result.exists() {
        assert!(std::time::Instant::now() < deadline, "peer never reported");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let seen = std::fs::read_to_string(result).unwrap();
    assert!(
        seen.lines().any(|l| l == "open 1"),
        "the probe must reach its own init: {seen}"
    );
    assert!(
        seen.lines().any(|l| l == format!("denied {b_ns_pid}")),
        "B's init (pid {b_ns_pid}) was reachable: {seen}"
    );
}
