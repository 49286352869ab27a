//! `linux.cgroupsPath` to directories, as runc's fs (v1) and fs2 (v2) managers:
//! - absolute: below each hierarchy's mount point;
//! - relative: below the caller's own cgroup of that hierarchy (v2: below the
//!   *parent* of the caller's cgroup, since the caller's own cgroup holds processes
//!   and could not enable controllers for a child);
//! - absent: the container id, relative as above.
//!
//! runc clamps `..` silently; we refuse a path that climbs above its base.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::mounts::{Hierarchy, Mounts};
use super::{CgroupError, Mode};

const FIELD: &str = "linux.cgroupsPath";

/// Lexically normalise `p`: drop `.`, apply `..`, refuse climbing above the start.
/// Returns (absolute?, relative components).
pub(crate) fn clean(p: &Path, field: &str) -> Result<(bool, PathBuf), CgroupError> {
    let mut out: Vec<&std::ffi::OsStr> = Vec::new();
    let mut absolute = false;
    for comp in p.components() {
        match comp {
            Component::RootDir => absolute = true,
            Component::CurDir => {}
            Component::ParentDir => {
                if out.pop().is_none() {
                    return Err(CgroupError::resource(
                        field,
                        format!("{:?} climbs above its cgroup root with \"..\"", p),
                    ));
                }
            }
            Component::Normal(c) => out.push(c),
            Component::Prefix(_) => {}
        }
    }
    Ok((absolute, out.iter().collect()))
}

/// The caller's cgroup in `h`, relative to the hierarchy's mount.
fn own_relative(h: &Hierarchy, own: &str) -> Result<PathBuf, CgroupError> {
    let (_, own) = clean(Path::new(own), "/proc/self/cgroup")?;
    let (_, root) = clean(&h.root, "/proc/self/mountinfo")?;
    own.strip_prefix(&root).map(Path::to_path_buf).map_err(|_| {
        CgroupError::Layout(format!(
            "own cgroup /{} is outside the mount of {} (root /{})",
            own.display(),
            h.mountpoint.display(),
            root.display()
        ))
    })
}

/// Resolve the directories of one cgroup for every hierarchy it should join.
pub(crate) fn resolve(
    mounts: &Mounts,
    own: &BTreeMap<String, String>,
    cgroups_path: Option<&Path>,
    default_name: &str,
) -> Result<BTreeMap<String, PathBuf>, CgroupError> {
    let (absolute, inner) = match cgroups_path.filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => clean(p, FIELD)?,
        None => {
            let (abs, inner) = clean(Path::new(default_name), "id")?;
            if abs || inner.as_os_str().is_empty() {
                return Err(CgroupError::resource(
                    "id",
                    format!("{default_name:?} is not a cgroup name"),
                ));
            }
            (false, inner)
        }
    };
    let own_of = |key: &str| {
        own.get(key).ok_or_else(|| {
            CgroupError::Layout(format!("/proc/self/cgroup has no entry for {key:?}"))
        })
    };
    let mut paths = BTreeMap::new();
    match mounts.mode() {
        Mode::Unified => {
            let h = mounts
                .unified
                .as_ref()
                .expect("unified mode has a cgroup2 mount");
            let base = if absolute {
                h.mountpoint.clone()
            } else {
                let rel = own_relative(h, own_of("")?)?;
                h.mountpoint.join(rel.parent().unwrap_or(Path::new("")))
            };
            paths.insert(String::new(), base.join(&inner));
        }
        Mode::Legacy | Mode::Hybrid => {
            for h in &mounts.v1 {
                for c in &h.controllers {
                    let dir = if absolute {
                        h.mountpoint.join(&inner)
                    } else {
                        h.mountpoint.join(own_relative(h, own_of(c)?)?).join(&inner)
                    };
                    paths.insert(c.clone(), dir);
                }
            }
            // Hybrid: runc joins the cgroup2 hierarchy too, under the "" key.
            if let Some(h) = &mounts.unified {
                let dir = if absolute {
                    h.mountpoint.join(&inner)
                } else {
                    h.mountpoint
                        .join(own_relative(h, own_of("")?)?)
                        .join(&inner)
                };
                paths.insert(String::new(), dir);
            }
        }
    }
    if inner.as_os_str().is_empty() {
        // "/" would mean the hierarchy roots themselves: never ours to set or remove.
        return Err(CgroupError::resource(
            FIELD,
            "the root cgroup cannot be a container's cgroup",
        ));
    }
    Ok(paths)
}

#[cfg(test)]
mod unit {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const OWN: &str = "4:memory:/user/a\n2:cpu,cpuacct:/user\n1:name=systemd:/s\n0::/u/v\n";

    fn own() -> BTreeMap<String, String> {
        super::super::mounts::parse_own(Path::new("x"), OWN).unwrap()
    }

    #[test]
    fn cgroups_path_relative_is_below_own_cgroup_per_hierarchy() {
        let m = Mounts::parse(HYBRID);
        assert_eq!(m.mode(), Mode::Hybrid);
        let p = resolve(&m, &own(), Some(Path::new("x/y")), "id").unwrap();
        assert_eq!(p["memory"], Path::new("/sys/fs/cgroup/memory/user/a/x/y"));
        assert_eq!(p["cpu"], Path::new("/sys/fs/cgroup/cpu,cpuacct/user/x/y"));
        assert_eq!(p["cpuacct"], p["cpu"]);
        assert_eq!(p["name=systemd"], Path::new("/sys/fs/cgroup/systemd/s/x/y"));
        assert_eq!(p[""], Path::new("/sys/fs/cgroup/unified/u/v/x/y"));
    }

    #[test]
    fn cgroups_path_absolute_is_below_each_mountpoint() {
        let m = Mounts::parse(HYBRID);
        let p = resolve(&m, &own(), Some(Path::new("/a/./b")), "id").unwrap();
        assert_eq!(p["memory"], Path::new("/sys/fs/cgroup/memory/a/b"));
        assert_eq!(p[""], Path::new("/sys/fs/cgroup/unified/a/b"));
    }

    #[test]
    fn cgroups_path_absent_uses_the_id_relative_and_v2_uses_the_parent() {
        let m = Mounts::parse("41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        assert_eq!(m.mode(), Mode::Unified);
        let p = resolve(&m, &own(), None, "ctr1").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[""], Path::new("/sys/fs/cgroup/u/ctr1"));
        let p = resolve(&m, &own(), Some(Path::new("/k/ctr")), "ctr1").unwrap();
        assert_eq!(p[""], Path::new("/sys/fs/cgroup/k/ctr"));
    }

    #[test]
    fn cgroups_path_dotdot_escape_is_refused() {
        let m = Mounts::parse(HYBRID);
        let e = resolve(&m, &own(), Some(Path::new("a/../../b")), "id").unwrap_err();
        assert!(e.to_string().starts_with("linux.cgroupsPath: "), "{e}");
        let e = resolve(&m, &own(), Some(Path::new("/..")), "id").unwrap_err();
        assert!(e.to_string().contains("climbs above"), "{e}");
        assert!(resolve(&m, &own(), None, "..").is_err());
        assert!(resolve(&m, &own(), Some(Path::new("/")), "id").is_err());
        // Staying inside is fine.
        let p = resolve(&m, &own(), Some(Path::new("/a/../b")), "id").unwrap();
        assert_eq!(p["memory"], Path::new("/sys/fs/cgroup/memory/b"));
    }

    #[test]
    fn mountinfo_mount_root_is_subtracted_from_own_cgroup() {
        let m = Mounts::parse("41 31 0:38 /u /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let p = resolve(&m, &own(), Some(Path::new("c")), "id").unwrap();
        // own /u/v relative to root /u is v; v2 takes its parent (the mount root).
        assert_eq!(p[""], Path::new("/sys/fs/cgroup/c"));
        let escaped = Mounts::parse("1 2 0:1 / /a\\040b rw - cgroup2 cgroup2 rw\n");
        assert_eq!(escaped.unified.unwrap().mountpoint, Path::new("/a b"));
    }
}
