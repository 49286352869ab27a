//! Statistics, serialised as the `data` of runc's `events --stats` (runc's
//! `types.Stats`, with Go's omitempty rules: zero numbers and empty lists vanish
//! where runc marks them so).

use std::collections::BTreeMap;

use serde::Serialize;

fn zero(v: &u64) -> bool {
    *v == 0
}

/// The whole statistics object.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// CPU usage and throttling.
    pub cpu: CpuStats,
    /// cpuset configuration.
    pub cpuset: CpuSetStats,
    /// Memory usage and limits.
    pub memory: MemoryStats,
    /// Number of tasks and their limit.
    pub pids: PidsStats,
    /// Block I/O counters.
    pub blkio: BlkioStats,
    /// Huge pages per page size ("2MB").
    pub hugetlb: BTreeMap<String, HugetlbStats>,
    /// Intel RDT: not collected (always empty, as runc without RDT).
    pub intel_rdt: serde_json::Map<String, serde_json::Value>,
    /// Network interfaces: not collected (null, as runc).
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

/// CPU statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuStats {
    /// Usage counters.
    pub usage: CpuUsage,
    /// CFS throttling.
    pub throttling: Throttling,
}

/// CPU time in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuUsage {
    /// Total CPU time.
    #[serde(skip_serializing_if = "zero")]
    pub total: u64,
    /// Per CPU.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Per CPU, kernel mode.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// Per CPU, user mode.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// Kernel mode.
    pub kernel: u64,
    /// User mode.
    pub user: u64,
}

/// CFS bandwidth throttling.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Throttling {
    /// Enforcement periods elapsed.
    #[serde(skip_serializing_if = "zero")]
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    #[serde(rename = "throttledPeriods", skip_serializing_if = "zero")]
    pub throttled_periods: u64,
    /// Total throttled time (ns).
    #[serde(rename = "throttledTime", skip_serializing_if = "zero")]
    pub throttled_time: u64,
}

/// cpuset configuration as runc reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuSetStats {
    /// Allowed CPUs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    /// cpuset.cpu_exclusive.
    pub cpu_exclusive: u64,
    /// Allowed memory nodes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    /// cpuset.mem_hardwall.
    pub mem_hardwall: u64,
    /// cpuset.mem_exclusive.
    pub mem_exclusive: u64,
    /// cpuset.memory_migrate.
    pub memory_migrate: u64,
    /// cpuset.memory_spread_page.
    pub memory_spread_page: u64,
    /// cpuset.memory_spread_slab.
    pub memory_spread_slab: u64,
    /// cpuset.memory_pressure.
    pub memory_pressure: u64,
    /// cpuset.sched_load_balance.
    pub sched_load_balance: u64,
    /// cpuset.sched_relax_domain_level.
    pub sched_relax_domain_level: i64,
}

/// One memory counter set (bytes).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MemoryEntry {
    /// Limit (u64::MAX when unlimited).
    pub limit: u64,
    /// Current usage.
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    /// Peak usage.
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Memory statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MemoryStats {
    /// Page cache.
    #[serde(skip_serializing_if = "zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory plus swap (v1 memsw semantics, also on v2 as runc).
    pub swap: MemoryEntry,
    /// Kernel memory (v1 kmem).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1 kmem.tcp).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat, raw.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// pids controller.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PidsStats {
    /// Tasks now.
    #[serde(skip_serializing_if = "zero")]
    pub current: u64,
    /// pids.max (0 when unlimited, as runc).
    #[serde(skip_serializing_if = "zero")]
    pub limit: u64,
}

/// One block I/O counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct BlkioEntry {
    /// Device major.
    #[serde(skip_serializing_if = "zero")]
    pub major: u64,
    /// Device minor.
    #[serde(skip_serializing_if = "zero")]
    pub minor: u64,
    /// Read, Write, Sync, Async, Discard, Total...
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// The count.
    #[serde(skip_serializing_if = "zero")]
    pub value: u64,
}

/// Block I/O statistics (recursive).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlkioStats {
    /// Bytes transferred.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    /// Queued operations.
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    /// Service time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    /// Wait time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    /// Merged operations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    /// Time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    /// Sectors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

/// Huge pages of one size.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HugetlbStats {
    /// Usage (bytes).
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    /// Peak usage (bytes).
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    /// Allocation failures.
    pub failcnt: u64,
}

/// Huge page sizes the kernel offers, named as the hugetlb controller names them
/// ("2MB", "1GB"), from /sys/kernel/mm/hugepages.
pub(crate) fn huge_page_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(kb) = name
            .strip_prefix("hugepages-")
            .and_then(|v| v.strip_suffix("kB"))
        else {
            continue;
        };
        let Ok(kb) = kb.parse::<u64>() else { continue };
        out.push(if kb >= 1 << 20 {
            format!("{}GB", kb >> 20)
        } else if kb >= 1 << 10 {
            format!("{}MB", kb >> 10)
        } else {
            format!("{kb}KB")
        });
    }
    out.sort();
    out
}

/// Parse a cpuset list ("0-3,5").
pub(crate) fn parse_cpu_list(text: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}
