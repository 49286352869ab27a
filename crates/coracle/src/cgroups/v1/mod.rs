//! cgroup v1 (and hybrid): one directory per mounted hierarchy.

pub(crate) mod set;
pub(crate) mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::statfs::{statfs, CGROUP_SUPER_MAGIC};

use super::{fs, CgroupError};

/// The mount point of the hierarchy holding `dir`: the highest ancestor still on a
/// cgroup file system.
fn hierarchy_root(dir: &Path) -> Result<PathBuf, CgroupError> {
    let mut root: Option<PathBuf> = None;
    for anc in dir.ancestors() {
        match statfs(anc) {
            Ok(st)
                if st.filesystem_type() == CGROUP_SUPER_MAGIC
                    || st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC =>
            {
                root = Some(anc.to_path_buf())
            }
            // Not created yet: keep climbing.
            Err(nix::errno::Errno::ENOENT) => {}
            Ok(_) => break,
            Err(e) => return Err(CgroupError::sys("statfs", anc, e)),
        }
    }
    root.ok_or_else(|| {
        CgroupError::Layout(format!("{} is not on a cgroup file system", dir.display()))
    })
}

/// mkdir -p each distinct directory; in the cpuset hierarchy every level gets
/// cpuset.cpus/mems from its parent when empty (a task cannot join an empty cpuset).
pub(crate) fn create(
    paths: &BTreeMap<String, PathBuf>,
    made: &mut Vec<PathBuf>,
) -> Result<(), CgroupError> {
    let mut done: Vec<&PathBuf> = Vec::new();
    for dir in paths.values() {
        if done.contains(&dir) {
            continue;
        }
        done.push(dir);
        let base = hierarchy_root(dir)?;
        let cpuset = paths.get("cpuset") == Some(dir);
        fs::mkdir_all(&base, dir, made, |level| {
            if cpuset {
                cpuset_copy_from_parent(level)
            } else {
                Ok(())
            }
        })?;
    }
    Ok(())
}

fn cpuset_copy_from_parent(dir: &Path) -> Result<(), CgroupError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let mine = fs::read(&dir.join(file))?;
        if mine.trim().is_empty() {
            let theirs = fs::read(&parent.join(file))?;
            fs::write_file(&dir.join(file), theirs.trim())
                .map_err(|e| CgroupError::sys("write", dir.join(file), e))?;
        }
    }
    Ok(())
}

fn freezer_state(dir: &Path) -> Result<String, CgroupError> {
    Ok(fs::read(&dir.join("freezer.state"))?.trim().to_string())
}

fn write_state(dir: &Path, state: &str) -> Result<(), CgroupError> {
    let path = dir.join("freezer.state");
    fs::write_file(&path, state).map_err(|e| CgroupError::sys("write", path, e))
}

/// Freeze, retrying as runc does: v1 can stay FREEZING while tasks keep appearing;
/// an occasional thaw and sleep gets it unstuck. On failure the cgroup is thawed.
pub(crate) fn freeze(dir: &Path) -> Result<(), CgroupError> {
    let result = (|| {
        let mut long = Duration::from_secs(1);
        for i in 0..1000 {
            if i % 50 == 49 {
                write_state(dir, "THAWED")?;
                std::thread::sleep(Duration::from_millis(10));
            }
            write_state(dir, "FROZEN")?;
            if i % 25 == 24 {
                std::thread::sleep(Duration::from_micros(10));
            }
            if i % 200 == 199 {
                std::thread::sleep(long);
                long *= 2;
            }
            match freezer_state(dir)?.as_str() {
                "FREEZING" => continue,
                "FROZEN" => return Ok(()),
                other => {
                    return Err(CgroupError::Layout(format!(
                        "{}: unexpected freezer state {other:?} while freezing",
                        dir.display()
                    )))
                }
            }
        }
        Err(CgroupError::Layout(format!(
            "{}: unable to freeze (stuck in FREEZING)",
            dir.display()
        )))
    })();
    if result.is_err() {
        let _ = write_state(dir, "THAWED");
    }
    result
}

/// Thaw.
pub(crate) fn thaw(dir: &Path) -> Result<(), CgroupError> {
    write_state(dir, "THAWED")
}

/// Frozen by itself (freezer.self_freezing), not merely through an ancestor.
pub(crate) fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    loop {
        match freezer_state(dir)?.as_str() {
            "THAWED" => return Ok(false),
            "FREEZING" => std::thread::sleep(Duration::from_millis(1)),
            "FROZEN" => {
                return Ok(match fs::read_opt(&dir.join("freezer.self_freezing"))? {
                    Some(s) => s.trim() == "1",
                    None => true,
                })
            }
            other => {
                return Err(CgroupError::Parse {
                    path: dir.join("freezer.state"),
                    reason: format!("unknown state {other:?}"),
                })
            }
        }
    }
}
