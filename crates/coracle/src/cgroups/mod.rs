//! Control groups, v1 and v2, as runc's `fs` and `fs2` managers drive them.
//!
//! The module knows nothing of containers: it takes a `linux.cgroupsPath`, pids and
//! OCI `LinuxResources`. [`detect`] tells the host's layout apart ([`Mode`]);
//! [`Manager`] resolves the cgroup directories, creates them, moves processes in,
//! writes every resource (with runc's v1 to v2 conversions), reads statistics,
//! freezes, signals and removes. A resource the host cannot apply is an error that
//! names the spec field, never a silent skip.

pub mod devices;

mod convert;
mod fs;
mod mounts;
mod oom;
mod paths;
mod stats;
mod v1;
mod v2;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_resources;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::errno::Errno;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use convert::{blkio_weight_to_io_weight, cpu_shares_to_weight, memory_swap_to_v2};
pub use oom::OomWatcher;
pub use stats::{
    BlkioEntry, BlkioStats, CpuSetStats, CpuStats, CpuUsage, HugetlbStats, MemoryEntry,
    MemoryStats, PidsStats, Stats, Throttling,
};

/// How the host mounts its cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// cgroup v1 only: one hierarchy per controller (or group of controllers).
    Legacy,
    /// v1 controllers plus a cgroup2 hierarchy (usually `/sys/fs/cgroup/unified`)
    /// that processes join too, as systemd's hybrid layout.
    Hybrid,
    /// Pure cgroup v2: one hierarchy at `/sys/fs/cgroup`.
    Unified,
}

/// Detect the host's cgroup layout from /proc/self/mountinfo, confirmed with statfs.
pub fn detect() -> Result<Mode, CgroupError> {
    Ok(mounts::Mounts::read()?.mode())
}

/// Errors of this module: each names the spec field or the file, and the errno.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A system call on a cgroup file or directory failed.
    #[error("{op} {path}: {desc} ({source:?})", desc = source.desc())]
    Sys {
        /// The operation (`mkdir`, `open`, `read`, `rmdir`...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// Writing a resource value to its cgroup file failed.
    #[error("{field}: write {value:?} to {path}: {desc} ({source:?})", desc = source.desc())]
    Write {
        /// The spec field, e.g. `linux.resources.memory.limit`.
        field: String,
        /// The cgroup file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The errno.
        source: Errno,
    },
    /// A resource the host (or this cgroup version) cannot apply, or an invalid value.
    #[error("{field}: {reason}")]
    Resource {
        /// The spec field.
        field: String,
        /// Why it cannot be applied.
        reason: String,
    },
    /// A cgroup file held something we could not parse.
    #[error("parse {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The cgroup layout itself: no cgroup mounts, unknown controller, bad state.
    #[error("cgroups: {0}")]
    Layout(String),
    /// Applying `linux.resources.devices` failed.
    #[error("linux.resources.devices: {0}")]
    Devices(#[source] devices::DeviceError),
}

impl CgroupError {
    /// The errno behind the error, if a system call failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            CgroupError::Sys { source, .. } | CgroupError::Write { source, .. } => Some(*source),
            _ => None,
        }
    }

    pub(crate) fn sys(op: &'static str, path: impl Into<PathBuf>, source: Errno) -> Self {
        CgroupError::Sys {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn resource(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CgroupError::Resource {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Resolved locations of one cgroup, serialisable into state.json: controller name ->
/// absolute directory (the `""` key is the unified directory, as runc's `cgroup_paths`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupPaths {
    /// Controller (`memory`, `cpu`, `name=systemd`, `""` for cgroup2) -> directory.
    pub paths: BTreeMap<String, PathBuf>,
    /// The host layout the paths were resolved for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Directories [`Manager::create`] made (so [`Manager::remove`] leaves joined,
    /// pre-existing cgroups alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<PathBuf>,
}

/// One cgroup across every hierarchy of the host.
#[derive(Debug)]
pub struct Manager {
    mode: Mode,
    paths: BTreeMap<String, PathBuf>,
    created: Mutex<Vec<PathBuf>>,
}

impl Manager {
    /// Resolve `linux.cgroupsPath` as runc (absolute: under each hierarchy root;
    /// relative: under the caller's cgroup; None: `default_name`, the id, relative to
    /// the caller's cgroup). `..` may not climb above its base. No filesystem change.
    pub fn new(cgroups_path: Option<&Path>, default_name: &str) -> Result<Manager, CgroupError> {
        let mounts = mounts::Mounts::read()?;
        let own = mounts::own_cgroups(Path::new("/proc/self/cgroup"))?;
        let paths = paths::resolve(&mounts, &own, cgroups_path, default_name)?;
        Ok(Manager {
            mode: mounts.mode(),
            paths,
            created: Mutex::new(Vec::new()),
        })
    }

    /// A manager over paths resolved earlier (from state.json).
    pub fn from_paths(paths: &CgroupPaths) -> Result<Manager, CgroupError> {
        let mode = match paths.mode {
            Some(m) => m,
            None => detect()?,
        };
        if mode == Mode::Unified && !paths.paths.contains_key("") {
            return Err(CgroupError::Layout(
                "cgroup v2 paths without the \"\" key".into(),
            ));
        }
        if paths.paths.values().any(|p| !p.is_absolute()) {
            return Err(CgroupError::Layout("cgroup paths must be absolute".into()));
        }
        Ok(Manager {
            mode,
            paths: paths.paths.clone(),
            created: Mutex::new(paths.created.clone()),
        })
    }

    /// The resolved paths, with the directories created so far.
    pub fn paths(&self) -> CgroupPaths {
        CgroupPaths {
            paths: self.paths.clone(),
            mode: Some(self.mode),
            created: self
                .created
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// The host layout this manager drives.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn v2_dir(&self) -> &Path {
        // `from_paths` and `new` guarantee the key in unified mode.
        self.paths
            .get("")
            .map(PathBuf::as_path)
            .unwrap_or(Path::new("/sys/fs/cgroup"))
    }

    /// mkdir -p every directory (v1: every mounted controller hierarchy; cpuset
    /// cpus/mems initialised from the parent; v2: controllers enabled in the
    /// ancestors' cgroup.subtree_control), remembering which directories it created.
    pub fn create(&self) -> Result<(), CgroupError> {
        let mut made = Vec::new();
        let result = match self.mode {
            Mode::Unified => v2::create(self.v2_dir(), &mut made),
            Mode::Legacy | Mode::Hybrid => v1::create(&self.paths, &mut made),
        };
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        for dir in made {
            if !created.contains(&dir) {
                created.push(dir);
            }
        }
        result
    }

    /// v2 only: an O_DIRECTORY|O_CLOEXEC fd of the cgroup for clone3
    /// CLONE_INTO_CGROUP (`None` on v1 and hybrid hosts: write cgroup.procs instead).
    pub fn clone_fd(&self) -> Result<Option<OwnedFd>, CgroupError> {
        match self.mode {
            Mode::Unified => fs::open_dir(self.v2_dir()).map(Some),
            Mode::Legacy | Mode::Hybrid => Ok(None),
        }
    }

    /// Move `pid` into the cgroup (every hierarchy on v1 and hybrid hosts) by writing
    /// cgroup.procs.
    pub fn apply(&self, pid: i32) -> Result<(), CgroupError> {
        let mut done = Vec::new();
        for dir in self.paths.values() {
            if !done.contains(&dir) {
                fs::write_procs(dir, pid)?;
                done.push(dir);
            }
        }
        Ok(())
    }

    /// Write every field that is Some (initial set and `update` alike), with runc's
    /// v1 to v2 conversions; devices through [`devices`]. A field the host cannot
    /// apply is an error naming it (`linux.resources.memory.swap: ...`).
    pub fn set(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        match self.mode {
            Mode::Unified => v2::set::set(self.v2_dir(), resources),
            Mode::Legacy | Mode::Hybrid => v1::set::set(&self.paths, resources),
        }
    }

    /// Statistics in the shape of runc's `events --stats` data.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        match self.mode {
            Mode::Unified => v2::stats::stats(self.v2_dir()),
            Mode::Legacy | Mode::Hybrid => v1::stats::stats(&self.paths),
        }
    }

    /// Freeze every process and wait until the kernel reports the cgroup frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        match self.mode {
            Mode::Unified => v2::freeze(self.v2_dir()),
            Mode::Legacy | Mode::Hybrid => v1::freeze(self.freezer()?),
        }
    }

    /// Thaw the cgroup.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        match self.mode {
            Mode::Unified => v2::thaw(self.v2_dir()),
            Mode::Legacy | Mode::Hybrid => v1::thaw(self.freezer()?),
        }
    }

    /// Whether the cgroup itself is frozen (not merely an ancestor).
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self.mode {
            Mode::Unified => v2::is_frozen(self.v2_dir()),
            Mode::Legacy | Mode::Hybrid => v1::is_frozen(self.freezer()?),
        }
    }

    fn freezer(&self) -> Result<&Path, CgroupError> {
        self.paths
            .get("freezer")
            .map(PathBuf::as_path)
            .ok_or_else(|| {
                CgroupError::Layout("the freezer cgroup controller is not mounted".into())
            })
    }

    /// The directory whose tree lists the cgroup's processes.
    fn procs_dir(&self) -> &Path {
        if self.mode == Mode::Unified {
            return self.v2_dir();
        }
        for key in [
            "pids",
            "memory",
            "freezer",
            "devices",
            "cpu",
            "name=systemd",
        ] {
            if let Some(p) = self.paths.get(key) {
                return p;
            }
        }
        self.paths
            .values()
            .next()
            .map(PathBuf::as_path)
            .unwrap_or(Path::new("/"))
    }

    /// Every process in the cgroup and its descendants, sorted.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut pids = Vec::new();
        fs::collect_pids(self.procs_dir(), &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Signal every process. SIGKILL on v2 uses cgroup.kill where present; otherwise
    /// the cgroup is frozen, signalled and thawed so nothing forks meanwhile. Works on
    /// a frozen cgroup: SIGKILL leaves it thawed (so the processes die), any other
    /// signal leaves it frozen as it was.
    pub fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        if self.mode == Mode::Unified && signal == libc::SIGKILL {
            let kill = self.v2_dir().join("cgroup.kill");
            match fs::write_file(&kill, "1") {
                // cgroup.kill reaches frozen tasks too; leave the (empty) cgroup
                // thawed so it does not read as paused.
                Ok(()) if self.is_frozen()? => return self.thaw(),
                Ok(()) => return Ok(()),
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(CgroupError::sys("write", kill, e)),
            }
        }
        let can_freeze = self.mode == Mode::Unified || self.paths.contains_key("freezer");
        let was_frozen = can_freeze && self.is_frozen()?;
        if can_freeze {
            self.freeze()?;
        }
        let signal = nix::sys::signal::Signal::try_from(signal)
            .map_err(|e| CgroupError::sys("kill", self.procs_dir(), e))?;
        let result = self.pids().and_then(|pids| {
            for pid in pids {
                match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(e) => return Err(CgroupError::sys("kill", format!("pid {pid}"), e)),
                }
            }
            Ok(())
        });
        if can_freeze && (!was_frozen || signal == nix::sys::signal::Signal::SIGKILL) {
            self.thaw()?;
        }
        result
    }

    /// rmdir every directory it created (deepest first, all hierarchies, with any
    /// child cgroups inside), retrying on EBUSY.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        created.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        let mut first_err = None;
        created.retain(|dir| match fs::remove_tree(dir) {
            Ok(()) => false,
            Err(e) => {
                first_err.get_or_insert(e);
                true
            }
        });
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// OOM kill notification: v2 inotify on memory.events (oom_kill count), v1
    /// eventfd through cgroup.event_control + memory.oom_control.
    pub fn oom_watcher(&self) -> Result<OomWatcher, CgroupError> {
        match self.mode {
            Mode::Unified => OomWatcher::v2(self.v2_dir()),
            Mode::Legacy | Mode::Hybrid => {
                let dir = self.paths.get("memory").ok_or_else(|| {
                    CgroupError::Layout("the memory cgroup controller is not mounted".into())
                })?;
                OomWatcher::v1(dir)
            }
        }
    }
}
