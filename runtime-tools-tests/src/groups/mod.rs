//! The test groups, one module per part of the runtime spec.

mod cgroups;
mod errors;
mod filesystem;
mod hooks;
mod lifecycle;
mod namespaces;
mod process;
mod seccomp;

use crate::Test;

/// Every test, in reporting order.
pub fn all() -> Vec<Test> {
    let mut v = Vec::new();
    v.extend(lifecycle::tests());
    v.extend(namespaces::tests());
    v.extend(filesystem::tests());
    v.extend(process::tests());
    v.extend(hooks::tests());
    v.extend(cgroups::tests());
    v.extend(seccomp::tests());
    v.extend(errors::tests());
    v
}
