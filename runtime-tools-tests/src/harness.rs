//! The generic per-test harness: bundles, the runtime's command line, container guards and the
//! assertion recorder. Nothing here knows which runtime it drives.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Outcome of one assertion.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The assertion held.
    Pass,
    /// The assertion failed, with details.
    Fail(String),
    /// The host lacks a feature the assertion needs.
    Skip(String),
}

/// One named assertion.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// Name, unique within its test.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
}

/// What every test shares: the runtime, the temp dir and the checker.
pub struct Suite {
    /// The runtime binary under test.
    pub runtime: PathBuf,
    /// The run's temp dir; `root/` inside is the runtime's `--root`.
    pub tmp: PathBuf,
    /// The static checker binary.
    pub checker: PathBuf,
    /// Prefix for container ids and the cgroup parent.
    pub run_id: String,
    counter: AtomicUsize,
}

impl Suite {
    /// Creates the suite state.
    pub fn new(runtime: PathBuf, tmp: PathBuf, checker: PathBuf) -> Suite {
        let run_id = format!("rtt{}", std::process::id());
        Suite {
            runtime,
            tmp,
            checker,
            run_id,
            counter: AtomicUsize::new(0),
        }
    }

    /// The `--root` state directory.
    pub fn root(&self) -> PathBuf {
        self.tmp.join("root")
    }

    /// The cgroup parent (relative to each hierarchy root) holding every container of this run.
    pub fn cgroup_parent(&self) -> String {
        format!("/{}", self.run_id)
    }

    /// Runs the runtime with `--root` and the given arguments, with a timeout.
    pub fn runtime_cmd(&self, args: &[&str]) -> Cmd {
        let mut c = Command::new(&self.runtime);
        c.arg("--root").arg(self.root()).args(args);
        c.stdin(Stdio::null());
        run(c, Duration::from_secs(10))
    }
}

/// Result of a finished command.
#[derive(Debug)]
pub struct Cmd {
    /// Exit code (None if killed by a signal or timed out).
    pub code: Option<i32>,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

impl Cmd {
    /// True if the command exited 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
    /// A one-line summary for failure details.
    pub fn describe(&self) -> String {
        format!("exit {:?}, stderr: {}", self.code, self.stderr.trim())
    }
}

/// Runs a command with captured output and a timeout (the process is killed on expiry).
pub fn run(mut c: Command, timeout: Duration) -> Cmd {
    let dir = std::env::temp_dir();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let (o, e) = (
        dir.join(format!("rtt-out-{}-{n}", std::process::id())),
        dir.join(format!("rtt-err-{}-{n}", std::process::id())),
    );
    // Files, not pipes: a detached container may inherit them and keep a pipe open forever.
    let (Ok(fo), Ok(fe)) = (std::fs::File::create(&o), std::fs::File::create(&e)) else {
        return Cmd {
            code: None,
            stdout: String::new(),
            stderr: "cannot create output files".into(),
        };
    };
    c.stdout(fo).stderr(fe);
    let code = match c.spawn() {
        Ok(mut child) => {
            let start = Instant::now();
            loop {
                match child.try_wait() {
                    Ok(Some(st)) => break st.code(),
                    Ok(None) if start.elapsed() > timeout => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break None;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                    Err(_) => break None,
                }
            }
        }
        Err(err) => {
            let _ = std::fs::remove_file(&o);
            let _ = std::fs::remove_file(&e);
            return Cmd {
                code: None,
                stdout: String::new(),
                stderr: format!("spawn: {err}"),
            };
        }
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let res = Cmd {
        code,
        stdout: read(&o),
        stderr: read(&e),
    };
    let _ = std::fs::remove_file(&o);
    let _ = std::fs::remove_file(&e);
    res
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The per-test context: records assertions and hands out bundles and ids.
pub struct T<'a> {
    /// The shared suite.
    pub suite: &'a Suite,
    /// Recorded assertions in order.
    pub results: Vec<Assertion>,
    /// The test's name, used in ids.
    pub name: String,
}

impl<'a> T<'a> {
    /// Creates a test context.
    pub fn new(suite: &'a Suite, name: &str) -> T<'a> {
        T {
            suite,
            results: Vec::new(),
            name: name.to_string(),
        }
    }

    /// Records an assertion.
    pub fn check(&mut self, name: &str, ok: bool, details: impl FnOnce() -> String) -> bool {
        let outcome = if ok {
            Outcome::Pass
        } else {
            Outcome::Fail(details())
        };
        self.results.push(Assertion {
            name: name.to_string(),
            outcome,
        });
        ok
    }

    /// Records an equality assertion.
    pub fn eq<V: PartialEq + std::fmt::Debug>(&mut self, name: &str, got: V, want: V) -> bool {
        let ok = got == want;
        self.check(name, ok, || format!("got {got:?}, want {want:?}"))
    }

    /// Records a skip: the host lacks `why`.
    pub fn skip(&mut self, name: &str, why: &str) {
        self.results.push(Assertion {
            name: name.to_string(),
            outcome: Outcome::Skip(why.to_string()),
        });
    }

    /// A fresh unique container id.
    pub fn id(&self) -> String {
        let n = self.suite.counter.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}-{}-{n}",
            self.suite.run_id,
            self.name.replace(['/', '.', ' '], "-")
        )
    }

    /// A fresh bundle with a busybox + checker rootfs and the default config.
    pub fn bundle(&self) -> Bundle {
        let id = self.id();
        let dir = self.suite.tmp.join("bundles").join(&id);
        let rootfs = dir.join("rootfs");
        for d in [
            "bin", "proc", "sys", "dev", "tmp", "etc", "rtt", "mnt", "root",
        ] {
            std::fs::create_dir_all(rootfs.join(d)).expect("create rootfs dirs");
        }
        link_or_copy(Path::new("/bin/busybox"), &rootfs.join("bin/busybox"));
        link_or_copy(&self.suite.checker, &rootfs.join("rtt/runtimetest"));
        for app in [
            "sh", "cat", "echo", "sleep", "touch", "env", "ls", "mkdir", "id", "true", "false",
        ] {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(app));
        }
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nrtt:x:1000:1000::/tmp:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nrtt:x:1000:\n").unwrap();
        let cgroups_path = format!("{}/{}", self.suite.cgroup_parent(), id);
        let config = base_config();
        Bundle {
            id,
            dir,
            config,
            cgroups_path,
        }
    }
}

fn link_or_copy(from: &Path, to: &Path) {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).expect("copy into rootfs");
    }
}

/// The default config, close to `runc spec` (without terminal, the cgroup mount and
/// cgroup settings: `linux.resources` and `cgroupsPath` are optional in the spec, and
/// only the groups that check cgroups ask for them, through `Bundle::with_cgroup`).
pub fn base_config() -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/rtt/runtimetest"],
            "env": ["PATH=/bin:/usr/bin", "RTT=1"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "rtt",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// A bundle directory and the config that will be written into it.
pub struct Bundle {
    /// The container id reserved for this bundle.
    pub id: String,
    /// The bundle directory.
    pub dir: PathBuf,
    /// The config, editable until `write`.
    pub config: Value,
    /// The cgroupsPath `with_cgroup` sets (unique per bundle, under the suite's parent).
    cgroups_path: String,
}

impl Bundle {
    /// Place the container in its own cgroup (`linux.cgroupsPath`) with runc's default
    /// device rule (deny all, then the runtime's defaults).
    pub fn with_cgroup(&mut self) {
        self.config["linux"]["cgroupsPath"] = Value::from(self.cgroups_path.clone());
        self.config["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}]);
    }

    /// The rootfs directory.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Sets an `rtt.*` annotation for the checker.
    pub fn annotate(&mut self, k: &str, v: &str) {
        if !self.config["annotations"].is_object() {
            self.config["annotations"] = json!({});
        }
        self.config["annotations"][k] = Value::String(v.to_string());
    }

    /// Writes config.json into the bundle and a copy into the rootfs for the checker.
    pub fn write(&self) {
        let s = serde_json::to_string_pretty(&self.config).unwrap();
        std::fs::write(self.dir.join("config.json"), &s).expect("write config.json");
        std::fs::write(self.rootfs().join("rtt/config.json"), &s).expect("write rootfs config");
    }

    /// Writes the config and returns a guard for a container of this bundle (not yet created).
    pub fn container<'s>(&self, suite: &'s Suite) -> Container<'s> {
        self.write();
        Container {
            suite,
            id: self.id.clone(),
            bundle: self.dir.clone(),
            out: self.dir.join("container.out"),
        }
    }
}

/// A container of the runtime under test; Drop kills and force-deletes it.
pub struct Container<'s> {
    suite: &'s Suite,
    /// The container id.
    pub id: String,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Where the container's stdout and stderr go.
    pub out: PathBuf,
}

impl Container<'_> {
    /// `create --bundle B [extra] ID` with the container's stdio going to `self.out`.
    pub fn create_with(&self, extra: &[&str]) -> Cmd {
        let f = std::fs::File::create(&self.out).expect("create container.out");
        let mut c = Command::new(&self.suite.runtime);
        c.arg("--root")
            .arg(self.suite.root())
            .arg("create")
            .arg("--bundle")
            .arg(&self.bundle);
        c.args(extra).arg(&self.id).stdin(Stdio::null());
        // The container inherits these: stdout and stderr both land in container.out, and the
        // runtime's own messages too; they are told apart by the checker's line format.
        let f2 = f.try_clone().expect("dup");
        run_with_stdio(c, f, f2, Duration::from_secs(10))
    }

    /// `create` with no extra flags.
    pub fn create(&self) -> Cmd {
        self.create_with(&[])
    }

    /// `start ID`.
    pub fn start(&self) -> Cmd {
        self.suite.runtime_cmd(&["start", &self.id])
    }

    /// `kill ID SIG`.
    pub fn kill(&self, sig: &str) -> Cmd {
        self.suite.runtime_cmd(&["kill", &self.id, sig])
    }

    /// `delete ID` (with `--force` if asked).
    pub fn delete(&self, force: bool) -> Cmd {
        if force {
            self.suite.runtime_cmd(&["delete", "--force", &self.id])
        } else {
            self.suite.runtime_cmd(&["delete", &self.id])
        }
    }

    /// `state ID` parsed as JSON.
    pub fn state(&self) -> Result<Value, String> {
        let c = self.suite.runtime_cmd(&["state", &self.id]);
        if !c.ok() {
            return Err(c.describe());
        }
        serde_json::from_str(&c.stdout).map_err(|e| format!("state JSON: {e}: {}", c.stdout))
    }

    /// The `status` field of the state, or the error.
    pub fn status(&self) -> String {
        match self.state() {
            Ok(v) => v["status"].as_str().unwrap_or("<missing>").to_string(),
            Err(e) => format!("<state failed: {e}>"),
        }
    }

    /// The container pid from the state.
    pub fn pid(&self) -> Option<i32> {
        self.state()
            .ok()
            .and_then(|v| v["pid"].as_i64())
            .map(|p| p as i32)
    }

    /// Polls until the status is `stopped` (true) or the timeout passes (false).
    pub fn wait_stopped(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.status() == "stopped" {
                return true;
            }
            std::thread::sleep(Duration::from_millis(15));
        }
        false
    }

    /// What the container wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self.kill("KILL");
        let _ = self.delete(true);
    }
}

/// Like `run` but with the given stdout/stderr files.
fn run_with_stdio(
    mut c: Command,
    out: std::fs::File,
    err: std::fs::File,
    timeout: Duration,
) -> Cmd {
    c.stdout(out).stderr(err);
    let start = Instant::now();
    let code = match c.spawn() {
        Ok(mut child) => loop {
            match child.try_wait() {
                Ok(Some(st)) => break st.code(),
                Ok(None) if start.elapsed() > timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(_) => break None,
            }
        },
        Err(e) => {
            return Cmd {
                code: None,
                stdout: String::new(),
                stderr: format!("spawn: {e}"),
            }
        }
    };
    Cmd {
        code,
        stdout: String::new(),
        stderr: String::new(),
    }
}

/// One checker line: the assertion name and `Ok` or `Err(details)`.
pub type CheckerLine = (String, Result<(), String>);

/// The lines the checker printed, and whether its closing `done` line came.
pub fn parse_checker(out: &str) -> (Vec<CheckerLine>, bool) {
    let mut v = Vec::new();
    let mut done = false;
    for l in out.lines() {
        if l == "done" {
            done = true;
        } else if let Some(n) = l.strip_prefix("ok ") {
            v.push((n.to_string(), Ok(())));
        } else if let Some(rest) = l.strip_prefix("not ok ") {
            let (n, d) = rest.split_once(": ").unwrap_or((rest, ""));
            v.push((n.to_string(), Err(d.to_string())));
        }
    }
    (v, done)
}

impl T<'_> {
    /// Creates and starts a container of `b`, waits for it to exit and records every checker
    /// line as an assertion. Returns the container's full output.
    pub fn run_checker(&mut self, b: &Bundle) -> String {
        let c = b.container(self.suite);
        let cr = c.create();
        if !self.check("create", cr.ok(), || {
            format!("{}; output: {}", cr.describe(), c.output().trim())
        }) {
            return c.output();
        }
        let st = c.start();
        if !self.check("start", st.ok(), || st.describe()) {
            return c.output();
        }
        let stopped = c.wait_stopped(Duration::from_secs(15));
        self.check("exits", stopped, || format!("status {}", c.status()));
        self.record_checker(&c.output());
        c.output()
    }

    /// Records the checker's lines from `out`.
    pub fn record_checker(&mut self, out: &str) {
        let (lines, done) = parse_checker(out);
        for (n, r) in lines {
            match r {
                Ok(()) => self.check(&n, true, String::new),
                Err(d) => self.check(&n, false, || d),
            };
        }
        self.check("checker.completed", done, || {
            format!("checker output: {}", out.trim())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checker_lines_and_ignores_runtime_noise() {
        let out =
            "ok a.b\nnot ok c: got 1, want 2\ntime=\"x\" level=warning msg=\"y\"\nnot ok d\ndone\n";
        let (lines, done) = parse_checker(out);
        assert!(done);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], ("a.b".to_string(), Ok(())));
        assert_eq!(
            lines[1],
            ("c".to_string(), Err("got 1, want 2".to_string()))
        );
        assert_eq!(lines[2], ("d".to_string(), Err(String::new())));
    }

    #[test]
    fn missing_done_is_reported() {
        let (_, done) = parse_checker("ok a\n");
        assert!(!done);
    }
}
