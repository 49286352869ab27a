//! runc's conversions from the OCI (cgroup v1 shaped) values to cgroup v2 files.

/// cpu.shares [2, 262144] -> cpu.weight [1, 10000] with runc's (>= 1.3.2, crun >=
/// 1.23) quadratic fit through min, default and max: 2 -> 1, 1024 -> 100,
/// 262144 -> 10000. 0 means unset.
pub fn cpu_shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    10f64.powf(exponent).ceil() as u64
}

/// blkio weight [10, 1000] -> io.weight [1, 10000], linearly as runc
/// (`1 + (w - 10) * 9999 / 990`). 0 means unset.
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight).saturating_sub(10)) * 9999 / 990
}

/// OCI `memory.swap` is memory+swap (v1 memsw); v2's memory.swap.max is swap alone.
/// As runc: -1 stays -1 (max), 0 stays unset, limit -1 with swap unset means both
/// unlimited, otherwise swap - limit (which must be a real limit <= swap).
/// Returns the memory.swap.max value (-1 = "max", 0 with `swap` > 0 = no swap).
pub fn memory_swap_to_v2(swap: i64, limit: i64) -> Result<i64, String> {
    match () {
        _ if limit == -1 && swap == 0 => Ok(-1),
        _ if swap == -1 || swap == 0 => Ok(swap),
        _ if limit == -1 => Ok(swap),
        _ if limit == 0 => Err("unable to set swap limit without memory limit".into()),
        _ if limit < 0 => Err(format!("invalid memory value: {limit}")),
        _ if swap < limit => Err("memory+swap limit should be >= memory limit".into()),
        _ => Ok(swap - limit),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn cgroups_cpu_shares_convert_as_runc() {
        assert_eq!(cpu_shares_to_weight(0), 0);
        assert_eq!(cpu_shares_to_weight(2), 1);
        assert_eq!(cpu_shares_to_weight(1024), 100);
        assert_eq!(cpu_shares_to_weight(262_144), 10_000);
        assert_eq!(cpu_shares_to_weight(512), 59);
        assert_eq!(cpu_shares_to_weight(2048), 174);
        let mut last = 0;
        for s in (2..262_144).step_by(997) {
            let w = cpu_shares_to_weight(s);
            assert!(w >= last && (1..=10_000).contains(&w), "{s} -> {w}");
            last = w;
        }
    }

    #[test]
    fn cgroups_blkio_weight_converts_as_runc() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
        assert_eq!(blkio_weight_to_io_weight(500), 1 + 490 * 9999 / 990);
    }

    #[test]
    fn cgroups_memory_swap_converts_as_runc() {
        assert_eq!(memory_swap_to_v2(0, -1), Ok(-1));
        assert_eq!(memory_swap_to_v2(-1, 100), Ok(-1));
        assert_eq!(memory_swap_to_v2(0, 100), Ok(0));
        assert_eq!(memory_swap_to_v2(300, 100), Ok(200));
        assert_eq!(memory_swap_to_v2(100, 100), Ok(0));
        assert_eq!(memory_swap_to_v2(300, -1), Ok(300));
        assert!(memory_swap_to_v2(50, 100).is_err());
        assert!(memory_swap_to_v2(300, 0).is_err());
    }
}
