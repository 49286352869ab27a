//! Writing `LinuxResources` to v1 controller files, as runc's fs subsystems.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::cgroups::fs::{self, set as write};
use crate::cgroups::{devices, stats::huge_page_sizes, CgroupError};

const R: &str = "linux.resources";

/// The directory of `ctrl`, or an error naming `field` when it is not mounted.
fn need<'a>(
    paths: &'a BTreeMap<String, PathBuf>,
    ctrl: &str,
    field: &str,
) -> Result<&'a Path, CgroupError> {
    paths.get(ctrl).map(PathBuf::as_path).ok_or_else(|| {
        CgroupError::resource(
            field,
            format!("the {ctrl} cgroup controller is not mounted on this host"),
        )
    })
}

/// Write every resource that is set, in runc's subsystem order.
pub(crate) fn set(
    paths: &BTreeMap<String, PathBuf>,
    r: &LinuxResources,
) -> Result<(), CgroupError> {
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(CgroupError::resource(
            format!("{R}.unified"),
            "cgroup v2 files cannot be set on a cgroup v1 host",
        ));
    }
    if let Some(cpu) = r.cpu() {
        cpuset(paths, cpu)?;
    }
    if let Some(rules) = r.devices() {
        let dir = need(paths, "devices", &format!("{R}.devices"))?;
        devices::apply_v1(dir, rules).map_err(CgroupError::Devices)?;
    }
    if let Some(m) = r.memory() {
        memory(paths, m)?;
    }
    if let Some(cpu) = r.cpu() {
        self::cpu(paths, cpu)?;
    }
    if let Some(p) = r.pids() {
        let field = format!("{R}.pids.limit");
        if p.limit() != 0 {
            let dir = need(paths, "pids", &field)?;
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            };
            write(dir, "pids.max", &v, &field)?;
        }
    }
    if let Some(b) = r.block_io() {
        blkio(paths, b)?;
    }
    if let Some(limits) = r.hugepage_limits() {
        let sizes = huge_page_sizes();
        for (i, l) in limits.iter().enumerate() {
            let field = format!("{R}.hugepageLimits[{i}]");
            let dir = need(paths, "hugetlb", &field)?;
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
            let v = l.limit().to_string();
            write(
                dir,
                &format!("hugetlb.{}.limit_in_bytes", l.page_size()),
                &v,
                &field,
            )?;
            let rsvd = format!("hugetlb.{}.rsvd.limit_in_bytes", l.page_size());
            if dir.join(&rsvd).exists() {
                write(dir, &rsvd, &v, &field)?;
            }
        }
    }
    if let Some(net) = r.network() {
        if let Some(id) = net.class_id() {
            let field = format!("{R}.network.classID");
            write(
                need(paths, "net_cls", &field)?,
                "net_cls.classid",
                &id.to_string(),
                &field,
            )?;
        }
        for (i, p) in net.priorities().iter().flatten().enumerate() {
            let field = format!("{R}.network.priorities[{i}]");
            let v = format!("{} {}", p.name(), p.priority());
            write(
                need(paths, "net_prio", &field)?,
                "net_prio.ifpriomap",
                &v,
                &field,
            )?;
        }
    }
    if let Some(rdma) = r.rdma() {
        let mut devs: Vec<_> = rdma.iter().collect();
        devs.sort_by(|a, b| a.0.cmp(b.0));
        for (dev, l) in devs {
            let field = format!("{R}.rdma.{dev}");
            write(
                need(paths, "rdma", &field)?,
                "rdma.max",
                &rdma_line(dev, l),
                &field,
            )?;
        }
    }
    Ok(())
}

/// `DEV hca_handle=N hca_object=M` for rdma.max (v1 and v2 alike).
pub(crate) fn rdma_line(dev: &str, l: &oci_spec::runtime::LinuxRdma) -> String {
    let mut s = dev.to_string();
    if let Some(h) = l.hca_handles() {
        s += &format!(" hca_handle={h}");
    }
    if let Some(o) = l.hca_objects() {
        s += &format!(" hca_object={o}");
    }
    s
}

fn cpuset(paths: &BTreeMap<String, PathBuf>, c: &LinuxCpu) -> Result<(), CgroupError> {
    for (value, file, name) in [
        (c.cpus(), "cpuset.cpus", "cpus"),
        (c.mems(), "cpuset.mems", "mems"),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            let field = format!("{R}.cpu.{name}");
            write(need(paths, "cpuset", &field)?, file, v, &field)?;
        }
    }
    Ok(())
}

/// Memory limit then swap, or swap first when raising, so the kernel's
/// memsw >= limit rule holds at every step (runc's setMemoryAndSwap).
fn memory(paths: &BTreeMap<String, PathBuf>, m: &LinuxMemory) -> Result<(), CgroupError> {
    let f = |n: &str| format!("{R}.memory.{n}");
    let set_fields: Vec<&str> = [
        (m.limit().is_some(), "limit"),
        (m.reservation().is_some(), "reservation"),
        (m.swap().is_some(), "swap"),
        (m.kernel().is_some(), "kernel"),
        (m.kernel_tcp().is_some(), "kernelTCP"),
        (m.swappiness().is_some(), "swappiness"),
        (m.disable_oom_killer().is_some(), "disableOOMKiller"),
        (m.use_hierarchy().is_some(), "useHierarchy"),
    ]
    .into_iter()
    .filter_map(|(on, n)| on.then_some(n))
    .collect();
    let Some(first) = set_fields.first() else {
        return Ok(());
    };
    let dir = need(paths, "memory", &f(first))?;

    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    if m.check_before_update() == Some(true) {
        let usage = fs::read_u64(&dir.join("memory.usage_in_bytes"))?;
        for (v, n, what) in [(swap, "swap", "memory+swap"), (limit, "limit", "memory")] {
            if v > 0 && v as u64 <= usage {
                return Err(CgroupError::resource(
                    f(n),
                    format!("rejecting {what} limit {v} <= usage {usage}"),
                ));
            }
        }
    }
    let memsw = "memory.memsw.limit_in_bytes";
    if limit == -1 && swap == 0 && dir.join(memsw).exists() {
        swap = -1;
    }
    let set_limit = |v: i64| -> Result<(), CgroupError> {
        if v == 0 {
            return Ok(());
        }
        let path = dir.join("memory.limit_in_bytes");
        match fs::write_file(&path, &v.to_string()) {
            Ok(()) => Ok(()),
            // The kernel could not reclaim below the new limit.
            Err(Errno::EBUSY) => {
                let usage = fs::read_u64(&dir.join("memory.usage_in_bytes"))?;
                let peak = fs::read_u64(&dir.join("memory.max_usage_in_bytes"))?;
                Err(CgroupError::resource(
                    f("limit"),
                    format!("unable to set memory limit to {v} (current usage: {usage}, peak usage: {peak})"),
                ))
            }
            Err(source) => Err(CgroupError::Write {
                field: f("limit"),
                path,
                value: v.to_string(),
                source,
            }),
        }
    };
    let set_swap = |v: i64| {
        if v == 0 {
            Ok(())
        } else {
            write(dir, memsw, &v.to_string(), &f("swap"))
        }
    };
    let swap_first = limit != 0
        && swap != 0
        && (swap == -1 || fs::read_u64(&dir.join("memory.limit_in_bytes"))? < swap as u64);
    if swap_first {
        set_swap(swap)?;
        set_limit(limit)?;
    } else {
        set_limit(limit)?;
        set_swap(swap)?;
    }
    if let Some(v) = m.reservation() {
        write(
            dir,
            "memory.soft_limit_in_bytes",
            &v.to_string(),
            &f("reservation"),
        )?;
    }
    // Kernels since 5.16 accept and ignore kmem limits: read back, so an ignored
    // limit is an error rather than a container without it.
    for (v, file, name) in [
        (m.kernel(), "memory.kmem.limit_in_bytes", "kernel"),
        (
            m.kernel_tcp(),
            "memory.kmem.tcp.limit_in_bytes",
            "kernelTCP",
        ),
    ] {
        let Some(v) = v else { continue };
        write(dir, file, &v.to_string(), &f(name))?;
        if v > 0 {
            let got = fs::read_u64(&dir.join(file))?;
            // The kernel rounds to whole pages.
            if got < v as u64 || got - v as u64 >= 4096 * 16 {
                return Err(CgroupError::resource(
                    f(name),
                    format!("this kernel ignores {file} (wrote {v}, reads {got})"),
                ));
            }
        }
    }
    if let Some(d) = m.disable_oom_killer() {
        write(
            dir,
            "memory.oom_control",
            if d { "1" } else { "0" },
            &f("disableOOMKiller"),
        )?;
    }
    match m.swappiness() {
        // -1 as an unsigned number: unset, as runc.
        None | Some(u64::MAX) => {}
        Some(v) if v <= 100 => write(dir, "memory.swappiness", &v.to_string(), &f("swappiness"))?,
        Some(v) => {
            return Err(CgroupError::resource(
                f("swappiness"),
                format!("{v} is out of range 0-100"),
            ))
        }
    }
    if let Some(h) = m.use_hierarchy() {
        write(
            dir,
            "memory.use_hierarchy",
            if h { "1" } else { "0" },
            &f("useHierarchy"),
        )?;
    }
    Ok(())
}

fn cpu(paths: &BTreeMap<String, PathBuf>, c: &LinuxCpu) -> Result<(), CgroupError> {
    let f = |n: &str| format!("{R}.cpu.{n}");
    let dir_for = |n: &str| need(paths, "cpu", &f(n));
    if let Some(shares) = c.shares().filter(|s| *s != 0) {
        let d = dir_for("shares")?;
        write(d, "cpu.shares", &shares.to_string(), &f("shares"))?;
        let got = fs::read_u64(&d.join("cpu.shares"))?;
        if got != shares {
            let bound = if shares > got { "maximum" } else { "minimum" };
            return Err(CgroupError::resource(
                f("shares"),
                format!("the {bound} allowed cpu-shares is {got}"),
            ));
        }
    }
    // A shorter period can be refused (EINVAL) until the quota is lowered: retry
    // it after the quota, as runc.
    let mut period_pending = None;
    if let Some(p) = c.period().filter(|p| *p != 0) {
        let d = dir_for("period")?;
        match fs::write_file(&d.join("cpu.cfs_period_us"), &p.to_string()) {
            Ok(()) => {}
            Err(Errno::EINVAL) if c.quota().is_some_and(|q| q != 0) => period_pending = Some(p),
            Err(_) => write(d, "cpu.cfs_period_us", &p.to_string(), &f("period"))?,
        }
    }
    let mut burst_pending = None;
    if let Some(b) = c.burst() {
        let d = dir_for("burst")?;
        match fs::write_file(&d.join("cpu.cfs_burst_us"), &b.to_string()) {
            Ok(()) => {}
            Err(Errno::EINVAL) if c.quota().is_some_and(|q| q != 0) => burst_pending = Some(b),
            Err(_) => write(d, "cpu.cfs_burst_us", &b.to_string(), &f("burst"))?,
        }
    }
    if let Some(q) = c.quota().filter(|q| *q != 0) {
        let d = dir_for("quota")?;
        write(d, "cpu.cfs_quota_us", &q.to_string(), &f("quota"))?;
        if let Some(p) = period_pending {
            write(d, "cpu.cfs_period_us", &p.to_string(), &f("period"))?;
        }
        if let Some(b) = burst_pending {
            write(d, "cpu.cfs_burst_us", &b.to_string(), &f("burst"))?;
        }
    }
    if let Some(idle) = c.idle() {
        write(dir_for("idle")?, "cpu.idle", &idle.to_string(), &f("idle"))?;
    }
    // Period before runtime: the runtime must fit in the period.
    if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
        write(
            dir_for("realtimePeriod")?,
            "cpu.rt_period_us",
            &p.to_string(),
            &f("realtimePeriod"),
        )?;
    }
    if let Some(rt) = c.realtime_runtime().filter(|r| *r != 0) {
        write(
            dir_for("realtimeRuntime")?,
            "cpu.rt_runtime_us",
            &rt.to_string(),
            &f("realtimeRuntime"),
        )?;
    }
    Ok(())
}

fn blkio(paths: &BTreeMap<String, PathBuf>, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let f = |n: &str| format!("{R}.blockIO.{n}");
    let weight_files = |dir: &Path,
                        field: &str|
     -> Result<(&'static str, &'static str), CgroupError> {
        if dir.join("blkio.weight").exists() {
            Ok(("blkio.weight", "blkio.weight_device"))
        } else if dir.join("blkio.bfq.weight").exists() {
            Ok(("blkio.bfq.weight", "blkio.bfq.weight_device"))
        } else {
            Err(CgroupError::resource(
                field,
                format!("{} has neither blkio.weight nor blkio.bfq.weight (no CFQ/BFQ group scheduling)", dir.display()),
            ))
        }
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        let d = need(paths, "blkio", &f("weight"))?;
        let (file, _) = weight_files(d, &f("weight"))?;
        write(d, file, &w.to_string(), &f("weight"))?;
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        write(
            need(paths, "blkio", &f("leafWeight"))?,
            "blkio.leaf_weight",
            &w.to_string(),
            &f("leafWeight"),
        )?;
    }
    for (i, wd) in b.weight_device().iter().flatten().enumerate() {
        let field = f(&format!("weightDevice[{i}]"));
        let d = need(paths, "blkio", &field)?;
        if let Some(w) = wd.weight().filter(|w| *w != 0) {
            let (_, file) = weight_files(d, &field)?;
            write(
                d,
                file,
                &format!("{}:{} {w}", wd.major(), wd.minor()),
                &format!("{field}.weight"),
            )?;
        }
        if let Some(w) = wd.leaf_weight().filter(|w| *w != 0) {
            let v = format!("{}:{} {w}", wd.major(), wd.minor());
            write(
                d,
                "blkio.leaf_weight_device",
                &v,
                &format!("{field}.leafWeight"),
            )?;
        }
    }
    let throttles = [
        (
            b.throttle_read_bps_device(),
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
        ),
        (
            b.throttle_write_bps_device(),
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
        ),
        (
            b.throttle_read_iops_device(),
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
        ),
        (
            b.throttle_write_iops_device(),
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
        ),
    ];
    for (list, name, file) in throttles {
        for (i, t) in list.iter().flatten().enumerate() {
            let field = f(&format!("{name}[{i}]"));
            let v = format!("{}:{} {}", t.major(), t.minor(), t.rate());
            write(need(paths, "blkio", &field)?, file, &v, &field)?;
        }
    }
    Ok(())
}
