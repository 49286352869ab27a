//! The container's cgroup: where it goes at create, and the commands that act on it
//! afterwards (pause, resume, update, stats, ps, kill --all, delete).

use std::os::fd::{AsFd, OwnedFd};

use oci_spec::runtime::{LinuxResources, Spec};

use super::{sys_err, Container, Error};
use crate::cgroups::{devices, Manager, OomWatcher, Stats};
use crate::members;
use crate::state::Status;

/// The manager for a new container: `linux.cgroupsPath`, or the id under the caller's
/// cgroup, as runc. Nothing is created yet.
pub(super) fn manager_for(spec: &Spec, id: &str) -> Result<Manager, Error> {
    let path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_deref());
    Ok(Manager::new(path, id)?)
}

/// Create the cgroup and apply the spec's resources, before the init exists, so the
/// init is limited from its first instruction.
pub(super) fn prepare(cgroup: &Manager, spec: &Spec) -> Result<(), Error> {
    cgroup.create()?;
    cgroup.set(&effective_resources(spec))?;
    Ok(())
}

/// The spec's resources with the device rules the container really gets: runc's
/// defaults and an allow rule per `linux.devices` entry come on top of the spec's list.
fn effective_resources(spec: &Spec) -> LinuxResources {
    let linux = spec.linux().as_ref();
    let mut resources = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let spec_rules = resources.devices().clone().unwrap_or_default();
    let created = linux.and_then(|l| l.devices().clone()).unwrap_or_default();
    resources.set_devices(Some(devices::container_rules(&spec_rules, &created)));
    resources
}

impl Container {
    /// The container's cgroup manager, when it has a cgroup.
    pub(super) fn cgroup(&self) -> Result<Option<Manager>, Error> {
        match &self.state.cgroup {
            Some(paths) => Ok(Some(Manager::from_paths(paths)?)),
            None => Ok(None),
        }
    }

    /// Whether the container's cgroup is frozen; an unreadable freezer counts as not.
    pub(super) fn is_frozen(&self) -> bool {
        matches!(self.cgroup(), Ok(Some(m)) if m.is_frozen().unwrap_or(false))
    }

    /// Signal every process of the container: through its cgroup, or without one by
    /// walking the init's pid namespace or descendants. SIGKILL thaws a paused
    /// container, as runc does, so the signal is delivered.
    pub(super) fn signal_all(&self, sig: i32) -> Result<(), Error> {
        match self.cgroup()? {
            Some(m) => {
                m.kill_all(sig)?;
                thaw_for_kill(&m, sig)
            }
            None => members::signal_all(&self.state, sig).map_err(sys_err("kill --all")),
        }
    }

    /// After a SIGKILL to the init alone, thaw a paused container so it can die.
    pub(super) fn thaw_for_kill(&self, sig: i32) -> Result<(), Error> {
        match self.cgroup()? {
            Some(m) => thaw_for_kill(&m, sig),
            None => Ok(()),
        }
    }

    /// Remove the cgroup directories this container created. Without a pid
    /// namespace of its own, processes the init left behind are killed first (as
    /// runc does), so nothing keeps the cgroup busy; with one, the kernel killed them
    /// with the init, and whatever remains belongs to a container sharing the cgroup.
    pub(super) fn remove_cgroup(&self) -> Result<(), Error> {
        let Some(m) = self.cgroup()? else {
            return Ok(());
        };
        let own_pid_ns = crate::namespaces::Plan::from_spec(&self.state.config)
            .is_ok_and(|p| p.is_new(oci_spec::runtime::LinuxNamespaceType::Pid));
        if !own_pid_ns && m.pids().is_ok_and(|p| !p.is_empty()) {
            m.kill_all(libc::SIGKILL)?;
        }
        Ok(m.remove()?)
    }

    fn require_cgroup(&self, op: &'static str) -> Result<Manager, Error> {
        self.cgroup()?.ok_or_else(|| {
            Error::Unsupported(format!(
                "cannot {op} container {}: it has no cgroup (created by an older coracle)",
                self.id()
            ))
        })
    }

    /// Freeze every process of the container (`pause`).
    pub fn pause(&self) -> Result<(), Error> {
        self.require("pause", &[Status::Running, Status::Created])?;
        Ok(self.require_cgroup("pause")?.freeze()?)
    }

    /// Thaw a paused container (`resume`).
    pub fn resume(&self) -> Result<(), Error> {
        self.require("resume", &[Status::Paused])?;
        Ok(self.require_cgroup("resume")?.thaw()?)
    }

    /// Apply new limits live and remember them in the state (`update`). Fields left
    /// out keep their values; device rules are not updated.
    pub fn update(&mut self, resources: &LinuxResources) -> Result<(), Error> {
        self.require(
            "update",
            &[Status::Created, Status::Running, Status::Paused],
        )?;
        let m = self.require_cgroup("update")?;
        // As runc: the device rules stay those of create (engines pass the whole
        // resources object back, devices included, and expect nothing to change).
        let mut resources = resources.clone();
        resources.set_devices(None);
        m.set(&resources)?;
        self.state.config = merge_resources(&self.state.config, &resources)?;
        self.dir.write_state(&self.state)?;
        Ok(())
    }

    /// The cgroup statistics (`events --stats`).
    pub fn stats(&self) -> Result<Stats, Error> {
        self.require(
            "get stats of",
            &[Status::Created, Status::Running, Status::Paused],
        )?;
        Ok(self.require_cgroup("get stats of")?.stats()?)
    }

    /// Host pids of every process in the container (`ps`).
    pub fn processes(&self) -> Result<Vec<i32>, Error> {
        self.require(
            "list processes of",
            &[Status::Created, Status::Running, Status::Paused],
        )?;
        Ok(self.require_cgroup("list processes of")?.pids()?)
    }

    /// What `events` needs to follow the container without holding its lock: the
    /// cgroup and a pidfd that becomes readable when the init exits.
    pub fn monitor(&self) -> Result<Monitor, Error> {
        self.require(
            "follow events of",
            &[Status::Created, Status::Running, Status::Paused],
        )?;
        Ok(Monitor {
            cgroup: self.require_cgroup("follow events of")?,
            init: self.pidfd()?,
        })
    }
}

/// A running container followed from outside its lock (`events`).
#[derive(Debug)]
pub struct Monitor {
    cgroup: Manager,
    init: OwnedFd,
}

impl Monitor {
    /// The cgroup statistics now.
    pub fn stats(&self) -> Result<Stats, Error> {
        Ok(self.cgroup.stats()?)
    }

    /// A watcher of OOM kills in the container's cgroup.
    pub fn oom_watcher(&self) -> Result<OomWatcher, Error> {
        Ok(self.cgroup.oom_watcher()?)
    }

    /// Whether the init has exited.
    pub fn exited(&self) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(self.init.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
    }

    /// A pidfd of the init: readable once it has exited.
    pub fn init(&self) -> std::os::fd::BorrowedFd<'_> {
        self.init.as_fd()
    }
}

/// A SIGKILL does not reach the processes of a frozen v1 cgroup: thaw it (runc does).
fn thaw_for_kill(m: &Manager, sig: i32) -> Result<(), Error> {
    if sig == libc::SIGKILL && m.is_frozen()? {
        m.thaw()?;
    }
    Ok(())
}

/// The spec with `update`'s resources laid over `linux.resources`: objects merge key
/// by key, anything else given replaces what was there.
fn merge_resources(spec: &Spec, update: &LinuxResources) -> Result<Spec, Error> {
    let bad = |e: serde_json::Error| Error::Unsupported(format!("update: linux.resources: {e}"));
    let mut config = serde_json::to_value(spec).map_err(bad)?;
    let patch = serde_json::to_value(update).map_err(bad)?;
    let linux = config
        .as_object_mut()
        .map(|o| o.entry("linux").or_insert_with(|| serde_json::json!({})))
        .and_then(|l| l.as_object_mut())
        .ok_or_else(|| Error::Unsupported("update: linux: not an object".into()))?;
    let slot = linux
        .entry("resources")
        .or_insert_with(|| serde_json::json!({}));
    merge_json(slot, patch);
    serde_json::from_value(config).map_err(bad)
}

fn merge_json(into: &mut serde_json::Value, patch: serde_json::Value) {
    match (into, patch) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    continue;
                }
                merge_json(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxMemoryBuilder, LinuxResourcesBuilder, SpecBuilder};

    #[test]
    fn update_merges_into_linux_resources() {
        let spec = SpecBuilder::default()
            .linux(
                LinuxBuilder::default()
                    .resources(
                        LinuxResourcesBuilder::default()
                            .memory(
                                LinuxMemoryBuilder::default()
                                    .limit(100_i64)
                                    .reservation(50_i64)
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let update = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(200_i64)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let merged = merge_resources(&spec, &update).unwrap();
        let mem = merged
            .linux()
            .as_ref()
            .unwrap()
            .resources()
            .as_ref()
            .unwrap()
            .memory()
            .unwrap();
        assert_eq!(mem.limit(), Some(200));
        assert_eq!(mem.reservation(), Some(50), "untouched fields stay");
    }
}
