//! The state store under `--root`: one directory per container id.
//!
//! `state.json` is written atomically (temp file, fsync, rename, fsync of the
//! directory); an exclusive flock on the container directory serialises commands
//! on one id. Status is derived from the init's pid plus its start time, never
//! trusted from the file.

mod oci;
mod proc;
mod time;

use std::collections::HashMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};

pub use self::proc::{is_alive, parent_pid, process_start_time};
pub use self::time::now_rfc3339;

/// The file that holds a container's [`State`].
const STATE_FILE: &str = "state.json";
/// Where `write_state` stages the new state before renaming it over [`STATE_FILE`].
const STATE_TMP: &str = ".state.json.tmp";
/// runc's upper bound on an id's length.
const MAX_ID_LEN: usize = 1024;

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The id is not acceptable.
    #[error("invalid container id {id:?}: {why}")]
    InvalidId {
        /// The id.
        id: String,
        /// Why.
        why: &'static str,
    },
    /// `create` of an id that is taken.
    #[error("container with id exists: {0}")]
    Exists(String),
    /// No such container.
    #[error("container does not exist: {0}")]
    NotFound(String),
    /// An I/O step failed.
    #[error("{op} {path}: {}", io_error_message(.source))]
    Io {
        /// What we were doing ("create", "lock", "write", ...).
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// state.json is unreadable.
    #[error("parse {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
}

/// Render an I/O error as `Operation not permitted (EPERM)` when it carries an errno.
pub(crate) fn io_error_message(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(raw) => {
            let errno = Errno::from_raw(raw);
            format!("{} ({errno:?})", errno.desc())
        }
        None => e.to_string(),
    }
}

fn io_err(op: &'static str, path: &Path, source: std::io::Error) -> StateError {
    StateError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn errno_err(op: &'static str, path: &Path, errno: Errno) -> StateError {
    io_err(op, path, std::io::Error::from(errno))
}

/// The OCI status of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// create has not finished.
    Creating,
    /// The init waits for start.
    Created,
    /// The user program runs.
    Running,
    /// The cgroup is frozen.
    Paused,
    /// The init has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What Coracle remembers about a container (state.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The container id.
    pub id: String,
    /// Host pid of the init; 0 while creating.
    pub pid: i32,
    /// The init's start time (field 22 of /proc/PID/stat), to detect pid reuse.
    pub pid_start_time: u64,
    /// The bundle directory (absolute).
    pub bundle: PathBuf,
    /// The rootfs (absolute).
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    /// The spec's annotations.
    pub annotations: HashMap<String, String>,
    /// The spec as created (hooks for start and delete, namespaces for kill --all);
    /// `update` merges its resources in.
    pub config: oci_spec::runtime::Spec,
    /// Where the container's cgroup is (none only for state written before cgroups).
    #[serde(default)]
    pub cgroup: Option<crate::cgroups::CgroupPaths>,
}

/// The store rooted at `--root`.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
}

/// A locked container directory; the lock is held until drop.
#[derive(Debug)]
pub struct ContainerDir {
    id: String,
    path: PathBuf,
    /// The directory itself, opened O_DIRECTORY|O_NOFOLLOW and flocked exclusively.
    /// Files inside are reached relative to it.
    _lock: Flock<OwnedFd>,
}

impl Store {
    /// Open (and create, mode 0700) the store at `root`.
    pub fn open(root: &Path) -> Result<Store, StateError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| io_err("create", root, e))?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Create the directory of a new container, locked; `Exists` if taken.
    ///
    /// mkdir is the atomic step: of two concurrent creates of one id exactly one
    /// succeeds. Between mkdir and flock another command may find the directory
    /// without state.json and treat it as `creating`, as runc does.
    pub fn create(&self, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        let path = self.root.join(id);
        match DirBuilder::new().mode(0o711).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_string()))
            }
            Err(e) => return Err(io_err("create", &path, e)),
        }
        let lock = match lock_new_dir(&path) {
            Ok(lock) => lock,
            Err(e) => {
                // Leave no half-made container behind (it is still empty).
                let _ = std::fs::remove_dir(&path);
                return Err(e);
            }
        };
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            _lock: lock,
        })
    }

    /// Lock the directory of an existing container; `NotFound` if absent.
    ///
    /// Blocks while another command holds the lock. A directory removed while we
    /// waited counts as absent.
    pub fn lock(&self, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        let path = self.root.join(id);
        let dir = match open_dir(&path) {
            Ok(dir) => dir,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Err(StateError::NotFound(id.to_string()))
            }
            Err(e) => return Err(io_err("open", &path, e)),
        };
        let lock = lock_exclusive(OwnedFd::from(dir)).map_err(|e| errno_err("lock", &path, e))?;
        if removed(&lock).map_err(|e| io_err("stat", &path, e))? {
            return Err(StateError::NotFound(id.to_string()));
        }
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            _lock: lock,
        })
    }

    /// Ids of all containers, sorted.
    ///
    /// Entries that are not directories or whose names are not valid ids (such as
    /// leftovers of other tools) are skipped.
    pub fn list(&self) -> Result<Vec<String>, StateError> {
        let entries = std::fs::read_dir(&self.root).map_err(|e| io_err("read", &self.root, e))?;
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_err("read", &self.root, e))?;
            // DirEntry::file_type does not follow symlinks.
            let is_dir = entry
                .file_type()
                .map_err(|e| io_err("stat", &entry.path(), e))?
                .is_dir();
            if !is_dir {
                continue;
            }
            if let Some(name) = entry.file_name().to_str() {
                if validate_id(name).is_ok() {
                    ids.push(name.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

/// Open, chmod and lock the directory `create` just made.
fn lock_new_dir(path: &Path) -> Result<Flock<OwnedFd>, StateError> {
    let dir = open_dir(path).map_err(|e| io_err("open", path, e))?;
    // mkdir applies the umask; the mode must not depend on the caller's.
    dir.set_permissions(std::fs::Permissions::from_mode(0o711))
        .map_err(|e| io_err("chmod", path, e))?;
    let lock = lock_exclusive(OwnedFd::from(dir)).map_err(|e| errno_err("lock", path, e))?;
    if removed(&lock).map_err(|e| io_err("stat", path, e))? {
        // A delete of the half-made directory won the race.
        return Err(io_err("create", path, std::io::Error::from(Errno::ENOENT)));
    }
    Ok(lock)
}

/// Open a directory without following a final symlink; std adds O_CLOEXEC.
fn open_dir(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)
}

/// Take an exclusive flock, retrying when a signal interrupts the wait.
fn lock_exclusive(mut fd: OwnedFd) -> Result<Flock<OwnedFd>, Errno> {
    loop {
        match Flock::lock(fd, FlockArg::LockExclusive) {
            Ok(lock) => return Ok(lock),
            Err((back, Errno::EINTR)) => fd = back,
            Err((_, errno)) => return Err(errno),
        }
    }
}

/// Whether the locked directory was removed (rmdir leaves it with no links).
fn removed(dir: &Flock<OwnedFd>) -> std::io::Result<bool> {
    let st = nix::sys::stat::fstat(dir.as_fd())?;
    Ok(st.st_nlink == 0)
}

/// Check an id as runc does: `^[\w+.-]+$`, not `.` or `..`, at most 1024 bytes.
///
/// `\w` is ASCII: letters, digits and `_`. (runc's Go pattern `[\w+-\.]` also
/// admits `,` through an accidental range; we keep to the documented set.)
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let invalid = |why| {
        Err(StateError::InvalidId {
            id: id.to_string(),
            why,
        })
    };
    if id.is_empty() {
        return invalid("id is empty");
    }
    if id.len() > MAX_ID_LEN {
        return invalid("id is longer than 1024 bytes");
    }
    if id == "." || id == ".." {
        return invalid("id is a path component");
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.');
    if !id.bytes().all(allowed) {
        return invalid("only letters, digits, '_', '+', '-' and '.' are allowed");
    }
    Ok(())
}

impl ContainerDir {
    /// The raw fd holding the lock. A cloned container init must close its copy (not
    /// unlock it: the lock belongs to the shared open file description).
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&*self._lock)
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The directory (holds state.json and exec.fifo).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write state.json atomically.
    ///
    /// The new state goes to a temp file in the same directory, is fsynced and
    /// renamed over state.json, and the directory is fsynced, so a reader sees
    /// the old state or the new one, never a torn file, even across a crash.
    pub fn write_state(&self, state: &State) -> Result<(), StateError> {
        let dir = self._lock.as_fd();
        let tmp_path = self.path.join(STATE_TMP);
        let state_path = self.path.join(STATE_FILE);
        let data = serde_json::to_vec(state)
            .map_err(|e| io_err("serialize", &state_path, std::io::Error::other(e)))?;
        // A leftover of a writer that died must not be reused as it may be anything.
        match nix::unistd::unlinkat(dir, STATE_TMP, nix::unistd::UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(errno_err("unlink", &tmp_path, e)),
        }
        let fd = nix::fcntl::openat(
            dir,
            STATE_TMP,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| errno_err("create", &tmp_path, e))?;
        let mut file = File::from(fd);
        file.write_all(&data)
            .map_err(|e| io_err("write", &tmp_path, e))?;
        file.sync_all().map_err(|e| io_err("fsync", &tmp_path, e))?;
        drop(file);
        nix::fcntl::renameat(dir, STATE_TMP, dir, STATE_FILE)
            .map_err(|e| errno_err("rename", &state_path, e))?;
        nix::unistd::fsync(dir).map_err(|e| errno_err("fsync", &self.path, e))?;
        Ok(())
    }

    /// Read state.json; `Ok(None)` while the container is still being created.
    pub fn read_state(&self) -> Result<Option<State>, StateError> {
        let state_path = self.path.join(STATE_FILE);
        let fd = match nix::fcntl::openat(
            self._lock.as_fd(),
            STATE_FILE,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(errno_err("open", &state_path, e)),
        };
        let mut data = Vec::new();
        File::from(fd)
            .read_to_end(&mut data)
            .map_err(|e| io_err("read", &state_path, e))?;
        let state = serde_json::from_slice(&data).map_err(|source| StateError::Parse {
            path: state_path,
            source,
        })?;
        Ok(Some(state))
    }

    /// Remove the directory and everything in it.
    ///
    /// Symlinks inside are removed, never followed (std's remove_dir_all works
    /// with openat/unlinkat on the opened directories). The lock is released
    /// after the directory is gone, so a waiting command then sees `NotFound`.
    pub fn remove(self) -> Result<(), StateError> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", &self.path, e)),
        }
    }
}

#[cfg(test)]
mod tests;
