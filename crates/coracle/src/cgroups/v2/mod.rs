//! cgroup v2: one directory in the unified hierarchy.

pub(crate) mod set;
pub(crate) mod stats;

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};

use super::{fs, CgroupError};

/// The mount point of the cgroup2 hierarchy holding `dir`.
fn mount_root(dir: &Path) -> Result<PathBuf, CgroupError> {
    let mut root = None;
    for anc in dir.ancestors() {
        match statfs(anc) {
            Ok(st) if st.filesystem_type() == CGROUP2_SUPER_MAGIC => root = Some(anc.to_path_buf()),
            Err(nix::errno::Errno::ENOENT) => {}
            Ok(_) => break,
            Err(e) => return Err(CgroupError::sys("statfs", anc, e)),
        }
    }
    root.ok_or_else(|| {
        CgroupError::Layout(format!("{} is not on a cgroup2 file system", dir.display()))
    })
}

/// mkdir -p the cgroup and enable, in every ancestor's cgroup.subtree_control, each
/// controller that ancestor has (as runc: failures are left for `set` to report,
/// naming the field, because a controller nobody asks for may be unavailable).
pub(crate) fn create(dir: &Path, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
    let root = mount_root(dir)?;
    fs::mkdir_all(&root, dir, made, |_| Ok(()))?;
    let ancestors: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take_while(|a| a.starts_with(&root))
        .collect();
    for anc in ancestors.into_iter().rev() {
        let available = fs::read(&anc.join("cgroup.controllers"))?;
        let enabled = fs::read(&anc.join("cgroup.subtree_control"))?;
        let enabled: Vec<&str> = enabled.split_whitespace().collect();
        for c in available
            .split_whitespace()
            .filter(|c| !enabled.contains(c))
        {
            let _ = fs::write_file(&anc.join("cgroup.subtree_control"), &format!("+{c}"));
        }
    }
    Ok(())
}

/// The controllers enabled for this cgroup.
pub(crate) fn controllers(dir: &Path) -> Result<Vec<String>, CgroupError> {
    Ok(fs::read(&dir.join("cgroup.controllers"))?
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

/// Write cgroup.freeze 1 and wait for `frozen 1` in cgroup.events (runc polls
/// 10 ms up to 10 s); thaw again on failure so nothing stays half frozen.
pub(crate) fn freeze(dir: &Path) -> Result<(), CgroupError> {
    let file = dir.join("cgroup.freeze");
    fs::write_file(&file, "1").map_err(|e| CgroupError::sys("write", &file, e))?;
    let events = dir.join("cgroup.events");
    for _ in 0..1000 {
        match fs::read_key(&events, "frozen") {
            Ok(Some(1)) => return Ok(()),
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                let _ = fs::write_file(&file, "0");
                return Err(e);
            }
        }
    }
    let _ = fs::write_file(&file, "0");
    Err(CgroupError::Layout(format!(
        "{}: timed out after 10s waiting for the cgroup to freeze",
        dir.display()
    )))
}

/// Thaw.
pub(crate) fn thaw(dir: &Path) -> Result<(), CgroupError> {
    let file = dir.join("cgroup.freeze");
    fs::write_file(&file, "0").map_err(|e| CgroupError::sys("write", file, e))
}

/// Whether cgroup.freeze asks for this cgroup to be frozen.
pub(crate) fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    Ok(fs::read(&dir.join("cgroup.freeze"))?.trim() == "1")
}
