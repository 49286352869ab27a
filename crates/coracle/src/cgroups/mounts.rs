//! Which cgroup hierarchies the host mounts (/proc/self/mountinfo, confirmed with
//! statfs) and where the caller sits in them (/proc/self/cgroup).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC};

use super::{fs, CgroupError, Mode};

/// The v1 controllers runc's fs manager joins (plus the named systemd hierarchy and
/// misc, which it joins without setting anything).
pub(crate) const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "devices",
    "memory",
    "cpu",
    "cpuacct",
    "pids",
    "blkio",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "freezer",
    "rdma",
    "name=systemd",
    "misc",
];

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// Which cgroup of the hierarchy the mount shows (not `/` inside a cgroupns).
    pub root: PathBuf,
    /// v1: the controllers (and `name=` names) bound to it; empty for cgroup2.
    pub controllers: Vec<String>,
}

/// The host's cgroup mounts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mounts {
    /// v1 hierarchies with at least one controller runc knows, first mount of each.
    pub v1: Vec<Hierarchy>,
    /// The cgroup2 hierarchy (prefering /sys/fs/cgroup, then /sys/fs/cgroup/unified).
    pub unified: Option<Hierarchy>,
}

impl Mounts {
    /// Parse /proc/self/mountinfo and check the result with statfs.
    pub fn read() -> Result<Mounts, CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let m = Mounts::parse(&fs::read(path)?);
        if let Some(u) = &m.unified {
            check_magic(&u.mountpoint, true)?;
        }
        if let Some(h) = m.v1.first() {
            check_magic(&h.mountpoint, false)?;
        }
        if m.v1.is_empty() && m.unified.is_none() {
            return Err(CgroupError::Layout(
                "no cgroup file system is mounted".into(),
            ));
        }
        Ok(m)
    }

    /// Parse mountinfo text.
    pub fn parse(text: &str) -> Mounts {
        let mut m = Mounts::default();
        let mut unified: Vec<Hierarchy> = Vec::new();
        for line in text.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 5 || post.len() < 3 {
                continue;
            }
            let root = PathBuf::from(unescape(pre[3]));
            let mountpoint = PathBuf::from(unescape(pre[4]));
            match post[0] {
                "cgroup2" => unified.push(Hierarchy {
                    mountpoint,
                    root,
                    controllers: Vec::new(),
                }),
                "cgroup" => {
                    let controllers: Vec<String> = post[2]
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o))
                        .map(str::to_string)
                        .collect();
                    let seen = controllers
                        .iter()
                        .any(|c| m.v1.iter().any(|h| h.controllers.contains(c)));
                    if !controllers.is_empty() && !seen {
                        m.v1.push(Hierarchy {
                            mountpoint,
                            root,
                            controllers,
                        });
                    }
                }
                _ => {}
            }
        }
        let rank = |h: &Hierarchy| match h.mountpoint.to_str() {
            Some("/sys/fs/cgroup") => 0,
            Some("/sys/fs/cgroup/unified") => 1,
            _ => 2,
        };
        m.unified = unified.into_iter().min_by_key(rank);
        m
    }

    /// The layout: pure v2 when no v1 controller hierarchy is mounted.
    pub fn mode(&self) -> Mode {
        match (self.v1.is_empty(), self.unified.is_some()) {
            (true, _) => Mode::Unified,
            (false, true) => Mode::Hybrid,
            (false, false) => Mode::Legacy,
        }
    }
}

fn check_magic(mountpoint: &Path, v2: bool) -> Result<(), CgroupError> {
    let st = statfs(mountpoint).map_err(|e| CgroupError::sys("statfs", mountpoint, e))?;
    let want = if v2 {
        CGROUP2_SUPER_MAGIC
    } else {
        CGROUP_SUPER_MAGIC
    };
    if st.filesystem_type() != want {
        return Err(CgroupError::Layout(format!(
            "{} is listed as a cgroup{} mount but statfs disagrees",
            mountpoint.display(),
            if v2 { "2" } else { "" }
        )));
    }
    Ok(())
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The caller's cgroup per controller from a /proc/PID/cgroup file: `memory` ->
/// `/user.slice`, `name=systemd` -> ..., `""` -> the cgroup2 path.
pub(crate) fn own_cgroups(path: &Path) -> Result<BTreeMap<String, String>, CgroupError> {
    parse_own(path, &fs::read(path)?)
}

pub(crate) fn parse_own(path: &Path, text: &str) -> Result<BTreeMap<String, String>, CgroupError> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(cg)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CgroupError::Parse {
                path: path.into(),
                reason: format!("bad line {line:?}"),
            });
        };
        for c in ctrls.split(',') {
            out.insert(c.to_string(), cg.to_string());
        }
    }
    Ok(out)
}
