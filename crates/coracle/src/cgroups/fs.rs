//! cgroupfs file access: one write per value (the kernel parses each write(2)
//! separately), never O_CREAT, EINTR/EBUSY retries where the kernel asks for them.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use nix::errno::Errno;
use nix::sys::stat::Mode as FileMode;

use super::CgroupError;

/// Open a cgroup directory (O_DIRECTORY|O_CLOEXEC) for CLONE_INTO_CGROUP or
/// fd-relative work.
pub(crate) fn open_dir(dir: &Path) -> Result<OwnedFd, CgroupError> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .map(OwnedFd::from)
        .map_err(|e| CgroupError::sys("open", dir, io_errno(&e)))
}

/// Write `value` to an existing file (never O_CREAT) in one write(2): the kernel
/// parses each write separately.
pub(crate) fn write_file(path: &Path, value: &str) -> Result<(), Errno> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_errno(&e))?;
    loop {
        match file.write(value.as_bytes()) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_errno(&e)),
        }
    }
}

/// Write a resource value: errors name the spec field, the file and the value.
pub(crate) fn set(dir: &Path, file: &str, value: &str, field: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    write_file(&path, value).map_err(|source| CgroupError::Write {
        field: field.to_string(),
        path,
        value: value.to_string(),
        source,
    })
}

/// Read a whole cgroup file.
pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|e| CgroupError::sys("read", path, io_errno(&e)))
}

/// Read a file, `None` when it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>, CgroupError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CgroupError::sys("read", path, io_errno(&e))),
    }
}

pub(crate) fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Parse a single unsigned number; "max" reads as u64::MAX.
pub(crate) fn parse_u64(path: &Path, text: &str) -> Result<u64, CgroupError> {
    let t = text.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse().map_err(|_| CgroupError::Parse {
        path: path.into(),
        reason: format!("not a number: {t:?}"),
    })
}

/// Read a file holding one unsigned number.
pub(crate) fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    parse_u64(path, &read(path)?)
}

/// Read a file holding one unsigned number, `None` when it does not exist.
pub(crate) fn read_u64_opt(path: &Path) -> Result<Option<u64>, CgroupError> {
    read_opt(path)?.map(|s| parse_u64(path, &s)).transpose()
}

/// `key value` lines (memory.stat, cpu.stat, memory.events...).
pub(crate) fn key_values(path: &Path, text: &str) -> Result<Vec<(String, u64)>, CgroupError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            return Err(CgroupError::Parse {
                path: path.into(),
                reason: format!("bad line {line:?}"),
            });
        };
        out.push((k.to_string(), parse_u64(path, v)?));
    }
    Ok(out)
}

/// The value of `key` in a `key value` file.
pub(crate) fn read_key(path: &Path, key: &str) -> Result<Option<u64>, CgroupError> {
    let text = read(path)?;
    Ok(key_values(path, &text)?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v))
}

/// Write a pid to cgroup.procs, retrying EINVAL a few times as runc does (a task
/// still in TASK_NEW cannot move yet).
pub(crate) fn write_procs(dir: &Path, pid: i32) -> Result<(), CgroupError> {
    let path = dir.join("cgroup.procs");
    let value = pid.to_string();
    let mut tries = 0;
    loop {
        match write_file(&path, &value) {
            Ok(()) => return Ok(()),
            Err(Errno::EINVAL) if tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(30));
            }
            Err(e) => return Err(CgroupError::sys("write pid to", path, e)),
        }
    }
}

/// mkdir -p below an existing ancestor, recording each directory made; `each` runs
/// on every level made or found below `base` (cpuset initialisation).
pub(crate) fn mkdir_all(
    base: &Path,
    dir: &Path,
    made: &mut Vec<PathBuf>,
    mut each: impl FnMut(&Path) -> Result<(), CgroupError>,
) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(base).map_err(|_| {
        CgroupError::Layout(format!("{} is not below {}", dir.display(), base.display()))
    })?;
    let mut cur = base.to_path_buf();
    for comp in rel.components() {
        cur.push(comp);
        match nix::unistd::mkdir(&cur, FileMode::from_bits_truncate(0o755)) {
            Ok(()) => made.push(cur.clone()),
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(CgroupError::sys("mkdir", &cur, e)),
        }
        each(&cur)?;
    }
    Ok(())
}

/// Every pid in `dir` and its child cgroups.
pub(crate) fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    let procs = dir.join("cgroup.procs");
    let text = match std::fs::read_to_string(&procs) {
        Ok(t) => t,
        // A threaded cgroup lists threads only.
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => read(&dir.join("cgroup.threads"))?,
        Err(e) => return Err(CgroupError::sys("read", procs, io_errno(&e))),
    };
    for line in text.lines().filter(|l| !l.is_empty()) {
        out.push(line.trim().parse().map_err(|_| CgroupError::Parse {
            path: procs.clone(),
            reason: format!("bad pid {line:?}"),
        })?);
    }
    for sub in subdirs(dir)? {
        collect_pids(&sub, out)?;
    }
    Ok(())
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CgroupError::sys("read directory", dir, io_errno(&e))),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| CgroupError::sys("read directory", dir, io_errno(&e)))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// rmdir a cgroup and its child cgroups, retrying EBUSY (exiting tasks) with
/// backoff as runc does; a missing directory is fine.
pub(crate) fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    match rmdir(dir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(_) => {}
    }
    for sub in subdirs(dir)? {
        remove_tree(&sub)?;
    }
    let mut delay = Duration::from_millis(1);
    let mut tries = 0;
    loop {
        match rmdir(dir) {
            Ok(()) | Err(Errno::ENOENT) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(Errno::EBUSY) if tries < 12 => {
                std::thread::sleep(delay);
                delay *= 2;
                tries += 1;
            }
            Err(e) => return Err(CgroupError::sys("rmdir", dir, e)),
        }
    }
}

/// rmdir(2), as an errno result.
fn rmdir(path: &Path) -> Result<(), Errno> {
    std::fs::remove_dir(path).map_err(|e| io_errno(&e))
}
