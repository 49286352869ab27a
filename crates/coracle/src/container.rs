//! The public lifecycle API: create, start, state, kill, delete, run.
//! OWNER: lead. Stub with the agreed interface.

use std::path::PathBuf;

use crate::hooks::HookError;
use crate::spec::SpecError;
use crate::state::{ContainerDir, State, StateError, Status, Store};

/// Any lifecycle failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bundle was rejected.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A hook failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// The container init reported a failure during setup.
    #[error("container init: {0}")]
    Init(String),
    /// A system call in the runtime failed.
    #[error("{op}: {errno} ({errno:?})", errno = source.desc())]
    Sys {
        /// What we were doing.
        op: String,
        /// The errno.
        #[source]
        source: nix::errno::Errno,
    },
    /// The operation is not allowed in the container's current status.
    #[error("cannot {op} container {id} in status {status}")]
    BadStatus {
        /// The operation.
        op: &'static str,
        /// The container.
        id: String,
        /// Its status.
        status: Status,
    },
    /// A flag or option we cannot honour.
    #[error("{0}")]
    Unsupported(String),
}

/// Options of `create` and `run`.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Where to write the init's pid.
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to (process.terminal).
    pub console_socket: Option<PathBuf>,
    /// chroot + MS_MOVE instead of pivot_root.
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    pub no_new_keyring: bool,
    /// Pass fds 3..3+N to the container process.
    pub preserve_fds: u32,
}

/// A container known to the store, with its directory locked.
#[derive(Debug)]
pub struct Container {
    dir: ContainerDir,
    state: State,
}

impl Container {
    /// The container id.
    pub fn id(&self) -> &str {
        self.dir.id()
    }

    /// The saved state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The derived status.
    pub fn status(&self) -> Status {
        todo!()
    }

    /// The state JSON as `runc state` prints it (OCI state plus rootfs, created, owner).
    pub fn state_json(&self) -> serde_json::Value {
        todo!()
    }

    /// Load an existing container (locks it).
    pub fn load(store: &Store, id: &str) -> Result<Container, Error> {
        let _ = (store, id);
        todo!()
    }

    /// Create a container: the init is set up and waits for `start`.
    pub fn create(store: &Store, id: &str, opts: &CreateOptions) -> Result<Container, Error> {
        let _ = (store, id, opts);
        todo!()
    }

    /// Release the init to execve the user program; runs poststart hooks.
    pub fn start(&mut self) -> Result<(), Error> {
        todo!()
    }

    /// Send signal number `sig` to the init, or with `all` to every process of the container.
    pub fn kill(&self, sig: i32, all: bool) -> Result<(), Error> {
        let _ = (sig, all);
        todo!()
    }

    /// Delete: kill (with `force`, or a created container), remove state; runs poststop hooks.
    pub fn delete(self, force: bool) -> Result<(), Error> {
        let _ = force;
        todo!()
    }
}

/// `run`: create + start, and unless `detach`, wait, delete and return the exit code
/// (128+signal when killed). With `detach` returns 0 once started.
pub fn run(store: &Store, id: &str, opts: &CreateOptions, detach: bool) -> Result<i32, Error> {
    let _ = (store, id, opts, detach);
    todo!()
}
