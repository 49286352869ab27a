//! `runtimetest`: the in-container half of runtime-tools-tests.
//!
//! The runner copies this static binary and the bundle's config.json into the rootfs (`/rtt/`)
//! and runs it as the container process. It reads the config it was started with and checks from
//! the inside what the OCI runtime spec promises for every field present, printing one line per
//! assertion: `ok <name>` or `not ok <name>: <details>`, and a final `done` line so the runner can
//! tell a complete report from a crashed checker.
//!
//! Test-specific expectations that cannot be derived from the config alone (seccomp probes, a
//! device the cgroup must deny, a file to touch or wait for) travel as `rtt.*` annotations.

mod mounts;
mod probes;
mod process;
mod system;

use serde_json::Value;
use std::io::Write;

/// Collects assertion lines and prints them as they are made.
pub struct Report {
    out: std::io::Stdout,
}

impl Report {
    /// Records a passing (`ok == true`) or failing assertion.
    pub fn check(&mut self, name: &str, ok: bool, details: impl FnOnce() -> String) {
        let line = if ok {
            format!("ok {name}\n")
        } else {
            format!("not ok {name}: {}\n", details().replace('\n', " | "))
        };
        let mut lock = self.out.lock();
        let _ = lock.write_all(line.as_bytes());
        let _ = lock.flush();
    }

    /// Records an equality assertion with a standard message.
    pub fn eq<T: PartialEq + std::fmt::Debug>(&mut self, name: &str, got: T, want: T) {
        let ok = got == want;
        self.check(name, ok, || format!("got {got:?}, want {want:?}"));
    }
}

fn main() {
    let mut r = Report {
        out: std::io::stdout(),
    };
    let cfg = match std::fs::read_to_string("/rtt/config.json")
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str::<Value>(&s).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            r.check("checker.config", false, || {
                format!("read /rtt/config.json: {e}")
            });
            println!("done");
            std::process::exit(1);
        }
    };
    let ann = cfg["annotations"].clone();
    let ann_str = |k: &str| ann[k].as_str().map(str::to_string);
    if let Some((file, line)) = ann_str("rtt.append").and_then(|s| {
        s.split_once(':')
            .map(|(a, b)| (a.to_string(), b.to_string()))
    }) {
        let res = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&file)
            .and_then(|mut f| writeln!(f, "{line}"));
        r.check("checker.append", res.is_ok(), || format!("{file}: {res:?}"));
    }
    if let Some(p) = ann_str("rtt.touch") {
        let res = std::fs::write(&p, b"started\n");
        r.check("checker.touch", res.is_ok(), || format!("{p}: {res:?}"));
    }
    if ann_str("rtt.skip-checks").is_none() {
        process::check(&mut r, &cfg);
        system::check(&mut r, &cfg);
        mounts::check(&mut r, &cfg);
    }
    probes::check(&mut r, &cfg);
    println!("done");
    if let Some(p) = ann_str("rtt.wait") {
        // Keep running until the host creates the file (lifecycle tests watch "running").
        for _ in 0..3000 {
            if std::path::Path::new(&p).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// Returns the last OS error number.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
