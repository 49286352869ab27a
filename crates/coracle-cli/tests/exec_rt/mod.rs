//! The runtime handle of the exec tests: one binary (coracle or runc) with its own
//! `--root`, so every check runs against both.
#![allow(dead_code)]

mod terminal;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{coracle_bin, text, unique, Bundle};

/// A runtime binary with its own `--root`; Drop kills and deletes what is left.
pub struct Rt {
    pub bin: &'static str,
    pub root: PathBuf,
}

impl Rt {
    pub fn coracle() -> Rt {
        Rt::with(coracle_bin())
    }

    pub fn runc() -> Rt {
        Rt::with("/usr/sbin/runc")
    }

    pub fn with(bin: &'static str) -> Rt {
        Rt {
            bin,
            root: PathBuf::from("/run").join(unique("coracle-exec-test")),
        }
    }

    pub fn is_coracle(&self) -> bool {
        self.bin == coracle_bin()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.bin);
        c.arg("--root").arg(&self.root).args(args);
        c
    }

    /// Run with stdin /dev/null and stdout/stderr through files (a container process
    /// may keep them open long after the command returned).
    pub fn cmd(&self, args: &[&str]) -> Output {
        output_of(self.command(args))
    }

    /// `run -d` the bundle under a new id.
    pub fn start(&self, bundle: &Bundle) -> String {
        let id = unique("ex");
        let out = self.cmd(&["run", "-d", "--bundle", bundle.dir.to_str().unwrap(), &id]);
        assert!(
            out.status.success(),
            "{} run -d: {}",
            self.bin,
            text(&out.stderr)
        );
        id
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.cmd(&["state", id]);
        assert!(out.status.success(), "state: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn init_pid(&self, id: &str) -> i32 {
        self.state(id)["pid"].as_i64().unwrap() as i32
    }

    /// `exec FLAGS... ID COMMAND...`: (exit code, stdout, stderr).
    pub fn exec(&self, flags: &[&str], id: &str, command: &[&str]) -> (i32, String, String) {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.push(id);
        args.extend_from_slice(command);
        let out = self.cmd(&args);
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }

    /// `exec` that must succeed; its stdout.
    pub fn exec_ok(&self, flags: &[&str], id: &str, command: &[&str]) -> String {
        let (code, out, err) = self.exec(flags, id, command);
        assert_eq!(code, 0, "{} exec {flags:?} {command:?}: {err}", self.bin);
        out
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        for e in std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = e.file_name().to_string_lossy().into_owned();
            let _ = self.cmd(&["kill", &id, "KILL"]);
            let _ = self.cmd(&["delete", "--force", &id]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub fn output_of(mut c: Command) -> Output {
    let base = std::env::temp_dir().join(unique("coracle-exec-out"));
    let (out_path, err_path) = (base.with_extension("out"), base.with_extension("err"));
    let status = c
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .expect("run the runtime");
    let out = Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    out
}

/// Every check against coracle, then against runc.
pub fn both(check: impl Fn(&Rt)) {
    check(&Rt::coracle());
    check(&Rt::runc());
}

/// A container whose init sleeps.
pub fn sleeper() -> Bundle {
    Bundle::new(&["sleep", "1000"])
}

pub fn status_field(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} missing in {status}"))
        .trim()
        .to_string()
}

pub fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
