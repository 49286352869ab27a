//! OCI runtime spec, "Errors" and config validation: malformed or hostile bundles are
//! refused with an error naming the field or path, exit code 1, and nothing is left
//! behind (no state directory, no mount, no process).

mod common;

use common::*;
use serde_json::{json, Value};

type Edit = fn(&mut Value, &Bundle);

fn cases() -> Vec<(&'static str, Edit, &'static str)> {
    vec![
        (
            "no ociVersion",
            |c, _| drop(c.as_object_mut().unwrap().remove("ociVersion")),
            "ociVersion",
        ),
        (
            "ociVersion 2",
            |c, _| c["ociVersion"] = json!("2.0.0"),
            "ociVersion",
        ),
        (
            "ociVersion garbage",
            |c, _| c["ociVersion"] = json!("banana"),
            "ociVersion",
        ),
        (
            "no root",
            |c, _| drop(c.as_object_mut().unwrap().remove("root")),
            "root",
        ),
        (
            "missing rootfs",
            |c, _| c["root"]["path"] = json!("nope"),
            "root.path",
        ),
        (
            "rootfs is a file",
            |c, _| c["root"]["path"] = json!("config.json"),
            "root.path",
        ),
        (
            "no process",
            |c, _| drop(c.as_object_mut().unwrap().remove("process")),
            "process",
        ),
        (
            "empty args",
            |c, _| c["process"]["args"] = json!([]),
            "process.args",
        ),
        (
            "relative cwd",
            |c, _| c["process"]["cwd"] = json!("tmp"),
            "process.cwd",
        ),
        (
            "args not strings",
            |c, _| c["process"]["args"] = json!([1, 2]),
            "process.args",
        ),
        (
            "unknown capability",
            |c, _| c["process"]["capabilities"]["bounding"][1] = json!("CAP_FOO"),
            "process.capabilities.bounding[1]",
        ),
        (
            "unknown ambient cap",
            |c, _| c["process"]["capabilities"]["ambient"] = json!(["CAP_NOPE"]),
            "process.capabilities.ambient[0]",
        ),
        (
            "unknown rlimit",
            |c, _| c["process"]["rlimits"][0]["type"] = json!("RLIMIT_FOO"),
            "process.rlimits[0]",
        ),
        (
            "soft above hard",
            |c, _| {
                c["process"]["rlimits"][0] = json!({"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5})
            },
            "process.rlimits[0]",
        ),
        (
            "relative mount destination",
            |c, _| c["mounts"][0]["destination"] = json!("proc"),
            "mounts[0].destination",
        ),
        (
            "unknown namespace",
            |c, _| c["linux"]["namespaces"][0]["type"] = json!("banana"),
            "linux.namespaces[0]",
        ),
        (
            "duplicate namespace",
            |c, _| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "pid"}))
            },
            "linux.namespaces",
        ),
        (
            "userns without mappings",
            |c, _| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "user"}))
            },
            "uidMappings",
        ),
        (
            "missing namespace path",
            |c, _| {
                c["linux"]["namespaces"][1] =
                    json!({"type": "network", "path": "/nonexistent/netns"})
            },
            "/nonexistent/netns",
        ),
        (
            "host sysctl",
            |c, _| c["linux"]["sysctl"] = json!({"kernel.panic": "1"}),
            "kernel.panic",
        ),
        (
            "net sysctl without netns",
            |c, _| {
                c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}]);
                c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            },
            "net.ipv4.ip_forward",
        ),
        (
            "relative device path",
            |c, _| {
                c["linux"]["devices"] =
                    json!([{"path": "dev/x", "type": "c", "major": 1, "minor": 3}])
            },
            "linux.devices[0]",
        ),
        (
            "bad device type",
            |c, _| {
                c["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "q", "major": 1, "minor": 3}])
            },
            "linux.devices[0]",
        ),
        (
            "relative hook path",
            |c, _| c["hooks"] = json!({"prestart": [{"path": "hook.sh"}]}),
            "hooks.prestart[0]",
        ),
        (
            "seccomp notify without a listener path",
            |c, _| {
                c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})
            },
            "linux.seccomp.listenerPath",
        ),
        (
            "terminal without console socket",
            |c, _| c["process"]["terminal"] = json!(true),
            "terminal",
        ),
        (
            "no mount namespace",
            |c, _| {
                c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "uts"}]);
            },
            "mount namespace",
        ),
        (
            "mount source missing",
            |c, _| {
                c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "bind", "source": "/nonexistent-src", "options": ["bind"]}))
            },
            "/nonexistent-src",
        ),
        (
            "bad JSON",
            |c, b| {
                std::fs::write(b.dir.join("config.json"), b"{\"ociVersion\": ").unwrap();
                *c = Value::Null;
            },
            "config.json",
        ),
    ]
}

#[test]
fn each_bad_bundle_fails_cleanly_with_a_named_error() {
    let rt = Runtime::new();
    let mounts = host_mounts();
    let cases = cases();
    assert!(cases.len() >= 25);
    let mut failures = vec![];
    for (name, edit, want) in cases {
        let mut b = Bundle::new(&["sleep", "100"]);
        let mut cfg = b.config.clone();
        edit(&mut cfg, &b);
        if !cfg.is_null() {
            b.config = cfg;
            b.write();
        }
        let id = unique("bad");
        let out = rt.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        let err = text(&out.stderr);
        if out.status.code() != Some(1) || !err.contains(want) {
            failures.push(format!(
                "{name}: exit {:?}, stderr {err:?} (want {want:?})",
                out.status.code()
            ));
        }
        if !rt.ids().is_empty() {
            failures.push(format!("{name}: state left behind: {:?}", rt.ids()));
            let _ = rt.cmd(&["delete", "--force", &id]);
        }
        if !processes_with(b.dir.to_str().unwrap()).is_empty() {
            failures.push(format!("{name}: process left behind"));
        }
    }
    assert_eq!(host_mounts(), mounts, "mounts leaked");
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn bad_ids_are_refused() {
    let rt = Runtime::new();
    let b = Bundle::new(&["true"]);
    for id in ["a/b", "..", ".", "", "x y", "../../etc"] {
        let out = rt.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), id]);
        assert_eq!(out.status.code(), Some(1), "id {id:?} accepted");
        assert!(!rt.root.join("etc").exists());
    }
    assert!(rt.ids().is_empty());
}

#[test]
fn existing_id_is_refused() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = unique("dup");
    rt.create(&b, &id);
    let out = rt.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("container with id exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(rt.status(&id), "created");
}
