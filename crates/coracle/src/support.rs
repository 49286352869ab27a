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
    if let Some(p) = spec.process() {
        if p.terminal() == Some(true) {
            return no("process.terminal", "a terminal");
        }
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
    if opts.console_socket.is_some() {
        return no("--console-socket", "a console socket");
    }
    let Some(linux) = spec.linux() else {
        return Err(Error::Unsupported(
            "linux: missing (a mount namespace is required)".into(),
        ));
    };
    if linux.resources().is_some() {
        return no("linux.resources", "applying cgroup resources");
    }
    if linux.cgroups_path().is_some() {
        return no("linux.cgroupsPath", "cgroup placement");
    }
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
                serde_json::json!({"linux": {"namespaces": [{"type": "mount"}], "resources": {}}}),
                "linux.resources",
            ),
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
    fn pid_file_is_written_whole() {
        let dir = std::env::temp_dir().join(format!("coracle-pidfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("pid");
        write_pid_file(&p, 4242).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "4242");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
