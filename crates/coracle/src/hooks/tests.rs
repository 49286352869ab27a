//! Hooks run as real processes: small shell scripts in a temp dir.

use super::*;
use oci_spec::runtime::HookBuilder;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A unique directory under /tmp, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = PathBuf::from(format!(
            "/tmp/coracle-hooks-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap();
        TempDir(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// An executable `#!/bin/sh` script.
    /// Write an executable script. The write happens in a child `sh`, not here: a
    /// write fd in this multi-threaded test process could be inherited by another
    /// test's fork, and executing the script would then fail with ETXTBSY.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(name);
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg("cat > \"$0\" && chmod 755 \"$0\"")
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, format!("#!/bin/sh\n{body}\n").as_bytes()).unwrap();
        drop(stdin);
        assert!(child.wait().unwrap().success());
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hook(path: &Path) -> Hook {
    HookBuilder::default().path(path).build().unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Whether `pid` is gone or a zombie.
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let after = &stat[stat.rfind(')').unwrap() + 1..];
            matches!(after.trim_start().as_bytes()[0], b'Z' | b'X')
        }
        Err(_) => true,
    }
}

fn pid_in(path: &Path) -> i32 {
    read(path).trim().parse().unwrap()
}

#[test]
fn hooks_run_in_order_and_stop_at_first_failure() {
    let tmp = TempDir::new();
    let log = tmp.path("log");
    let mk = |n: &str, code: i32| {
        let body = format!("echo {n} >> {}\nexit {code}", log.display());
        hook(&tmp.script(&format!("h{n}"), &body))
    };
    run("prestart", &[mk("1", 0), mk("2", 0), mk("3", 0)], b"{}").unwrap();
    assert_eq!(read(&log), "1\n2\n3\n");
    std::fs::remove_file(&log).unwrap();
    let err = run("poststart", &[mk("1", 0), mk("2", 1), mk("3", 0)], b"{}").unwrap_err();
    assert_eq!(read(&log), "1\n2\n", "hook after the failed one ran");
    assert!(
        matches!(
            err,
            HookError::Failed {
                index: 1,
                kind: "poststart",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn run_all_runs_the_rest_after_a_failure() {
    let tmp = TempDir::new();
    let log = tmp.path("log");
    let mk = |n: &str, code: i32| {
        let body = format!("echo {n} >> {}\nexit {code}", log.display());
        hook(&tmp.script(&format!("h{n}"), &body))
    };
    let errs = run_all("poststop", &[mk("1", 1), mk("2", 0), mk("3", 2)], b"{}");
    assert_eq!(read(&log), "1\n2\n3\n");
    let indexes: Vec<usize> = errs
        .iter()
        .map(|e| match e {
            HookError::Failed { index, .. } => *index,
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(indexes, [0, 2]);
}

#[test]
fn stdin_receives_the_state_exactly() {
    let tmp = TempDir::new();
    let got = tmp.path("got");
    let h = hook(&tmp.script("h", &format!("cat > {}", got.display())));
    let state = r#"{"ociVersion":"1.2.0","id":"c","status":"created","pid":1,"bundle":"/b é"}"#;
    run("createRuntime", std::slice::from_ref(&h), state.as_bytes()).unwrap();
    assert_eq!(read(&got), state);
    // Far larger than a pipe buffer: stdin is fed while the hook reads.
    let big: Vec<u8> = (0..1_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    run("createRuntime", &[h], &big).unwrap();
    assert_eq!(std::fs::read(&got).unwrap(), big);
}

#[test]
fn hook_that_ignores_stdin_is_fine() {
    let tmp = TempDir::new();
    let h = hook(&tmp.script("h", "exit 0"));
    let big = vec![b'x'; 1 << 20];
    run("prestart", &[h], &big).unwrap();
}

#[test]
fn env_is_exactly_the_hook_env() {
    let tmp = TempDir::new();
    let got = tmp.path("environ");
    // /proc/PID/environ is what execve received, before the shell adds PWD.
    let body = format!("cat /proc/$$/environ > {}", got.display());
    let mut h = hook(&tmp.script("h", &body));
    h.set_env(Some(vec!["A=1".into(), "B=x=y".into(), "EMPTY=".into()]));
    run("prestart", std::slice::from_ref(&h), b"").unwrap();
    assert_eq!(read(&got), "A=1\0B=x=y\0EMPTY=\0");
    h.set_env(Some(vec![]));
    run("prestart", std::slice::from_ref(&h), b"").unwrap();
    assert_eq!(read(&got), "", "\"env\": [] must give an empty environment");
}

#[test]
fn hook_without_env_inherits_ours_like_runc() {
    let tmp = TempDir::new();
    let got = tmp.path("environ");
    let body = format!("cat /proc/$$/environ > {}", got.display());
    run("prestart", &[hook(&tmp.script("h", &body))], b"").unwrap();
    let mut theirs: Vec<String> = read(&got)
        .split_terminator('\0')
        .map(String::from)
        .collect();
    let mut ours: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    theirs.sort();
    ours.sort();
    assert!(!ours.is_empty());
    assert_eq!(theirs, ours);
}

#[test]
fn args_are_argv_including_argv0() {
    let tmp = TempDir::new();
    let got = tmp.path("cmdline");
    let mut h = hook(Path::new("/bin/sh"));
    let script = format!("cat /proc/$$/cmdline > {}", got.display());
    h.set_args(Some(vec!["my-argv0".into(), "-c".into(), script.clone()]));
    run("prestart", &[h], b"").unwrap();
    assert_eq!(read(&got), format!("my-argv0\0-c\0{script}\0"));
}

#[test]
fn without_args_argv0_is_the_path() {
    let tmp = TempDir::new();
    let got = tmp.path("cmdline");
    // busybox picks its applet from argv[0]: as "…/sh" it reads a script on stdin.
    let sh = tmp.path("sh");
    symlink("/bin/busybox", &sh).unwrap();
    let script = format!("cat /proc/$$/cmdline > {}\n", got.display());
    run("prestart", &[hook(&sh)], script.as_bytes()).unwrap();
    assert_eq!(read(&got), format!("{}\0", sh.display()));
}

#[test]
fn failure_reports_status_and_output() {
    let tmp = TempDir::new();
    let path = tmp.script("h", "echo oops >&2\necho more\nexit 3");
    let err = run("prestart", &[hook(&path)], b"{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "prestart hook 0 ({}): exit status 3: oops\nmore",
            path.display()
        )
    );
    let quiet = tmp.script("q", "exit 1");
    let err = run("poststop", &[hook(&quiet)], b"{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("poststop hook 0 ({}): exit status 1", quiet.display())
    );
}

#[test]
fn killed_hook_reports_signal() {
    let tmp = TempDir::new();
    let path = tmp.script("h", "kill -TERM $$");
    let err = run("prestart", &[hook(&path)], b"").unwrap_err();
    assert!(
        matches!(&err, HookError::Failed { status, .. } if status == "killed by signal 15"),
        "{err}"
    );
}

#[test]
fn long_output_is_truncated() {
    let tmp = TempDir::new();
    let path = tmp.script(
        "h",
        "i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done; exit 1",
    );
    let HookError::Failed { output, .. } = run("prestart", &[hook(&path)], b"").unwrap_err() else {
        panic!("not Failed")
    };
    assert!(output.len() < MAX_OUTPUT + 100, "{}", output.len());
    assert!(output.ends_with("... (truncated)"));
}

#[test]
fn timeout_kills_the_hook_and_its_children() {
    let tmp = TempDir::new();
    let (me, bg) = (tmp.path("pid"), tmp.path("bg"));
    let body = format!(
        "sleep 100 &\necho $! > {}\necho $$ > {}\nexec sleep 100",
        bg.display(),
        me.display()
    );
    let mut h = hook(&tmp.script("h", &body));
    h.set_timeout(Some(1));
    let start = Instant::now();
    let err = run("prestart", &[h], b"").unwrap_err();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "returned before the timeout: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "timeout not enforced: {took:?}"
    );
    assert!(
        matches!(&err, HookError::Failed { status, .. } if status == "timed out after 1s"),
        "{err}"
    );
    assert!(dead(pid_in(&me)), "timed-out hook still runs");
    // The orphaned background sleep is reaped by init, give it a moment.
    let bg_pid = pid_in(&bg);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dead(bg_pid) {
        assert!(
            Instant::now() < deadline,
            "hook's background child survived the timeout"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn background_child_holding_output_does_not_hang() {
    let tmp = TempDir::new();
    let bg = tmp.path("bg");
    let h = hook(&tmp.script(
        "h",
        &format!("sleep 30 &\necho $! > {}\nexit 0", bg.display()),
    ));
    let start = Instant::now();
    run("poststart", &[h], b"").unwrap();
    let took = start.elapsed();
    let _ = nix::sys::signal::kill(Pid::from_raw(pid_in(&bg)), Signal::SIGKILL);
    assert!(
        took < Duration::from_secs(10),
        "waited for the background child: {took:?}"
    );
}

#[test]
fn zero_or_negative_timeout_is_rejected_before_running() {
    let tmp = TempDir::new();
    let ran = tmp.path("ran");
    let mut h = hook(&tmp.script("h", &format!("touch {}", ran.display())));
    for t in [0, -5] {
        h.set_timeout(Some(t));
        let err = run("prestart", std::slice::from_ref(&h), b"").unwrap_err();
        assert!(matches!(err, HookError::Spawn { .. }));
        assert!(
            err.to_string()
                .ends_with(&format!("timeout must be greater than zero, got {t}")),
            "{err}"
        );
    }
    assert!(!ran.exists());
}

#[test]
fn missing_or_relative_path_is_a_spawn_error() {
    let err = run("prestart", &[hook(Path::new("/nonexistent/hook"))], b"").unwrap_err();
    assert!(matches!(err, HookError::Spawn { index: 0, .. }));
    assert_eq!(
        err.to_string(),
        "prestart hook 0 (/nonexistent/hook): No such file or directory (ENOENT)"
    );
    let err = run("prestart", &[hook(Path::new("sh"))], b"").unwrap_err();
    assert_eq!(
        err.to_string(),
        "prestart hook 0 (sh): hook path must be absolute"
    );
}

#[test]
fn env_entry_without_equals_is_rejected() {
    let mut h = hook(Path::new("/bin/true"));
    h.set_env(Some(vec!["NOEQUALS".into()]));
    let err = run("prestart", &[h], b"").unwrap_err();
    assert!(
        err.to_string()
            .ends_with("env entry \"NOEQUALS\" is not KEY=VALUE"),
        "{err}"
    );
}

#[test]
fn no_hooks_is_ok() {
    run("prestart", &[], b"{}").unwrap();
}
