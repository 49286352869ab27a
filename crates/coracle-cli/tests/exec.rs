//! `exec`: a new process in a running container joins the init's namespaces and root,
//! gets the container's process settings with the command line's overrides, and
//! returns its exit status. Each check runs against coracle and, to prove the test
//! itself, against runc.

mod common;
mod exec_rt;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use exec_rt::*;
use serde_json::json;

#[test]
fn exec_prints_output_and_returns_the_exit_code() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        let (code, out, _) = rt.exec(&[], &id, &["sh", "-c", "echo hello; exit 3"]);
        assert_eq!((code, out.as_str()), (3, "hello\n"), "{}", rt.bin);
        assert_eq!(rt.exec(&[], &id, &["true"]).0, 0);
    });
}

#[test]
fn exec_joins_every_namespace_of_the_init() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        let init = rt.init_pid(&id);
        let kinds = ["pid", "mnt", "net", "ipc", "uts", "cgroup"];
        let script: String = kinds
            .iter()
            .map(|k| format!("readlink /proc/self/ns/{k}; "))
            .collect::<String>()
            + "hostname";
        let out = rt.exec_ok(&[], &id, &["sh", "-c", &script]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), kinds.len() + 1, "{out}");
        for (k, inside) in kinds.iter().zip(&lines) {
            let init_ns = std::fs::read_link(format!("/proc/{init}/ns/{k}")).unwrap();
            let host_ns = std::fs::read_link(format!("/proc/self/ns/{k}")).unwrap();
            assert_eq!(*inside, init_ns.to_str().unwrap(), "{} {k}", rt.bin);
            assert_ne!(init_ns, host_ns, "{k}: the container should have its own");
        }
        assert_eq!(lines[kinds.len()], "coracle-test");
    });
}

#[test]
fn exec_runs_inside_the_container_pid_namespace_and_rootfs() {
    both(|rt| {
        let b = sleeper();
        let marker = unique("marker");
        std::fs::write(b.rootfs().join("marker"), &marker).unwrap();
        let id = rt.start(&b);
        // pid 1 of the namespace is the container's sleep; our pid is small, not a host pid.
        let out = rt.exec_ok(
            &[],
            &id,
            &[
                "sh",
                "-c",
                "cat /proc/1/cmdline | tr '\\0' ' '; echo; cat /marker; echo; ls /",
            ],
        );
        let mut lines = out.lines();
        assert_eq!(lines.next().unwrap().trim(), "sleep 1000", "{out}");
        assert_eq!(lines.next().unwrap(), marker);
        let root: Vec<&str> = lines.collect();
        assert!(
            root.contains(&"marker") && root.contains(&"bin"),
            "{root:?}"
        );
        // A host directory the busybox rootfs does not have.
        assert!(!root.contains(&"usr"), "host root visible: {root:?}");
    });
}

#[test]
fn exec_gets_the_container_env_plus_flags_and_home_from_passwd() {
    both(|rt| {
        let mut b = sleeper();
        b.edit(|c| {
            c["process"]["env"]
                .as_array_mut()
                .unwrap()
                .push(json!("FROM_CONFIG=1"))
        });
        let id = rt.start(&b);
        let out = rt.exec_ok(&["-e", "EXTRA=2", "-e", "TERM=vt100"], &id, &["env"]);
        let env: Vec<&str> = out.lines().collect();
        for want in [
            "FROM_CONFIG=1",
            "EXTRA=2",
            "TERM=vt100",
            "HOME=/root",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ] {
            assert!(env.contains(&want), "{} lacks {want}: {env:?}", rt.bin);
        }
        assert!(!env.contains(&"TERM=xterm"), "-e must override: {env:?}");
        let out = rt.exec_ok(&["-u", "1000"], &id, &["sh", "-c", "echo $HOME"]);
        assert_eq!(out, "/home/user\n");
    });
}

#[test]
fn exec_cwd_flag_sets_the_working_directory() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        assert_eq!(rt.exec_ok(&[], &id, &["pwd"]), "/\n");
        assert_eq!(rt.exec_ok(&["--cwd", "/tmp"], &id, &["pwd"]), "/tmp\n");
        let (code, _, err) = rt.exec(&["--cwd", "/nonexistent"], &id, &["true"]);
        assert_eq!(code, 255, "{err}");
        if rt.is_coracle() {
            assert!(
                err.contains(
                    "exec failed: chdir to cwd /nonexistent: No such file or directory (ENOENT)"
                ),
                "{err}"
            );
        }
    });
}

#[test]
fn exec_user_and_additional_gids() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        assert_eq!(rt.exec_ok(&[], &id, &["id"]), "uid=0(root) gid=0(root)\n");
        let out = rt.exec_ok(&["-u", "1000:1000", "-g", "10", "-g", "20"], &id, &["id"]);
        assert_eq!(
            out, "uid=1000(user) gid=1000(user) groups=10,20\n",
            "{}",
            rt.bin
        );
        // A uid alone keeps the container's gid.
        assert_eq!(rt.exec_ok(&["-u", "1000"], &id, &["id", "-g"]), "0\n");
    });
}

#[test]
fn exec_capabilities_default_to_the_container_and_cap_adds() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        let init = std::fs::read_to_string(format!("/proc/{}/status", rt.init_pid(&id))).unwrap();
        let status = rt.exec_ok(&[], &id, &["cat", "/proc/self/status"]);
        for f in ["CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"] {
            assert_eq!(
                status_field(&status, f),
                status_field(&init, f),
                "{} {f}",
                rt.bin
            );
        }
        // CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE.
        assert_eq!(status_field(&status, "CapEff"), "0000000020000420");
        let status = rt.exec_ok(
            &["--cap", "CAP_SYS_ADMIN"],
            &id,
            &["cat", "/proc/self/status"],
        );
        for f in ["CapBnd", "CapEff", "CapPrm"] {
            assert_eq!(
                status_field(&status, f),
                "0000000020200420",
                "{} {f}",
                rt.bin
            );
        }
        assert_eq!(status_field(&status, "CapInh"), "0000000000000000");
    });
}

#[test]
fn exec_no_new_privs_flag() {
    both(|rt| {
        let mut b = sleeper();
        b.edit(|c| c["process"]["noNewPrivileges"] = json!(false));
        let id = rt.start(&b);
        let nnp = |flags: &[&str]| {
            status_field(
                &rt.exec_ok(flags, &id, &["cat", "/proc/self/status"]),
                "NoNewPrivs",
            )
        };
        assert_eq!(nnp(&[]), "0", "{}: the container's setting", rt.bin);
        assert_eq!(nnp(&["--no-new-privs"]), "1", "{}", rt.bin);
    });
}

#[test]
fn exec_process_file_replaces_the_container_process() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        let file = b.dir.join("process.json");
        std::fs::write(
            &file,
            serde_json::to_vec(&json!({
                "args": ["sh", "-c", "echo $FOO; pwd; id"],
                "cwd": "/tmp",
                "env": ["PATH=/bin", "FOO=from-file"],
                "user": {"uid": 1000, "gid": 1000}
            }))
            .unwrap(),
        )
        .unwrap();
        let out = rt.exec_ok(&["--process", file.to_str().unwrap()], &id, &[]);
        assert_eq!(
            out, "from-file\n/tmp\nuid=1000(user) gid=1000(user)\n",
            "{}",
            rt.bin
        );
    });
}

#[test]
fn exec_detach_returns_at_once_and_the_pid_file_names_the_process() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        let pid_file = b.dir.join("exec.pid");
        let t = Instant::now();
        let out = rt.exec_ok(
            &["-d", "--pid-file", pid_file.to_str().unwrap()],
            &id,
            &["sleep", "4242"],
        );
        // Far below the 4242 s the process runs (the qemu guest is slow).
        assert!(t.elapsed() < Duration::from_secs(20), "exec -d waited");
        assert_eq!(out, "", "exec -d prints nothing");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // coracle returns once execve succeeded; runc's `exec -d` may return while its
        // init is still on the way there, so it gets a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        while rt.bin.ends_with("runc")
            && cmdline != b"sleep\x004242\x00"
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
            cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        }
        assert_eq!(cmdline, b"sleep\x004242\x00", "{}", rt.bin);
        let init = rt.init_pid(&id);
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap(),
            std::fs::read_link(format!("/proc/{init}/ns/pid")).unwrap()
        );
    });
}

/// `sh -c 'exec RUNTIME ... 3<FILE 5<FILE'`: the runtime gets two extra fds.
fn exec_with_fds(rt: &Rt, flags: &str, id: &str, script: &str, file: &Path) -> String {
    let line = format!(
        "exec {} --root {} exec {flags} {id} sh -c '{script}' 3<{f} 5<{f}",
        rt.bin,
        rt.root.display(),
        f = file.display()
    );
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(line);
    let out = output_of(c);
    assert!(out.status.success(), "{}: {}", rt.bin, text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn exec_preserve_fds_passes_fds_and_nothing_else_leaks() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        let file = b.dir.join("passed");
        std::fs::write(&file, "through fd 3").unwrap();
        // Without --preserve-fds, the inherited fds 3 and 5 do not reach the process: only
        // stdio and the fd ls opens for the directory.
        let out = exec_with_fds(rt, "", &id, "ls /proc/self/fd", &file);
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            ["0", "1", "2", "3"],
            "{}",
            rt.bin
        );
        let out = exec_with_fds(
            rt,
            "--preserve-fds 1",
            &id,
            "cat <&3; echo; ls /proc/self/fd",
            &file,
        );
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("through fd 3"), "{}", rt.bin);
        let fds: Vec<&str> = lines.collect();
        assert!(
            !fds.contains(&"5"),
            "fd 5 is beyond --preserve-fds 1: {fds:?}"
        );
    });
}

#[test]
fn exec_does_not_see_the_runtime_fds() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        let out = rt.exec_ok(&[], &id, &["ls", "/proc/self/fd"]);
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            ["0", "1", "2", "3"],
            "{}",
            rt.bin
        );
    });
}

#[test]
fn exec_into_a_stopped_container_fails_clearly() {
    both(|rt| {
        let b = Bundle::new(&["true"]);
        let id = rt.start(&b);
        wait_for("the container to stop", || {
            rt.state(&id)["status"] == "stopped"
        });
        let (code, out, err) = rt.exec(&[], &id, &["echo", "never"]);
        assert_eq!((code, out.as_str()), (255, ""), "{}: {err}", rt.bin);
        if rt.is_coracle() {
            assert!(
                err.contains(&format!(
                    "exec failed: cannot exec in container {id}: container is stopped"
                )),
                "{err}"
            );
        }
    });
}

#[test]
fn exec_into_a_missing_container_fails() {
    both(|rt| {
        let (code, _, err) = rt.exec(&[], "no-such-container", &["true"]);
        assert_eq!(code, 255, "{}", rt.bin);
        assert!(err.contains("container does not exist"), "{err}");
    });
}

#[test]
fn exec_into_a_created_container_works() {
    both(|rt| {
        let b = sleeper();
        let id = unique("created");
        let out = rt.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = rt.exec_ok(
            &[],
            &id,
            &["sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '"],
        );
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("coracle-test"));
        assert_ne!(
            lines.next().map(str::trim),
            Some("sleep 1000"),
            "the user program already ran"
        );
        assert_eq!(
            rt.state(&id)["status"],
            "created",
            "exec must not start the container"
        );
    });
}

#[test]
fn exec_in_a_user_namespace_container() {
    both(|rt| {
        let mut b = sleeper();
        b.edit(|c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        });
        let id = rt.start(&b);
        let init = rt.init_pid(&id);
        let out = rt.exec_ok(
            &["-u", "1000:1000"],
            &id,
            &[
                "sh",
                "-c",
                "readlink /proc/self/ns/user; cat /proc/self/uid_map; id",
            ],
        );
        let mut lines = out.lines();
        let user_ns = std::fs::read_link(format!("/proc/{init}/ns/user")).unwrap();
        assert_eq!(lines.next(), user_ns.to_str(), "{}", rt.bin);
        let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(map, ["0", "100000", "65536"]);
        assert_eq!(lines.next(), Some("uid=1000(user) gid=1000(user)"));
        // Seen from the host, the process runs as the mapped ids.
        let pid_file = b.dir.join("exec.pid");
        rt.exec_ok(
            &[
                "-d",
                "-u",
                "1000:1000",
                "--pid-file",
                pid_file.to_str().unwrap(),
            ],
            &id,
            &["sleep", "4343"],
        );
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
        assert_eq!(
            status_field(&status, "Uid"),
            "101000\t101000\t101000\t101000"
        );
    });
}

#[test]
fn exec_forwards_signals_and_reports_death_by_signal() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        let mut child = rt
            .command(&["exec", &id, "sleep", "4444"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let cli = child.id();
        // Once SIGTERM is blocked the runtime is waiting and forwards it (coracle blocks
        // it; runc handles it: both show it in SigBlk or SigCgt).
        wait_for("the runtime to wait for the process", || {
            let Ok(s) = std::fs::read_to_string(format!("/proc/{cli}/status")) else {
                return false;
            };
            let has_sleep = processes_with("sleep\u{0}4444")
                .iter()
                .any(|&p| p != cli as i32);
            let term = 1u64 << (libc::SIGTERM - 1);
            let mask = |f| u64::from_str_radix(&status_field(&s, f), 16).unwrap();
            has_sleep && (mask("SigBlk") & term != 0 || mask("SigCgt") & term != 0)
        });
        // The waiting exec holds no lock on the container: other commands still work.
        let mut state = rt
            .command(&["state", &id])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("state while an exec waits", || {
            state.try_wait().unwrap().is_some()
        });
        assert!(state.wait().unwrap().success());
        let kill = Command::new("kill")
            .args(["-TERM", &cli.to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{}", rt.bin);
    });
}

#[test]
fn exec_features_not_supported_yet_fail_clearly() {
    let rt = Rt::coracle();
    let b = sleeper();
    let id = rt.start(&b);
    let (code, _, err) = rt.exec(&["--cgroup", "sub"], &id, &["true"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("exec failed: --cgroup is not supported yet"),
        "{err}"
    );
    let (code, _, err) = rt.exec(&[], &id, &[]);
    assert_eq!(code, 255);
    assert!(
        err.contains("exec failed: process args cannot be empty"),
        "{err}"
    );
    let (code, _, err) = rt.exec(&[], &id, &["no-such-program"]);
    assert_eq!(code, 255);
    assert!(err.contains("executable file not found in $PATH"), "{err}");
}

#[test]
fn exec_into_a_container_sharing_the_host_pid_namespace() {
    both(|rt| {
        let mut b = sleeper();
        b.edit(|c| {
            c["linux"]["namespaces"] =
                json!([{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}, {"type": "network"}]);
        });
        let id = rt.start(&b);
        let out = rt.exec_ok(
            &[],
            &id,
            &[
                "sh",
                "-c",
                "readlink /proc/self/ns/pid; readlink /proc/self/ns/net; hostname",
            ],
        );
        let lines: Vec<&str> = out.lines().collect();
        let host_pid_ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
        let init_net = std::fs::read_link(format!("/proc/{}/ns/net", rt.init_pid(&id))).unwrap();
        assert_eq!(
            lines,
            [
                host_pid_ns.to_str().unwrap(),
                init_net.to_str().unwrap(),
                "coracle-test"
            ],
            "{}",
            rt.bin
        );
    });
}

/// runc 1.1 has no time namespaces: coracle only.
#[test]
fn exec_joins_the_time_namespace() {
    if !Path::new("/proc/self/ns/time").exists() {
        eprintln!("skipped: kernel without time namespaces");
        return;
    }
    let rt = Rt::coracle();
    let mut b = sleeper();
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 86400000, "nanosecs": 0}});
    });
    let id = rt.start(&b);
    let out = rt.exec_ok(
        &[],
        &id,
        &["sh", "-c", "readlink /proc/self/ns/time; cat /proc/uptime"],
    );
    let mut lines = out.lines();
    let init_time = std::fs::read_link(format!("/proc/{}/ns/time", rt.init_pid(&id))).unwrap();
    assert_eq!(lines.next(), init_time.to_str());
    let up: f64 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        up > 86_400_000.0,
        "uptime {up} lacks the container's boottime offset"
    );
}

#[test]
fn exec_lands_in_the_rootfs_of_a_no_pivot_container() {
    both(|rt| {
        let b = sleeper();
        std::fs::write(b.rootfs().join("marker"), "no-pivot").unwrap();
        let id = unique("nopivot");
        let out = rt.cmd(&[
            "run",
            "-d",
            "--no-pivot",
            "--bundle",
            b.dir.to_str().unwrap(),
            &id,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = rt.exec_ok(&[], &id, &["sh", "-c", "cat /marker; echo; ls /"]);
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("no-pivot"), "{}", rt.bin);
        let root: Vec<&str> = lines.collect();
        assert!(
            !root.contains(&"usr"),
            "{}: host root visible: {root:?}",
            rt.bin
        );
    });
}
