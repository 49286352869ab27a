//! Checks of `mounts`, `linux.rootfsPropagation`, `linux.maskedPaths` and
//! `linux.readonlyPaths`, read back from /proc/self/mountinfo.

use crate::Report;
use serde_json::Value;

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone)]
pub struct MountInfo {
    /// Mount point relative to our root.
    pub point: String,
    /// Per-mount options (ro, nosuid, ...).
    pub opts: Vec<String>,
    /// Optional fields (shared:N, master:N, unbindable).
    pub tags: Vec<String>,
    /// Filesystem type.
    pub fstype: String,
    /// Super block options.
    pub sopts: Vec<String>,
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Parses /proc/self/mountinfo in order.
pub fn mountinfo() -> Vec<MountInfo> {
    let s = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    s.lines()
        .filter_map(|l| {
            let (a, b) = l.split_once(" - ")?;
            let f: Vec<&str> = a.split(' ').collect();
            let g: Vec<&str> = b.split(' ').collect();
            Some(MountInfo {
                point: unescape(f.get(4)?),
                opts: f.get(5)?.split(',').map(String::from).collect(),
                tags: f[6..].iter().map(|s| s.to_string()).collect(),
                fstype: g.first()?.to_string(),
                sopts: g
                    .get(2)
                    .unwrap_or(&"")
                    .split(',')
                    .map(String::from)
                    .collect(),
            })
        })
        .collect()
}

fn norm(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        "/".into()
    } else {
        t.to_string()
    }
}

/// Parses a tmpfs size option into bytes.
fn size_bytes(s: &str) -> Option<u64> {
    let (num, mul) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1024),
        'm' | 'M' => (&s[..s.len() - 1], 1024 * 1024),
        'g' | 'G' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mul)
}

/// Checks one option of a mount against its mountinfo entry; `None` if the option is not one we
/// can observe.
fn check_opt(opt: &str, m: &MountInfo, all: &[MountInfo]) -> Option<Result<(), String>> {
    let has = |o: &str| m.opts.iter().any(|x| x == o);
    let flag = |o: &str, want: bool| {
        if has(o) == want {
            Ok(())
        } else {
            Err(format!("mount options {:?}", m.opts))
        }
    };
    let under = |o: &str| {
        let prefix = if m.point == "/" {
            "/".to_string()
        } else {
            format!("{}/", m.point)
        };
        let bad: Vec<&str> = all
            .iter()
            .filter(|x| x.point == m.point || x.point.starts_with(&prefix))
            .filter(|x| !x.opts.iter().any(|y| y == o))
            .map(|x| x.point.as_str())
            .collect();
        if bad.is_empty() {
            Ok(())
        } else {
            Err(format!("submounts without {o}: {bad:?}"))
        }
    };
    Some(match opt {
        "ro" | "rw" | "nosuid" | "nodev" | "noexec" | "noatime" | "nodiratime" | "relatime" => {
            flag(opt, true)
        }
        "suid" => flag("nosuid", false),
        "dev" => flag("nodev", false),
        "exec" => flag("noexec", false),
        "strictatime" => flag("relatime", false).and(flag("noatime", false)),
        "rro" => under("ro"),
        "rrw" => under("rw"),
        "rnosuid" => under("nosuid"),
        "rnodev" => under("nodev"),
        "rnoexec" => under("noexec"),
        _ if m.fstype == "tmpfs" && opt.starts_with("size=") => {
            let want = size_bytes(&opt[5..]);
            let got = m
                .sopts
                .iter()
                .find_map(|s| s.strip_prefix("size="))
                .and_then(size_bytes);
            if got == want {
                Ok(())
            } else {
                Err(format!("superblock options {:?}", m.sopts))
            }
        }
        _ if m.fstype == "tmpfs" && opt.starts_with("mode=") => {
            let want = u32::from_str_radix(&opt[5..], 8).ok();
            // The kernel omits mode= when it is tmpfs's default, 1777.
            let got = match m.sopts.iter().find_map(|s| s.strip_prefix("mode=")) {
                Some(s) => u32::from_str_radix(s, 8).ok(),
                None => Some(0o1777),
            };
            if got == want {
                Ok(())
            } else {
                Err(format!("superblock options {:?}", m.sopts))
            }
        }
        _ => return None,
    })
}

/// Runs the mount checks.
pub fn check(r: &mut Report, cfg: &Value) {
    let all = mountinfo();
    let top = |p: &str| all.iter().rev().find(|m| m.point == p).cloned();
    let mounts: Vec<&Value> = cfg["mounts"].as_array().into_iter().flatten().collect();
    for (i, mnt) in mounts.iter().enumerate() {
        let dest = norm(mnt["destination"].as_str().unwrap_or(""));
        // A later mount on the same destination hides this one.
        if mounts[i + 1..]
            .iter()
            .any(|m| norm(m["destination"].as_str().unwrap_or("")) == dest)
        {
            continue;
        }
        let name = format!("mounts.{dest}");
        let Some(m) = top(&dest) else {
            r.check(&format!("{name}.mounted"), false, || {
                "no mountinfo entry".into()
            });
            continue;
        };
        let opts: Vec<&str> = mnt["options"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let bind = opts.iter().any(|o| *o == "bind" || *o == "rbind");
        let typ = mnt["type"].as_str().unwrap_or("");
        if !bind && !typ.is_empty() && typ != "bind" {
            let ok = m.fstype == typ
                || (typ == "cgroup" && (m.fstype == "tmpfs" || m.fstype == "cgroup2"));
            r.check(&format!("{name}.type"), ok, || {
                format!("fstype {}, want {typ}", m.fstype)
            });
        } else {
            r.check(&format!("{name}.mounted"), true, String::new);
        }
        for o in opts {
            if let Some(res) = check_opt(o, &m, &all) {
                r.check(&format!("{name}.option.{o}"), res.is_ok(), || {
                    res.unwrap_err()
                });
            }
        }
    }

    if let Some(prop) = cfg["linux"]["rootfsPropagation"].as_str() {
        let root = top("/");
        let tags = root.map(|m| m.tags).unwrap_or_default();
        let has = |p: &str| tags.iter().any(|t| t.starts_with(p));
        let ok = match prop.trim_start_matches('r') {
            "shared" => has("shared:"),
            // A slave of a mount that was private has no master: "slave" promises only that
            // nothing propagates out of the container.
            "slave" => !has("shared:"),
            "private" => !has("shared:") && !has("master:"),
            "unbindable" => has("unbindable"),
            _ => false,
        };
        r.check(&format!("linux.rootfsPropagation.{prop}"), ok, || {
            format!("root mount tags {tags:?}")
        });
    }

    for p in cfg["linux"]["maskedPaths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let Ok(md) = std::fs::metadata(p) else {
            continue;
        };
        let name = format!("linux.maskedPaths.{p}");
        if md.is_dir() {
            let n = std::fs::read_dir(p)
                .map(|d| d.count())
                .unwrap_or(usize::MAX);
            r.check(&format!("{name}.empty-dir"), n == 0, || {
                format!("{n} entries visible")
            });
        } else {
            let got = std::fs::read(p).map(|b| b.len());
            r.check(&format!("{name}.reads-empty"), matches!(got, Ok(0)), || {
                format!("read: {got:?}")
            });
        }
    }
    for p in cfg["linux"]["readonlyPaths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let Ok(md) = std::fs::metadata(p) else {
            continue;
        };
        let name = format!("linux.readonlyPaths.{p}");
        let m = top(&norm(p));
        let ro = m.as_ref().is_some_and(|m| m.opts.iter().any(|o| o == "ro"));
        r.check(&format!("{name}.mounted-ro"), ro, || {
            format!("mountinfo {m:?}")
        });
        // Opening an existing file for writing must fail on the read-only mount (creating a
        // new name in procfs fails with ENOENT before the read-only check).
        let Some(file) = first_file_or_self(p, &md) else {
            continue;
        };
        let res = std::fs::OpenOptions::new().write(true).open(&file);
        let e = res.err().and_then(|e| e.raw_os_error());
        r.eq(&format!("{name}.write-fails-erofs"), e, Some(libc::EROFS));
    }
}

fn first_file_or_self(p: &str, md: &std::fs::Metadata) -> Option<std::path::PathBuf> {
    if md.is_dir() {
        first_file(std::path::Path::new(p), 2)
    } else {
        writable_by_me(md).then(|| p.into())
    }
}

/// Whether our own permissions let us write this regular file (so a write failure can only be
/// the read-only mount, not plain EACCES).
fn writable_by_me(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    m.is_file() && (m.mode() & 0o002 != 0 || (m.uid() == euid && m.mode() & 0o200 != 0))
}

/// The first regular file we may write at most `depth` levels below `dir`.
fn first_file(dir: &std::path::Path, depth: u32) -> Option<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    if let Some(f) = entries
        .iter()
        .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| writable_by_me(&m)))
    {
        return Some(f.clone());
    }
    if depth == 0 {
        return None;
    }
    entries
        .iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
        .find_map(|d| first_file(d, depth - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mi(point: &str, opts: &str, fstype: &str, sopts: &str) -> MountInfo {
        MountInfo {
            point: point.into(),
            opts: opts.split(',').map(String::from).collect(),
            tags: vec![],
            fstype: fstype.into(),
            sopts: sopts.split(',').map(String::from).collect(),
        }
    }

    #[test]
    fn tmpfs_size_and_default_mode() {
        assert_eq!(size_bytes("65536k"), Some(64 << 20));
        assert_eq!(size_bytes("1m"), Some(1 << 20));
        let m = mi("/dev/shm", "rw,nosuid", "tmpfs", "rw,size=65536k");
        assert!(check_opt("size=64m", &m, &[]).unwrap().is_ok());
        assert!(check_opt("mode=1777", &m, &[]).unwrap().is_ok());
        assert!(check_opt("mode=755", &m, &[]).unwrap().is_err());
    }

    #[test]
    fn recursive_read_only_covers_submounts() {
        let all = vec![
            mi("/mnt/r", "ro", "tmpfs", "rw"),
            mi("/mnt/r/sub", "rw", "tmpfs", "rw"),
        ];
        assert!(check_opt("rro", &all[0], &all).unwrap().is_err());
        let all = vec![
            mi("/mnt/r", "ro", "tmpfs", "rw"),
            mi("/mnt/r/sub", "ro", "tmpfs", "rw"),
            mi("/mnt/rx", "rw", "tmpfs", "rw"),
        ];
        assert!(check_opt("rro", &all[0], &all).unwrap().is_ok());
        assert!(
            check_opt("strictatime", &mi("/", "rw,relatime", "ext4", "rw"), &[])
                .unwrap()
                .is_err()
        );
    }
}
