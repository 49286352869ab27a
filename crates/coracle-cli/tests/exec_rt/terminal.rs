//! `exec` with a terminal (OCI "Process": `terminal`, `consoleSize`; runc's
//! `--console-socket` protocol and checkTerminal), and stdio of a non-root exec'd
//! process. Each check runs against coracle and runc, as the other exec tests.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use serde_json::json;

use super::{both, sleeper, Rt};
use crate::common::console::{adopt_orphans, host_pty, lines, read_until, ConsoleSocket};
use crate::common::{processes_with, text, unique};

/// `exec -d -t --console-socket`, as containerd's shim calls it: the master arrives,
/// the process's tty is a pty of the container's devpts owned by the process user,
/// typed input reaches it and its exit status is its own. `flags` ask for the
/// terminal (`-t`, or a process file).
fn console_socket_case(rt: &Rt, flags: &[&str], command: &[&str]) -> (String, i32, i32) {
    adopt_orphans();
    let b = sleeper();
    let id = rt.start(&b);
    let init = rt.init_pid(&id);
    let sock = ConsoleSocket::new();
    let pid_file = b.dir.join(unique("exec-pid"));
    let sock_path = sock.path();
    let mut all = vec![
        "-d",
        "--console-socket",
        &sock_path,
        "--pid-file",
        pid_file.to_str().unwrap(),
    ];
    all.extend_from_slice(flags);
    let (code, _, err) = rt.exec(&all, &id, command);
    assert_eq!(code, 0, "{}: {err}", rt.bin);
    let (name, master) = sock.receive();
    assert_eq!(name, "/dev/ptmx", "{}: payload as runc sends it", rt.bin);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The process's terminal is of the container's own devpts, not the host's.
    let tty_dev = std::fs::metadata(format!("/proc/{pid}/fd/0"))
        .unwrap()
        .dev();
    let container_devpts = std::fs::metadata(format!("/proc/{init}/root/dev/pts/ptmx"))
        .unwrap()
        .dev();
    assert_eq!(tty_dev, container_devpts, "{}", rt.bin);
    assert_ne!(tty_dev, std::fs::metadata("/dev/pts/ptmx").unwrap().dev());
    let output = read_until(&master, 20, |t| t.contains("ready"));
    nix::unistd::write(&master, b"typed\n").unwrap();
    let output = output + &read_until(&master, 20, |t| t.contains("got:typed"));
    let status = waitpid(Pid::from_raw(pid), None).unwrap();
    let WaitStatus::Exited(_, code) = status else {
        panic!("{}: {status:?}: {output:?}", rt.bin);
    };
    (output, code, pid)
}

#[test]
fn exec_tty_sends_the_master_to_the_console_socket() {
    both(|rt| {
        let script =
            "tty; stat -c 'owner %u' $(tty); id -u; echo ready; read x; echo got:$x; exit 3";
        let (output, code, _) =
            console_socket_case(rt, &["-t", "-u", "1000:1000"], &["sh", "-c", script]);
        assert_eq!(code, 3, "{}: {output:?}", rt.bin);
        let l = lines(&output);
        assert!(
            l.iter().any(|x| x == "/dev/pts/0"),
            "{}: the first pty of the container's devpts: {output:?}",
            rt.bin
        );
        assert!(
            l.iter().any(|x| x == "owner 1000"),
            "{}: the pty belongs to the process user: {output:?}",
            rt.bin
        );
        assert!(l.iter().any(|x| x == "1000"), "{output:?}");
    });
}

#[test]
fn exec_process_file_terminal_and_console_size() {
    both(|rt| {
        let dir = std::env::temp_dir().join(unique("coracle-exec-process"));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("process.json");
        std::fs::write(
            &file,
            serde_json::to_vec(&json!({
                "terminal": true,
                "consoleSize": {"height": 33, "width": 101},
                "args": ["sh", "-c", "stty size; echo ready; read x; echo got:$x; exit 5"],
                "cwd": "/",
                "env": ["PATH=/bin"],
                "user": {"uid": 0, "gid": 0}
            }))
            .unwrap(),
        )
        .unwrap();
        let (output, code, _) =
            console_socket_case(rt, &["--process", file.to_str().unwrap()], &[]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(code, 5, "{}: {output:?}", rt.bin);
        assert!(
            lines(&output).iter().any(|x| x == "33 101"),
            "{}: consoleSize: {output:?}",
            rt.bin
        );
    });
}

/// Resize through a child's stty: the test keeps unsafe ioctls out.
fn set_size(fd: &OwnedFd, rows: u16, cols: u16) {
    let st = Command::new("stty")
        .args(["rows", &rows.to_string(), "cols", &cols.to_string()])
        .stdin(Stdio::from(fd.try_clone().unwrap()))
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn exec_tty_without_socket_proxies_the_terminal() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        let (master, slave) = host_pty(40, 120);
        let before = nix::sys::termios::tcgetattr(&slave).unwrap();
        let script = "stty size; echo ready; read x; stty size; echo got:$x; exit 7";
        let mut child = rt
            .command(&["exec", "-t", &id, "sh", "-c", script])
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()))
            .spawn()
            .unwrap();
        let first = read_until(&master, 20, |t| t.contains("ready"));
        if rt.is_coracle() {
            // runc resizes only once the process runs: its first size is a race.
            assert!(
                lines(&first).iter().any(|x| x == "40 120"),
                "the caller's window size from the start: {first:?}"
            );
        }
        // The runtime has set raw mode by the time output flows (runc: just after).
        std::thread::sleep(Duration::from_millis(300));
        set_size(&master, 50, 132);
        // Its stdio is not its controlling terminal here: the kernel would not send it.
        nix::sys::signal::kill(
            Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGWINCH,
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        nix::unistd::write(&master, b"abc\r").unwrap();
        let rest = read_until(&master, 20, |t| t.contains("got:abc"));
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(7), "{}: {first:?} {rest:?}", rt.bin);
        assert!(
            lines(&rest).iter().any(|x| x == "50 132"),
            "{}: resize: {rest:?}",
            rt.bin
        );
        // Raw mode: the typed line is echoed once, by the process's pty, not also by
        // the runtime's own terminal.
        assert_eq!(rest.matches("abc").count(), 2, "{}: {rest:?}", rt.bin);
        let after = nix::sys::termios::tcgetattr(&slave).unwrap();
        assert_eq!(after.local_flags, before.local_flags, "{}", rt.bin);
        assert_eq!(after.input_flags, before.input_flags, "{}", rt.bin);
    });
}

#[test]
fn exec_console_socket_needs_detach_and_tty_as_in_runc() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        let sock = ConsoleSocket::new();
        let marker = unique("never");
        let needle = format!("sleep\u{0}{marker}");
        let never = ["sleep", marker.as_str()];
        let (code, _, err) = rt.exec(&["-d", "-t"], &id, &never);
        assert_eq!(code, 255, "{}: {err}", rt.bin);
        assert!(
            err.contains("exec failed: ")
                && err.contains("cannot allocate tty if")
                && err.contains("will detach without setting console socket"),
            "{}: {err}",
            rt.bin
        );
        for flags in [
            &["--console-socket", &sock.path()][..],
            &["-d", "--console-socket", &sock.path()][..],
            // Not detached: the runtime proxies the terminal itself.
            &["-t", "--console-socket", &sock.path()][..],
        ] {
            let (code, _, err) = rt.exec(flags, &id, &never);
            assert_eq!(code, 255, "{} {flags:?}: {err}", rt.bin);
            assert!(
                err.contains("exec failed: ")
                    && err.contains("cannot use console socket if")
                    && err.contains("will not detach or allocate tty"),
                "{} {flags:?}: {err}",
                rt.bin
            );
        }
        if rt.is_coracle() {
            let (_, _, err) = rt.exec(&["-d", "-t"], &id, &never);
            assert!(err.contains("process.terminal: "), "{err}");
            let (_, _, err) = rt.exec(&["--console-socket", &sock.path()], &id, &never);
            assert!(err.contains("--console-socket: "), "{err}");
            // A socket nobody listens on: the flag, the path and the errno.
            let gone = format!("{}.gone", sock.path());
            let (code, _, err) = rt.exec(&["-d", "-t", "--console-socket", &gone], &id, &never);
            assert_eq!(code, 255);
            assert!(
                err.contains(&format!("exec failed: --console-socket {gone}: connect: "))
                    && err.contains("(ENOENT)"),
                "{err}"
            );
        }
        // Nothing was started by the refused execs.
        assert!(processes_with(&needle).is_empty(), "{}", rt.bin);
    });
}

#[test]
fn exec_stdio_reaches_a_non_root_process_which_can_reopen_it() {
    both(|rt| {
        let b = sleeper();
        let id = rt.start(&b);
        let script = "id -u; stat -L -c 'fd1 %u %i' /proc/self/fd/1; \
             echo reopened > /proc/self/fd/1; read line < /proc/self/fd/0; echo in:$line; \
             echo err > /proc/self/fd/2";
        let mut child = rt
            .command(&["exec", "-u", "1000", &id, "sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout_ino = nix::sys::stat::fstat(child.stdout.as_ref().unwrap())
            .unwrap()
            .st_ino;
        child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
        let out = child.wait_with_output().unwrap();
        let (so, se) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{}: {so} {se}", rt.bin);
        let l: Vec<&str> = so.lines().collect();
        assert_eq!(l[0], "1000");
        // Owned by the process user: for coracle the very pipe the caller passed
        // (runc without --detach copies through pipes of its own).
        assert!(l[1].starts_with("fd1 1000 "), "{}: {so}", rt.bin);
        if rt.is_coracle() {
            assert_eq!(l[1], format!("fd1 1000 {stdout_ino}"), "{so}");
        }
        assert_eq!(l[2], "reopened", "{}: {so} {se}", rt.bin);
        assert_eq!(l[3], "in:hello", "{}: {so} {se}", rt.bin);
        assert!(se.contains("err"), "{}: {se}", rt.bin);
    });
}
