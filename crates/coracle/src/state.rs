//! The state store under `--root`: one directory per container id.
//!
//! `state.json` is written atomically (temp file, fsync, rename); a flock on the
//! container directory serialises commands on one id. Status is derived from the
//! init's pid plus its start time, never trusted from the file.
//! OWNER: state helper. Stub with the agreed interface.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
    #[error("{op} {path}: {source}")]
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
    /// The spec as created (hooks for start and delete, namespaces for kill --all).
    pub config: oci_spec::runtime::Spec,
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
    _lock: OwnedFd,
}

impl Store {
    /// Open (and create, mode 0700) the store at `root`.
    pub fn open(root: &Path) -> Result<Store, StateError> {
        let _ = root;
        todo!()
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Create the directory of a new container, locked; `Exists` if taken.
    pub fn create(&self, id: &str) -> Result<ContainerDir, StateError> {
        let _ = id;
        todo!()
    }

    /// Lock the directory of an existing container; `NotFound` if absent.
    pub fn lock(&self, id: &str) -> Result<ContainerDir, StateError> {
        let _ = id;
        todo!()
    }

    /// Ids of all containers, sorted.
    pub fn list(&self) -> Result<Vec<String>, StateError> {
        todo!()
    }
}

/// Check an id as runc does: `^[\w+.-]+$`, not `.` or `..`, at most 1024 bytes.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let _ = id;
    todo!()
}

impl ContainerDir {
    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The directory (holds state.json and exec.fifo).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write state.json atomically.
    pub fn write_state(&self, state: &State) -> Result<(), StateError> {
        let _ = state;
        todo!()
    }

    /// Read state.json; `Ok(None)` while the container is still being created.
    pub fn read_state(&self) -> Result<Option<State>, StateError> {
        todo!()
    }

    /// Remove the directory and everything in it.
    pub fn remove(self) -> Result<(), StateError> {
        todo!()
    }
}

/// The start time of `pid` (field 22 of /proc/PID/stat), `None` if it is gone.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let _ = pid;
    todo!()
}

/// Whether `pid` is alive and still the process that had `start_time` (and not a zombie).
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    let _ = (pid, start_time);
    todo!()
}
