//! Coracle: an OCI container runtime library.
//!
//! [`Container`] takes an OCI bundle through create → start → kill → delete. The
//! `coracle` binary (crate `coracle-cli`) is a thin runc-compatible command line
//! over this API.

pub mod cgroups;
pub mod console;
pub mod container;
pub mod features;
pub mod hooks;
pub mod members;
pub mod namespaces;
pub mod process;
pub mod procfs;
pub mod rootfs;
pub mod seccomp;
pub mod security;
pub mod signal;
pub mod spec;
pub mod state;
mod support;
pub mod sys;
pub mod warn;

pub use container::{run, Container, CreateOptions, Error};

/// The OCI runtime specification version this build implements.
pub const OCI_VERSION: &str = "1.2.0";
