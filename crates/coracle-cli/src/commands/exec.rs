//! `exec`: run another process in a container, as runc's exec does.
//!
//! The process is either `--process FILE` (a complete OCI process, other flags
//! ignored, as in runc) or the container's own `process` with the command and the
//! flags laid over it (runc's `getProcess`). Failures exit 255 with
//! `exec failed: ...`, as runc's do; otherwise the exit code is the process's.
//!
//! A terminal (`-t`, or `process.terminal` in the file) goes to `--console-socket`
//! with `--detach`, or is proxied by coracle itself without (`terminal::exec`); other
//! combinations are refused as runc refuses them.

use std::path::Path;

use coracle::container::exec::ExecOptions;
use coracle::state::{Status, Store};
use coracle::Container;
use oci_spec::runtime::{Capability, LinuxCapabilities, Process};

use super::{absolute, io_error, CliError};
use crate::cli::ExecArgs;
use crate::log::Logger;

/// runc's exit code for an exec that could not start its process.
const EXEC_FAILED: i32 = 255;

/// `exec`: exits with the process's code, or 0 at once with `--detach`.
pub fn exec(store: &Store, args: &ExecArgs, log: &Logger) -> Result<i32, CliError> {
    match run(store, args) {
        Ok(code) => Ok(code),
        Err(e) => {
            log.fatal(&format!("exec failed: {e}"));
            Ok(EXEC_FAILED)
        }
    }
}

fn run(store: &Store, args: &ExecArgs) -> Result<i32, CliError> {
    if args.pidfd_socket.is_some() {
        return Err(CliError::Msg("--pidfd-socket is not supported yet".into()));
    }
    if !args.cgroup.is_empty() {
        return Err(CliError::Msg("--cgroup is not supported yet".into()));
    }
    let c = Container::load(store, &args.id)?;
    let process = match &args.process {
        Some(path) => read_process(path)?,
        None => {
            if args.command.is_empty() {
                return Err(CliError::Msg("process args cannot be empty".into()));
            }
            let base = c.state().config.process().clone().unwrap_or_default();
            from_flags(base, args)?
        }
    };
    let terminal = process.terminal() == Some(true);
    check_terminal(terminal, args)?;
    let opts = ExecOptions {
        process,
        pid_file: args.pid_file.as_deref().map(absolute).transpose()?,
        console_socket: args.console_socket.as_deref().map(absolute).transpose()?,
        console_stream: None,
        preserve_fds: args.preserve_fds,
        ignore_paused: args.ignore_paused,
    };
    if terminal && !args.detach {
        return super::terminal::exec(c, opts);
    }
    let started = c.exec(&opts).map_err(paused_hint)?;
    // Wait without the container's lock, so state, kill and delete keep working.
    drop(c);
    if args.detach {
        started.detach();
        return Ok(0);
    }
    Ok(started.wait()?)
}

/// runc's checkTerminal: the console socket is for a runtime that detaches (it
/// cannot proxy the terminal itself then), and only with a terminal.
fn check_terminal(terminal: bool, args: &ExecArgs) -> Result<(), CliError> {
    let socket = args.console_socket.is_some();
    if args.detach && terminal && !socket {
        return Err(CliError::Msg(
            "process.terminal: cannot allocate tty if coracle will detach without setting console socket (--console-socket)".into(),
        ));
    }
    if (!args.detach || !terminal) && socket {
        return Err(CliError::Msg(
            "--console-socket: cannot use console socket if coracle will not detach or allocate tty".into(),
        ));
    }
    Ok(())
}

/// runc's wording for a paused container points at the flag.
pub(super) fn paused_hint(e: coracle::Error) -> CliError {
    match e {
        coracle::Error::BadStatus {
            status: Status::Paused,
            ..
        } => CliError::Msg(format!("{e} (use --ignore-paused to override)")),
        e => e.into(),
    }
}

/// A process.json: an OCI `process` object; errors name the file and the field.
fn read_process(path: &Path) -> Result<Process, CliError> {
    let bytes = std::fs::read(path).map_err(|e| io_error("read", path, &e))?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = match e.path().to_string().as_str() {
            "." => String::new(),
            p => format!("process.{p}: "),
        };
        CliError::Msg(format!("{}: {field}{}", path.display(), e.inner()))
    })
}

/// The container's process with the command line laid over it, as runc's getProcess.
fn from_flags(mut p: Process, args: &ExecArgs) -> Result<Process, CliError> {
    p.set_args(Some(args.command.clone()));
    if let Some(cwd) = &args.cwd {
        p.set_cwd(cwd.into());
    }
    if let Some(profile) = &args.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &args.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    if !args.cap.is_empty() {
        p.set_capabilities(Some(add_caps(p.capabilities().clone(), &args.cap)?));
    }
    if !args.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(args.env.iter().cloned());
        p.set_env(Some(env));
    }
    // The container's own terminal setting is not inherited: only -t asks for one.
    p.set_terminal(Some(args.tty));
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(user) = &args.user {
        let (uid, gid) = parse_user(user)?;
        p.user_mut().set_uid(uid);
        if let Some(gid) = gid {
            p.user_mut().set_gid(gid);
        }
    }
    if !args.additional_gids.is_empty() {
        let mut gids = p.user().additional_gids().clone().unwrap_or_default();
        for &g in &args.additional_gids {
            let g = u32::try_from(g).map_err(|_| {
                CliError::Msg(format!(
                    "--additional-gids: {g} is not a valid gid (0..{})",
                    u32::MAX
                ))
            })?;
            gids.push(g);
        }
        p.user_mut().set_additional_gids(Some(gids));
    }
    Ok(p)
}

/// `--cap NAME`: added to the bounding, effective and permitted sets (runc 1.2: not
/// to inheritable, whose leaking into exec'd processes was CVE-2022-29162, and so
/// not to ambient either, which needs inheritable).
fn add_caps(
    caps: Option<LinuxCapabilities>,
    names: &[String],
) -> Result<LinuxCapabilities, CliError> {
    let mut caps = caps.unwrap_or_else(|| {
        let mut c = LinuxCapabilities::default();
        c.set_bounding(None)
            .set_effective(None)
            .set_permitted(None)
            .set_inheritable(None)
            .set_ambient(None);
        c
    });
    let mut bounding = caps.bounding().clone().unwrap_or_default();
    let mut effective = caps.effective().clone().unwrap_or_default();
    let mut permitted = caps.permitted().clone().unwrap_or_default();
    for name in names {
        let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
            .map_err(|_| CliError::Msg(format!("--cap: unknown capability {name:?}")))?;
        for set in [&mut bounding, &mut effective, &mut permitted] {
            set.insert(cap);
        }
    }
    caps.set_bounding(Some(bounding))
        .set_effective(Some(effective))
        .set_permitted(Some(permitted));
    Ok(caps)
}

/// `uid[:gid]`, decimal.
fn parse_user(user: &str) -> Result<(u32, Option<u32>), CliError> {
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let num = |what: &str, v: &str| {
        v.parse::<u32>()
            .map_err(|_| CliError::Msg(format!("--user {user:?}: {what} {v:?} is not a number")))
    };
    Ok((num("uid", uid)?, gid.map(|g| num("gid", g)).transpose()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(v: &[&str]) -> ExecArgs {
        let mut all = vec!["coracle", "exec"];
        all.extend_from_slice(v);
        match crate::cli::Cli::parse_from(crate::cli::normalize_args(all)).command {
            Some(crate::cli::Command::Exec(e)) => *e,
            _ => unreachable!(),
        }
    }

    fn base() -> Process {
        serde_json::from_value(serde_json::json!({
            "terminal": true,
            "user": {"uid": 0, "gid": 0, "additionalGids": [5]},
            "args": ["sleep", "100"],
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
            "noNewPrivileges": false,
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
        }))
        .unwrap()
    }

    #[test]
    fn container_process_is_the_default() {
        let p = from_flags(base(), &args(&["ct", "id"])).unwrap();
        assert_eq!(p.args().as_deref().unwrap(), ["id"]);
        assert_eq!(p.env().as_deref().unwrap(), ["PATH=/bin", "TERM=xterm"]);
        assert_eq!(p.cwd(), Path::new("/"));
        assert_eq!(p.user().additional_gids().as_deref(), Some(&[5][..]));
        assert_eq!(p.no_new_privileges(), Some(false));
        assert_eq!(p.rlimits().as_ref().unwrap().len(), 1);
        assert_eq!(p.terminal(), Some(false), "terminal is only -t");
        assert_eq!(p.capabilities(), base().capabilities());
    }

    #[test]
    fn flags_override_and_extend() {
        let p = from_flags(
            base(),
            &args(&[
                "-e",
                "TERM=vt100",
                "-e",
                "A=1",
                "--cwd",
                "/tmp",
                "-u",
                "1000:1001",
                "-g",
                "10",
                "--cap",
                "CAP_SYS_ADMIN",
                "--no-new-privs",
                "-t",
                "ct",
                "sh",
            ]),
        )
        .unwrap();
        assert_eq!(
            p.env().as_deref().unwrap(),
            ["PATH=/bin", "TERM=xterm", "TERM=vt100", "A=1"]
        );
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1001));
        assert_eq!(p.user().additional_gids().as_deref(), Some(&[5, 10][..]));
        assert_eq!(p.no_new_privileges(), Some(true));
        assert_eq!(p.terminal(), Some(true));
        let caps = p.capabilities().as_ref().unwrap();
        for set in [caps.bounding(), caps.effective(), caps.permitted()] {
            let set = set.as_ref().unwrap();
            assert!(set.contains(&Capability::SysAdmin) && set.contains(&Capability::Kill));
        }
        assert!(caps.inheritable().as_ref().is_none_or(|s| s.is_empty()));
        assert!(caps.ambient().as_ref().is_none_or(|s| s.is_empty()));
        // uid alone keeps the gid.
        let p = from_flags(base(), &args(&["-u", "7", "ct", "sh"])).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (7, 0));
    }

    #[test]
    fn console_socket_goes_with_detach_and_a_terminal_as_in_runc() {
        let ok = |terminal: bool, v: &[&str]| check_terminal(terminal, &args(v)).is_ok();
        assert!(ok(true, &["-d", "--console-socket", "/s", "ct", "sh"]));
        assert!(ok(true, &["ct", "sh"]), "proxied by coracle");
        assert!(ok(false, &["-d", "ct", "sh"]));
        let err = |terminal: bool, v: &[&str]| {
            check_terminal(terminal, &args(v)).unwrap_err().to_string()
        };
        assert!(err(true, &["-d", "ct", "sh"]).starts_with("process.terminal: cannot allocate tty"));
        for (terminal, v) in [
            (true, &["--console-socket", "/s", "ct", "sh"][..]),
            (false, &["-d", "--console-socket", "/s", "ct", "sh"][..]),
            (false, &["--console-socket", "/s", "ct", "sh"][..]),
        ] {
            assert!(
                err(terminal, v).starts_with("--console-socket: cannot use console socket"),
                "{v:?}"
            );
        }
    }

    #[test]
    fn bad_flags_are_named() {
        let err = |v: &[&str]| from_flags(base(), &args(v)).unwrap_err().to_string();
        assert_eq!(
            err(&["--cap", "CAP_NOPE", "ct", "sh"]),
            "--cap: unknown capability \"CAP_NOPE\""
        );
        assert_eq!(
            err(&["-u", "1000:x", "ct", "sh"]),
            "--user \"1000:x\": gid \"x\" is not a number"
        );
        assert!(
            err(&["-g", "-1", "ct", "sh"]).starts_with("--additional-gids: -1 is not a valid gid")
        );
    }

    #[test]
    fn process_file_errors_name_the_field() {
        let dir = std::env::temp_dir().join(format!("coracle-exec-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("p.json");
        std::fs::write(
            &f,
            r#"{"user": {"uid": "x", "gid": 0}, "args": ["sh"], "cwd": "/"}"#,
        )
        .unwrap();
        let e = read_process(&f).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: process.user.uid: ", f.display())),
            "{e}"
        );
        std::fs::write(
            &f,
            r#"{"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/", "env": ["A=1"]}"#,
        )
        .unwrap();
        let p = read_process(&f).unwrap();
        assert_eq!(p.env().as_deref().unwrap(), ["A=1"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
