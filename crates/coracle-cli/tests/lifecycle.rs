//! OCI runtime spec, "Lifecycle" and "Operations": create → created, start → running,
//! exit → stopped, the state JSON, kill and delete semantics, the pid file, exit codes.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn wait_status(rt: &Runtime, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.status(id) != want {
        assert!(Instant::now() < deadline, "{id} never became {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn create_start_kill_delete_walks_the_states() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = unique("life");
    rt.create(&b, &id);
    let st = rt.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(
        st["bundle"],
        b.dir.canonicalize().unwrap().to_str().unwrap()
    );
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists());
    // The init waits: its command line is still ours, not sleep.
    assert!(
        !String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap())
            .starts_with("sleep")
    );

    assert!(rt.cmd(&["start", &id]).status.success());
    assert_eq!(rt.status(&id), "running");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).starts_with("sleep\u{0}100"),
        "{cmdline:?}"
    );

    let again = rt.cmd(&["start", &id]);
    assert_eq!(again.status.code(), Some(1), "start twice must fail");

    let del = rt.cmd(&["delete", &id]);
    assert_eq!(
        del.status.code(),
        Some(1),
        "delete of a running container must fail"
    );
    assert!(
        text(&del.stderr).contains("running"),
        "{}",
        text(&del.stderr)
    );

    assert!(rt.cmd(&["kill", &id, "KILL"]).status.success());
    wait_status(&rt, &id, "stopped");
    assert_eq!(rt.state(&id)["pid"], 0);
    let k = rt.cmd(&["kill", &id, "TERM"]);
    assert_eq!(
        k.status.code(),
        Some(1),
        "kill of a stopped container must fail"
    );

    assert!(rt.cmd(&["delete", &id]).status.success());
    assert!(!rt.root.join(&id).exists());
    let gone = rt.cmd(&["state", &id]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        text(&gone.stderr).contains("does not exist"),
        "{}",
        text(&gone.stderr)
    );
}

#[test]
fn delete_of_created_container_kills_its_init() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = unique("created");
    rt.create(&b, &id);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    assert!(rt.cmd(&["delete", &id]).status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        // A zombie reparented to the host's init is reaped soon.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.contains(") Z ") {
            break;
        }
        assert!(Instant::now() < deadline, "init {pid} survived delete");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn delete_force_kills_a_running_container() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = unique("force");
    rt.create(&b, &id);
    assert!(rt.cmd(&["start", &id]).status.success());
    let out = rt.cmd(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!rt.root.join(&id).exists());
}

#[test]
fn pid_file_holds_the_init_pid() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = unique("pidfile");
    let pf = b.dir.join("init.pid");
    let out = rt.cmd(&[
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--pid-file",
        pf.to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written: i64 = std::fs::read_to_string(&pf).unwrap().parse().unwrap();
    assert_eq!(written, rt.state(&id)["pid"].as_i64().unwrap());
}

#[test]
fn exit_codes_and_signals_propagate_through_run() {
    let rt = Runtime::new();
    let (code, _, _) = rt.run(&Bundle::sh("exit 3"), &unique("exit"));
    assert_eq!(code, 3);
    // Without a pid namespace of its own the shell is not an init, so SIGTERM kills it.
    let mut b = Bundle::sh("kill -TERM $$; sleep 5");
    b.edit(|c| c["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "uts"}]));
    let (code, _, _) = rt.run(&b, &unique("sig"));
    assert_eq!(code, 128 + 15);
    let (code, out, _) = rt.run(&Bundle::sh("echo hello; echo err >&2"), &unique("out"));
    assert_eq!((code, out.as_str()), (0, "hello\n"));
    assert!(
        rt.ids().is_empty(),
        "run must delete its container: {:?}",
        rt.ids()
    );
}

#[test]
fn run_reports_a_kill_from_outside_as_128_plus_9() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = unique("killed");
    std::thread::scope(|s| {
        let run = s.spawn(|| rt.run(&b, &id));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !rt.root.join(&id).join("state.json").exists() || rt.status(&id) != "running" {
            assert!(Instant::now() < deadline, "container never ran");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(rt.cmd(&["kill", &id, "KILL"]).status.success());
        assert_eq!(run.join().unwrap().0, 128 + 9);
    });
}

#[test]
fn run_detach_leaves_a_running_container() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = unique("detach");
    let out = rt.cmd(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(rt.status(&id), "running");
}

#[test]
fn kill_all_reaches_every_process() {
    let rt = Runtime::new();
    let b = Bundle::sh("sleep 100 & sleep 100 & wait");
    let id = unique("killall");
    rt.create(&b, &id);
    assert!(rt.cmd(&["start", &id]).status.success());
    std::thread::sleep(Duration::from_millis(200));
    assert!(rt.cmd(&["kill", "--all", &id, "KILL"]).status.success());
    wait_status(&rt, &id, "stopped");
}

#[test]
fn concurrent_creates_of_one_id_have_one_winner() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = unique("race");
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| rt.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wins = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(wins, 1, "exactly one create must win");
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert!(
            text(&o.stderr).contains("container with id exists"),
            "{}",
            text(&o.stderr)
        );
    }
    assert_eq!(rt.status(&id), "created");
}

#[test]
fn list_shows_containers() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = unique("list");
    rt.create(&b, &id);
    let q = rt.cmd(&["list", "-q"]);
    assert_eq!(text(&q.stdout).trim(), id);
    let j: serde_json::Value =
        serde_json::from_slice(&rt.cmd(&["list", "--format", "json"]).stdout).unwrap();
    assert_eq!(j[0]["id"], id.as_str());
    assert_eq!(j[0]["status"], "created");
}

#[test]
fn the_spec_template_runs_as_written() {
    let rt = Runtime::new();
    let b = Bundle::new(&["true"]);
    std::fs::remove_file(b.dir.join("config.json")).unwrap();
    let out = rt.command(&["spec"]).current_dir(&b.dir).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Only the program changes: the template's own args are an interactive `sh`.
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap()).unwrap();
    cfg["process"]["args"] = serde_json::json!(["sh", "-c", "hostname; echo $$"]);
    std::fs::write(b.dir.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    let (code, out, err) = rt.run(&b, &unique("template"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "coracle\n1\n");
}

#[test]
fn delete_removes_a_container_whose_creator_died() {
    let rt = Runtime::new();
    // What a `create` killed before it wrote state.json leaves: the directory alone.
    std::fs::create_dir_all(rt.root.join("orphan")).unwrap();
    let st = rt.cmd(&["state", "orphan"]);
    assert_eq!(st.status.code(), Some(1));
    assert!(
        text(&st.stderr).contains("never fully created"),
        "{}",
        text(&st.stderr)
    );
    let del = rt.cmd(&["delete", "orphan"]);
    assert!(del.status.success(), "{}", text(&del.stderr));
    assert!(!rt.root.join("orphan").exists());
}

#[test]
fn kill_all_in_a_joined_pid_namespace_spares_the_other_container() {
    let rt = Runtime::new();
    let a = Bundle::new(&["sleep", "100"]);
    let a_id = unique("owner");
    rt.create(&a, &a_id);
    assert!(rt.cmd(&["start", &a_id]).status.success());
    let a_pid = rt.state(&a_id)["pid"].as_i64().unwrap();
    let mut b = Bundle::sh("sleep 100 & wait");
    b.edit(|c| {
        c["linux"]["namespaces"] = serde_json::json!([
            {"type": "mount"}, {"type": "uts"},
            {"type": "pid", "path": format!("/proc/{a_pid}/ns/pid")}
        ])
    });
    let b_id = unique("joiner");
    rt.create(&b, &b_id);
    assert!(rt.cmd(&["start", &b_id]).status.success());
    std::thread::sleep(Duration::from_millis(100));
    assert!(rt.cmd(&["kill", "--all", &b_id, "KILL"]).status.success());
    wait_status(&rt, &b_id, "stopped");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        rt.status(&a_id),
        "running",
        "kill --all of the joiner killed the namespace's owner"
    );
}
