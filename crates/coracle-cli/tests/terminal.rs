//! OCI runtime spec, config "Process": `terminal` and `consoleSize`; runc's
//! `--console-socket` protocol; `run` proxying a terminal; stdio reaching the process.

mod common;

use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::console::{adopt_orphans, host_pty, lines, read_until, ConsoleSocket};
use common::*;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use serde_json::json;

fn terminal_bundle(script: &str) -> Bundle {
    let mut b = Bundle::sh(script);
    b.edit(|c| c["process"]["terminal"] = json!(true));
    b
}

fn reap(pid: i32) -> WaitStatus {
    waitpid(Pid::from_raw(pid), None).unwrap()
}

#[test]
fn console_socket_gets_a_pty_of_the_containers_devpts() {
    adopt_orphans();
    let rt = Runtime::new();
    let mut b = terminal_bundle("exec sh");
    b.edit(|c| c["process"]["consoleSize"] = json!({"height": 33, "width": 101}));
    let sock = ConsoleSocket::new();
    let id = unique("tty");
    let out = rt.cmd(&[
        "create",
        "--console-socket",
        &sock.path(),
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let (name, master) = sock.receive();
    assert_eq!(name, "/dev/ptmx", "payload as runc sends it");
    assert!(nix::unistd::isatty(&master).unwrap());
    let pid = rt.state(&id)["pid"].as_i64().unwrap() as i32;
    let out = rt.cmd(&["start", &id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    nix::unistd::write(
        &master,
        b"echo hi; tty; stty size; stat -L -c %t:%T /dev/console $(tty); exit 3\n",
    )
    .unwrap();
    let output = read_until(&master, 20, |_| false);
    let l = lines(&output);
    assert!(l.iter().any(|x| x == "hi"), "{output:?}");
    let tty = l
        .iter()
        .find(|x| x.starts_with("/dev/pts/"))
        .unwrap_or_else(|| panic!("tty printed no /dev/pts path: {output:?}"));
    assert_eq!(
        tty, "/dev/pts/0",
        "the first pty of the container's own devpts"
    );
    assert!(l.iter().any(|x| x == "33 101"), "consoleSize: {output:?}");
    // /dev/console is the same device as the pty.
    let devs: Vec<&String> = l
        .iter()
        .filter(|x| x.contains(':') && !x.contains(' '))
        .collect();
    assert_eq!(devs.len(), 2, "{output:?}");
    assert_eq!(devs[0], devs[1], "/dev/console is not the pty: {output:?}");
    assert_eq!(reap(pid), WaitStatus::Exited(Pid::from_raw(pid), 3));
    assert_eq!(rt.status(&id), "stopped");
    let out = rt.cmd(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
}

#[test]
fn pty_belongs_to_the_process_user_within_the_user_namespace() {
    adopt_orphans();
    let rt = Runtime::new();
    let mut b = terminal_bundle("stat -c 'owner %u %g' $(tty); id -u; read x");
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    let sock = ConsoleSocket::new();
    let id = unique("ttyuser");
    let out = rt.cmd(&[
        "create",
        "--console-socket",
        &sock.path(),
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let (_, master) = sock.receive();
    let pid = rt.state(&id)["pid"].as_i64().unwrap() as i32;
    assert!(rt.cmd(&["start", &id]).status.success());
    let output = read_until(&master, 20, |t| {
        t.contains("owner") && t.contains("1000\r\n")
    });
    // Inside: the process user and the devpts gid= (tty group 5).
    assert!(
        lines(&output).iter().any(|x| x == "owner 1000 5"),
        "{output:?}"
    );
    // Outside: the same inode belongs to the mapped ids.
    let meta = std::fs::metadata(format!("/proc/{pid}/fd/0")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.gid()), (101000, 100005));
    nix::unistd::write(&master, b"\n").unwrap();
    assert_eq!(reap(pid), WaitStatus::Exited(Pid::from_raw(pid), 0));
}

#[test]
fn terminal_without_console_socket_fails_create_naming_the_field() {
    let rt = Runtime::new();
    let b = terminal_bundle("true");
    let id = unique("nosock");
    let out = rt.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("process.terminal") && err.contains("console socket"),
        "{err}"
    );
    assert!(rt.ids().is_empty(), "nothing left behind");

    // And the reverse, as runc: a console socket without a terminal.
    let b = Bundle::sh("true");
    let sock = ConsoleSocket::new();
    let out = rt.cmd(&[
        "create",
        "--console-socket",
        &sock.path(),
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--console-socket"),
        "{}",
        text(&out.stderr)
    );
    // `run` in the foreground proxies the terminal itself: a socket is an error there.
    let out = rt.cmd(&[
        "run",
        "--console-socket",
        &sock.path(),
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(rt.ids().is_empty());
}

#[test]
fn run_proxies_the_terminal_and_returns_the_exit_status() {
    let rt = Runtime::new();
    let b = terminal_bundle("stty size; read x; stty size; echo got:$x; exit 7");
    let (master, slave) = host_pty(40, 120);
    let before = nix::sys::termios::tcgetattr(&slave).unwrap();
    let id = unique("runtty");
    let mut child = rt
        .command(&["run", "--bundle", b.dir.to_str().unwrap(), &id])
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()))
        .spawn()
        .unwrap();
    // The container starts with the caller's window size.
    let first = read_until(&master, 20, |t| t.contains("40 120"));
    // A window change: the new size, then SIGWINCH to coracle (its stdio is not its
    // controlling terminal here, so the kernel would not send it).
    let ws = nix::pty::Winsize {
        ws_row: 50,
        ws_col: 132,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    set_size(&master, &ws);
    nix::sys::signal::kill(
        Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGWINCH,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    nix::unistd::write(&master, b"abc\r").unwrap();
    let rest = read_until(&master, 20, |t| t.contains("got:abc"));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7), "output: {first:?} {rest:?}");
    assert!(
        lines(&rest).iter().any(|x| x == "50 132"),
        "resize: {rest:?}"
    );
    // Raw mode: the typed line was not echoed by coracle's own terminal (the
    // container's pty echoes it once).
    assert_eq!(rest.matches("abc").count(), 2, "{rest:?}");
    // The caller's terminal mode is restored.
    let after = nix::sys::termios::tcgetattr(&slave).unwrap();
    assert_eq!(after.local_flags, before.local_flags);
    assert_eq!(after.input_flags, before.input_flags);
    assert!(rt.ids().is_empty(), "run deletes the container");
}

fn set_size(fd: &OwnedFd, ws: &nix::pty::Winsize) {
    // Through a child's stty: the test keeps unsafe ioctls out.
    let st = Command::new("stty")
        .args([
            "rows",
            &ws.ws_row.to_string(),
            "cols",
            &ws.ws_col.to_string(),
        ])
        .stdin(Stdio::from(fd.try_clone().unwrap()))
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn stdio_reaches_a_non_root_process_which_can_reopen_it() {
    let rt = Runtime::new();
    let mut b = Bundle::sh(
        "id -u; stat -L -c 'fd1 %u %i' /proc/self/fd/1; echo reopened > /proc/self/fd/1; \
         read line < /proc/self/fd/0; echo in:$line; echo err >&2",
    );
    b.edit(|c| c["process"]["user"] = json!({"uid": 1000, "gid": 1000}));
    let id = unique("stdio");
    let mut child = rt
        .command(&["run", "--bundle", b.dir.to_str().unwrap(), &id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout_ino = nix::sys::stat::fstat(child.stdout.as_ref().unwrap())
        .unwrap()
        .st_ino;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{so} {se}");
    let l: Vec<&str> = so.lines().collect();
    assert_eq!(l[0], "1000");
    // The very pipe the caller passed, now owned by the process user.
    assert_eq!(l[1], format!("fd1 1000 {stdout_ino}"), "{so}");
    assert_eq!(l[2], "reopened", "{so} {se}");
    assert_eq!(l[3], "in:hello", "{so} {se}");
    assert!(se.contains("err"), "{se}");
}

#[test]
fn dev_null_and_files_reach_the_process_unchanged() {
    let rt = Runtime::new();
    let b = Bundle::sh("stat -L -c '%t:%T' /proc/self/fd/0; stat -L -c '%i' /proc/self/fd/1");
    let id = unique("files");
    let path = std::env::temp_dir().join(unique("coracle-stdout"));
    let file = std::fs::File::create(&path).unwrap();
    let ino = nix::sys::stat::fstat(&file).unwrap().st_ino;
    let null_before = std::fs::metadata("/dev/null").unwrap();
    let st = rt
        .command(&["run", "--bundle", b.dir.to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let out = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l, ["1:3", &ino.to_string()], "{out}");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata("/dev/null").unwrap().uid(),
        null_before.uid()
    );
}
