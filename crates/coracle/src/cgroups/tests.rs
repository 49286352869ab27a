//! Lifecycle tests on the host's real cgroups: every test makes its own
//! `/coracle-test-<pid>-<n>` cgroup (in each hierarchy) and a Drop guard kills what
//! is inside and removes it, even when the test fails. Processes are busybox, moved
//! in before they do the work being measured (gated on a line on stdin).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};

use super::*;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A cgroup that is removed with everything in it when dropped.
pub(super) struct TestCg {
    pub m: Manager,
    /// The absolute `linux.cgroupsPath` it was made from.
    pub path: PathBuf,
}

impl TestCg {
    pub fn new() -> TestCg {
        let path = unique_path();
        let m = Manager::new(Some(&path), "unused").expect("resolve test cgroup");
        let cg = TestCg { m, path };
        cg.m.create().expect("create test cgroup");
        cg
    }

    /// The directory of `ctrl` (v2: the one directory).
    pub fn dir(&self, ctrl: &str) -> PathBuf {
        let key = if self.m.mode() == Mode::Unified {
            ""
        } else {
            ctrl
        };
        self.m.paths().paths[key].clone()
    }

    pub fn read(&self, ctrl: &str, file: &str) -> String {
        std::fs::read_to_string(self.dir(ctrl).join(file))
            .unwrap_or_else(|e| panic!("read {file}: {e}"))
    }

    pub fn v2(&self) -> bool {
        self.m.mode() == Mode::Unified
    }
}

impl Drop for TestCg {
    fn drop(&mut self) {
        let _ = self.m.kill_all(libc::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !self.m.pids().map(|p| p.is_empty()).unwrap_or(true) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.m.remove();
        for p in self.m.paths().paths.values() {
            let _ = std::fs::remove_dir(p);
        }
    }
}

pub(super) fn unique_path() -> PathBuf {
    PathBuf::from(format!(
        "/coracle-test-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    ))
}

/// A busybox shell that runs `script` after reading one line; killed and reaped on drop.
pub(super) struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn gated(script: &str) -> Proc {
        let child = Command::new("/bin/busybox")
            .args(["sh", "-c", &format!("read go; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn busybox");
        Proc { child }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Let the script run.
    pub fn go(&mut self) {
        self.child
            .stdin
            .as_mut()
            .unwrap()
            .write_all(b"go\n")
            .unwrap();
    }

    /// Wait up to `secs` for the exit; the signal that killed it, or the exit code + 1000.
    pub fn wait(&mut self, secs: u64) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st.signal().unwrap_or_else(|| st.code().unwrap_or(0) + 1000));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn own_cgroup_lines(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
}

#[test]
fn cgroups_detect_matches_statfs() {
    let is_v2 = |p: &str| {
        statfs(p)
            .map(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
            .unwrap_or(false)
    };
    let want = if is_v2("/sys/fs/cgroup") {
        Mode::Unified
    } else if is_v2("/sys/fs/cgroup/unified") {
        Mode::Hybrid
    } else {
        Mode::Legacy
    };
    assert_eq!(detect().unwrap(), want);
}

#[test]
fn cgroups_create_apply_remove_every_hierarchy() {
    let cg = TestCg::new();
    let paths = cg.m.paths();
    let name = paths
        .paths
        .values()
        .next()
        .unwrap()
        .file_name()
        .unwrap()
        .to_owned();
    match cg.m.mode() {
        Mode::Unified => assert_eq!(paths.paths.keys().collect::<Vec<_>>(), [""]),
        mode => {
            for c in ["memory", "cpu", "pids", "freezer", "devices"] {
                assert!(paths.paths.contains_key(c), "{c} missing in {paths:?}");
            }
            // Hybrid: the cgroup2 hierarchy is joined too, as runc does.
            assert_eq!(
                paths.paths.contains_key(""),
                mode == Mode::Hybrid,
                "{paths:?}"
            );
        }
    }
    for dir in paths.paths.values() {
        assert!(dir.is_dir(), "{} not created", dir.display());
        assert!(
            paths.created.contains(dir),
            "{} not recorded",
            dir.display()
        );
    }
    assert!(cg.m.clone_fd().unwrap().is_some() == cg.v2());

    let mut p = Proc::gated("exec /bin/busybox sleep 60");
    cg.m.apply(p.pid()).unwrap();
    let lines = own_cgroup_lines(p.pid());
    let n = name.to_str().unwrap();
    let joined = lines
        .lines()
        .filter(|l| l.ends_with(&format!("/{n}")))
        .count();
    let distinct: std::collections::BTreeSet<_> = paths.paths.values().collect();
    assert_eq!(joined, distinct.len(), "{lines}");
    p.go();
    assert_eq!(cg.m.pids().unwrap(), vec![p.pid()]);

    let m2 = Manager::from_paths(
        &serde_json::from_str(&serde_json::to_string(&paths).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(m2.pids().unwrap(), vec![p.pid()]);
    m2.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(p.wait(10), Some(libc::SIGKILL));
    m2.remove().unwrap();
    for dir in paths.paths.values() {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn cgroups_remove_spares_a_joined_cgroup_and_takes_child_cgroups() {
    let cg = TestCg::new();
    let path = cg.m.paths().paths.values().next().unwrap().clone();
    // A second container joining the same (existing) cgroup creates nothing...
    let joiner = Manager::new(Some(&cg.path), "x").unwrap();
    assert_eq!(joiner.paths().paths, cg.m.paths().paths);
    joiner.create().unwrap();
    assert!(joiner.paths().created.is_empty());
    joiner.remove().unwrap();
    assert!(path.is_dir(), "a joined cgroup was removed");
    // ...while the creator removes its cgroup with the child cgroups made inside.
    let nested = cg.dir("memory").join("nested");
    std::fs::create_dir(&nested).unwrap();
    cg.m.remove().unwrap();
    assert!(!nested.exists() && !cg.dir("memory").exists());
}

#[test]
fn cgroups_relative_and_default_paths_are_below_own_cgroup() {
    let own = mounts::own_cgroups(Path::new("/proc/self/cgroup")).unwrap();
    let m = Manager::new(None, "ctr-id").unwrap();
    let rel = Manager::new(Some(Path::new("a/b")), "ctr-id").unwrap();
    for (key, dir) in m.paths().paths {
        let own = Path::new(&own[&key])
            .strip_prefix("/")
            .unwrap()
            .to_path_buf();
        let own = if m.mode() == Mode::Unified {
            own.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            own
        };
        assert!(
            dir.ends_with(own.join("ctr-id")),
            "{key}: {}",
            dir.display()
        );
        assert!(rel.paths().paths[&key].ends_with(own.join("a/b")));
    }
    let e = Manager::new(Some(Path::new("../../escape")), "x").unwrap_err();
    assert!(e.to_string().starts_with("linux.cgroupsPath:"), "{e}");
}

#[test]
fn cgroups_freeze_waits_until_frozen_and_thaw_resumes() {
    let cg = TestCg::new();
    let mut p = Proc::gated("while :; do :; done");
    cg.m.apply(p.pid()).unwrap();
    p.go();
    assert!(!cg.m.is_frozen().unwrap());
    cg.m.freeze().unwrap();
    assert!(cg.m.is_frozen().unwrap());
    if cg.v2() {
        assert!(cg.read("", "cgroup.events").contains("frozen 1"));
    } else {
        assert_eq!(cg.read("freezer", "freezer.state").trim(), "FROZEN");
    }
    // A frozen task makes no progress: its CPU time stands still.
    let ticks = || std::fs::read_to_string(format!("/proc/{}/stat", p.pid())).unwrap();
    let utime = |s: String| {
        s.rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .nth(11)
            .unwrap()
            .to_string()
    };
    let before = utime(ticks());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(utime(ticks()), before);
    cg.m.thaw().unwrap();
    assert!(!cg.m.is_frozen().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    assert_ne!(utime(ticks()), before);
}

#[test]
fn cgroups_kill_all_works_on_a_frozen_cgroup_and_reaches_every_process() {
    let cg = TestCg::new();
    let mut p = Proc::gated("/bin/busybox sleep 60 & /bin/busybox sleep 60 & wait");
    cg.m.apply(p.pid()).unwrap();
    p.go();
    let deadline = Instant::now() + Duration::from_secs(10);
    while cg.m.pids().unwrap().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(cg.m.pids().unwrap().len(), 3);
    cg.m.freeze().unwrap();
    cg.m.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(p.wait(10), Some(libc::SIGKILL));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cg.m.pids().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(cg.m.pids().unwrap(), Vec::<i32>::new());
    assert!(!cg.m.is_frozen().unwrap());
}

#[test]
fn cgroups_kill_all_other_signals_go_through_freeze_signal_thaw() {
    let cg = TestCg::new();
    let mut p = Proc::gated("exec /bin/busybox sleep 60");
    cg.m.apply(p.pid()).unwrap();
    p.go();
    std::thread::sleep(Duration::from_millis(50));
    cg.m.kill_all(libc::SIGTERM).unwrap();
    assert_eq!(p.wait(10), Some(libc::SIGTERM));
    assert!(!cg.m.is_frozen().unwrap());
}

#[test]
fn cgroups_stats_show_the_memory_and_cpu_a_child_uses() {
    let cg = TestCg::new();
    let mut p = Proc::gated(
        "v=$(/bin/busybox yes abcdefghijklmnop | /bin/busybox head -c 8000000); /bin/busybox sleep 60; echo ${#v}",
    );
    cg.m.apply(p.pid()).unwrap();
    p.go();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut s = cg.m.stats().unwrap();
    while s.memory.usage.usage < 8_000_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        s = cg.m.stats().unwrap();
    }
    assert!(s.memory.usage.usage >= 8_000_000, "{s:?}");
    assert!(
        s.memory.usage.limit > 0 && !s.memory.raw.is_empty(),
        "{s:?}"
    );
    assert!(s.cpu.usage.total > 0, "{s:?}");
    assert!(s.pids.current >= 1, "{s:?}");
    let json = serde_json::to_value(&s).unwrap();
    for key in [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
    ] {
        assert!(json.get(key).is_some(), "{key} missing: {json}");
    }
    assert!(json["memory"]["usage"]["usage"].as_u64().unwrap() >= 8_000_000);
    assert!(json["cpu"]["usage"].get("kernel").is_some());
}

#[test]
fn cgroups_oom_kill_is_reported_by_the_watcher() {
    let cg = TestCg::new();
    let mut r = oci_spec::runtime::LinuxResources::default();
    let mut mem = oci_spec::runtime::LinuxMemory::default();
    mem.set_limit(Some(16 << 20));
    // memory+swap = memory: no swap to escape to (v2: memory.swap.max 0).
    let swap_ok = cg.v2() && cg.dir("").join("memory.swap.max").exists()
        || !cg.v2()
            && cg
                .dir("memory")
                .join("memory.memsw.limit_in_bytes")
                .exists();
    if swap_ok {
        mem.set_swap(Some(16 << 20));
    }
    r.set_memory(Some(mem));
    cg.m.set(&r).unwrap();
    let mut w = cg.m.oom_watcher().unwrap();
    let mut p = Proc::gated("exec /bin/busybox dd if=/dev/zero of=/dev/null bs=64M count=1");
    cg.m.apply(p.pid()).unwrap();
    p.go();
    assert_eq!(p.wait(30), Some(libc::SIGKILL));
    let mut fds = [nix::poll::PollFd::new(w.fd(), nix::poll::PollFlags::POLLIN)];
    let n = nix::poll::poll(&mut fds, 5000u16).unwrap();
    assert_eq!(n, 1, "no OOM notification");
    assert!(w.read().unwrap() >= 1);
}

#[test]
fn cgroups_pids_limit_stops_forks() {
    let cg = TestCg::new();
    let mut r = oci_spec::runtime::LinuxResources::default();
    let mut pids = oci_spec::runtime::LinuxPids::default();
    pids.set_limit(4);
    r.set_pids(Some(pids));
    cg.m.set(&r).unwrap();
    let mut p = Proc::gated("for i in 1 2 3 4 5 6 7 8; do /bin/busybox sleep 60 & done; exit 0");
    cg.m.apply(p.pid()).unwrap();
    p.go();
    assert!(p.wait(30).is_some());
    let n = cg.m.pids().unwrap().len();
    assert!((1..=4).contains(&n), "{n} processes despite pids.limit 4");
    let s = cg.m.stats().unwrap();
    assert_eq!(s.pids.limit, 4);
    let events = cg.read("pids", "pids.events");
    assert!(
        events.split_whitespace().nth(1).is_some_and(|v| v != "0"),
        "{events}"
    );
}
