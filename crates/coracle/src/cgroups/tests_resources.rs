//! Each OCI resource written to a real cgroup and read back from its file, on
//! whichever version the host runs; where a version cannot honour a field, the test
//! asserts the error naming it instead.

use std::collections::HashMap;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxInterfacePriority, LinuxMemory, LinuxNetwork,
    LinuxPids, LinuxRdma, LinuxRdmaBuilder, LinuxResources, LinuxThrottleDevice,
    LinuxThrottleDeviceBuilder, LinuxWeightDevice, LinuxWeightDeviceBuilder,
};

use super::tests::{Proc, TestCg};
use super::CgroupError;

fn with_memory(f: impl FnOnce(&mut LinuxMemory)) -> LinuxResources {
    let mut m = LinuxMemory::default();
    f(&mut m);
    let mut r = LinuxResources::default();
    r.set_memory(Some(m));
    r
}

fn with_cpu(f: impl FnOnce(&mut LinuxCpu)) -> LinuxResources {
    let mut c = LinuxCpu::default();
    f(&mut c);
    let mut r = LinuxResources::default();
    r.set_cpu(Some(c));
    r
}

fn with_blkio(f: impl FnOnce(&mut LinuxBlockIo)) -> LinuxResources {
    let mut b = LinuxBlockIo::default();
    f(&mut b);
    let mut r = LinuxResources::default();
    r.set_block_io(Some(b));
    r
}

#[track_caller]
fn assert_field_error(res: Result<(), CgroupError>, field: &str) {
    let e = res.expect_err(&format!("{field} should have been refused"));
    assert!(
        e.to_string().starts_with(field),
        "error {e:?} does not name {field}"
    );
}

#[test]
fn cgroups_memory_limit_reservation_swap_read_back() {
    let cg = TestCg::new();
    let has_swap = if cg.v2() {
        cg.dir("").join("memory.swap.max").exists()
    } else {
        cg.dir("memory")
            .join("memory.memsw.limit_in_bytes")
            .exists()
    };
    cg.m.set(&with_memory(|m| {
        m.set_limit(Some(64 << 20));
        m.set_reservation(Some(32 << 20));
        if has_swap {
            m.set_swap(Some(96 << 20));
        }
    }))
    .unwrap();
    if cg.v2() {
        assert_eq!(cg.read("", "memory.max").trim(), (64u64 << 20).to_string());
        assert_eq!(cg.read("", "memory.low").trim(), (32u64 << 20).to_string());
        if has_swap {
            // v2 swap is swap alone: memory+swap 96M - memory 64M.
            assert_eq!(
                cg.read("", "memory.swap.max").trim(),
                (32u64 << 20).to_string()
            );
        }
    } else {
        assert_eq!(
            cg.read("memory", "memory.limit_in_bytes").trim(),
            (64u64 << 20).to_string()
        );
        assert_eq!(
            cg.read("memory", "memory.soft_limit_in_bytes").trim(),
            (32u64 << 20).to_string()
        );
        if has_swap {
            assert_eq!(
                cg.read("memory", "memory.memsw.limit_in_bytes").trim(),
                (96u64 << 20).to_string()
            );
        }
    }
    // Lowering both at once (swap first would break memsw >= limit on v1).
    if has_swap {
        cg.m.set(&with_memory(|m| {
            m.set_limit(Some(16 << 20));
            m.set_swap(Some(16 << 20));
        }))
        .unwrap();
        let f = if cg.v2() {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        assert_eq!(cg.read("memory", f).trim(), (16u64 << 20).to_string());
    }
    // -1 lifts the limit (and swap with it).
    cg.m.set(&with_memory(|m| {
        m.set_limit(Some(-1));
    }))
    .unwrap();
    let f = if cg.v2() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    let v = cg.read("memory", f);
    assert!(
        v.trim() == "max" || v.trim().parse::<u64>().unwrap() > 1 << 40,
        "{v}"
    );
    // Swap below the limit is nonsense on both versions.
    let r = with_memory(|m| {
        m.set_limit(Some(64 << 20));
        m.set_swap(Some(32 << 20));
    });
    assert!(cg.m.set(&r).is_err());
}

#[test]
fn cgroups_memory_v1_only_knobs_or_errors_on_v2() {
    let cg = TestCg::new();
    let swappiness = with_memory(|m| {
        m.set_swappiness(Some(10));
    });
    let oom = with_memory(|m| {
        m.set_disable_oom_killer(Some(true));
    });
    let kernel = with_memory(|m| {
        m.set_kernel(Some(64 << 20));
    });
    if cg.v2() {
        assert_field_error(cg.m.set(&swappiness), "linux.resources.memory.swappiness");
        assert_field_error(cg.m.set(&oom), "linux.resources.memory.disableOOMKiller");
        assert_field_error(cg.m.set(&kernel), "linux.resources.memory.kernel");
        // Asking for what v2 does anyway is fine.
        cg.m.set(&with_memory(|m| {
            m.set_disable_oom_killer(Some(false));
        }))
        .unwrap();
    } else {
        cg.m.set(&swappiness).unwrap();
        assert_eq!(cg.read("memory", "memory.swappiness").trim(), "10");
        cg.m.set(&oom).unwrap();
        assert!(cg
            .read("memory", "memory.oom_control")
            .contains("oom_kill_disable 1"));
        // Kernel memory limits are gone from recent kernels: applied, or refused by name.
        match cg.m.set(&kernel) {
            Ok(()) => assert_eq!(
                cg.read("memory", "memory.kmem.limit_in_bytes").trim(),
                (64u64 << 20).to_string()
            ),
            Err(e) => assert!(
                e.to_string().starts_with("linux.resources.memory.kernel:"),
                "{e}"
            ),
        }
    }
    let bad = with_memory(|m| {
        m.set_swappiness(Some(101));
    });
    assert_field_error(cg.m.set(&bad), "linux.resources.memory.swappiness");
}

#[test]
fn cgroups_memory_check_before_update_rejects_a_limit_below_usage() {
    let cg = TestCg::new();
    let mut p = Proc::gated(
        "v=$(/bin/busybox yes abcdefghijklmnop | /bin/busybox head -c 8000000); /bin/busybox sleep 60; echo ${#v}",
    );
    cg.m.apply(p.pid()).unwrap();
    p.go();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while cg.m.stats().unwrap().memory.usage.usage < 8_000_000
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let r = with_memory(|m| {
        m.set_limit(Some(1 << 20));
        m.set_check_before_update(Some(true));
    });
    let e = cg.m.set(&r).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("linux.resources.memory.limit: rejecting memory limit"),
        "{e}"
    );
}

#[test]
fn cgroups_cpu_shares_quota_period_burst_idle_cpuset_read_back() {
    let cg = TestCg::new();
    cg.m.set(&with_cpu(|c| {
        c.set_shares(Some(512));
        c.set_quota(Some(50_000));
        c.set_period(Some(100_000));
        c.set_cpus(Some("0".into()));
        c.set_mems(Some("0".into()));
    }))
    .unwrap();
    if cg.v2() {
        assert_eq!(cg.read("", "cpu.weight").trim(), "59");
        assert_eq!(cg.read("", "cpu.max").trim(), "50000 100000");
        assert_eq!(cg.read("", "cpuset.cpus").trim(), "0");
        assert_eq!(cg.read("", "cpuset.mems").trim(), "0");
        // Updating the period alone keeps the quota.
        cg.m.set(&with_cpu(|c| {
            c.set_period(Some(200_000));
        }))
        .unwrap();
        assert_eq!(cg.read("", "cpu.max").trim(), "50000 200000");
    } else {
        assert_eq!(cg.read("cpu", "cpu.shares").trim(), "512");
        assert_eq!(cg.read("cpu", "cpu.cfs_quota_us").trim(), "50000");
        assert_eq!(cg.read("cpu", "cpu.cfs_period_us").trim(), "100000");
        assert_eq!(cg.read("cpuset", "cpuset.cpus").trim(), "0");
        assert_eq!(cg.read("cpuset", "cpuset.mems").trim(), "0");
    }
    let burst_file = if cg.v2() {
        "cpu.max.burst"
    } else {
        "cpu.cfs_burst_us"
    };
    if cg.dir("cpu").join(burst_file).exists() {
        cg.m.set(&with_cpu(|c| {
            c.set_burst(Some(1000));
        }))
        .unwrap();
        assert_eq!(cg.read("cpu", burst_file).trim(), "1000");
    } else {
        assert_field_error(
            cg.m.set(&with_cpu(|c| {
                c.set_burst(Some(1000));
            })),
            "linux.resources.cpu.burst",
        );
    }
    if cg.dir("cpu").join("cpu.idle").exists() {
        cg.m.set(&with_cpu(|c| {
            c.set_idle(Some(1));
        }))
        .unwrap();
        assert_eq!(cg.read("cpu", "cpu.idle").trim(), "1");
    }
    // Quota -1: unlimited.
    cg.m.set(&with_cpu(|c| {
        c.set_quota(Some(-1));
    }))
    .unwrap();
    if cg.v2() {
        assert!(cg.read("", "cpu.max").starts_with("max "));
    } else {
        assert_eq!(cg.read("cpu", "cpu.cfs_quota_us").trim(), "-1");
    }
    // Shares out of the kernel's range are refused, naming the field (v1 reads back).
    if !cg.v2() {
        assert_field_error(
            cg.m.set(&with_cpu(|c| {
                c.set_shares(Some(1));
            })),
            "linux.resources.cpu.shares",
        );
    }
}

#[test]
fn cgroups_cpu_realtime_v1_or_error_on_v2() {
    let cg = TestCg::new();
    let r = with_cpu(|c| {
        c.set_realtime_period(Some(1_000_000));
        c.set_realtime_runtime(Some(1000));
    });
    if cg.v2() {
        assert_field_error(cg.m.set(&r), "linux.resources.cpu.realtimeRuntime");
    } else if cg.dir("cpu").join("cpu.rt_runtime_us").exists() {
        cg.m.set(&r).unwrap();
        assert_eq!(cg.read("cpu", "cpu.rt_period_us").trim(), "1000000");
        assert_eq!(cg.read("cpu", "cpu.rt_runtime_us").trim(), "1000");
    } else {
        assert_field_error(cg.m.set(&r), "linux.resources.cpu.realtime");
    }
}

#[test]
fn cgroups_pids_limit_reads_back() {
    let cg = TestCg::new();
    let mut r = LinuxResources::default();
    let mut p = LinuxPids::default();
    p.set_limit(10);
    r.set_pids(Some(p));
    cg.m.set(&r).unwrap();
    assert_eq!(cg.read("pids", "pids.max").trim(), "10");
    let mut p = LinuxPids::default();
    p.set_limit(-1);
    r.set_pids(Some(p));
    cg.m.set(&r).unwrap();
    assert_eq!(cg.read("pids", "pids.max").trim(), "max");
}

/// A block device of this machine (a loop device is made to exist if none).
fn block_device() -> Option<(i64, i64)> {
    let _ = std::fs::File::open("/dev/loop-control");
    let mut devs: Vec<(i64, i64)> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .filter_map(|d| {
            d.trim()
                .split_once(':')
                .map(|(a, b)| (a.parse().ok(), b.parse().ok()))
        })
        .filter_map(|(a, b)| Some((a?, b?)))
        .collect();
    devs.sort();
    devs.into_iter().next()
}

#[test]
fn cgroups_blockio_throttle_reads_back_and_weight_follows_the_host() {
    let cg = TestCg::new();
    let Some((major, minor)) = block_device() else {
        panic!("no block device to throttle")
    };
    let t: LinuxThrottleDevice = LinuxThrottleDeviceBuilder::default()
        .major(major)
        .minor(minor)
        .rate(1_048_576u64)
        .build()
        .unwrap();
    let r = with_blkio(|b| {
        b.set_throttle_read_bps_device(Some(vec![t]));
        b.set_throttle_write_iops_device(Some(vec![t]));
    });
    cg.m.set(&r).unwrap();
    if cg.v2() {
        let max = cg.read("", "io.max");
        assert!(
            max.contains(&format!("{major}:{minor} rbps=1048576")),
            "{max}"
        );
        assert!(max.contains("wiops=1048576"), "{max}");
    } else {
        let v = cg.read("blkio", "blkio.throttle.read_bps_device");
        assert_eq!(v.trim(), format!("{major}:{minor} 1048576"));
        let v = cg.read("blkio", "blkio.throttle.write_iops_device");
        assert_eq!(v.trim(), format!("{major}:{minor} 1048576"));
    }
    // The weight: written where the host has a weight file, refused by name where not.
    let weight = with_blkio(|b| {
        b.set_weight(Some(500));
    });
    let dir = cg.dir(if cg.v2() { "" } else { "blkio" });
    let files: &[&str] = if cg.v2() {
        &["io.bfq.weight", "io.weight"]
    } else {
        &["blkio.weight", "blkio.bfq.weight"]
    };
    match files.iter().find(|f| dir.join(f).exists()) {
        Some(f) => {
            cg.m.set(&weight).unwrap();
            let want = if *f == "io.weight" { "4950" } else { "500" };
            assert!(
                cg.read("blkio", f).contains(want),
                "{f}: {}",
                cg.read("blkio", f)
            );
        }
        None => assert_field_error(cg.m.set(&weight), "linux.resources.blockIO.weight"),
    }
    let wd: LinuxWeightDevice = LinuxWeightDeviceBuilder::default()
        .major(major)
        .minor(minor)
        .leaf_weight(300u16)
        .build()
        .unwrap();
    let leaf = with_blkio(|b| {
        b.set_weight_device(Some(vec![wd]));
    });
    if cg.v2() || !dir.join("blkio.leaf_weight_device").exists() {
        assert_field_error(
            cg.m.set(&leaf),
            "linux.resources.blockIO.weightDevice[0].leafWeight",
        );
    }
}

#[test]
fn cgroups_hugepage_limits_where_hugetlb_is_available() {
    let cg = TestCg::new();
    let mut l = LinuxHugepageLimit::default();
    l.set_page_size("2MB".into());
    l.set_limit(4 << 20);
    let mut r = LinuxResources::default();
    r.set_hugepage_limits(Some(vec![l.clone()]));
    let available = if cg.v2() {
        cg.read("", "cgroup.controllers")
            .split_whitespace()
            .any(|c| c == "hugetlb")
    } else {
        cg.m.paths().paths.contains_key("hugetlb")
    };
    if !available {
        // This hybrid host mounts no v1 hugetlb hierarchy (only the cgroup2 one).
        assert_field_error(cg.m.set(&r), "linux.resources.hugepageLimits[0]");
        return;
    }
    cg.m.set(&r).unwrap();
    let f = if cg.v2() {
        "hugetlb.2MB.max"
    } else {
        "hugetlb.2MB.limit_in_bytes"
    };
    assert_eq!(cg.read("hugetlb", f).trim(), (4u64 << 20).to_string());
    l.set_page_size("3MB".into());
    r.set_hugepage_limits(Some(vec![l]));
    assert_field_error(cg.m.set(&r), "linux.resources.hugepageLimits[0].pageSize");
}

#[test]
fn cgroups_network_class_and_priorities_v1_only() {
    let cg = TestCg::new();
    let mut n = LinuxNetwork::default();
    n.set_class_id(Some(0x100001));
    let mut r = LinuxResources::default();
    r.set_network(Some(n));
    if cg.v2() {
        let e = cg.m.set(&r).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.network.classID:") && e.contains("cgroup v2"),
            "{e}"
        );
    } else if cg.m.paths().paths.contains_key("net_cls") {
        cg.m.set(&r).unwrap();
        assert_eq!(
            cg.read("net_cls", "net_cls.classid").trim(),
            0x100001.to_string()
        );
    } else {
        assert_field_error(cg.m.set(&r), "linux.resources.network.classID");
    }
    let mut n = LinuxNetwork::default();
    let mut p = LinuxInterfacePriority::default();
    p.set_name("lo".into());
    p.set_priority(5);
    n.set_priorities(Some(vec![p]));
    r.set_network(Some(n));
    if cg.v2() || !cg.m.paths().paths.contains_key("net_prio") {
        assert_field_error(cg.m.set(&r), "linux.resources.network.priorities");
    } else {
        cg.m.set(&r).unwrap();
        assert!(cg.read("net_prio", "net_prio.ifpriomap").contains("lo 5"));
    }
}

#[test]
fn cgroups_rdma_limit_names_the_device_when_it_cannot_apply() {
    let cg = TestCg::new();
    let l: LinuxRdma = LinuxRdmaBuilder::default()
        .hca_handles(2u32)
        .hca_objects(100u32)
        .build()
        .unwrap();
    let mut r = LinuxResources::default();
    r.set_rdma(Some(HashMap::from([("coracle_nodev0".to_string(), l)])));
    // No such RDMA device here: refused, naming the entry (the controller may be
    // missing, as on this hybrid host, or the kernel rejects the device).
    assert_field_error(cg.m.set(&r), "linux.resources.rdma.coracle_nodev0");
}

#[test]
fn cgroups_unified_map_v2_only() {
    let cg = TestCg::new();
    let mut r = LinuxResources::default();
    r.set_unified(Some(HashMap::from([(
        "pids.max".to_string(),
        "7".to_string(),
    )])));
    if !cg.v2() {
        assert_field_error(cg.m.set(&r), "linux.resources.unified");
        // An empty map is fine on v1.
        r.set_unified(Some(HashMap::new()));
        cg.m.set(&r).unwrap();
        return;
    }
    cg.m.set(&r).unwrap();
    assert_eq!(cg.read("", "pids.max").trim(), "7");
    r.set_unified(Some(HashMap::from([(
        "../pids.max".to_string(),
        "7".to_string(),
    )])));
    assert_field_error(cg.m.set(&r), "linux.resources.unified.../pids.max");
    r.set_unified(Some(HashMap::from([(
        "nosuch.file".to_string(),
        "1".to_string(),
    )])));
    assert_field_error(cg.m.set(&r), "linux.resources.unified.nosuch.file");
}
