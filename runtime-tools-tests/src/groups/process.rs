//! config.md "Process", "Hostname", "Domainname", "Annotations"; config-linux.md "Sysctl".

use crate::harness::T;
use crate::Test;
use serde_json::json;

/// The tests of this module.
pub fn tests() -> Vec<Test> {
    vec![
        Test {
            group: "process",
            name: "root-defaults",
            run: root_defaults,
        },
        Test {
            group: "process",
            name: "user-ids-umask-rlimits-caps",
            run: user_process,
        },
        Test {
            group: "process",
            name: "root-caps-no-new-privileges",
            run: |t| root_caps(t, true),
        },
        Test {
            group: "process",
            name: "root-caps-new-privileges",
            run: |t| root_caps(t, false),
        },
        Test {
            group: "hostname",
            name: "hostname-and-domainname",
            run: hostname,
        },
        Test {
            group: "sysctl",
            name: "namespaced-sysctls",
            run: sysctl,
        },
        Test {
            group: "annotations",
            name: "state-reports-annotations",
            run: annotations,
        },
    ]
}

/// The default process (uid 0, cwd /, bounding = effective = permitted = ambient).
fn root_defaults(t: &mut T) {
    let b = t.bundle();
    t.run_checker(&b);
}

/// args with spaces, env, cwd, uid/gid, additionalGids, umask, rlimits, the five capability
/// sets for a non-root user, noNewPrivileges false, oomScoreAdj.
fn user_process(t: &mut T) {
    let mut b = t.bundle();
    let p = &mut b.config["process"];
    p["args"] = json!(["/rtt/runtimetest", "an arg with spaces", "--flag=x", ""]);
    p["env"] = json!(["PATH=/bin", "RTT_EMPTY=", "RTT_EQ=a=b=c", "RTT_SPACE=x y"]);
    p["cwd"] = json!("/tmp");
    p["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 2000], "umask": 0o027});
    p["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
        {"type": "RLIMIT_CORE", "soft": 4096, "hard": 8192},
        {"type": "RLIMIT_MSGQUEUE", "soft": 8192, "hard": 16384},
        {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 18446744073709551615u64}
    ]);
    p["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SYS_CHROOT"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"],
        "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"]
    });
    p["noNewPrivileges"] = json!(false);
    p["oomScoreAdj"] = json!(123);
    t.run_checker(&b);
}

/// uid 0: after execve the kernel grants bounding | inheritable, limited by noNewPrivileges to
/// the permitted set the runtime gave.
fn root_caps(t: &mut T, nnp: bool) {
    let mut b = t.bundle();
    let p = &mut b.config["process"];
    p["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_SETPCAP"],
        "inheritable": ["CAP_KILL"],
        "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "effective": ["CAP_KILL", "CAP_CHOWN"],
        "ambient": ["CAP_KILL"]
    });
    p["noNewPrivileges"] = json!(nnp);
    p["oomScoreAdj"] = json!(200);
    t.run_checker(&b);
}

/// "hostname ... specifies the container's hostname as seen by processes running inside the
/// container"; "domainname ... the container's domainname".
fn hostname(t: &mut T) {
    let mut b = t.bundle();
    b.config["hostname"] = json!("rtt-host");
    b.config["domainname"] = json!("rtt.example.org");
    t.run_checker(&b);
}

/// "sysctl (object, OPTIONAL) allows kernel parameters to be modified at runtime for the
/// container."
fn sysctl(t: &mut T) {
    let mut b = t.bundle();
    b.config["linux"]["sysctl"] = json!({
        "net.ipv4.ip_forward": "1",
        "net.core.somaxconn": "777",
        "kernel.shmmax": "123456789",
        "kernel.msgmax": "9000",
        "net.ipv4.ping_group_range": "1000 1001"
    });
    t.run_checker(&b);
}

/// Annotations of the config are the annotations of the state.
fn annotations(t: &mut T) {
    let mut b = t.bundle();
    b.config["annotations"] = json!({
        "com.example.key1": "value1",
        "org.opencontainers.rtt/with-slash": "v=2, with spaces",
        "empty.value": "",
        "unicode.value": "\u{00e9}\u{4e2d}"
    });
    let c = b.container(t.suite);
    let cr = c.create();
    if !t.check("create", cr.ok(), || cr.describe()) {
        return;
    }
    let s = c.state().unwrap_or_default();
    for (k, v) in b.config["annotations"].as_object().unwrap() {
        t.eq(
            &format!("state annotation {k}"),
            s["annotations"][k].clone(),
            v.clone(),
        );
    }
}
