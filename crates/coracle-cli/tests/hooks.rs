//! OCI runtime spec, config "POSIX-platform Hooks" and runtime "Lifecycle": the six
//! hooks run in order, each with the state on stdin; failures abort or warn.

mod common;

use common::*;
use serde_json::json;

/// A hook script that appends `name`, the status and pid it was given, to `log`.
fn hook(b: &Bundle, name: &str) -> serde_json::Value {
    let script = b.dir.join(format!("hook-{name}.sh"));
    let log = b.dir.join("hooks.log");
    write_executable(
        &script,
        &format!(
            "#!/bin/sh\nstate=$(cat)\necho \"{name} $1 $HOOKVAR $state\" >> {}\n",
            log.display()
        ),
    );
    json!({"path": script, "args": ["hook", "arg1"], "env": ["HOOKVAR=v"]})
}

#[test]
fn all_six_hooks_run_in_order_with_state() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("echo main");
    // createContainer and startContainer run in the container's mount namespace: the
    // script path must resolve there too, so put it into the rootfs at the same path.
    let kinds = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    let hooks: serde_json::Map<String, serde_json::Value> = kinds
        .iter()
        .map(|k| (k.to_string(), json!([hook(&b, k)])))
        .collect();
    for k in ["createContainer", "startContainer"] {
        let host = b.dir.join(format!("hook-{k}.sh"));
        let inside = b.rootfs().join(host.strip_prefix("/").unwrap());
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        // Inside the container the log is the rootfs' copy of the same path.
        write_executable(&inside, &std::fs::read_to_string(&host).unwrap());
    }
    b.edit(|c| c["hooks"] = serde_json::Value::Object(hooks));
    let id = unique("hooks");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!((code, out.as_str()), (0, "main\n"), "{err}");
    let host_log = std::fs::read_to_string(b.dir.join("hooks.log")).unwrap();
    let names: Vec<&str> = host_log
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    // createContainer ran before pivot_root (host paths visible), startContainer after.
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ],
        "{host_log}"
    );
    let inner_log = std::fs::read_to_string(
        b.rootfs()
            .join(b.dir.join("hooks.log").strip_prefix("/").unwrap()),
    )
    .unwrap();
    assert!(
        inner_log.starts_with("startContainer arg1 v "),
        "{inner_log}"
    );
    for line in host_log.lines().chain(inner_log.lines()) {
        let json_part = &line[line.find('{').unwrap()..];
        let state: serde_json::Value = serde_json::from_str(json_part).unwrap();
        assert_eq!(state["id"], id.as_str());
        assert!(line.contains(" arg1 v "), "args/env not passed: {line}");
        assert_eq!(
            state["bundle"],
            b.dir.canonicalize().unwrap().to_str().unwrap()
        );
    }
    let status = |n: &str| {
        let l = host_log.lines().find(|l| l.starts_with(n)).unwrap();
        serde_json::from_str::<serde_json::Value>(&l[l.find('{').unwrap()..]).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("prestart"), "creating");
    assert_eq!(status("poststart"), "running");
    assert_eq!(status("poststop"), "stopped");
}

#[test]
fn failing_create_runtime_hook_aborts_and_cleans_up() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sleep", "100"]);
    b.edit(|c| c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo hook-broke >&2; exit 7"]}]}));
    let id = unique("badhook");
    let before = host_mounts();
    let out = rt.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("createRuntime") && err.contains("hook-broke"),
        "{err}"
    );
    assert!(rt.ids().is_empty());
    assert_eq!(host_mounts(), before);
    assert!(processes_with(b.dir.to_str().unwrap()).is_empty());
}

#[test]
fn failing_poststart_hook_only_warns() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("echo ran");
    b.edit(|c| c["hooks"] = json!({"poststart": [{"path": "/bin/false"}]}));
    let (code, out, _) = rt.run(&b, &unique("warnhook"));
    assert_eq!((code, out.as_str()), (0, "ran\n"));
}

#[test]
fn failing_start_container_hook_fails_start() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sleep", "100"]);
    // Runs inside the container after pivot_root: busybox's sh from the rootfs.
    b.edit(|c| c["hooks"] = json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo no-start >&2; exit 4"]}]}));
    let id = unique("starthook");
    rt.create(&b, &id);
    let out = rt.cmd(&["start", &id]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("startContainer") && err.contains("no-start"),
        "{err}"
    );
    assert_eq!(rt.status(&id), "stopped");
}

#[test]
fn hook_warnings_reach_the_json_log() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.edit(|c| c["hooks"] = json!({"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "echo poststop-broke >&2; exit 2"]}]}));
    let log = b.dir.join("log.json");
    let out = rt.cmd(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "run",
        "--bundle",
        b.dir.to_str().unwrap(),
        &unique("warnlog"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = std::fs::read_to_string(&log).unwrap();
    let warning: serde_json::Value = serde_json::from_str(
        lines
            .lines()
            .find(|l| l.contains("poststop-broke"))
            .expect(&lines),
    )
    .unwrap();
    assert_eq!(warning["level"], "warning");
    assert!(
        warning["msg"].as_str().unwrap().contains("poststop hook 0"),
        "{warning}"
    );
}
