//! What `create` checks and prepares in the parent besides the spec itself: features
//! this build cannot honour yet (refused, never silently skipped), the program's
//! environment, the pid file.

use std::io::Write;
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::container::{CreateOptions, Error};

/// Refuse what this build cannot honour (fail closed): each error names the field.
pub fn check(spec: &Spec, opts: &CreateOptions) -> Result<(), Error> {
    let no = |field: &str, what: &str| {
        Err(Error::Unsupported(format!(
            "{field}: {what} is not supported yet"
        )))
    };
    check_console(spec, opts)?;
    if let Some(p) = spec.process() {
        if p.io_priority().is_some() {
            return no("process.ioPriority", "io priority");
        }
        if p.scheduler().is_some() {
            return no("process.scheduler", "scheduler policy");
        }
        if p.exec_cpu_affinity().is_some() {
            return no("process.execCPUAffinity", "exec cpu affinity");
        }
        // Checked here, on the host's /sys, before anything exists.
        crate::security::check_labels(p).map_err(|e| Error::Unsupported(e.to_string()))?;
    }
    let Some(linux) = spec.linux() else {
        return Err(Error::Unsupported(
            "linux: missing (a mount namespace is required)".into(),
        ));
    };
    if linux.intel_rdt().is_some() {
        return no("linux.intelRdt", "intel RDT");
    }
    if linux.personality().is_some() {
        return no("linux.personality", "personality");
    }
    if linux.memory_policy().is_some() {
        return no("linux.memoryPolicy", "memory policy");
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return no("linux.netDevices", "moving network devices");
    }
    let mount_ns = linux
        .namespaces()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Mount);
    match mount_ns {
        None => Err(Error::Unsupported(
            "linux.namespaces: a new mount namespace is required (the rootfs cannot be set up on the host)".into(),
        )),
        Some(ns) if ns.path().is_some() => no("linux.namespaces (mount with path)", "joining a mount namespace"),
        Some(_) => Ok(()),
    }
}

/// A terminal needs somewhere to send its master, and a console socket needs a
/// terminal: runc's checkTerminal for a runtime that detaches (create, run -d).
fn check_console(spec: &Spec, opts: &CreateOptions) -> Result<(), Error> {
    let terminal = spec
        .process()
        .as_ref()
        .is_some_and(|p| p.terminal() == Some(true));
    let socket = opts.console_socket.is_some() || opts.console_stream.is_some();
    match (terminal, socket) {
        (true, false) => Err(Error::Unsupported(
            "process.terminal: cannot allocate tty if coracle will detach without setting console socket (--console-socket)".into(),
        )),
        (false, true) => Err(Error::Unsupported(
            "--console-socket: cannot use console socket if coracle will not detach or allocate tty (process.terminal is false)".into(),
        )),
        _ => Ok(()),
    }
}

/// The program's environment and the number of socket-activation fds passed on:
/// when our caller handed us LISTEN_FDS for our own pid, the container gets them as
/// fds 3.. with LISTEN_PID=1 (its pid inside), as runc does.
pub fn environment(spec: &Spec) -> (Vec<String>, u32) {
    let mut env: Vec<String> = spec
        .process()
        .as_ref()
        .and_then(|p| p.env().clone())
        .unwrap_or_default();
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let n = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|_| ours)
        .unwrap_or(0);
    if n > 0 {
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".into());
    }
    (env, n)
}

/// Write the pid file atomically (temp file in the same directory, then rename).
pub fn write_pid_file(path: &Path, pid: i32) -> std::io::Result<()> {
    let path = std::path::absolute(path)?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    let tmp = dir.join(format!(
        ".{}.coracle-tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    f.write_all(pid.to_string().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> Spec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let base = serde_json::json!({"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "mount"}]}});
        assert!(check(&spec(base.clone()), &CreateOptions::default()).is_ok());
        for (patch, field) in [
            (
                serde_json::json!({"linux": {"namespaces": [{"type": "pid"}]}}),
                "linux.namespaces",
            ),
            (
                serde_json::json!({"linux": {"namespaces": [{"type": "mount", "path": "/proc/1/ns/mnt"}]}}),
                "linux.namespaces",
            ),
        ] {
            let mut v = base.clone();
            v["linux"] = patch["linux"].clone();
            let err = check(&spec(v), &CreateOptions::default())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(field), "{err}");
        }
    }

    #[test]
    fn terminal_and_console_socket_go_together() {
        let with = |terminal: bool| {
            spec(serde_json::json!({"ociVersion": "1.0.2",
                "process": {"terminal": terminal, "args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
                "linux": {"namespaces": [{"type": "mount"}]}}))
        };
        let socket = CreateOptions {
            console_socket: Some("/run/x.sock".into()),
            ..Default::default()
        };
        let err = check(&with(true), &CreateOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("process.terminal: cannot allocate tty"),
            "{err}"
        );
        let err = check(&with(false), &socket).unwrap_err().to_string();
        assert!(
            err.starts_with("--console-socket: cannot use console socket"),
            "{err}"
        );
        check(&with(true), &socket).unwrap();
        check(&with(false), &CreateOptions::default()).unwrap();
    }

    #[test]
    fn pid_file_is_written_whole() {
        let dir = std::env::temp_dir().join(format!("coracle-pidfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("pid");
        write_pid_file(&p, 4242).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "4242");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
