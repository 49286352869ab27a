//! linux.seccomp in real containers. A static probe (tests/seccomp/probe.c, built
//! with `gcc -static`) makes the system calls and prints what the kernel answered;
//! the host side asserts. The main profile is containers-common's default
//! (/usr/share/containers/seccomp.json) prepared as an engine prepares it.
//!
//! Needs gcc with a static libc (Debian: gcc, libc6-dev) and
//! golang-github-containers-common. Each expectation was checked against runc.

mod common;

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{text, unique, Bundle, Runtime};
use serde_json::{json, Value};

/// 128 + SIGSYS: how `run` reports a container killed by the filter.
const KILLED_BY_SIGSYS: i32 = 128 + libc::SIGSYS;

/// The capabilities of the harness's base config (runc's default minus none).
const BASE_CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The static probe: built once per version of its source and shared by test processes
/// (built under a unique name, then renamed into place), so runs leave one file in /tmp.
fn probe() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seccomp/probe.c");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::fs::read(&src).unwrap().hash(&mut h);
        let shared =
            std::env::temp_dir().join(format!("coracle-seccomp-probe-{:016x}", h.finish()));
        if shared.exists() {
            return shared;
        }
        let out = std::env::temp_dir().join(unique("coracle-seccomp-probe"));
        let o = Command::new("gcc")
            .args(["-static", "-O2", "-no-pie", "-fno-pie", "-o"])
            .arg(&out)
            .arg(&src)
            .output()
            .expect("run gcc (apt-get install gcc libc6-dev)");
        assert!(o.status.success(), "gcc -static: {}", text(&o.stderr));
        std::fs::rename(&out, &shared).unwrap();
        shared
    })
}

/// A bundle running `/<name> args...`, the probe copied in under `name`. The copy is
/// made by `cp`, so no write fd to it ever lives in this multi-threaded process.
fn probe_bundle_named(name: &str, args: &[&str]) -> Bundle {
    let path = format!("/{name}");
    let mut argv = vec![path.as_str()];
    argv.extend_from_slice(args);
    let b = Bundle::new(&argv);
    let st = Command::new("cp")
        .arg(probe())
        .arg(b.rootfs().join(name))
        .status()
        .unwrap();
    assert!(st.success());
    b
}

fn probe_bundle(args: &[&str]) -> Bundle {
    probe_bundle_named("probe", args)
}

/// Process capabilities: the same list in bounding, effective and permitted.
fn set_caps(b: &mut Bundle, caps: &[&str]) {
    b.edit(|c| {
        let caps = json!(caps);
        c["process"]["capabilities"] =
            json!({"bounding": caps, "effective": caps, "permitted": caps});
    });
}

fn set_profile(b: &mut Bundle, profile: Value) {
    b.edit(|c| c["linux"]["seccomp"] = profile);
}

/// containers-common's default profile as an engine prepares it for a container
/// holding `caps` on amd64 (as containers/common's seccomp package does): a rule is
/// kept when every `includes.caps` entry is held, `includes.arches` (if any) names
/// amd64, no `excludes.caps` entry is held and `excludes.arches` does not name
/// amd64; then the non-OCI keys go and `archMap` becomes `architectures`.
fn engine_profile(caps: &[&str]) -> Value {
    let raw = std::fs::read("/usr/share/containers/seccomp.json").expect(
        "read /usr/share/containers/seccomp.json (apt-get install golang-github-containers-common)",
    );
    let p: Value = serde_json::from_slice(&raw).unwrap();
    let list = |v: &Value, k: &str| -> Vec<String> {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let held = |c: &String| caps.contains(&c.as_str());
    let mut syscalls = vec![];
    for rule in p["syscalls"].as_array().unwrap() {
        let (inc, exc) = (&rule["includes"], &rule["excludes"]);
        let inc_arches = list(inc, "arches");
        if !inc_arches.is_empty() && !inc_arches.iter().any(|a| a == "amd64") {
            continue;
        }
        if !list(inc, "caps").iter().all(held) {
            continue;
        }
        if list(exc, "arches").iter().any(|a| a == "amd64") || list(exc, "caps").iter().any(held) {
            continue;
        }
        assert!(
            inc.get("minKernel").is_none(),
            "minKernel rules are not handled here"
        );
        let mut r = json!({"names": rule["names"], "action": rule["action"]});
        if let Some(a) = rule.get("args").filter(|a| !a.is_null()) {
            r["args"] = a.clone();
        }
        if let Some(e) = rule.get("errnoRet") {
            r["errnoRet"] = e.clone();
        }
        syscalls.push(r);
    }
    let native = p["archMap"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["architecture"] == "SCMP_ARCH_X86_64")
        .expect("archMap entry for x86_64");
    let mut arches = vec![native["architecture"].clone()];
    arches.extend(
        native["subArchitectures"]
            .as_array()
            .unwrap()
            .iter()
            .cloned(),
    );
    json!({
        "defaultAction": p["defaultAction"],
        "defaultErrnoRet": p["defaultErrnoRet"],
        "architectures": arches,
        "syscalls": syscalls,
    })
}

/// The probe's `name=result` lines.
fn results(out: &str) -> HashMap<String, i64> {
    out.lines()
        .filter_map(|l| {
            let (k, v) = l.rsplit_once('=')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Run to completion, asserting exit 0; the probe's results.
fn run_ok(rt: &Runtime, b: &Bundle) -> HashMap<String, i64> {
    results(&rt.output_of(b))
}

#[test]
fn default_profile_denies_sethostname_with_eperm_even_with_cap_sys_admin() {
    let rt = Runtime::new();
    let mut caps = BASE_CAPS.to_vec();
    caps.push("CAP_SYS_ADMIN");
    // The profile as prepared for a container without CAP_SYS_ADMIN, while the process
    // holds it: an EPERM can then only come from the filter. (This version of the
    // profile allows sethostname to holders of CAP_SYS_ADMIN, see the control.)
    let mut b = probe_bundle(&["sethostname", "x", "i386", "74", "name"]);
    set_caps(&mut b, &caps);
    set_profile(&mut b, engine_profile(&BASE_CAPS));
    let r = run_ok(&rt, &b);
    assert_eq!(r["sethostname"], -libc::EPERM as i64, "{r:?}");
    // The same rule through the 32-bit entry (i386 nr 74 is sethostname; on x86_64
    // 74 is fsync, which the profile allows).
    assert_eq!(r["i386(74)"], -libc::EPERM as i64, "{r:?}");

    // Control: prepared for CAP_SYS_ADMIN, the same call succeeds.
    set_profile(&mut b, engine_profile(&caps));
    let r = run_ok(&rt, &b);
    assert_eq!(r["sethostname"], 0, "{r:?}");
}

#[test]
fn default_profile_gives_einval_to_netlink_audit_sockets_and_allows_others() {
    let rt = Runtime::new();
    let caps = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let mut b = probe_bundle(&[
        "socket", "16", "3", "9", "socket", "16", "3", "0", "socket", "2", "1", "0", "socket", "1",
        "1", "0",
    ]);
    set_caps(&mut b, &caps);
    // Without CAP_AUDIT_WRITE the profile keeps four socket rules, two identical:
    // they must merge, not fail.
    set_profile(&mut b, engine_profile(&caps));
    let r = run_ok(&rt, &b);
    assert_eq!(r["socket(16,3,9)"], -libc::EINVAL as i64, "{r:?}");
    assert_eq!(r["socket(16,3,0)"], 0, "{r:?}");
    assert_eq!(r["socket(2,1,0)"], 0, "{r:?}");
    assert_eq!(r["socket(1,1,0)"], 0, "{r:?}");

    // Control: with CAP_AUDIT_WRITE the kernel itself lets the audit socket open.
    set_caps(&mut b, &BASE_CAPS);
    set_profile(&mut b, engine_profile(&BASE_CAPS));
    let r = run_ok(&rt, &b);
    assert_eq!(r["socket(16,3,9)"], 0, "{r:?}");
}

#[test]
fn default_profile_allows_personality_0_and_gives_enosys_to_personality_1() {
    let rt = Runtime::new();
    let mut b = probe_bundle(&["personality", "0", "personality", "1"]);
    set_profile(&mut b, engine_profile(&BASE_CAPS));
    let r = run_ok(&rt, &b);
    assert_eq!(r["personality(0)"], 0, "{r:?}");
    assert_eq!(r["personality(1)"], -libc::ENOSYS as i64, "{r:?}");
}

#[test]
fn default_profile_gives_default_action_to_a_syscall_it_never_names() {
    let rt = Runtime::new();
    // add_key (248) and io_uring_setup (425): not in the profile; with NULL
    // arguments the kernel itself would say EFAULT/EINVAL, never ENOSYS.
    let mut b = probe_bundle(&["syscall", "248", "syscall", "425"]);
    let r = run_ok(&rt, &b);
    assert_ne!(r["syscall(248)"], -libc::ENOSYS as i64, "control: {r:?}");
    assert_ne!(r["syscall(425)"], -libc::ENOSYS as i64, "control: {r:?}");
    set_profile(&mut b, engine_profile(&BASE_CAPS));
    let r = run_ok(&rt, &b);
    assert_eq!(r["syscall(248)"], -libc::ENOSYS as i64, "{r:?}");
    assert_eq!(r["syscall(425)"], -libc::ENOSYS as i64, "{r:?}");
}

/// Allow everything but getpid (39), which gets `action`.
fn getpid_profile(action: &str) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid"], "action": action}]
    })
}

#[test]
fn kill_actions_kill_the_process() {
    let rt = Runtime::new();
    for action in [
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
    ] {
        let mut b = probe_bundle(&["personality", "0", "syscall", "39", "personality", "8"]);
        set_profile(&mut b, getpid_profile(action));
        let (code, out, err) = rt.run(&b, &unique("kill"));
        assert_eq!(code, KILLED_BY_SIGSYS, "{action}: out={out} err={err}");
        let r = results(&out);
        assert_eq!(r.get("personality(0)"), Some(&0), "{action}: {out}");
        assert!(!r.contains_key("syscall(39)"), "{action}: {out}");
        assert!(!r.contains_key("personality(8)"), "{action}: {out}");
    }
}

#[test]
fn trap_delivers_sigsys() {
    let rt = Runtime::new();
    let mut b = probe_bundle(&["catch-sigsys", "syscall", "39"]);
    set_profile(&mut b, getpid_profile("SCMP_ACT_TRAP"));
    let out = rt.output_of(&b);
    // si_code SYS_SECCOMP (1), si_syscall getpid.
    assert!(out.contains("sigsys=31 code=1 syscall=39\n"), "{out}");
    // Without a handler SIGSYS kills.
    let mut b = probe_bundle(&["syscall", "39"]);
    set_profile(&mut b, getpid_profile("SCMP_ACT_TRAP"));
    let (code, out, err) = rt.run(&b, &unique("trap"));
    assert_eq!(code, KILLED_BY_SIGSYS, "out={out} err={err}");
}

/// The kernel log, when this process may read it.
fn kernel_log() -> Option<String> {
    let o = Command::new("dmesg").output().ok()?;
    o.status.success().then(|| text(&o.stdout))
}

#[test]
fn log_allows_the_call_and_logs_it() {
    let rt = Runtime::new();
    // A comm of our own (at most 15 characters) finds our records in the log.
    let comm = format!("sl{:08}", std::process::id() % 100_000_000);
    let mut b = probe_bundle_named(&comm, &["syscall", "39"]);
    set_profile(&mut b, getpid_profile("SCMP_ACT_LOG"));
    let r = run_ok(&rt, &b);
    // Allowed: getpid answers 1 in the container's pid namespace.
    assert_eq!(r["syscall(39)"], 1, "{r:?}");
    let logged = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_logged")
        .is_ok_and(|s| s.split_whitespace().any(|a| a == "log"));
    let Some(_) = kernel_log().filter(|_| logged) else {
        eprintln!("kernel log unreadable or 'log' not in actions_logged: checked the verdict only");
        return;
    };
    let wanted = format!("comm=\"{comm}\"");
    // kauditd writes asynchronously.
    for _ in 0..50 {
        let log = kernel_log().unwrap_or_default();
        if log.lines().any(|l| {
            l.contains(&wanted) && l.contains(" syscall=39 ") && l.contains("code=0x7ffc0000")
        }) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no seccomp LOG record for {wanted} syscall=39 in the kernel log");
}

#[test]
fn no_new_privileges_is_set_only_when_asked_and_the_filter_loads_either_way() {
    let rt = Runtime::new();
    let script = "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status";
    for (nnp, user) in [(true, 0), (false, 0), (false, 1000)] {
        let mut b = Bundle::sh(script);
        b.edit(|c| {
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["process"]["user"] = json!({"uid": user, "gid": user});
            c["process"]["capabilities"] = json!({});
            c["linux"]["seccomp"] = getpid_profile("SCMP_ACT_ERRNO");
        });
        let out = rt.output_of(&b);
        // Without no_new_privs the filter needs CAP_SYS_ADMIN: it must have been loaded
        // before the switch to uid 1000 and the capability drop.
        let nnp_line = format!("NoNewPrivs:\t{}", u8::from(nnp));
        assert!(out.contains(&nnp_line), "nnp={nnp} uid={user}: {out}");
        assert!(out.contains("Seccomp:\t2"), "nnp={nnp} uid={user}: {out}");
    }
}

#[test]
fn the_runtime_own_setup_is_not_filtered() {
    let rt = Runtime::new();
    // mount, pivot_root, sethostname, setresuid and capset are what the init itself
    // needs; the filter, loaded after them, denies them to the program only.
    let mut b = probe_bundle(&["sethostname", "x", "syscall", "155"]);
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mount", "pivot_root", "sethostname", "setresuid",
                "setresgid", "setgroups", "capset", "chdir", "prctl", "umount2"],
                "action": "SCMP_ACT_ERRNO", "errnoRet": 99}]
        });
    });
    let r = run_ok(&rt, &b);
    assert_eq!(r["sethostname"], -99, "{r:?}");
    assert_eq!(r["syscall(155)"], -99, "{r:?}");
}

#[test]
fn architectures_list_governs_32_bit_and_x32_calls() {
    let rt = Runtime::new();
    // Everything allowed but sethostname (i386 74, x32 170|0x40000000), which gets 99.
    let profile = |arches: &[&str]| {
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": arches,
            "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99}]
        })
    };
    let all = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
    let mut b = probe_bundle(&[
        "i386", "74", "name", "i386", "20", "x32", "170", "name", "x32", "39", "syscall", "74",
    ]);
    set_profile(&mut b, profile(&all));
    let r = run_ok(&rt, &b);
    assert_eq!(r["i386(74)"], -99, "{r:?}");
    assert_eq!(r["i386(20)"], 1, "i386 getpid is allowed: {r:?}");
    assert_eq!(r["x32(170)"], -99, "{r:?}");
    // Allowed by the filter; the kernel may lack the x32 ABI, then ENOSYS.
    assert!(
        r["x32(39)"] == 1 || r["x32(39)"] == -libc::ENOSYS as i64,
        "{r:?}"
    );
    // x86_64 nr 74 is fsync, not sethostname: fd 0 is /dev/null, EINVAL.
    assert_eq!(r["syscall(74)"], -libc::EINVAL as i64, "{r:?}");

    // Only x86_64 listed: a call from another architecture kills (libseccomp's and
    // runc's bad-architecture action), for i386 and x32 alike.
    for call in [&["i386", "20"][..], &["x32", "39"][..]] {
        let mut b = probe_bundle(&[&["personality", "0"][..], call].concat());
        set_profile(&mut b, profile(&["SCMP_ARCH_X86_64"]));
        let (code, out, err) = rt.run(&b, &unique("arch"));
        assert_eq!(code, KILLED_BY_SIGSYS, "{call:?}: out={out} err={err}");
        assert!(out.contains("personality(0)=0"), "{call:?}: {out}");
    }
}

#[test]
fn notify_hands_the_listener_to_the_agent_which_answers() {
    let rt = Runtime::new();
    let dir = std::env::temp_dir().join(unique("coracle-agent"));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("agent.sock");
    let server = UnixListener::bind(&sock).unwrap();
    const ANSWER: i32 = libc::EREMOTEIO;
    let agent = std::thread::spawn(move || {
        let (conn, _) = server.accept().unwrap();
        let (listener, state) = coracle::seccomp::notify::receive_listener(conn.as_fd()).unwrap();
        let n = coracle::sys::seccomp::notif_recv(listener.as_fd()).unwrap();
        let nr = n.data.nr as i64;
        coracle::sys::seccomp::notif_send(listener.as_fd(), n.id, 0, ANSWER, false).unwrap();
        (state, n.pid, nr)
    });
    let mut b = probe_bundle(&["mkdir", "/tmp/by-agent"]);
    let id = unique("notify");
    set_profile(
        &mut b,
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "agent-metadata",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    );
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "out={out} err={err}");
    let (state, pid, nr) = agent.join().unwrap();
    assert_eq!(results(&out)["mkdir"], -ANSWER as i64, "{out}");
    assert!(nr == libc::SYS_mkdir || nr == libc::SYS_mkdirat, "nr {nr}");
    // The OCI ContainerProcessState.
    assert_eq!(state["fds"], json!(["seccompFd"]), "{state}");
    assert_eq!(state["metadata"], "agent-metadata", "{state}");
    assert_eq!(state["ociVersion"], state["state"]["ociVersion"], "{state}");
    assert_eq!(state["state"]["id"], id.as_str(), "{state}");
    assert_eq!(state["state"]["status"], "creating", "{state}");
    assert_eq!(state["pid"], state["state"]["pid"], "{state}");
    // The caller is the container's process, seen from the agent's pid namespace.
    assert_eq!(state["pid"], pid, "{state}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn notify_without_listener_path_fails_create_and_leaves_nothing() {
    let rt = Runtime::new();
    let mut b = probe_bundle(&["mkdir", "/x"]);
    set_profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let id = unique("nolistener");
    let out = rt.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("linux.seccomp.listenerPath"), "{err}");
    assert!(rt.ids().is_empty(), "{:?}", rt.ids());
}

#[test]
fn an_unknown_flag_fails_create_and_leaves_nothing() {
    let rt = Runtime::new();
    let mut b = probe_bundle(&["syscall", "39"]);
    let mut profile = getpid_profile("SCMP_ACT_ERRNO");
    profile["flags"] = json!(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_BOGUS"]);
    set_profile(&mut b, profile);
    let id = unique("badflag");
    let out = rt.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("linux.seccomp.flags"), "{err}");
    assert!(rt.ids().is_empty(), "{:?}", rt.ids());
}

#[test]
fn exec_processes_get_the_containers_filter() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sleep", "100"]);
    for nnp in [true, false] {
        b.edit(|c| {
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
            ]});
        });
        let id = unique("secexec");
        let out = rt.cmd(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let exec = rt.cmd(&["exec", &id, "mkdir", "/tmp/denied"]);
        assert_eq!(
            exec.status.code(),
            Some(1),
            "nnp {nnp}: {}",
            text(&exec.stderr)
        );
        assert!(
            text(&exec.stderr).contains("Operation not permitted"),
            "nnp {nnp}: {}",
            text(&exec.stderr)
        );
        assert!(!b.rootfs().join("tmp/denied").exists());
        // The control: the same exec's other calls work (the filter is the profile's).
        let ok = rt.cmd(&["exec", &id, "touch", "/tmp/allowed"]);
        assert!(ok.status.success(), "{}", text(&ok.stderr));
        assert!(rt.cmd(&["delete", "--force", &id]).status.success());
    }
}
