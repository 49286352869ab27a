//! Writing `LinuxResources` to cgroup v2 files, with runc's conversions from the
//! v1-shaped OCI values. Whatever v2 has no file for is an error naming the field.

use std::os::fd::AsFd;
use std::path::Path;

use nix::errno::Errno;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::cgroups::convert::{blkio_weight_to_io_weight, cpu_shares_to_weight, memory_swap_to_v2};
use crate::cgroups::fs::{self, set as write};
use crate::cgroups::stats::huge_page_sizes;
use crate::cgroups::v1::set::rdma_line;
use crate::cgroups::{devices, CgroupError};

const R: &str = "linux.resources";

struct Dir<'a> {
    path: &'a Path,
    controllers: Vec<String>,
}

impl Dir<'_> {
    /// Fail naming `field` unless `ctrl` is enabled for this cgroup.
    fn need(&self, ctrl: &str, field: &str) -> Result<(), CgroupError> {
        if self.controllers.iter().any(|c| c == ctrl) {
            return Ok(());
        }
        Err(CgroupError::resource(
            field,
            format!(
                "the {ctrl} controller is not available in {} (cgroup.controllers: {:?})",
                self.path.display(),
                self.controllers.join(" ")
            ),
        ))
    }
}

fn unsupported(field: String, what: &str) -> CgroupError {
    CgroupError::resource(field, format!("{what} is not supported on cgroup v2"))
}

/// -1 reads as "max" in v2's .max/.low/.high files.
fn limit_str(v: i64) -> String {
    if v == -1 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Write every resource that is set, in runc's fs2 order.
pub(crate) fn set(path: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    let d = Dir {
        path,
        controllers: super::controllers(path)?,
    };
    if let Some(p) = r.pids() {
        let field = format!("{R}.pids.limit");
        if p.limit() != 0 {
            d.need("pids", &field)?;
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            };
            write(path, "pids.max", &v, &field)?;
        }
    }
    if let Some(m) = r.memory() {
        memory(&d, m)?;
    }
    if let Some(b) = r.block_io() {
        io(&d, b)?;
    }
    if let Some(c) = r.cpu() {
        cpu(&d, c)?;
    }
    if let Some(rules) = r.devices() {
        let fd = fs::open_dir(path)?;
        devices::apply_v2(fd.as_fd(), rules).map_err(CgroupError::Devices)?;
    }
    if let Some(c) = r.cpu() {
        for (value, file, name) in [
            (c.cpus(), "cpuset.cpus", "cpus"),
            (c.mems(), "cpuset.mems", "mems"),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                let field = format!("{R}.cpu.{name}");
                d.need("cpuset", &field)?;
                write(path, file, v, &field)?;
            }
        }
    }
    if let Some(limits) = r.hugepage_limits() {
        let sizes = huge_page_sizes();
        for (i, l) in limits.iter().enumerate() {
            let field = format!("{R}.hugepageLimits[{i}]");
            d.need("hugetlb", &field)?;
            if !sizes.contains(l.page_size()) {
                return Err(CgroupError::resource(
                    format!("{field}.pageSize"),
                    format!(
                        "{:?} is not a huge page size of this host ({})",
                        l.page_size(),
                        sizes.join(", ")
                    ),
                ));
            }
            let v = limit_str(l.limit());
            write(path, &format!("hugetlb.{}.max", l.page_size()), &v, &field)?;
            let rsvd = format!("hugetlb.{}.rsvd.max", l.page_size());
            if path.join(&rsvd).exists() {
                write(path, &rsvd, &v, &field)?;
            }
        }
    }
    if let Some(net) = r.network() {
        if net.class_id().is_some() {
            return Err(unsupported(format!("{R}.network.classID"), "net_cls"));
        }
        if net.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(unsupported(format!("{R}.network.priorities"), "net_prio"));
        }
    }
    if let Some(rdma) = r.rdma() {
        let mut devs: Vec<_> = rdma.iter().collect();
        devs.sort_by(|a, b| a.0.cmp(b.0));
        for (dev, l) in devs {
            let field = format!("{R}.rdma.{dev}");
            d.need("rdma", &field)?;
            write(path, "rdma.max", &rdma_line(dev, l), &field)?;
        }
    }
    if let Some(u) = r.unified() {
        unified(&d, u)?;
    }
    Ok(())
}

fn memory(d: &Dir<'_>, m: &LinuxMemory) -> Result<(), CgroupError> {
    let f = |n: &str| format!("{R}.memory.{n}");
    if m.kernel().is_some() {
        return Err(unsupported(f("kernel"), "a kernel memory limit"));
    }
    if m.kernel_tcp().is_some() {
        return Err(unsupported(f("kernelTCP"), "a kernel TCP memory limit"));
    }
    if m.swappiness().is_some_and(|s| s != u64::MAX) {
        return Err(unsupported(f("swappiness"), "per-cgroup swappiness"));
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(unsupported(
            f("disableOOMKiller"),
            "disabling the OOM killer",
        ));
    }
    if m.use_hierarchy() == Some(false) {
        return Err(unsupported(
            f("useHierarchy"),
            "non-hierarchical accounting",
        ));
    }
    let limit = m.limit().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);
    let reservation = m.reservation().unwrap_or(0);
    if limit == 0 && swap == 0 && reservation == 0 {
        return Ok(());
    }
    let first = if limit != 0 {
        "limit"
    } else if swap != 0 {
        "swap"
    } else {
        "reservation"
    };
    d.need("memory", &f(first))?;
    if m.check_before_update() == Some(true) {
        let usage = fs::read_u64(&d.path.join("memory.current"))?;
        for (v, n, what) in [(swap, "swap", "memory+swap"), (limit, "limit", "memory")] {
            if v > 0 && v as u64 <= usage {
                return Err(CgroupError::resource(
                    f(n),
                    format!("rejecting {what} limit {v} <= usage {usage}"),
                ));
            }
        }
    }
    let swap_max =
        memory_swap_to_v2(swap, limit).map_err(|e| CgroupError::resource(f("swap"), e))?;
    let swap_str = match swap_max {
        -1 => Some("max".to_string()),
        0 if swap > 0 => Some("0".to_string()),
        0 => None,
        v => Some(v.to_string()),
    };
    if let Some(v) = swap_str {
        let path = d.path.join("memory.swap.max");
        match fs::write_file(&path, &v) {
            Ok(()) => {}
            // No swap accounting: "no swap limit" holds trivially (as runc).
            Err(Errno::ENOENT) if v == "max" => {}
            Err(source) => {
                return Err(CgroupError::Write {
                    field: f("swap"),
                    path,
                    value: v,
                    source,
                })
            }
        }
    }
    if limit != 0 {
        write(d.path, "memory.max", &limit_str(limit), &f("limit"))?;
    }
    if reservation != 0 {
        write(
            d.path,
            "memory.low",
            &limit_str(reservation),
            &f("reservation"),
        )?;
    }
    Ok(())
}

fn io(d: &Dir<'_>, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let f = |n: &str| format!("{R}.blockIO.{n}");
    if b.leaf_weight().is_some_and(|w| w != 0) {
        return Err(unsupported(f("leafWeight"), "a leaf weight"));
    }
    let bfq = d.path.join("io.bfq.weight").exists();
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        d.need("io", &f("weight"))?;
        if bfq {
            write(d.path, "io.bfq.weight", &w.to_string(), &f("weight"))?;
        } else {
            write(
                d.path,
                "io.weight",
                &blkio_weight_to_io_weight(w).to_string(),
                &f("weight"),
            )?;
        }
    }
    for (i, wd) in b.weight_device().iter().flatten().enumerate() {
        let field = f(&format!("weightDevice[{i}]"));
        if wd.leaf_weight().is_some_and(|w| w != 0) {
            return Err(unsupported(format!("{field}.leafWeight"), "a leaf weight"));
        }
        if let Some(w) = wd.weight().filter(|w| *w != 0) {
            d.need("io", &field)?;
            let (file, w) = if bfq {
                ("io.bfq.weight", u64::from(w))
            } else {
                ("io.weight", blkio_weight_to_io_weight(w))
            };
            write(
                d.path,
                file,
                &format!("{}:{} {w}", wd.major(), wd.minor()),
                &format!("{field}.weight"),
            )?;
        }
    }
    let throttles = [
        (
            b.throttle_read_bps_device(),
            "throttleReadBpsDevice",
            "rbps",
        ),
        (
            b.throttle_write_bps_device(),
            "throttleWriteBpsDevice",
            "wbps",
        ),
        (
            b.throttle_read_iops_device(),
            "throttleReadIOPSDevice",
            "riops",
        ),
        (
            b.throttle_write_iops_device(),
            "throttleWriteIOPSDevice",
            "wiops",
        ),
    ];
    for (list, name, key) in throttles {
        for (i, t) in list.iter().flatten().enumerate() {
            let field = f(&format!("{name}[{i}]"));
            d.need("io", &field)?;
            write(
                d.path,
                "io.max",
                &format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()),
                &field,
            )?;
        }
    }
    Ok(())
}

fn cpu(d: &Dir<'_>, c: &LinuxCpu) -> Result<(), CgroupError> {
    let f = |n: &str| format!("{R}.cpu.{n}");
    if c.realtime_runtime().is_some_and(|v| v != 0) {
        return Err(unsupported(
            f("realtimeRuntime"),
            "real-time group scheduling",
        ));
    }
    if c.realtime_period().is_some_and(|v| v != 0) {
        return Err(unsupported(
            f("realtimePeriod"),
            "real-time group scheduling",
        ));
    }
    if let Some(shares) = c.shares().filter(|s| *s != 0) {
        d.need("cpu", &f("shares"))?;
        write(
            d.path,
            "cpu.weight",
            &cpu_shares_to_weight(shares).to_string(),
            &f("shares"),
        )?;
    }
    let quota = c.quota().filter(|q| *q != 0);
    let period = c.period().filter(|p| *p != 0);
    if quota.is_some() || period.is_some() {
        let field = if quota.is_some() {
            f("quota")
        } else {
            f("period")
        };
        d.need("cpu", &field)?;
        // cpu.max takes "QUOTA PERIOD"; keep the half the spec leaves unset.
        let path = d.path.join("cpu.max");
        let current = fs::read(&path)?;
        let mut cur = current.split_whitespace();
        let (cur_quota, cur_period) = (
            cur.next().unwrap_or("max").to_string(),
            cur.next().unwrap_or("100000"),
        );
        let q = match quota {
            Some(q) if q > 0 => q.to_string(),
            Some(_) => "max".to_string(),
            None => cur_quota,
        };
        let p = period
            .map(|p| p.to_string())
            .unwrap_or_else(|| cur_period.to_string());
        write(d.path, "cpu.max", &format!("{q} {p}"), &field)?;
    }
    if let Some(b) = c.burst() {
        d.need("cpu", &f("burst"))?;
        write(d.path, "cpu.max.burst", &b.to_string(), &f("burst"))?;
    }
    if let Some(idle) = c.idle() {
        d.need("cpu", &f("idle"))?;
        write(d.path, "cpu.idle", &idle.to_string(), &f("idle"))?;
    }
    Ok(())
}

fn unified(d: &Dir<'_>, u: &std::collections::HashMap<String, String>) -> Result<(), CgroupError> {
    let mut keys: Vec<_> = u.iter().collect();
    keys.sort();
    for (k, v) in keys {
        let field = format!("{R}.unified.{k}");
        if k.contains('/') || k.starts_with('.') || k.is_empty() {
            return Err(CgroupError::resource(
                field,
                "must be a file name in the cgroup directory",
            ));
        }
        let Some((ctrl, _)) = k.split_once('.') else {
            return Err(CgroupError::resource(field, "must be CONTROLLER.PARAMETER"));
        };
        let path = d.path.join(k);
        if let Err(source) = fs::write_file(&path, v) {
            if matches!(source, Errno::ENOENT | Errno::EPERM) && ctrl != "cgroup" {
                d.need(ctrl, &field)?;
            }
            return Err(CgroupError::Write {
                field,
                path,
                value: v.clone(),
                source,
            });
        }
    }
    Ok(())
}
