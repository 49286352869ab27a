//! Statistics from v1 controller files, as runc's fs subsystems read them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cgroups::fs::{self, read_opt, read_u64, read_u64_opt};
use crate::cgroups::stats::{
    huge_page_sizes, parse_cpu_list, BlkioEntry, HugetlbStats, MemoryEntry, Stats,
};
use crate::cgroups::CgroupError;

/// Gather every statistic of the mounted controllers.
pub(crate) fn stats(paths: &BTreeMap<String, PathBuf>) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if let Some(d) = paths.get("cpu") {
        if let Some(text) = read_opt(&d.join("cpu.stat"))? {
            for (k, v) in fs::key_values(&d.join("cpu.stat"), &text)? {
                match k.as_str() {
                    "nr_periods" => s.cpu.throttling.periods = v,
                    "nr_throttled" => s.cpu.throttling.throttled_periods = v,
                    "throttled_time" => s.cpu.throttling.throttled_time = v,
                    _ => {}
                }
            }
        }
    }
    if let Some(d) = paths.get("cpuacct") {
        cpuacct(d, &mut s)?;
    }
    if let Some(d) = paths.get("cpuset") {
        let c = &mut s.cpuset;
        c.cpus = parse_cpu_list(&fs::read(&d.join("cpuset.cpus"))?).unwrap_or_default();
        c.mems = parse_cpu_list(&fs::read(&d.join("cpuset.mems"))?).unwrap_or_default();
        let flags = [
            (&mut c.cpu_exclusive, "cpuset.cpu_exclusive"),
            (&mut c.mem_hardwall, "cpuset.mem_hardwall"),
            (&mut c.mem_exclusive, "cpuset.mem_exclusive"),
            (&mut c.memory_migrate, "cpuset.memory_migrate"),
            (&mut c.memory_spread_page, "cpuset.memory_spread_page"),
            (&mut c.memory_spread_slab, "cpuset.memory_spread_slab"),
            (&mut c.memory_pressure, "cpuset.memory_pressure"),
            (&mut c.sched_load_balance, "cpuset.sched_load_balance"),
        ];
        for (slot, file) in flags {
            *slot = read_u64_opt(&d.join(file))?.unwrap_or(0);
        }
        if let Some(t) = read_opt(&d.join("cpuset.sched_relax_domain_level"))? {
            c.sched_relax_domain_level = t.trim().parse().unwrap_or(0);
        }
    }
    if let Some(d) = paths.get("memory") {
        memory(d, &mut s)?;
    }
    if let Some(d) = paths.get("pids") {
        s.pids.current = read_u64(&d.join("pids.current"))?;
        let max = read_u64(&d.join("pids.max"))?;
        s.pids.limit = if max == u64::MAX { 0 } else { max };
    }
    if let Some(d) = paths.get("blkio") {
        blkio(d, &mut s)?;
    }
    if let Some(d) = paths.get("hugetlb") {
        for size in huge_page_sizes() {
            let f = |n: &str| d.join(format!("hugetlb.{size}.{n}"));
            s.hugetlb.insert(
                size.clone(),
                HugetlbStats {
                    usage: read_u64(&f("usage_in_bytes"))?,
                    max: read_u64(&f("max_usage_in_bytes"))?,
                    failcnt: read_u64(&f("failcnt"))?,
                },
            );
        }
    }
    Ok(s)
}

fn cpuacct(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let u = &mut s.cpu.usage;
    u.total = read_u64(&d.join("cpuacct.usage"))?;
    let list = |file: &str| -> Result<Vec<u64>, CgroupError> {
        let path = d.join(file);
        match read_opt(&path)? {
            Some(t) => t
                .split_whitespace()
                .map(|v| fs::parse_u64(&path, v))
                .collect(),
            None => Ok(Vec::new()),
        }
    };
    u.percpu = list("cpuacct.usage_percpu")?;
    u.percpu_user = list("cpuacct.usage_percpu_user")?;
    u.percpu_kernel = list("cpuacct.usage_percpu_sys")?;
    // cpuacct.stat counts USER_HZ ticks.
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1) as u64;
    let path = d.join("cpuacct.stat");
    for (k, v) in fs::key_values(&path, &fs::read(&path)?)? {
        match k.as_str() {
            "user" => u.user = v * 1_000_000_000 / hz,
            "system" => u.kernel = v * 1_000_000_000 / hz,
            _ => {}
        }
    }
    Ok(())
}

fn memory_entry(d: &Path, prefix: &str) -> Result<Option<MemoryEntry>, CgroupError> {
    let f = |n: &str| d.join(format!("{prefix}.{n}"));
    let Some(usage) = read_u64_opt(&f("usage_in_bytes"))? else {
        return Ok(None);
    };
    Ok(Some(MemoryEntry {
        usage,
        max: read_u64(&f("max_usage_in_bytes"))?,
        failcnt: read_u64(&f("failcnt"))?,
        limit: read_u64(&f("limit_in_bytes"))?,
    }))
}

fn memory(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let path = d.join("memory.stat");
    s.memory.raw = fs::key_values(&path, &fs::read(&path)?)?
        .into_iter()
        .collect();
    s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    s.memory.usage = memory_entry(d, "memory")?.ok_or_else(|| {
        CgroupError::sys(
            "read",
            d.join("memory.usage_in_bytes"),
            nix::errno::Errno::ENOENT,
        )
    })?;
    s.memory.swap = memory_entry(d, "memory.memsw")?.unwrap_or_default();
    s.memory.kernel = memory_entry(d, "memory.kmem")?.unwrap_or_default();
    s.memory.kernel_tcp = memory_entry(d, "memory.kmem.tcp")?.unwrap_or_default();
    Ok(())
}

/// `MAJ:MIN Op value` (or `MAJ:MIN value`) lines; `Total` lines are skipped.
fn blkio_entries(path: &Path, text: &str) -> Result<Vec<BlkioEntry>, CgroupError> {
    let bad = |line: &str| CgroupError::Parse {
        path: path.into(),
        reason: format!("bad line {line:?}"),
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() || fields[0] == "Total" {
            continue;
        }
        let (maj, min) = fields[0].split_once(':').ok_or_else(|| bad(line))?;
        let (op, value) = match fields.len() {
            2 => ("", fields[1]),
            3 => (fields[1], fields[2]),
            _ => return Err(bad(line)),
        };
        out.push(BlkioEntry {
            major: maj.parse().map_err(|_| bad(line))?,
            minor: min.parse().map_err(|_| bad(line))?,
            op: op.to_string(),
            value: value.parse().map_err(|_| bad(line))?,
        });
    }
    Ok(out)
}

fn blkio(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let read = |file: &str| -> Result<Option<Vec<BlkioEntry>>, CgroupError> {
        let path = d.join(file);
        read_opt(&path)?
            .map(|t| blkio_entries(&path, &t))
            .transpose()
    };
    let b = &mut s.blkio;
    // CFQ files when present, else BFQ's, else the throttle layer's (as runc).
    if let Some(v) = read("blkio.io_serviced_recursive")? {
        b.io_serviced_recursive = v;
        b.io_service_bytes_recursive =
            read("blkio.io_service_bytes_recursive")?.unwrap_or_default();
        b.io_queued_recursive = read("blkio.io_queued_recursive")?.unwrap_or_default();
        b.io_service_time_recursive = read("blkio.io_service_time_recursive")?.unwrap_or_default();
        b.io_wait_time_recursive = read("blkio.io_wait_time_recursive")?.unwrap_or_default();
        b.io_merged_recursive = read("blkio.io_merged_recursive")?.unwrap_or_default();
        b.io_time_recursive = read("blkio.time_recursive")?.unwrap_or_default();
        b.sectors_recursive = read("blkio.sectors_recursive")?.unwrap_or_default();
    } else if let Some(v) = read("blkio.bfq.io_serviced_recursive")? {
        b.io_serviced_recursive = v;
        b.io_service_bytes_recursive =
            read("blkio.bfq.io_service_bytes_recursive")?.unwrap_or_default();
    } else {
        b.io_serviced_recursive = read("blkio.throttle.io_serviced_recursive")?
            .or(read("blkio.throttle.io_serviced")?)
            .unwrap_or_default();
        b.io_service_bytes_recursive = read("blkio.throttle.io_service_bytes_recursive")?
            .or(read("blkio.throttle.io_service_bytes")?)
            .unwrap_or_default();
    }
    Ok(())
}
