//! OCI runtime spec, "Control groups" (config-linux.md): linux.cgroupsPath and
//! linux.resources reach the container's cgroup, and the runc commands that act on it
//! (pause, resume, update, events, ps) work; delete leaves no cgroup behind. Runs on
//! whatever this kernel mounts: v1/hybrid on the host, pure v2 in the VM.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// Whether /sys/fs/cgroup is a cgroup2 mount (pure v2).
fn unified() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(4) == Some(&"/sys/fs/cgroup") && l.contains(" - cgroup2 ")
        })
}

/// The directory of `pid`'s cgroup for `controller` (v1), or its v2 cgroup.
fn cgroup_dir(pid: i64, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
        let path = path.trim_start_matches('/');
        if unified() && ctrls.is_empty() {
            return Path::new("/sys/fs/cgroup").join(path);
        }
        if !unified() && ctrls.split(',').any(|c| c == controller) {
            return Path::new("/sys/fs/cgroup").join(controller).join(path);
        }
    }
    panic!("no {controller} cgroup for {pid}: {text}");
}

/// Whether `pid` runs (a zombie does not: nothing reaps orphans on some hosts).
fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

fn with_resources(b: &mut Bundle, r: Value) {
    b.edit(|c| c["linux"]["resources"] = r);
}

fn run_detached(rt: &Runtime, b: &Bundle, id: &str) -> i64 {
    let out = rt.cmd(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), id]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    rt.state(id)["pid"].as_i64().unwrap()
}

fn delete_force(rt: &Runtime, id: &str) {
    let out = rt.cmd(&["delete", "--force", id]);
    assert!(
        out.status.success(),
        "delete --force: {}",
        text(&out.stderr)
    );
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn resources_reach_the_cgroup_files() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sleep", "100"]);
    with_resources(
        &mut b,
        json!({
            "memory": {"limit": 67108864, "reservation": 33554432},
            "pids": {"limit": 50},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"}
        }),
    );
    let id = unique("res");
    let pid = run_detached(&rt, &b, &id);
    let (mem, pids, cpu, cpuset) = (
        cgroup_dir(pid, "memory"),
        cgroup_dir(pid, "pids"),
        cgroup_dir(pid, "cpu"),
        cgroup_dir(pid, "cpuset"),
    );
    assert!(
        mem.ends_with(&id),
        "default path is the id: {}",
        mem.display()
    );
    assert_eq!(read(&pids, "pids.max"), "50");
    assert_eq!(read(&cpuset, "cpuset.cpus"), "0");
    if unified() {
        assert_eq!(read(&mem, "memory.max"), "67108864");
        assert_eq!(read(&mem, "memory.low"), "33554432");
        // runc's (1.3.2 and later) quadratic conversion of 512 shares.
        assert_eq!(read(&cpu, "cpu.weight"), "59");
        assert_eq!(read(&cpu, "cpu.max"), "50000 100000");
    } else {
        assert_eq!(read(&mem, "memory.limit_in_bytes"), "67108864");
        assert_eq!(read(&mem, "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(read(&cpu, "cpu.shares"), "512");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
    }
    delete_force(&rt, &id);
    for d in [&mem, &pids, &cpu, &cpuset] {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn absolute_cgroups_path_is_under_the_hierarchy_root() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sleep", "100"]);
    let parent = unique("coracle-abs");
    let path = format!("/{parent}/inner");
    b.edit(|c| c["linux"]["cgroupsPath"] = json!(path));
    let id = unique("abs");
    let pid = run_detached(&rt, &b, &id);
    let dir = cgroup_dir(pid, "pids");
    let root = if unified() {
        PathBuf::from("/sys/fs/cgroup")
    } else {
        PathBuf::from("/sys/fs/cgroup/pids")
    };
    assert_eq!(dir, root.join(&parent).join("inner"));
    assert!(read(&dir, "cgroup.procs")
        .lines()
        .any(|p| p == pid.to_string()));
    delete_force(&rt, &id);
    assert!(!root.join(&parent).exists(), "{parent} left behind");
}

#[test]
fn memory_limit_oom_kills_and_events_report_it() {
    let rt = Runtime::new();
    // tail keeps everything it reads: it outgrows 32 MiB and the kernel kills it.
    let mut b = Bundle::sh("head -c 200m /dev/zero | tail > /dev/null; echo survived; sleep 100");
    with_resources(&mut b, json!({"memory": {"limit": 33554432}}));
    let id = unique("oom");
    rt.create(&b, &id);
    let out_path = std::env::temp_dir().join(unique("coracle-events"));
    let mut events = rt
        .command(&["events", "--interval", "100ms", &id])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .spawn()
        .unwrap();
    assert!(rt.cmd(&["start", &id]).status.success());
    let has_oom = || {
        std::fs::read_to_string(&out_path)
            .unwrap_or_default()
            .lines()
            .any(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["type"] == "oom"))
    };
    wait_for("an oom event", has_oom);
    let stats: Value = serde_json::from_slice(&rt.cmd(&["events", "--stats", &id]).stdout).unwrap();
    assert_eq!(stats["type"], "stats");
    assert_eq!(stats["id"], id.as_str());
    let memory = &stats["data"]["memory"];
    assert_eq!(memory["usage"]["limit"], 33554432, "{stats}");
    delete_force(&rt, &id);
    // events follows the container until it is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = events.try_wait().unwrap() {
            assert!(st.success(), "events exited {st}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "events did not stop with the container"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(out_path);
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sleep", "100"]);
    with_resources(&mut b, json!({"pids": {"limit": 10}}));
    let id = unique("pids");
    let pid = run_detached(&rt, &b, &id);
    let pids_dir = cgroup_dir(pid, "pids");
    // The bomb runs beside the init (sh gives up at its first refused fork).
    let out = rt.cmd(&["exec", "-d", &id, "sh", "-c", "while :; do sleep 30 & done"]);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    // pids.events counts the forks the limit refused.
    let refused = || {
        read(&pids_dir, "pids.events")
            .strip_prefix("max ")
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    wait_for("a refused fork", || refused() > 0);
    let out = rt.cmd(&["ps", "--format", "json", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        pids.len() <= 10,
        "pids.max 10 must cap the container, got {pids:?}"
    );
    assert!(read(&pids_dir, "pids.current").parse::<u64>().unwrap() <= 10);
    delete_force(&rt, &id);
}

#[test]
fn pause_resume_and_kill_of_a_paused_container() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = unique("pause");
    let pid = run_detached(&rt, &b, &id);
    let freezer = cgroup_dir(pid, "freezer");
    assert!(rt.cmd(&["pause", &id]).status.success());
    assert_eq!(rt.status(&id), "paused");
    if unified() {
        assert_eq!(read(&freezer, "cgroup.freeze"), "1");
    } else {
        assert_eq!(read(&freezer, "freezer.state"), "FROZEN");
    }
    // exec refuses a paused container unless told to ignore it (as runc).
    let exec = rt.cmd(&["exec", &id, "true"]);
    assert_eq!(exec.status.code(), Some(255), "{}", text(&exec.stderr));
    assert!(
        text(&exec.stderr).contains("paused") && text(&exec.stderr).contains("--ignore-paused"),
        "{}",
        text(&exec.stderr)
    );
    let again = rt.cmd(&["pause", &id]);
    assert!(
        !again.status.success(),
        "pausing a paused container must fail"
    );
    assert!(
        text(&again.stderr).contains("paused"),
        "{}",
        text(&again.stderr)
    );
    assert!(rt.cmd(&["resume", &id]).status.success());
    assert_eq!(rt.status(&id), "running");
    let not_paused = rt.cmd(&["resume", &id]);
    assert!(!not_paused.status.success());

    // SIGKILL reaches a paused container: it is thawed for it.
    assert!(rt.cmd(&["pause", &id]).status.success());
    assert!(rt.cmd(&["kill", &id, "KILL"]).status.success());
    wait_for("the init to die", || rt.status(&id) == "stopped");
    assert!(rt.cmd(&["delete", &id]).status.success());
    assert!(!freezer.exists(), "{} left behind", freezer.display());
}

#[test]
fn delete_force_of_a_paused_container_leaves_nothing() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 100 & sleep 100");
    let id = unique("pdel");
    let pid = run_detached(&rt, &b, &id);
    let dirs: Vec<PathBuf> = ["memory", "pids", "freezer", "cpu", "devices"]
        .iter()
        .map(|c| cgroup_dir(pid, c))
        .collect();
    assert!(rt.cmd(&["pause", &id]).status.success());
    delete_force(&rt, &id);
    for d in &dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    assert!(!alive(pid), "the init {pid} survived delete --force");
}

#[test]
fn update_changes_limits_live() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sleep", "100"]);
    with_resources(
        &mut b,
        json!({"memory": {"limit": 67108864}, "pids": {"limit": 50}}),
    );
    let id = unique("upd");
    let pid = run_detached(&rt, &b, &id);
    let out = rt.cmd(&["update", "--memory", "128m", "--pids-limit", "30", &id]);
    assert!(out.status.success(), "update: {}", text(&out.stderr));
    let (mem, pids) = (cgroup_dir(pid, "memory"), cgroup_dir(pid, "pids"));
    let limit = if unified() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    assert_eq!(read(&mem, limit), (128u64 << 20).to_string());
    assert_eq!(read(&pids, "pids.max"), "30");

    // The JSON form, as containerd passes it on stdin.
    let json_path = b.dir.join("resources.json");
    std::fs::write(&json_path, r#"{"pids": {"limit": 20}}"#).unwrap();
    let out = rt.cmd(&["update", "--resources", json_path.to_str().unwrap(), &id]);
    assert!(out.status.success(), "update -r: {}", text(&out.stderr));
    assert_eq!(read(&pids, "pids.max"), "20");
    assert_eq!(read(&mem, limit), (128u64 << 20).to_string(), "left alone");
    let bad = rt.cmd(&["update", "--memory", "lots", &id]);
    assert!(!bad.status.success());
    delete_force(&rt, &id);
}

/// A bundle that may mknod (runc's defaults allow `m` on every device) and then
/// opens a node with /dev/kmsg's numbers (1:11), which no default rule allows, for
/// writing (which, unlike reading, needs no capability of its own).
fn kmsg_bundle() -> Bundle {
    let mut b = Bundle::sh(
        "mknod /dev/test-kmsg c 1 11 && echo made; (: > /dev/test-kmsg) 2>&1 && echo opened; head -c0 /dev/null && echo null-ok",
    );
    b.edit(|c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
        }
    });
    b
}

#[test]
fn device_rules_decide_what_the_container_may_open() {
    let rt = Runtime::new();
    let mut denied = kmsg_bundle();
    with_resources(
        &mut denied,
        json!({"devices": [{"allow": false, "access": "rwm"}]}),
    );
    let out = rt.output_of(&denied);
    assert!(
        out.contains("made"),
        "mknod is allowed by runc's defaults: {out}"
    );
    // EPERM is the device controller's answer, v1 and eBPF alike. (The node is made in
    // /dev: bundles may sit on a nodev file system, where opening any node is EACCES.)
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(!out.contains("opened"), "{out}");
    assert!(
        out.contains("null-ok"),
        "/dev/null is allowed by default: {out}"
    );

    let mut allowed = kmsg_bundle();
    with_resources(
        &mut allowed,
        json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}
        ]}),
    );
    let out = rt.output_of(&allowed);
    assert!(out.contains("opened"), "an allow rule opens it: {out}");
}

#[test]
fn ps_lists_the_container_processes() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 101 & sleep 102");
    let id = unique("ps");
    let pid = run_detached(&rt, &b, &id);
    wait_for("both sleeps", || {
        let out = rt.cmd(&["ps", "--format", "json", &id]);
        serde_json::from_slice::<Vec<i64>>(&out.stdout).is_ok_and(|p| p.len() == 2)
    });
    let out = rt.cmd(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pids.contains(&pid), "{pids:?} lacks the init {pid}");
    let table = text(&rt.cmd(&["ps", &id]).stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("PID"), "{table}");
    // sh execs its last command: the init became `sleep 102`.
    assert_eq!(lines.len(), 3, "header + 2 processes: {table}");
    assert!(
        table.contains("sleep 101") && table.contains("sleep 102"),
        "{table}"
    );
    delete_force(&rt, &id);
    let gone = rt.cmd(&["ps", &id]);
    assert!(!gone.status.success());
}

#[test]
fn the_container_reads_its_own_limits_under_sys_fs_cgroup() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null; touch /sys/fs/cgroup/x 2>&1; true",
    );
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
        }))
    });
    with_resources(
        &mut b,
        json!({"memory": {"limit": 67108864}, "pids": {"limit": 42}}),
    );
    let out = rt.output_of(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["67108864", "42"], "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
}
