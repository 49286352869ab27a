//! Tests of the store against the real filesystem and real flocks.

use super::*;
use std::os::unix::fs::{symlink, MetadataExt};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

/// A unique directory under /tmp, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = PathBuf::from(format!(
            "/tmp/coracle-state-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample_state(id: &str) -> State {
    State {
        id: id.into(),
        pid: 1234,
        pid_start_time: 5678,
        bundle: "/bundle".into(),
        rootfs: "/bundle/rootfs".into(),
        created: "2024-01-02T03:04:05.123456789Z".into(),
        annotations: [("a".to_string(), "b".to_string())].into(),
        config: oci_spec::runtime::Spec::default(),
        cgroup: None,
    }
}

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn validate_id_accepts_runc_charset() {
    for id in [
        "a",
        "A-b_c.d+e",
        "0",
        "...",
        ".hidden",
        "x".repeat(1024).as_str(),
    ] {
        assert!(validate_id(id).is_ok(), "{id:?}");
    }
}

#[test]
fn validate_id_rejects_paths_and_odd_characters() {
    let long = "x".repeat(1025);
    for id in [
        "", ".", "..", "a/b", "/a", "a b", "a,b", "a:b", "é", "a\0b", "a\n", &long,
    ] {
        let err = validate_id(id).expect_err(id);
        assert!(matches!(err, StateError::InvalidId { .. }), "{id:?}: {err}");
    }
}

#[test]
fn open_creates_root_0700_with_parents() {
    let tmp = TempDir::new();
    let root = tmp.0.join("a/b/root");
    let store = Store::open(&root).unwrap();
    assert_eq!(store.root(), root);
    assert_eq!(mode_of(&root), 0o700);
    // Opening again is fine.
    Store::open(&root).unwrap();
}

#[test]
fn open_under_a_file_names_path_and_errno() {
    let tmp = TempDir::new();
    std::fs::write(tmp.0.join("file"), b"").unwrap();
    let root = tmp.0.join("file/root");
    let err = Store::open(&root).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("create {}: Not a directory (ENOTDIR)", root.display())
    );
}

#[test]
fn create_makes_locked_0711_dir_and_rejects_duplicates() {
    let tmp = TempDir::new();
    let store = Store::open(&tmp.0).unwrap();
    let dir = store.create("c1").unwrap();
    assert_eq!(dir.id(), "c1");
    assert_eq!(dir.path(), tmp.0.join("c1"));
    assert_eq!(mode_of(dir.path()), 0o711);
    let err = store.create("c1").unwrap_err();
    assert!(matches!(err, StateError::Exists(_)));
    assert_eq!(err.to_string(), "container with id exists: c1");
    // The duplicate attempt must not have damaged the first one.
    dir.write_state(&sample_state("c1")).unwrap();
    drop(dir);
    assert!(store.lock("c1").unwrap().read_state().unwrap().is_some());
}

#[test]
fn create_rejects_invalid_id_before_touching_disk() {
    let tmp = TempDir::new();
    let store = Store::open(&tmp.0).unwrap();
    assert!(matches!(
        store.create(".."),
        Err(StateError::InvalidId { .. })
    ));
    assert!(matches!(
        store.create("../x"),
        Err(StateError::InvalidId { .. })
    ));
    assert!(matches!(
        store.lock("a/b"),
        Err(StateError::InvalidId { .. })
    ));
    assert_eq!(std::fs::read_dir(&tmp.0).unwrap().count(), 0);
}

#[test]
fn concurrent_creates_of_one_id_have_one_winner() {
    let tmp = TempDir::new();
    let store = Arc::new(Store::open(&tmp.0).unwrap());
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                // Hold the winner's lock until every thread has tried.
                let res = store.create("race");
                barrier.wait();
                res.map(|_| ())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(r, Err(StateError::Exists(id)) if id == "race"),
            "{r:?}"
        );
    }
}

#[test]
fn lock_of_missing_container_is_not_found_like_runc() {
    let tmp = TempDir::new();
    let store = Store::open(&tmp.0).unwrap();
    let err = store.lock("nosuch").unwrap_err();
    assert_eq!(err.to_string(), "container does not exist: nosuch");
    // A plain file or a symlink in the root is not a container either.
    std::fs::write(tmp.0.join("file"), b"").unwrap();
    assert!(matches!(store.lock("file"), Err(StateError::NotFound(_))));
    std::fs::create_dir(tmp.0.join("real")).unwrap();
    symlink(tmp.0.join("real"), tmp.0.join("link")).unwrap();
    assert!(
        store.lock("link").is_err(),
        "a symlinked container dir must not be followed"
    );
}

#[test]
fn lock_is_a_real_flock_seen_by_other_processes() {
    let tmp = TempDir::new();
    let store = Store::open(&tmp.0).unwrap();
    let dir = store.create("c").unwrap();
    let try_flock = || {
        Command::new("flock")
            .args(["-n", "-E", "99"])
            .arg(dir.path())
            .arg("true")
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(try_flock(), Some(99), "flock(1) got the lock we hold");
    let path = dir.path().to_path_buf();
    drop(dir);
    let free = Command::new("flock")
        .args(["-n", "-E", "99"])
        .arg(&path)
        .arg("true")
        .status();
    assert_eq!(free.unwrap().code(), Some(0), "lock not released on drop");
}

#[test]
fn lock_waits_for_holder_then_succeeds() {
    let tmp = TempDir::new();
    let store = Arc::new(Store::open(&tmp.0).unwrap());
    let held = store.create("c").unwrap();
    let (tx, rx) = mpsc::channel();
    let waiter = {
        let store = store.clone();
        std::thread::spawn(move || {
            tx.send(store.lock("c").map(|d| d.id().to_string()))
                .unwrap()
        })
    };
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "lock did not block"
    );
    drop(held);
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("lock never acquired");
    assert_eq!(got.unwrap(), "c");
    waiter.join().unwrap();
}

#[test]
fn lock_waiting_on_a_removed_container_is_not_found() {
    let tmp = TempDir::new();
    let store = Arc::new(Store::open(&tmp.0).unwrap());
    let held = store.create("c").unwrap();
    let (tx, rx) = mpsc::channel();
    let waiter = {
        let store = store.clone();
        std::thread::spawn(move || tx.send(store.lock("c").map(|_| ())).unwrap())
    };
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "lock did not block"
    );
    held.remove().unwrap();
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("waiter stuck");
    assert!(matches!(got, Err(StateError::NotFound(_))), "{got:?}");
    waiter.join().unwrap();
}

#[test]
fn state_round_trips_atomically() {
    let tmp = TempDir::new();
    let store = Store::open(&tmp.0).unwrap();
    let dir = store.create("c").unwrap();
    assert!(
        dir.read_state().unwrap().is_none(),
        "no state while creating"
    );
    let mut state = sample_state("c");
    dir.write_state(&state).unwrap();
    state.pid = 999;
    dir.write_state(&state).unwrap();
    let back = dir.read_state().unwrap().unwrap();
    assert_eq!(
        (back.id.as_str(), back.pid, back.pid_start_time),
        ("c", 999, 5678)
    );
    assert_eq!(back.annotations["a"], "b");
    assert_eq!(back.created, state.created);
    assert_eq!(mode_of(&dir.path().join("state.json")), 0o600);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["state.json"], "temp file left behind");
}

#[test]
fn write_state_does_not_follow_a_planted_temp_symlink() {
    let tmp = TempDir::new();
    let store = Store::open(&tmp.0.join("root")).unwrap();
    let dir = store.create("c").unwrap();
    let target = tmp.0.join("target");
    symlink(&target, dir.path().join(STATE_TMP)).unwrap();
    dir.write_state(&sample_state("c")).unwrap();
    assert!(!target.exists(), "write went through the symlink");
    assert!(dir.read_state().unwrap().is_some());
}

#[test]
fn read_state_refuses_symlink_and_reports_garbage() {
    let tmp = TempDir::new();
    let store = Store::open(&tmp.0.join("root")).unwrap();
    let dir = store.create("c").unwrap();
    let elsewhere = tmp.0.join("elsewhere.json");
    std::fs::write(&elsewhere, serde_json::to_vec(&sample_state("c")).unwrap()).unwrap();
    symlink(&elsewhere, dir.path().join("state.json")).unwrap();
    let err = dir.read_state().unwrap_err();
    assert!(err.to_string().ends_with("(ELOOP)"), "{err}");
    std::fs::remove_file(dir.path().join("state.json")).unwrap();
    std::fs::write(dir.path().join("state.json"), b"{not json").unwrap();
    let err = dir.read_state().unwrap_err();
    assert!(matches!(err, StateError::Parse { .. }), "{err}");
    assert!(err.to_string().starts_with("parse "), "{err}");
}

#[test]
fn remove_deletes_contents_without_following_symlinks() {
    let tmp = TempDir::new();
    let store = Store::open(&tmp.0.join("root")).unwrap();
    let outside = tmp.0.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("keep"), b"x").unwrap();
    let dir = store.create("c").unwrap();
    dir.write_state(&sample_state("c")).unwrap();
    let fifo = Command::new("mkfifo")
        .arg(dir.path().join("exec.fifo"))
        .status()
        .unwrap();
    assert!(fifo.success());
    symlink(&outside, dir.path().join("link")).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    symlink(&outside, dir.path().join("sub/link")).unwrap();
    let path = dir.path().to_path_buf();
    dir.remove().unwrap();
    assert!(!path.exists());
    assert!(outside.join("keep").exists(), "remove followed a symlink");
    assert!(matches!(store.lock("c"), Err(StateError::NotFound(_))));
}

#[test]
fn abandoned_create_reads_as_creating_and_can_be_removed() {
    let tmp = TempDir::new();
    let store = Store::open(&tmp.0).unwrap();
    // A creator that died after mkdir: the dir exists, unlocked, without state.
    std::fs::create_dir(tmp.0.join("dead")).unwrap();
    assert!(matches!(store.create("dead"), Err(StateError::Exists(_))));
    let dir = store.lock("dead").unwrap();
    assert!(dir.read_state().unwrap().is_none());
    dir.remove().unwrap();
    assert!(store.create("dead").is_ok());
}

#[test]
fn list_returns_sorted_container_dirs_only() {
    let tmp = TempDir::new();
    let store = Store::open(&tmp.0).unwrap();
    assert!(store.list().unwrap().is_empty());
    for id in ["b", "a", "c.1"] {
        drop(store.create(id).unwrap());
    }
    std::fs::write(tmp.0.join("file"), b"").unwrap();
    symlink(tmp.0.join("a"), tmp.0.join("link")).unwrap();
    std::fs::create_dir(tmp.0.join("not,valid")).unwrap();
    assert_eq!(store.list().unwrap(), ["a", "b", "c.1"]);
}
