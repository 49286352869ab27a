//! cgroups (the `cgroups` helper owns this file; this stub only declares the devices module).

pub mod devices;
