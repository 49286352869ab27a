//! The command-line surface of the built `coracle` binary, where no container is
//! needed: version, help, usage errors, stubs, flags we refuse, spec, and the
//! outputs for an empty or unknown state root. Expected bytes were taken from
//! runc 1.1.5 on this machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_coracle");

/// A unique temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "coracle-cli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn coracle(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_no_panic(o: &Output) {
    let e = stderr(o);
    assert!(!e.contains("panicked"), "a panic leaked: {e}");
}

/// The JSON log lines of `path`.
fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON {l:?}: {e}")))
        .collect()
}

// ---- Independent of the library ----

#[test]
fn version_prints_runc_layout() {
    for flag in ["--version", "-v"] {
        let o = coracle(&[flag]);
        assert!(o.status.success());
        assert_eq!(stdout(&o), "coracle version 0.1.0\nspec: 1.2.0\n");
    }
}

#[test]
fn help_lists_commands_and_global_flags() {
    let o = coracle(&["--help"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for word in [
        "create",
        "start",
        "run",
        "state",
        "kill",
        "delete",
        "list",
        "spec",
        "exec",
        "--root",
        "--log",
        "--log-format",
        "--debug",
        "--systemd-cgroup",
        "--rootless",
        "--criu",
    ] {
        assert!(out.contains(word), "help lacks {word}: {out}");
    }
}

#[test]
fn unknown_subcommand_exits_1() {
    let o = coracle(&["nosuchcmd"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nosuchcmd"));
}

#[test]
fn usage_error_is_logged_to_the_json_log() {
    let dir = TempDir::new("usage");
    let log = dir.path().join("log.json");
    let log_s = log.to_str().unwrap();
    let o = coracle(&["--log", log_s, "--log-format", "json", "state"]);
    assert_eq!(o.status.code(), Some(1));
    let lines = json_lines(&log);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["level"], "error");
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn stubs_say_not_implemented() {
    for cmd in ["checkpoint", "restore"] {
        let o = coracle(&[cmd, "--some-flag", "id"]);
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        let e = stderr(&o);
        assert!(
            e.contains(&format!("coracle: {cmd} is not implemented yet")),
            "{cmd}: {e}"
        );
        assert!(e.contains("level=error"), "{cmd}: {e}");
    }
}

#[test]
fn systemd_cgroup_create_is_refused() {
    let dir = TempDir::new("systemd");
    let root = dir.path().join("root");
    let o = coracle(&[
        "--root",
        root.to_str().unwrap(),
        "--systemd-cgroup",
        "create",
        "--bundle",
        dir.path().to_str().unwrap(),
        "c1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--systemd-cgroup is not supported yet"),
        "{}",
        stderr(&o)
    );
    // Refused before anything was made.
    assert!(!root.exists());
}

#[test]
fn rootless_true_is_refused() {
    let dir = TempDir::new("rootless");
    let root = dir.path().join("root");
    let o = coracle(&[
        "--root",
        root.to_str().unwrap(),
        "--rootless",
        "true",
        "list",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("rootless mode is not supported yet"));
    let o = coracle(&["--rootless", "sometimes", "list"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn pidfd_socket_and_keep_are_refused() {
    let dir = TempDir::new("pidfd");
    let root = dir.path().join("root");
    let root = root.to_str().unwrap();
    let o = coracle(&["--root", root, "create", "--pidfd-socket", "/s", "c1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--pidfd-socket is not supported yet"));
    let o = coracle(&["--root", root, "run", "--keep", "c1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--keep is not supported yet"));
}

#[test]
fn spec_refuses_to_overwrite() {
    let dir = TempDir::new("spec-exists");
    let cfg = dir.path().join("config.json");
    std::fs::write(&cfg, "sentinel").unwrap();
    let o = coracle(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("File config.json exists. Remove it first"));
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "sentinel");
}

#[test]
fn spec_into_a_missing_dir_fails() {
    let dir = TempDir::new("spec-missing");
    let o = coracle(&["spec", "-b", dir.path().join("nope").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("(ENOENT)"), "{}", stderr(&o));
}

// ---- Need the library (Store, spec::default_spec): fail until those land ----

#[test]
fn spec_writes_valid_config() {
    let dir = TempDir::new("spec");
    let o = coracle(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["ociVersion"].is_string());
    assert!(v["process"]["args"].is_array());
    // runc writes it tab-indented, without a trailing newline.
    assert!(text.contains("\n\t\""), "not tab-indented");
    assert!(text.ends_with('}'));
}

#[test]
fn spec_rootless_maps_the_caller() {
    let dir = TempDir::new("spec-rootless");
    let o = coracle(&[
        "spec",
        "--rootless",
        "--bundle",
        dir.path().to_str().unwrap(),
    ]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    let nss = v["linux"]["namespaces"].as_array().unwrap();
    assert!(nss.iter().any(|n| n["type"] == "user"));
    assert!(!nss.iter().any(|n| n["type"] == "network"));
    assert_eq!(v["linux"]["uidMappings"][0]["containerID"], 0);
    assert_eq!(v["linux"]["uidMappings"][0]["size"], 1);
    assert!(v["linux"].get("resources").is_none());
}

#[test]
fn state_of_nosuch_fails_with_json_log_line() {
    let dir = TempDir::new("state");
    let root = dir.path().join("root");
    let root = root.to_str().unwrap();
    // Log on stderr, text format.
    let o = coracle(&["--root", root, "state", "nosuch"]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("container does not exist"), "{e}");
    assert!(
        e.starts_with("time=\"") && e.contains(" level=error msg="),
        "{e}"
    );
    assert!(stdout(&o).is_empty());

    // Log to a JSON file: one line there, the plain message on stderr.
    let log = dir.path().join("log.json");
    let o = coracle(&[
        "--root",
        root,
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nosuch",
    ]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    let lines = json_lines(&log);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["level"], "error");
    assert!(lines[0]["msg"]
        .as_str()
        .unwrap()
        .contains("container does not exist"));
    let e = stderr(&o);
    assert!(
        e.contains("container does not exist") && !e.contains("level"),
        "{e}"
    );
}

#[test]
fn text_log_file_is_appended() {
    let dir = TempDir::new("textlog");
    let root = dir.path().join("root");
    let log = dir.path().join("log.txt");
    for _ in 0..2 {
        let o = coracle(&[
            "--root",
            root.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "kill",
            "nosuch",
        ]);
        assert_no_panic(&o);
        assert_eq!(o.status.code(), Some(1));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in lines {
        assert!(
            l.starts_with("time=\"") && l.contains("Z\" level=error msg=\""),
            "{l}"
        );
        assert!(l.contains("container does not exist"), "{l}");
    }
}

#[test]
fn list_on_empty_root() {
    let dir = TempDir::new("list");
    let root = dir.path().join("root");
    let root = root.to_str().unwrap();
    let o = coracle(&["--root", root, "list"]);
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
    );
    let o = coracle(&["--root", root, "list", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "null\n");
    let o = coracle(&["--root", root, "list", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn delete_of_nosuch() {
    let dir = TempDir::new("delete");
    let root = dir.path().join("root");
    let root = root.to_str().unwrap();
    let o = coracle(&["--root", root, "delete", "nosuch"]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("container does not exist"));
    // runc: --force on a missing container exits 0 silently.
    let o = coracle(&["--root", root, "delete", "--force", "nosuch"]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty() && stdout(&o).is_empty());
}

#[test]
fn features_reports_this_build_and_host() {
    let o = coracle(&["features"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ociVersionMin"], "1.0.0");
    assert_eq!(v["hooks"].as_array().unwrap().len(), 6);
    let nss: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(nss.contains(&"user") && nss.contains(&"cgroup"), "{nss:?}");
    assert_eq!(v["linux"]["cgroup"]["v2"], true);
    assert_eq!(v["linux"]["cgroup"]["systemd"], false, "no systemd driver");
    let mode = v["annotations"]["org.coracle.cgroup.mode"]
        .as_str()
        .unwrap();
    let unified = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| {
            l.split_whitespace().nth(4) == Some("/sys/fs/cgroup") && l.contains(" - cgroup2 ")
        });
    assert_eq!(mode == "v2", unified, "mode {mode}");
    // Indented by four spaces, as runc prints it.
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("{\n    \""));
}
