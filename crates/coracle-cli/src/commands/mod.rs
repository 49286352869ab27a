//! The subcommands: argument checks, library calls, runc-style output.

mod cgroup;
mod exec;
mod lifecycle;
mod list;
pub mod output;
mod spec;
mod terminal;

use std::path::{Path, PathBuf};

use coracle::state::{StateError, Store};

use crate::cli::{Cli, Command, Rootless};
use crate::log::Logger;

/// Why a command failed; rendered as the one error line runc would log.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A library call failed.
    #[error(transparent)]
    Lib(#[from] coracle::Error),
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// `kill` was given a signal we do not know.
    #[error(transparent)]
    Signal(#[from] coracle::signal::SignalError),
    /// Anything else, already worded.
    #[error("{0}")]
    Msg(String),
}

impl CliError {
    /// Whether this is "no such container".
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            CliError::State(StateError::NotFound(_))
                | CliError::Lib(coracle::Error::State(StateError::NotFound(_)))
        )
    }
}

/// An I/O error as `op path: Description (ENAME)`.
pub fn io_error(op: &str, path: &Path, e: &std::io::Error) -> CliError {
    let what = match e.raw_os_error() {
        Some(raw) => {
            let errno = nix::errno::Errno::from_raw(raw);
            format!("{} ({errno:?})", errno.desc())
        }
        None => e.to_string(),
    };
    CliError::Msg(format!("{op} {}: {what}", path.display()))
}

/// Make `p` absolute against the current directory (no symlink resolution, as runc).
pub fn absolute(p: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(p).map_err(|e| io_error("resolve", p, &e))
}

/// Check the global flags we accept but cannot honour for `cmd`.
fn check_globals(cli: &Cli, cmd: &Command, euid: u32) -> Result<(), CliError> {
    if matches!(cmd, Command::Spec(_) | Command::Features(_)) {
        return Ok(());
    }
    if cli.rootless == Rootless::True {
        return Err(CliError::Msg("rootless mode is not supported yet".into()));
    }
    if euid != 0 {
        return Err(CliError::Msg(format!(
            "rootless mode is not supported yet: coracle must run as root (euid 0, not {euid})"
        )));
    }
    // Only create and run set up a cgroup; the other commands find it from the state.
    if cli.systemd_cgroup && matches!(cmd, Command::Create(_) | Command::Run(_)) {
        return Err(CliError::Msg(
            "--systemd-cgroup is not supported yet".into(),
        ));
    }
    Ok(())
}

/// Run `cmd`; `Ok` carries the exit code.
pub fn dispatch(cli: &Cli, cmd: &Command, log: &Logger) -> Result<i32, CliError> {
    if let Some(stub) = stub_name(cmd) {
        return Err(CliError::Msg(format!(
            "coracle: {stub} is not implemented yet"
        )));
    }
    check_globals(cli, cmd, nix::unistd::geteuid().as_raw())?;
    if let Command::Spec(args) = cmd {
        return spec::spec(args);
    }
    if let Command::Features(_) = cmd {
        return features();
    }
    lifecycle::refuse_unsupported(cmd)?;
    let store = Store::open(&cli.root)?;
    log.debug(&format!(
        "{} with root {}",
        cmd.name(),
        store.root().display()
    ));
    match cmd {
        Command::Create(a) => lifecycle::create(&store, a),
        Command::Run(a) => lifecycle::run(&store, a, log),
        Command::Start(a) => lifecycle::start(&store, &a.id),
        Command::State(a) => lifecycle::state(&store, &a.id),
        Command::Kill(a) => lifecycle::kill(&store, a),
        Command::Delete(a) => lifecycle::delete(&store, a, log),
        Command::List(a) => list::list(&store, a),
        Command::Pause(a) => cgroup::pause(&store, &a.id),
        Command::Resume(a) => cgroup::resume(&store, &a.id),
        Command::Ps(a) => cgroup::ps(&store, a),
        Command::Events(a) => cgroup::events(&store, a),
        Command::Update(a) => cgroup::update(&store, a),
        Command::Exec(a) => exec::exec(&store, a, log),
        _ => unreachable!("stubs and spec are handled above"),
    }
}

/// `features`: the OCI features JSON, indented by four spaces as runc prints it.
fn features() -> Result<i32, CliError> {
    use serde::Serialize;
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    coracle::features::features()
        .serialize(&mut ser)
        .map_err(|e| CliError::Msg(format!("encode features: {e}")))?;
    buf.push(b'\n');
    std::io::Write::write_all(&mut std::io::stdout().lock(), &buf)
        .map_err(|e| io_error("write", Path::new("stdout"), &e))?;
    Ok(0)
}

/// The name of a subcommand that is only a stub, if `cmd` is one.
fn stub_name(cmd: &Command) -> Option<&'static str> {
    match cmd {
        Command::Checkpoint(_) | Command::Restore(_) => Some(cmd.name()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        let mut v = vec!["coracle"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).unwrap()
    }

    fn check(args: &[&str], euid: u32) -> Result<(), String> {
        let c = cli(args);
        let cmd = c.command.as_ref().unwrap();
        check_globals(&c, cmd, euid).map_err(|e| e.to_string())
    }

    #[test]
    fn rootless_true_is_refused() {
        assert_eq!(
            check(&["--rootless", "true", "state", "x"], 0).unwrap_err(),
            "rootless mode is not supported yet"
        );
        check(&["--rootless", "false", "state", "x"], 0).unwrap();
        check(&["--rootless", "auto", "state", "x"], 0).unwrap();
    }

    #[test]
    fn non_root_is_refused_except_for_spec() {
        let e = check(&["state", "x"], 1000).unwrap_err();
        assert!(e.contains("must run as root"), "{e}");
        check(&["spec", "--rootless"], 1000).unwrap();
    }

    #[test]
    fn systemd_cgroup_fails_closed_where_it_matters() {
        for args in [
            &["--systemd-cgroup", "create", "x"][..],
            &["--systemd-cgroup", "run", "-d", "x"][..],
        ] {
            assert_eq!(
                check(args, 0).unwrap_err(),
                "--systemd-cgroup is not supported yet"
            );
        }
        check(&["--systemd-cgroup", "delete", "-f", "x"], 0).unwrap();
    }

    #[test]
    fn not_found_is_recognised() {
        let e = CliError::from(coracle::Error::State(StateError::NotFound("x".into())));
        assert!(e.is_not_found());
        assert!(CliError::State(StateError::NotFound("x".into())).is_not_found());
        assert!(!CliError::Msg("container does not exist".into()).is_not_found());
    }

    #[test]
    fn io_errors_name_errno() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(
            io_error("open", Path::new("/x"), &e).to_string(),
            "open /x: No such file or directory (ENOENT)"
        );
    }
}
