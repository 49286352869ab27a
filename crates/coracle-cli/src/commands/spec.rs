//! `spec`: write a default config.json into the bundle, as `runc spec` does.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use super::{io_error, CliError};
use crate::cli::SpecArgs;

/// runc's message, capital letter and all: tools and people grep for it.
const EXISTS: &str = "File config.json exists. Remove it first";

/// `spec [--bundle DIR] [--rootless]`: writes `DIR/config.json` (tab-indented, no
/// trailing newline, mode 0666 less umask, as runc) and never overwrites one.
pub fn spec(args: &SpecArgs) -> Result<i32, CliError> {
    let dir = args.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
    // runc chdirs into the bundle first; fail the same way when it is not a directory.
    let md = std::fs::metadata(&dir).map_err(|e| io_error("chdir", &dir, &e))?;
    if !md.is_dir() {
        let e = std::io::Error::from_raw_os_error(libc::ENOTDIR);
        return Err(io_error("chdir", &dir, &e));
    }
    let path = dir.join("config.json");
    if std::fs::symlink_metadata(&path).is_ok() {
        return Err(CliError::Msg(EXISTS.into()));
    }
    let mut spec = coracle::spec::default_spec();
    if args.rootless {
        to_rootless(
            &mut spec,
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
    }
    write_new(&path, &to_tab_indented(&spec))?;
    Ok(0)
}

/// `json.MarshalIndent(spec, "", "\t")`.
fn to_tab_indented(v: &Value) -> Vec<u8> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serializing a Value into a Vec cannot fail.
    let _ = v.serialize(&mut ser);
    buf
}

/// Create `path` exclusively (O_EXCL: a file that appeared meanwhile is not clobbered).
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                CliError::Msg(EXISTS.into())
            } else {
                io_error("open", path, &e)
            }
        })?;
    f.write_all(bytes).map_err(|e| io_error("write", path, &e))
}

/// runc's `specconv.ToRootless`: a user namespace mapping root to the caller, no
/// network namespace, /sys bind-mounted instead of a new sysfs, no uid=/gid= mount
/// options, no cgroup resources.
pub fn to_rootless(spec: &mut Value, euid: u32, egid: u32) {
    if let Some(linux) = spec.get_mut("linux").and_then(Value::as_object_mut) {
        let mut namespaces: Vec<Value> = linux
            .get("namespaces")
            .and_then(Value::as_array)
            .map(|nss| {
                nss.iter()
                    .filter(|ns| !matches!(ns["type"].as_str(), Some("network" | "user")))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        namespaces.push(json!({"type": "user"}));
        linux.insert("namespaces".into(), namespaces.into());
        linux.insert(
            "uidMappings".into(),
            json!([{"containerID": 0, "hostID": euid, "size": 1}]),
        );
        linux.insert(
            "gidMappings".into(),
            json!([{"containerID": 0, "hostID": egid, "size": 1}]),
        );
        linux.remove("resources");
    }
    if let Some(mounts) = spec.get_mut("mounts").and_then(Value::as_array_mut) {
        for m in mounts.iter_mut() {
            let dest = m["destination"].as_str().unwrap_or("");
            if Path::new(dest)
                .components()
                .eq(Path::new("/sys").components())
            {
                *m = json!({
                    "destination": "/sys",
                    "type": "none",
                    "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
                });
                continue;
            }
            if let Some(obj) = m.as_object_mut() {
                let kept: Vec<Value> = obj
                    .get("options")
                    .and_then(Value::as_array)
                    .map(|opts| {
                        opts.iter()
                            .filter(|o| {
                                let o = o.as_str().unwrap_or("");
                                !o.starts_with("uid=") && !o.starts_with("gid=")
                            })
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                if kept.is_empty() {
                    obj.remove("options");
                } else {
                    obj.insert("options".into(), kept.into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootless_transform_matches_runc() {
        let mut spec = json!({
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
                {"destination": "/sys/", "type": "sysfs", "source": "sysfs",
                 "options": ["nosuid", "noexec", "nodev", "ro"]},
                {"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["uid=1"]},
            ],
            "linux": {
                "resources": {"devices": [{"allow": false, "access": "rwm"}]},
                "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                               {"type": "user", "path": "/proc/1/ns/user"}, {"type": "mount"}],
            }
        });
        to_rootless(&mut spec, 1000, 100);
        assert_eq!(
            spec,
            json!({
                "mounts": [
                    {"destination": "/proc", "type": "proc", "source": "proc"},
                    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                     "options": ["nosuid", "newinstance", "ptmxmode=0666", "mode=0620"]},
                    {"destination": "/sys", "type": "none", "source": "/sys",
                     "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]},
                    {"destination": "/x", "type": "tmpfs", "source": "tmpfs"},
                ],
                "linux": {
                    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "mount"},
                                   {"type": "user"}],
                    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                    "gidMappings": [{"containerID": 0, "hostID": 100, "size": 1}],
                }
            })
        );
    }

    #[test]
    fn tab_indented_without_trailing_newline() {
        let out = to_tab_indented(&json!({"a": [1]}));
        assert_eq!(out, b"{\n\t\"a\": [\n\t\t1\n\t]\n}");
    }
}
