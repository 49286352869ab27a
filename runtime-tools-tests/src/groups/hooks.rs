//! config.md "POSIX-platform Hooks" and runtime.md "Lifecycle" (hook steps).

use crate::harness::{Bundle, T};
use crate::Test;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// The tests of this module.
pub fn tests() -> Vec<Test> {
    vec![
        Test {
            group: "hooks",
            name: "all-six-order-state-env",
            run: all_six,
        },
        Test {
            group: "hooks",
            name: "prestart-failure",
            run: |t| fails_create(t, "prestart"),
        },
        Test {
            group: "hooks",
            name: "createRuntime-failure",
            run: |t| fails_create(t, "createRuntime"),
        },
        Test {
            group: "hooks",
            name: "createContainer-failure",
            run: |t| fails_create(t, "createContainer"),
        },
        Test {
            group: "hooks",
            name: "startContainer-failure",
            run: start_container_fails,
        },
        Test {
            group: "hooks",
            name: "poststart-failure",
            run: poststart_fails,
        },
        Test {
            group: "hooks",
            name: "poststop-failure",
            run: poststop_fails,
        },
    ]
}

const HOOK_KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A hook that records its stdin, env and args under `dir` and appends its name to `dir/order`;
/// `fail` makes it exit 1 afterwards.
fn hook(name: &str, dir: &str, fail: bool) -> Value {
    let script = "cat > \"$2/$1.stdin\"; env > \"$2/$1.env\"; echo \"$0 $1\" > \"$2/$1.args\"; echo \"$1\" >> \"$2/order\"; [ \"$3\" != fail ]";
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", script, "rtt-hook", name, dir, if fail { "fail" } else { "ok" }],
        "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", format!("RTT_HOOK_ENV={name}")]
    })
}

/// Sets up a bundle with `/rtt-hooks` bound to a host dir; hooks are `(kind, name, fail)`.
fn hooked(t: &T, hooks: &[(&str, &str, bool)]) -> (Bundle, std::path::PathBuf) {
    let mut b = t.bundle();
    let dir = b.dir.join("hooks");
    std::fs::create_dir_all(&dir).unwrap();
    let hdir = dir.display().to_string();
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/rtt-hooks", "type": "bind", "source": hdir, "options": ["bind"]
    }));
    let mut hs = json!({});
    for (kind, name, fail) in hooks {
        // startContainer hooks run (and resolve their path) inside the container.
        let d = if *kind == "startContainer" {
            "/rtt-hooks"
        } else {
            hdir.as_str()
        };
        if !hs[*kind].is_array() {
            hs[*kind] = json!([]);
        }
        hs[*kind].as_array_mut().unwrap().push(hook(name, d, *fail));
    }
    b.config["hooks"] = hs;
    b.annotate("rtt.append", "/rtt-hooks/order:process");
    b.annotate("rtt.skip-checks", "1");
    (b, dir)
}

fn order(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// "Hooks MUST be called in the listed order"; "The state of the container MUST be passed to
/// hooks over stdin"; hook env and args; each kind at its lifecycle step.
fn all_six(t: &mut T) {
    let hooks: Vec<(&str, &str, bool)> = HOOK_KINDS.iter().map(|k| (*k, *k, false)).collect();
    let mut all = hooks.clone();
    all.push(("poststop", "poststop2", false));
    let (b, dir) = hooked(t, &all);
    let c = b.container(t.suite);
    let cr = c.create();
    if !t.check("create", cr.ok(), || {
        format!("{}; {}", cr.describe(), c.output().trim())
    }) {
        return;
    }
    t.eq(
        "hooks run by create",
        order(&dir),
        vec![
            "prestart".to_string(),
            "createRuntime".into(),
            "createContainer".into(),
        ],
    );
    let pid = c.pid().unwrap_or(-1);
    let st = c.start();
    t.check("start", st.ok(), || st.describe());
    t.check("exits", c.wait_stopped(Duration::from_secs(10)), || {
        c.status()
    });
    let o = order(&dir);
    let pos = |n: &str| o.iter().position(|x| x == n);
    t.check(
        "startContainer after create hooks",
        pos("startContainer") == Some(3),
        || format!("{o:?}"),
    );
    t.check(
        "startContainer before the program",
        pos("startContainer") < pos("process") && pos("process").is_some(),
        || format!("{o:?}"),
    );
    t.check(
        "poststart ran by the time start returned",
        pos("poststart").is_some(),
        || format!("{o:?}"),
    );
    t.check(
        "no poststop before delete",
        pos("poststop").is_none(),
        || format!("{o:?}"),
    );
    let d = c.delete(false);
    t.check("delete", d.ok(), || d.describe());
    let o = order(&dir);
    t.eq(
        "poststop hooks run by delete, in order",
        o.iter().rev().take(2).cloned().collect::<Vec<_>>(),
        vec!["poststop2".to_string(), "poststop".into()],
    );
    for k in HOOK_KINDS {
        let state: Result<Value, String> = std::fs::read_to_string(dir.join(format!("{k}.stdin")))
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| format!("{e}: {s}")));
        let ok = state
            .as_ref()
            .is_ok_and(|s| s["id"] == json!(c.id) && s["ociVersion"].is_string());
        t.check(&format!("{k} gets the state on stdin"), ok, || {
            format!("{state:?}")
        });
        let s = state.unwrap_or_default();
        let bundle = std::fs::canonicalize(&b.dir).unwrap().display().to_string();
        t.eq(
            &format!("{k} state bundle"),
            s["bundle"].clone(),
            json!(bundle),
        );
        if k != "poststop" {
            t.eq(
                &format!("{k} state pid is the container pid"),
                s["pid"].as_i64(),
                Some(pid as i64),
            );
        }
        let want = match k {
            "poststart" => Some("running"),
            "poststop" => Some("stopped"),
            _ => None,
        };
        if let Some(w) = want {
            t.eq(&format!("{k} state status"), s["status"].clone(), json!(w));
        }
        let env = std::fs::read_to_string(dir.join(format!("{k}.env"))).unwrap_or_default();
        t.check(
            &format!("{k} env"),
            env.lines().any(|l| l == format!("RTT_HOOK_ENV={k}")),
            || env.clone(),
        );
        let args = std::fs::read_to_string(dir.join(format!("{k}.args"))).unwrap_or_default();
        t.eq(
            &format!("{k} args"),
            args.trim().to_string(),
            format!("rtt-hook {k}"),
        );
    }
}

/// "If any prestart/createRuntime/createContainer hook fails, the runtime MUST generate an
/// error, stop the container, and continue the lifecycle at step 12."
fn fails_create(t: &mut T, kind: &str) {
    let (mut b, dir) = hooked(t, &[(kind, kind, true), ("poststop", "poststop", false)]);
    b.annotate("rtt.touch", "/rtt/started");
    let c = b.container(t.suite);
    let cr = c.create();
    t.check(
        &format!("create fails when a {kind} hook fails"),
        !cr.ok(),
        || cr.describe(),
    );
    let started = b.rootfs().join("rtt/started");
    std::thread::sleep(Duration::from_millis(50));
    t.check("program never runs", !started.exists(), || {
        "program ran".into()
    });
    let s = c.state();
    let gone_or_stopped = s.as_ref().map(|v| v["status"] == "stopped").unwrap_or(true);
    t.check("container is stopped or gone", gone_or_stopped, || {
        format!("{s:?}")
    });
    t.check(
        &format!("{kind} hook ran"),
        order(&dir).first().map(String::as_str) == Some(kind),
        || format!("{:?}", order(&dir)),
    );
}

/// "If any startContainer hook fails, the runtime MUST generate an error, stop the container,
/// and continue the lifecycle at step 12."
fn start_container_fails(t: &mut T) {
    let (mut b, dir) = hooked(t, &[("startContainer", "startContainer", true)]);
    b.annotate("rtt.touch", "/rtt/started");
    let c = b.container(t.suite);
    let cr = c.create();
    if !t.check("create", cr.ok(), || cr.describe()) {
        return;
    }
    let st = c.start();
    t.check(
        "start fails when a startContainer hook fails",
        !st.ok(),
        || st.describe(),
    );
    std::thread::sleep(Duration::from_millis(50));
    t.check(
        "program never runs",
        !b.rootfs().join("rtt/started").exists(),
        || "program ran".into(),
    );
    t.check(
        "startContainer hook ran",
        order(&dir).contains(&"startContainer".to_string()),
        || format!("{:?}", order(&dir)),
    );
    let s = c.status();
    t.check(
        "container is stopped or gone",
        s == "stopped" || s.starts_with("<state failed"),
        || s.clone(),
    );
}

/// "If any poststart hook fails, the runtime MUST log a warning, but the remaining hooks and
/// lifecycle continue as if the hook had succeeded."
fn poststart_fails(t: &mut T) {
    let (mut b, dir) = hooked(
        t,
        &[
            ("poststart", "poststart", true),
            ("poststart", "poststart2", false),
        ],
    );
    b.annotate("rtt.wait", "/rtt/go");
    let c = b.container(t.suite);
    let cr = c.create();
    if !t.check("create", cr.ok(), || cr.describe()) {
        return;
    }
    let st = c.start();
    t.check(
        "start succeeds despite failing poststart hook",
        st.ok(),
        || st.describe(),
    );
    let o = order(&dir);
    t.check(
        "remaining poststart hook runs",
        o.contains(&"poststart2".to_string()),
        || format!("{o:?}"),
    );
    t.eq("container keeps running", c.status(), "running".into());
    let _ = std::fs::write(b.rootfs().join("rtt/go"), b"go");
}

/// "If any poststop hook fails, the runtime MUST log a warning, but the remaining hooks and
/// lifecycle continue as if the hook had succeeded."
fn poststop_fails(t: &mut T) {
    let (b, dir) = hooked(
        t,
        &[
            ("poststop", "poststop", true),
            ("poststop", "poststop2", false),
        ],
    );
    let c = b.container(t.suite);
    let cr = c.create();
    if !t.check("create", cr.ok(), || cr.describe()) {
        return;
    }
    let st = c.start();
    t.check("start", st.ok(), || st.describe());
    c.wait_stopped(Duration::from_secs(10));
    let d = c.delete(false);
    t.check(
        "delete succeeds despite failing poststop hook",
        d.ok(),
        || d.describe(),
    );
    let o = order(&dir);
    t.check(
        "remaining poststop hook runs",
        o.contains(&"poststop2".to_string()),
        || format!("{o:?}"),
    );
    let s = c.state();
    t.check("container is deleted", s.is_err(), || format!("{s:?}"));
}
