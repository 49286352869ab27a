//! Loading and validating a bundle's config.json.
//!
//! Validation runs before anything touches the system; every error names the
//! JSON field it is about (`process.capabilities.bounding[3]: unknown capability "CAP_FOO"`).
//!
//! The bytes are parsed into a `serde_json::Value` first and checked by our own
//! walker (`validate.rs`), so unknown names and missing fields get precise messages;
//! the Value is then deserialized into [`Spec`] through `serde_path_to_error`, so the
//! remaining type errors carry their path too. Only then do we look at the host:
//! the bundle and `root.path` must exist, and a joined network namespace that
//! carries `net.*` sysctls must not be the host's.

mod default;
mod json;
mod linux;
pub mod tables;
mod validate;

#[cfg(test)]
mod tests;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use default::default_spec;
pub use oci_spec::runtime::Spec;

use json::invalid;

/// A loaded, validated bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle directory, absolute and canonical.
    pub dir: PathBuf,
    /// The parsed config.json.
    pub spec: Spec,
    /// `root.path` resolved against `dir`, canonical.
    pub rootfs: PathBuf,
}

/// Why a bundle was rejected.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// config.json could not be read.
    #[error("read {}: {}", path.display(), io_message(source))]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A field is invalid; `field` is its JSON path.
    #[error("{field}: {msg}")]
    Invalid {
        /// JSON path such as `process.capabilities.bounding[3]`.
        field: String,
        /// What is wrong.
        msg: String,
    },
}

impl SpecError {
    /// The JSON path of the offending field (`config.json` for syntax errors), if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            SpecError::Read { .. } => None,
            SpecError::Invalid { field, .. } => Some(field),
        }
    }
}

/// `No such file or directory (ENOENT)` rather than `... (os error 2)`.
fn io_message(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let errno = nix::errno::Errno::from_raw(code);
            format!("{} ({errno:?})", errno.desc())
        }
        None => e.to_string(),
    }
}

/// Read `<bundle>/config.json` and validate it.
pub fn load(bundle: &Path) -> Result<Bundle, SpecError> {
    let path = bundle.join("config.json");
    let bytes = std::fs::read(&path).map_err(|source| SpecError::Read { path, source })?;
    parse(&bytes, bundle)
}

/// Parse and validate config.json bytes; `bundle` resolves a relative root.path.
pub fn parse(bytes: &[u8], bundle: &Path) -> Result<Bundle, SpecError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid("config.json", e.to_string()))?;
    linux::seccomp_name(&mut value)?;
    let host = validate::validate(&value)?;
    let spec: Spec = serde_path_to_error::deserialize(&value).map_err(|e| {
        let field = match e.path().to_string().as_str() {
            "." => "config.json".to_string(),
            p => p.to_string(),
        };
        invalid(field, e.into_inner().to_string())
    })?;

    // From here on we look at the host (read-only): the bundle and its rootfs.
    let dir = std::fs::canonicalize(bundle).map_err(|e| {
        invalid(
            "bundle",
            format!("{:?}: {}", bundle.display().to_string(), io_message(&e)),
        )
    })?;
    if !dir.is_dir() {
        return Err(invalid(
            "bundle",
            format!("{:?} is not a directory", dir.display().to_string()),
        ));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| invalid("root", "required"))?;
    let rootfs = resolve_rootfs(&dir, root.path())?;
    if let Some(check) = host.netns_sysctl {
        check_not_host_netns(&check)?;
    }
    Ok(Bundle { dir, spec, rootfs })
}

/// `root.path` made absolute against the bundle, canonical, and a directory.
fn resolve_rootfs(dir: &Path, path: &Path) -> Result<PathBuf, SpecError> {
    let joined = dir.join(path);
    let shown = joined.display().to_string();
    let rootfs = std::fs::canonicalize(&joined)
        .map_err(|e| invalid("root.path", format!("{shown:?}: {}", io_message(&e))))?;
    let meta = std::fs::metadata(&rootfs)
        .map_err(|e| invalid("root.path", format!("{shown:?}: {}", io_message(&e))))?;
    if !meta.is_dir() {
        return Err(invalid(
            "root.path",
            format!("{shown:?} is not a directory"),
        ));
    }
    Ok(rootfs)
}

/// A `net.*` sysctl with a joined network namespace: the namespace must not be ours,
/// or the sysctl would change the host (runc's `isHostNetNS`).
fn check_not_host_netns(check: &validate::NetnsCheck) -> Result<(), SpecError> {
    let theirs = std::fs::metadata(&check.path).map_err(|e| {
        invalid(
            check.path_field.as_str(),
            format!("{:?}: {}", check.path, io_message(&e)),
        )
    })?;
    let ours = std::fs::metadata("/proc/self/ns/net").map_err(|e| {
        invalid(
            check.path_field.as_str(),
            format!("/proc/self/ns/net: {}", io_message(&e)),
        )
    })?;
    if (theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino()) {
        return Err(invalid(
            check.sysctl_field.as_str(),
            format!(
                "sysctl not allowed in the host network namespace ({} is the host's)",
                check.path_field
            ),
        ));
    }
    Ok(())
}
