//! Statistics from cgroup v2 files, mapped onto runc's (v1-shaped) stats as fs2 does.

use std::path::Path;

use crate::cgroups::fs::{self, read_opt, read_u64, read_u64_opt};
use crate::cgroups::stats::{
    huge_page_sizes, parse_cpu_list, BlkioEntry, HugetlbStats, MemoryEntry, Stats,
};
use crate::cgroups::CgroupError;

/// Gather the statistics of the cgroup at `dir`.
pub(crate) fn stats(dir: &Path) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    // pids
    if let Some(cur) = read_u64_opt(&dir.join("pids.current"))? {
        s.pids.current = cur;
        let max = read_u64(&dir.join("pids.max"))?;
        s.pids.limit = if max == u64::MAX { 0 } else { max };
    }
    memory(dir, &mut s)?;
    io(dir, &mut s)?;
    // cpu.stat exists even without the cpu controller.
    let path = dir.join("cpu.stat");
    if let Some(text) = read_opt(&path)? {
        for (k, v) in fs::key_values(&path, &text)? {
            match k.as_str() {
                "usage_usec" => s.cpu.usage.total = v * 1000,
                "user_usec" => s.cpu.usage.user = v * 1000,
                "system_usec" => s.cpu.usage.kernel = v * 1000,
                "nr_periods" => s.cpu.throttling.periods = v,
                "nr_throttled" => s.cpu.throttling.throttled_periods = v,
                "throttled_usec" => s.cpu.throttling.throttled_time = v * 1000,
                _ => {}
            }
        }
    }
    if let Some(t) = read_opt(&dir.join("cpuset.cpus.effective"))? {
        s.cpuset.cpus = parse_cpu_list(&t).unwrap_or_default();
        s.cpuset.mems =
            parse_cpu_list(&fs::read(&dir.join("cpuset.mems.effective"))?).unwrap_or_default();
    }
    for size in huge_page_sizes() {
        let Some(usage) = read_u64_opt(&dir.join(format!("hugetlb.{size}.current")))? else {
            continue;
        };
        let events = dir.join(format!("hugetlb.{size}.events"));
        let failcnt = fs::read_key(&events, "max")?.unwrap_or(0);
        s.hugetlb.insert(
            size,
            HugetlbStats {
                usage,
                max: 0,
                failcnt,
            },
        );
    }
    Ok(s)
}

fn memory_entry(dir: &Path, prefix: &str) -> Result<Option<MemoryEntry>, CgroupError> {
    let f = |n: &str| dir.join(format!("{prefix}.{n}"));
    let Some(usage) = read_u64_opt(&f("current"))? else {
        return Ok(None);
    };
    Ok(Some(MemoryEntry {
        usage,
        limit: read_u64(&f("max"))?,
        // memory.peak since 5.19, memory.swap.peak since 6.5.
        max: read_u64_opt(&f("peak"))?.unwrap_or(0),
        failcnt: 0,
    }))
}

fn memory(dir: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let path = dir.join("memory.stat");
    let Some(text) = read_opt(&path)? else {
        return Ok(());
    };
    s.memory.raw = fs::key_values(&path, &text)?.into_iter().collect();
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    let Some(mut usage) = memory_entry(dir, "memory")? else {
        return Ok(());
    };
    // failcnt: how often the limit was hit (memory.events max), as runc.
    usage.failcnt = fs::read_key(&dir.join("memory.events"), "max")?.unwrap_or(0);
    // v1 reports swap as memory+swap; runc keeps that meaning on v2.
    let mut swap = memory_entry(dir, "memory.swap")?.unwrap_or_default();
    swap.usage += usage.usage;
    if swap.limit != u64::MAX {
        swap.limit = swap.limit.saturating_add(usage.limit);
    }
    swap.max = 0;
    s.memory.usage = usage;
    s.memory.swap = swap;
    Ok(())
}

fn io(dir: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let path = dir.join("io.stat");
    let Some(text) = read_opt(&path)? else {
        return Ok(());
    };
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some((maj, min)) = fields.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        for item in fields {
            let Some((key, value)) = item.split_once('=') else {
                continue;
            };
            let Ok(value) = value.parse::<u64>() else {
                continue;
            };
            let (op, table) = match key {
                "rbytes" => ("Read", &mut s.blkio.io_service_bytes_recursive),
                "wbytes" => ("Write", &mut s.blkio.io_service_bytes_recursive),
                "rios" => ("Read", &mut s.blkio.io_serviced_recursive),
                "wios" => ("Write", &mut s.blkio.io_serviced_recursive),
                _ => continue,
            };
            table.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    Ok(())
}
