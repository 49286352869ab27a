//! Parsing tests: every flag form containerd, podman and people use.

use super::*;

fn parse(args: &[&str]) -> Cli {
    let mut v = vec!["coracle"];
    v.extend_from_slice(args);
    match Cli::try_parse_from(normalize_args(v)) {
        Ok(cli) => cli,
        Err(e) => panic!("parse {args:?}: {e}"),
    }
}

fn fails(args: &[&str]) -> bool {
    let mut v = vec!["coracle"];
    v.extend_from_slice(args);
    Cli::try_parse_from(normalize_args(v)).is_err()
}

#[test]
fn containerd_create_line() {
    let cli = parse(&[
        "--root",
        "/run/containerd/runc/k8s.io",
        "--log",
        "/path/log.json",
        "--log-format",
        "json",
        "create",
        "--bundle",
        "/b",
        "--pid-file",
        "/p",
        "--console-socket",
        "/s",
        "id",
    ]);
    assert_eq!(cli.root, PathBuf::from("/run/containerd/runc/k8s.io"));
    assert_eq!(cli.log, Some(PathBuf::from("/path/log.json")));
    assert_eq!(cli.log_format, LogFormat::Json);
    let Some(Command::Create(c)) = cli.command else {
        panic!("not create: {:?}", cli.command)
    };
    assert_eq!(c.id, "id");
    assert_eq!(c.flags.bundle, Some(PathBuf::from("/b")));
    assert_eq!(c.flags.pid_file, Some(PathBuf::from("/p")));
    assert_eq!(c.flags.console_socket, Some(PathBuf::from("/s")));
    assert_eq!(c.flags.preserve_fds, 0);
    assert!(!c.flags.no_pivot && !c.flags.no_new_keyring);
}

#[test]
fn defaults() {
    let cli = parse(&["state", "x"]);
    assert_eq!(cli.root, PathBuf::from(DEFAULT_ROOT));
    assert_eq!(cli.log, None);
    assert_eq!(cli.log_format, LogFormat::Text);
    assert_eq!(cli.rootless, Rootless::Auto);
    assert!(!cli.debug && !cli.systemd_cgroup && !cli.version);
    assert!(matches!(cli.command, Some(Command::State(IdArg { ref id })) if id == "x"));
}

#[test]
fn create_all_flags_and_short_bundle() {
    let cli = parse(&[
        "create",
        "-b",
        "/b",
        "--no-pivot",
        "--no-new-keyring",
        "--preserve-fds",
        "3",
        "--pid-file=/p",
        "c1",
    ]);
    let Some(Command::Create(c)) = cli.command else {
        panic!("not create")
    };
    assert_eq!(c.flags.bundle, Some(PathBuf::from("/b")));
    assert_eq!(c.flags.pid_file, Some(PathBuf::from("/p")));
    assert!(c.flags.no_pivot && c.flags.no_new_keyring);
    assert_eq!(c.flags.preserve_fds, 3);
    assert!(fails(&["create", "--preserve-fds", "-1", "c1"]));
    assert!(fails(&["create"]));
    assert!(fails(&["create", "a", "b"]));
}

#[test]
fn delete_force_both_forms() {
    for f in ["--force", "-f"] {
        let cli = parse(&["--root", "R", "delete", f, "id"]);
        assert_eq!(cli.root, PathBuf::from("R"));
        assert!(
            matches!(cli.command, Some(Command::Delete(DeleteArgs { force: true, ref id })) if id == "id")
        );
    }
    // urfave/cli reorders flags after positionals; so do we.
    let cli = parse(&["delete", "id", "--force"]);
    assert!(matches!(
        cli.command,
        Some(Command::Delete(DeleteArgs { force: true, .. }))
    ));
    let cli = parse(&["delete", "id"]);
    assert!(matches!(
        cli.command,
        Some(Command::Delete(DeleteArgs { force: false, .. }))
    ));
}

#[test]
fn kill_forms() {
    let cli = parse(&["--root", "R", "kill", "--all", "id", "9"]);
    let Some(Command::Kill(k)) = cli.command else {
        panic!("not kill")
    };
    assert!(k.all);
    assert_eq!((k.id.as_str(), k.signal.as_str()), ("id", "9"));

    let cli = parse(&["--root", "R", "kill", "id", "SIGKILL"]);
    let Some(Command::Kill(k)) = cli.command else {
        panic!("not kill")
    };
    assert!(!k.all);
    assert_eq!(k.signal, "SIGKILL");

    let cli = parse(&["kill", "-a", "id"]);
    let Some(Command::Kill(k)) = cli.command else {
        panic!("not kill")
    };
    assert!(k.all);
    assert_eq!(k.signal, "SIGTERM");
    assert!(fails(&["kill"]));
    assert!(fails(&["kill", "a", "b", "c"]));
}

#[test]
fn run_forms() {
    let cli = parse(&["run", "-d", "--pid-file", "/p", "-b", "/b", "id"]);
    let Some(Command::Run(r)) = cli.command else {
        panic!("not run")
    };
    assert!(r.detach && !r.keep && !r.no_subreaper);
    assert_eq!(r.flags.pid_file, Some(PathBuf::from("/p")));
    assert_eq!(r.flags.bundle, Some(PathBuf::from("/b")));

    let cli = parse(&["run", "--detach", "--keep", "--no-subreaper", "id"]);
    let Some(Command::Run(r)) = cli.command else {
        panic!("not run")
    };
    assert!(r.detach && r.keep && r.no_subreaper);
    assert_eq!(r.flags.bundle, None);
}

#[test]
fn list_forms() {
    let cli = parse(&["list", "-q"]);
    assert!(matches!(
        cli.command,
        Some(Command::List(ListArgs {
            quiet: true,
            format: ListFormat::Table
        }))
    ));
    let cli = parse(&["list", "--format", "json"]);
    assert!(matches!(
        cli.command,
        Some(Command::List(ListArgs {
            quiet: false,
            format: ListFormat::Json
        }))
    ));
    let cli = parse(&["list", "-f", "table", "--quiet"]);
    assert!(matches!(
        cli.command,
        Some(Command::List(ListArgs {
            quiet: true,
            format: ListFormat::Table
        }))
    ));
    assert!(fails(&["list", "-f", "yaml"]));
}

#[test]
fn spec_forms() {
    let cli = parse(&["spec", "--rootless", "-b", "/b"]);
    let Some(Command::Spec(s)) = cli.command else {
        panic!("not spec")
    };
    assert!(s.rootless);
    assert_eq!(s.bundle, Some(PathBuf::from("/b")));
}

#[test]
fn podman_global_flags() {
    let cli = parse(&[
        "--systemd-cgroup",
        "--root",
        "/run/runc",
        "--log",
        "/l",
        "--log-format=json",
        "--rootless",
        "false",
        "--debug",
        "--criu",
        "/usr/bin/criu",
        "start",
        "id",
    ]);
    assert!(cli.systemd_cgroup && cli.debug);
    assert_eq!(cli.rootless, Rootless::False);
    assert_eq!(cli.criu, PathBuf::from("/usr/bin/criu"));
    assert!(matches!(cli.command, Some(Command::Start(_))));
    assert!(fails(&["--rootless", "maybe", "state", "x"]));
    assert!(fails(&["--log-format", "xml", "state", "x"]));
}

#[test]
fn global_flags_only_before_subcommand() {
    assert!(fails(&["state", "--root", "/r", "x"]));
    assert!(fails(&["state", "x", "--debug"]));
}

#[test]
fn single_dash_long_flags() {
    let cli = parse(&[
        "-root",
        "/r",
        "-log",
        "/l",
        "-log-format",
        "json",
        "delete",
        "-force",
        "id",
    ]);
    assert_eq!(cli.root, PathBuf::from("/r"));
    assert_eq!(cli.log, Some(PathBuf::from("/l")));
    assert_eq!(cli.log_format, LogFormat::Json);
    assert!(matches!(
        cli.command,
        Some(Command::Delete(DeleteArgs { force: true, .. }))
    ));
    let cli = parse(&["create", "-pid-file=/p", "-bundle", "/b", "id"]);
    let Some(Command::Create(c)) = cli.command else {
        panic!("not create")
    };
    assert_eq!(c.flags.pid_file, Some(PathBuf::from("/p")));
    assert_eq!(c.flags.bundle, Some(PathBuf::from("/b")));
}

#[test]
fn normalize_leaves_others_alone() {
    let n = normalize_args(["-root", "-b", "-x", "--root", "-nosuch", "--", "-root"]);
    assert_eq!(
        n,
        ["-root", "-b", "-x", "--root", "-nosuch", "--", "-root"]
            .map(OsString::from)
            .to_vec()
    );
    let n = normalize_args(["prog", "-root", "-debug", "-rootless=true"]);
    assert_eq!(
        n,
        ["prog", "--root", "--debug", "--rootless=true"]
            .map(OsString::from)
            .to_vec()
    );
}

#[test]
fn version_and_stub_args() {
    assert!(parse(&["-v"]).version);
    assert!(parse(&["--version"]).version);
    assert!(matches!(
        parse(&["features"]).command,
        Some(Command::Features(_))
    ));
    assert!(fails(&["nosuchcmd"]));
}

fn exec_args(args: &[&str]) -> ExecArgs {
    match parse(args).command {
        Some(Command::Exec(e)) => *e,
        c => panic!("not exec: {c:?}"),
    }
}

#[test]
fn exec_takes_everything_after_the_id_as_the_command() {
    let e = exec_args(&["exec", "-t", "--cwd", "/", "id", "sh", "-c", "x"]);
    assert!(e.tty);
    assert_eq!(e.cwd.as_deref(), Some("/"));
    assert_eq!(e.id, "id");
    assert_eq!(e.command, ["sh", "-c", "x"]);
    // As runc: flags after the id belong to the command, `--` included.
    let e = exec_args(&["exec", "ct", "-e", "X=1", "env"]);
    assert!(e.env.is_empty());
    assert_eq!(e.command, ["-e", "X=1", "env"]);
    let e = exec_args(&["exec", "ct", "--", "echo"]);
    assert_eq!(e.command, ["--", "echo"]);
    let e = exec_args(&["exec", "ct", "find", "/", "-user", "root"]);
    assert_eq!(e.command, ["find", "/", "-user", "root"]);
}

#[test]
fn exec_flags_as_runc_spells_them() {
    let e = exec_args(&[
        "--root",
        "/r",
        "exec",
        "-e",
        "A=1",
        "--env=B=2",
        "-u",
        "1000:1000",
        "-g",
        "10",
        "--additional-gids",
        "20",
        "--cap",
        "CAP_SYS_ADMIN",
        "-c",
        "CAP_KILL",
        "--no-new-privs",
        "-d",
        "--pid-file",
        "/p",
        "--preserve-fds",
        "2",
        "--ignore-paused",
        "-cwd",
        "/tmp",
        "--apparmor",
        "prof",
        "--process-label",
        "lbl",
        "ct",
    ]);
    assert_eq!(e.env, ["A=1", "B=2"]);
    assert_eq!(e.user.as_deref(), Some("1000:1000"));
    assert_eq!(e.additional_gids, [10, 20]);
    assert_eq!(e.cap, ["CAP_SYS_ADMIN", "CAP_KILL"]);
    assert!(e.no_new_privs && e.detach && e.ignore_paused && !e.tty);
    assert_eq!(e.pid_file.as_deref(), Some(std::path::Path::new("/p")));
    assert_eq!(e.preserve_fds, 2);
    assert_eq!(e.cwd.as_deref(), Some("/tmp"));
    assert_eq!(e.apparmor.as_deref(), Some("prof"));
    assert_eq!(e.process_label.as_deref(), Some("lbl"));
    assert_eq!(e.id, "ct");
    assert!(e.command.is_empty());
    // containerd's and conmon's form.
    let e = exec_args(&[
        "--root",
        "/r",
        "--log",
        "/l",
        "--log-format",
        "json",
        "exec",
        "--process",
        "/p.json",
        "--detach",
        "--pid-file",
        "/pid",
        "ct",
    ]);
    assert_eq!(e.process.as_deref(), Some(std::path::Path::new("/p.json")));
    assert!(e.detach);
    assert_eq!(e.id, "ct");
    assert!(fails(&["exec"]));
}
