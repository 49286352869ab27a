//! Flags of the commands that act on a container's cgroup: ps, events, update
//! (pause and resume take only the id).

use std::ffi::OsString;

use clap::{Args, ValueEnum};

/// `ps [--format table|json] <container-id> [ps options]`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Select one of: table or json.
    #[arg(short, long, value_enum, default_value_t = PsFormat::Table)]
    pub format: PsFormat,
    /// The container id.
    #[arg(value_name = "container-id")]
    pub id: String,
    /// Options passed to ps(1) (default: -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub ps_args: Vec<OsString>,
}

/// Output formats of `ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PsFormat {
    /// ps(1)'s own table, filtered to the container's processes.
    Table,
    /// A JSON array of pids.
    Json,
}

/// `events [--stats] [--interval 5s] <container-id>`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Set the stats collection interval.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// Display the container's stats then exit.
    #[arg(long)]
    pub stats: bool,
    /// The container id.
    #[arg(value_name = "container-id")]
    pub id: String,
}

/// `update [flags] <container-id>`: runc's flags, or the whole LinuxResources JSON.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Path to a file containing the resources to update, or '-' to read from stdin.
    #[arg(short, long, value_name = "FILE")]
    pub resources: Option<std::path::PathBuf>,
    /// Specifies per cgroup weight, range is from 10 to 1000.
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period to be used for hardcapping (in usecs). 0 to use system default.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period.
    #[arg(long = "cpu-quota", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight vs. other containers).
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_share: Option<u64>,
    /// CPU realtime period to be used for hardcapping (in usecs).
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period.
    #[arg(long = "cpu-rt-runtime", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU(s) to use.
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory node(s) to use.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (in bytes; k, m, g suffixes accepted).
    #[arg(long, value_parser = parse_memory, allow_negative_numbers = true)]
    pub memory: Option<i64>,
    /// Memory reservation or soft_limit (in bytes).
    #[arg(long = "memory-reservation", value_parser = parse_memory, allow_negative_numbers = true)]
    pub memory_reservation: Option<i64>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap.
    #[arg(long = "memory-swap", value_parser = parse_memory, allow_negative_numbers = true)]
    pub memory_swap: Option<i64>,
    /// Maximum number of pids allowed in the container.
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE.
    #[arg(long = "cpu-idle", allow_negative_numbers = true)]
    pub cpu_idle: Option<i64>,
    /// CPU CFS burst (in usecs).
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// The container id.
    #[arg(value_name = "container-id")]
    pub id: String,
}

impl UpdateArgs {
    /// Whether any resource flag was given (besides `--resources`).
    pub fn has_flags(&self) -> bool {
        self.blkio_weight.is_some()
            || self.cpu_period.is_some()
            || self.cpu_quota.is_some()
            || self.cpu_share.is_some()
            || self.cpu_rt_period.is_some()
            || self.cpu_rt_runtime.is_some()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some()
            || self.memory.is_some()
            || self.memory_reservation.is_some()
            || self.memory_swap.is_some()
            || self.pids_limit.is_some()
            || self.cpu_idle.is_some()
            || self.cpu_burst.is_some()
    }
}

/// A Go duration as runc takes it (`5s`, `1m30s`, `250ms`, `1.5h`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("invalid duration {s:?}");
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    if total <= 0.0 {
        return Err(format!("duration must be greater than 0: {s:?}"));
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

/// A memory size as runc's `units.RAMInBytes`: a number with an optional binary
/// suffix (`k`, `m`, `g`, `t`, `p`, optionally followed by `b` or `ib`, any case);
/// `-1` means unlimited.
pub fn parse_memory(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: {s:?}");
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !(0.0..=i64::MAX as f64).contains(&bytes) {
        return Err(bad());
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_as_runc() {
        assert_eq!(parse_memory("1024"), Ok(1024));
        assert_eq!(parse_memory("10m"), Ok(10 << 20));
        assert_eq!(parse_memory("10MB"), Ok(10 << 20));
        assert_eq!(parse_memory("1.5g"), Ok(3 << 29));
        assert_eq!(parse_memory("2KiB"), Ok(2048));
        assert_eq!(parse_memory("-1"), Ok(-1));
        assert!(parse_memory("10x").is_err());
        assert!(parse_memory("").is_err());
        assert!(parse_memory("-5").is_err());
    }

    #[test]
    fn durations_parse_as_go() {
        use std::time::Duration;
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("").is_err());
    }
}
