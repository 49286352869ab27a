//! runtime.md "Lifecycle", "Operations" and "State".

use crate::harness::T;
use crate::Test;
use serde_json::json;
use std::time::Duration;

/// The tests of this module.
pub fn tests() -> Vec<Test> {
    vec![
        Test {
            group: "lifecycle",
            name: "create-start-exit",
            run: create_start_exit,
        },
        Test {
            group: "lifecycle",
            name: "kill-created",
            run: kill_created,
        },
        Test {
            group: "lifecycle",
            name: "kill-running",
            run: kill_running,
        },
        Test {
            group: "lifecycle",
            name: "duplicate-id",
            run: duplicate_id,
        },
        Test {
            group: "lifecycle",
            name: "operations-on-missing-id",
            run: missing_id,
        },
        Test {
            group: "state",
            name: "fields",
            run: state_fields,
        },
    ]
}

fn poll(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// create -> created, start -> running, exit -> stopped, and the error rules of each operation.
fn create_start_exit(t: &mut T) {
    let mut b = t.bundle();
    b.annotate("rtt.touch", "/rtt/started");
    b.annotate("rtt.wait", "/rtt/go");
    b.annotate("rtt.skip-checks", "1");
    let started = b.rootfs().join("rtt/started");
    let go = b.rootfs().join("rtt/go");
    let c = b.container(t.suite);
    let cr = c.create();
    if !t.check("create succeeds", cr.ok(), || cr.describe()) {
        return;
    }
    t.eq(
        "status after create is created",
        c.status(),
        "created".into(),
    );
    std::thread::sleep(Duration::from_millis(100));
    // "the user-specified program MUST NOT be run" until start.
    t.check("program not run before start", !started.exists(), || {
        "program ran at create".into()
    });
    let st = c.start();
    t.check("start succeeds", st.ok(), || st.describe());
    t.check(
        "program runs after start",
        poll(|| started.exists()),
        || "no marker".into(),
    );
    t.eq(
        "status after start is running",
        c.status(),
        "running".into(),
    );
    // "Attempting to start a container that is not created MUST have no effect on the
    // container and MUST generate an error."
    let st2 = c.start();
    t.check("start of running container fails", !st2.ok(), || {
        st2.describe()
    });
    // "Attempting to delete a container that is not stopped MUST have no effect on the
    // container and MUST generate an error."
    let del = c.delete(false);
    t.check("delete of running container fails", !del.ok(), || {
        del.describe()
    });
    t.eq(
        "running container survives failed delete",
        c.status(),
        "running".into(),
    );
    std::fs::write(&go, b"go").unwrap();
    t.check(
        "status after exit is stopped",
        c.wait_stopped(Duration::from_secs(10)),
        || c.status(),
    );
    let st3 = c.start();
    t.check("start of stopped container fails", !st3.ok(), || {
        st3.describe()
    });
    // "Attempting to send a signal to a container that is neither created nor running MUST
    // have no effect on the container and MUST generate an error."
    let k = c.kill("KILL");
    t.check("kill of stopped container fails", !k.ok(), || k.describe());
    t.eq(
        "stopped container unchanged by failed kill",
        c.status(),
        "stopped".into(),
    );
    let d = c.delete(false);
    t.check("delete of stopped container succeeds", d.ok(), || {
        d.describe()
    });
    // "This operation MUST generate an error if it is not provided the ID of a container."
    let s = c.state();
    t.check("state after delete fails", s.is_err(), || format!("{s:?}"));
}

/// A created container can be killed; the program never runs.
fn kill_created(t: &mut T) {
    let mut b = t.bundle();
    b.annotate("rtt.touch", "/rtt/started");
    let started = b.rootfs().join("rtt/started");
    let c = b.container(t.suite);
    let cr = c.create();
    if !t.check("create succeeds", cr.ok(), || cr.describe()) {
        return;
    }
    let k = c.kill("KILL");
    t.check("kill of created container succeeds", k.ok(), || {
        k.describe()
    });
    t.check(
        "killed created container is stopped",
        c.wait_stopped(Duration::from_secs(10)),
        || c.status(),
    );
    t.check("program never ran", !started.exists(), || {
        "marker exists".into()
    });
    let d = c.delete(false);
    t.check("delete succeeds", d.ok(), || d.describe());
}

/// kill sends the signal to the container process.
fn kill_running(t: &mut T) {
    let mut b = t.bundle();
    b.annotate("rtt.wait", "/rtt/never");
    b.annotate("rtt.skip-checks", "1");
    let c = b.container(t.suite);
    if !t.check("create succeeds", c.create().ok(), String::new) {
        return;
    }
    let st = c.start();
    t.check("start succeeds", st.ok(), || st.describe());
    t.eq("running", c.status(), "running".into());
    let k = c.kill("SIGKILL");
    t.check(
        "kill SIGKILL (named with SIG prefix) succeeds",
        k.ok(),
        || k.describe(),
    );
    t.check(
        "container stops after SIGKILL",
        c.wait_stopped(Duration::from_secs(10)),
        || c.status(),
    );
}

/// "If the ID provided is not unique across all containers within the scope of the runtime,
/// or is not valid in any other way, the implementation MUST generate an error and a new
/// container MUST NOT be created."
fn duplicate_id(t: &mut T) {
    let b = t.bundle();
    let c = b.container(t.suite);
    if !t.check("first create succeeds", c.create().ok(), String::new) {
        return;
    }
    let mut b2 = t.bundle();
    b2.annotate("rtt.touch", "/rtt/started");
    b2.write();
    let cr = t
        .suite
        .runtime_cmd(&["create", "--bundle", b2.dir.to_str().unwrap(), &c.id]);
    t.check("second create with the same id fails", !cr.ok(), || {
        cr.describe()
    });
    let st = c.state();
    t.eq(
        "original container still created",
        st.ok().map(|s| s["status"].clone()),
        Some(json!("created")),
    );
    let bundle = c.state().ok().map(|s| s["bundle"].clone());
    t.eq(
        "original container keeps its bundle",
        bundle,
        Some(json!(std::fs::canonicalize(&b.dir)
            .unwrap()
            .display()
            .to_string())),
    );
}

/// Operations on an unknown id generate errors.
fn missing_id(t: &mut T) {
    let id = t.id();
    for op in ["state", "start", "kill", "delete"] {
        let c = t.suite.runtime_cmd(&[op, &id]);
        t.check(&format!("{op} of unknown id fails"), !c.ok(), || {
            c.describe()
        });
    }
}

/// The state JSON fields and --pid-file.
fn state_fields(t: &mut T) {
    let mut b = t.bundle();
    b.config["annotations"] = json!({"org.opencontainers.rtt.key": "value", "rtt.wait": "/rtt/go", "rtt.skip-checks": "1"});
    let go = b.rootfs().join("rtt/go");
    let pidfile = b.dir.join("container.pid");
    let c = b.container(t.suite);
    let cr = c.create_with(&["--pid-file", pidfile.to_str().unwrap()]);
    if !t.check("create succeeds", cr.ok(), || cr.describe()) {
        return;
    }
    let s = match c.state() {
        Ok(s) => s,
        Err(e) => {
            t.check("state succeeds", false, || e);
            return;
        }
    };
    t.check(
        "ociVersion is a non-empty string",
        s["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        || s.to_string(),
    );
    t.eq("id", s["id"].clone(), json!(c.id));
    t.eq("status", s["status"].clone(), json!("created"));
    let pid = s["pid"].as_i64().unwrap_or(0);
    t.check(
        "pid is a positive host pid",
        pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists(),
        || s.to_string(),
    );
    let bundle = std::fs::canonicalize(&b.dir).unwrap().display().to_string();
    t.eq(
        "bundle is the absolute bundle path",
        s["bundle"].clone(),
        json!(bundle),
    );
    t.eq(
        "annotations",
        s["annotations"].clone(),
        b.config["annotations"].clone(),
    );
    let pf = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|p| p.trim().parse::<i64>().ok());
    t.eq("--pid-file holds the state pid", pf, Some(pid));
    let st = c.start();
    t.check("start succeeds", st.ok(), || st.describe());
    let s2 = c.state().unwrap_or_default();
    t.eq("pid unchanged by start", s2["pid"].as_i64(), Some(pid));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    t.eq(
        "state pid runs process.args after start",
        String::from_utf8_lossy(&cmdline).to_string(),
        "/rtt/runtimetest\0".to_string(),
    );
    std::fs::write(&go, b"go").unwrap();
    c.wait_stopped(Duration::from_secs(10));
    let s3 = c.state().unwrap_or_default();
    t.eq(
        "status stopped after exit",
        s3["status"].clone(),
        json!("stopped"),
    );
    t.eq("id kept after exit", s3["id"].clone(), json!(c.id));
}
