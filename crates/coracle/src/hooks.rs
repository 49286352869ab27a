//! OCI hooks: run with the container state JSON on stdin.
//! OWNER: security helper. Stub with the agreed interface.

use oci_spec::runtime::Hook;

/// A hook that failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The hook could not be started.
    #[error("{kind} hook {index} ({path}): {source}")]
    Spawn {
        /// "prestart", "createRuntime", ...
        kind: &'static str,
        /// Index in the hook list.
        index: usize,
        /// hook.path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The hook exited non-zero or was killed.
    #[error("{kind} hook {index} ({path}): {status}{output}")]
    Failed {
        /// Kind.
        kind: &'static str,
        /// Index.
        index: usize,
        /// hook.path.
        path: String,
        /// "exit status 1", "killed by signal 9", "timed out after 5s".
        status: String,
        /// ": <stderr and stdout>" when the hook printed anything.
        output: String,
    },
}

/// Run `hooks` of `kind` in order, each with `state_json` on stdin.
pub fn run(kind: &'static str, hooks: &[Hook], state_json: &[u8]) -> Result<(), HookError> {
    let _ = (kind, hooks, state_json);
    todo!()
}
