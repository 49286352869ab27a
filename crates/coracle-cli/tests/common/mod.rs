//! Shared helpers of the integration tests: busybox bundles from the distribution's
//! busybox-static, and a runtime handle with its own `--root` that cleans up after
//! itself (every container killed and deleted, the root removed).
#![allow(dead_code)]

pub mod console;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use serde_json::{json, Value};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique name for this test process.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The busybox binary, installing busybox-static if it is missing.
pub fn busybox() -> &'static Path {
    static BB: OnceLock<PathBuf> = OnceLock::new();
    BB.get_or_init(|| {
        let p = PathBuf::from("/bin/busybox");
        if !is_static(&p) {
            let st = Command::new("apt-get")
                .args(["install", "-y", "-q", "busybox-static"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .expect("run apt-get");
            assert!(st.success(), "apt-get install busybox-static failed");
        }
        assert!(is_static(&p), "/bin/busybox is not the static busybox");
        p
    })
}

fn is_static(p: &Path) -> bool {
    Command::new("file")
        .arg(p)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("statically linked"))
        .unwrap_or(
            // Without `file`, trust the package.
            Path::new("/usr/share/doc/busybox-static").exists() && p.exists(),
        )
}

/// A template rootfs, copied into each bundle. Shared by every test process: built
/// under a unique name, then renamed into place (the first rename wins; later
/// processes reuse it), so test runs leave one directory, not one per process.
fn template() -> &'static Path {
    static T: OnceLock<PathBuf> = OnceLock::new();
    T.get_or_init(|| {
        let shared = std::env::temp_dir().join("coracle-test-rootfs");
        if shared.join("bin/busybox").exists() {
            return shared;
        }
        let dir = build_template();
        if std::fs::rename(&dir, &shared).is_err() {
            // Another process got there first.
            let _ = std::fs::remove_dir_all(&dir);
        }
        shared
    })
}

fn build_template() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("coracle-rootfs-template"));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(busybox(), bin.join("busybox")).unwrap();
    let list = Command::new(busybox()).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    for d in [
        "proc",
        "sys",
        "dev",
        "etc",
        "tmp",
        "root",
        "home/user",
        "var",
    ] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();
    dir
}

/// A bundle directory with a busybox rootfs and an editable config.
pub struct Bundle {
    /// The bundle directory.
    pub dir: PathBuf,
    /// config.json, written by `write`.
    pub config: Value,
}

impl Bundle {
    /// A bundle whose process runs `sh -c script`.
    pub fn sh(script: &str) -> Bundle {
        Bundle::new(&["sh", "-c", script])
    }

    /// A bundle whose process runs `args`.
    pub fn new(args: &[&str]) -> Bundle {
        let dir = std::env::temp_dir().join(unique("coracle-bundle"));
        std::fs::create_dir_all(&dir).unwrap();
        let st = Command::new("cp")
            .arg("-a")
            .arg(template())
            .arg(dir.join("rootfs"))
            .status()
            .unwrap();
        assert!(st.success());
        let config = base_config(args);
        let b = Bundle { dir, config };
        b.write();
        b
    }

    /// Write config.json.
    pub fn write(&self) {
        std::fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// Edit the config and write it.
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(&mut self.config);
        self.write();
        self
    }

    /// The rootfs.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The config `runc spec` writes, minus what this build refuses (terminal, cgroup
/// resources, ambient caps outside inheritable for non-root users), with the given args.
pub fn base_config(args: &[&str]) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "coracle-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// The coracle binary.
pub fn coracle_bin() -> &'static str {
    env!("CARGO_BIN_EXE_coracle")
}

/// A runtime with its own state root; Drop kills and deletes whatever is left.
pub struct Runtime {
    /// The `--root` directory.
    pub root: PathBuf,
}

impl Runtime {
    /// A fresh root under /run.
    pub fn new() -> Runtime {
        Runtime {
            root: PathBuf::from("/run").join(unique("coracle-test")),
        }
    }

    /// `coracle --root ROOT args...`, stdin /dev/null, stdout and stderr captured
    /// through files: a created container's init inherits them, and a pipe would keep
    /// the reader waiting until the container exits.
    pub fn cmd(&self, args: &[&str]) -> Output {
        let base = std::env::temp_dir().join(unique("coracle-out"));
        let (out_path, err_path) = (base.with_extension("out"), base.with_extension("err"));
        let status = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .expect("run coracle");
        let out = Output {
            status,
            stdout: std::fs::read(&out_path).unwrap(),
            stderr: std::fs::read(&err_path).unwrap(),
        };
        let _ = std::fs::remove_file(out_path);
        let _ = std::fs::remove_file(err_path);
        out
    }

    /// The command, for callers who want to set stdio themselves.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(coracle_bin());
        c.arg("--root").arg(&self.root).args(args);
        c
    }

    /// `run --bundle B ID`: (exit code, stdout, stderr).
    pub fn run(&self, bundle: &Bundle, id: &str) -> (i32, String, String) {
        let out = self.cmd(&["run", "--bundle", bundle.dir.to_str().unwrap(), id]);
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }

    /// Run a bundle to completion and return its stdout, asserting exit 0.
    pub fn output_of(&self, bundle: &Bundle) -> String {
        let id = unique("c");
        let (code, out, err) = self.run(bundle, &id);
        assert_eq!(code, 0, "container failed: stdout={out} stderr={err}");
        out
    }

    /// `create --bundle B ID`, asserting success.
    pub fn create(&self, bundle: &Bundle, id: &str) {
        let out = self.cmd(&["create", "--bundle", bundle.dir.to_str().unwrap(), id]);
        assert!(out.status.success(), "create failed: {}", text(&out.stderr));
    }

    /// `state ID` parsed.
    pub fn state(&self, id: &str) -> Value {
        let out = self.cmd(&["state", id]);
        assert!(out.status.success(), "state failed: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("state JSON")
    }

    /// The status field of `state ID`.
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// Ids in the root.
    pub fn ids(&self) -> Vec<String> {
        match std::fs::read_dir(&self.root) {
            Ok(d) => d
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => vec![],
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for id in self.ids() {
            let _ = self.cmd(&["kill", &id, "KILL"]);
            let _ = self.cmd(&["delete", "--force", &id]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Write an executable file from a child `sh`, so no write fd to it ever exists in this
/// multi-threaded test process, where another test's fork could inherit it and make
/// executing the file fail with ETXTBSY.
pub fn write_executable(path: &Path, content: &str) {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg("cat > \"$0\" && chmod 755 \"$0\"")
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, content.as_bytes()).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success(), "write {}", path.display());
}

/// Lossy UTF-8.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Host mount count (to prove nothing leaked).
pub fn host_mounts() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count()
}

/// Host pids whose command line mentions `needle`.
pub fn processes_with(needle: &str) -> Vec<i32> {
    let mut v = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(needle) {
                v.push(pid);
            }
        }
    }
    v
}
