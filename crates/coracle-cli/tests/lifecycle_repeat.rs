//! 200 create/start/delete cycles leave nothing behind: no mount, no process, no state,
//! and the container never sees more than its stdio.

mod common;

use common::*;

#[test]
fn two_hundred_cycles_leak_nothing() {
    let rt = Runtime::new();
    let b = Bundle::sh("ls /proc/self/fd | wc -l");
    let mounts = host_mounts();
    for i in 0..200 {
        let id = format!("cycle-{}-{i}", std::process::id());
        let out = rt.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert!(out.status.success(), "create {i}: {}", text(&out.stderr));
        assert!(rt.cmd(&["start", &id]).status.success(), "start {i}");
        let del = rt.cmd(&["delete", "--force", &id]);
        assert!(del.status.success(), "delete {i}: {}", text(&del.stderr));
    }
    assert_eq!(host_mounts(), mounts, "mounts leaked");
    assert!(rt.ids().is_empty(), "state left: {:?}", rt.ids());
    assert!(processes_with(b.dir.to_str().unwrap()).is_empty());
    // fds 0, 1, 2 and the one ls opens for the directory.
    assert_eq!(rt.output_of(&b).trim(), "4");
}
