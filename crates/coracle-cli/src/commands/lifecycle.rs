//! create, start, run, state, kill, delete.

use std::io::Write;

use coracle::state::Store;
use coracle::{Container, CreateOptions};

use super::{absolute, output, CliError};
use crate::cli::{Command, CreateArgs, CreateFlags, DeleteArgs, KillArgs, RunArgs};
use crate::log::Logger;

/// The library options from the command line; relative paths are made absolute
/// against the current directory (runc does this for `--pid-file`).
fn create_options(flags: &CreateFlags) -> Result<CreateOptions, CliError> {
    let bundle = match &flags.bundle {
        Some(b) => absolute(b)?,
        None => std::env::current_dir()
            .map_err(|e| super::io_error("getcwd", std::path::Path::new("."), &e))?,
    };
    Ok(CreateOptions {
        bundle,
        pid_file: flags.pid_file.as_deref().map(absolute).transpose()?,
        console_socket: flags.console_socket.as_deref().map(absolute).transpose()?,
        console_stream: None,
        no_pivot: flags.no_pivot,
        no_new_keyring: flags.no_new_keyring,
        preserve_fds: flags.preserve_fds,
    })
}

/// Refuse the create/run flags we cannot honour, before anything is touched.
pub fn refuse_unsupported(cmd: &Command) -> Result<(), CliError> {
    let (flags, keep) = match cmd {
        Command::Create(a) => (&a.flags, false),
        Command::Run(a) => (&a.flags, a.keep),
        _ => return Ok(()),
    };
    if flags.pidfd_socket.is_some() {
        return Err(CliError::Msg("--pidfd-socket is not supported yet".into()));
    }
    if keep {
        // The library's run always deletes a container that exited.
        return Err(CliError::Msg("--keep is not supported yet".into()));
    }
    Ok(())
}

/// `create`: set up the container; its init waits for `start`.
pub fn create(store: &Store, args: &CreateArgs) -> Result<i32, CliError> {
    let opts = create_options(&args.flags)?;
    Container::create(store, &args.id, &opts)?;
    Ok(0)
}

/// `run`: create and start; unless detached, wait and exit with the container's code.
pub fn run(store: &Store, args: &RunArgs, log: &Logger) -> Result<i32, CliError> {
    if args.no_subreaper {
        log.debug("--no-subreaper: accepted, coracle does not become a subreaper for run");
    }
    let opts = create_options(&args.flags)?;
    if !args.detach {
        // runc's checkTerminal: the console socket is for a runtime that detaches.
        if opts.console_socket.is_some() {
            return Err(CliError::Msg(
                "--console-socket: cannot use console socket if coracle will not detach or allocate tty".into(),
            ));
        }
        if wants_terminal(&opts) {
            return super::terminal::run(store, &args.id, opts);
        }
    }
    Ok(coracle::run(store, &args.id, &opts, args.detach)?)
}

/// Whether the bundle's process asks for a terminal (a bundle that does not load is
/// reported by create itself).
fn wants_terminal(opts: &CreateOptions) -> bool {
    coracle::spec::load(&opts.bundle).is_ok_and(|b| {
        b.spec
            .process()
            .as_ref()
            .is_some_and(|p| p.terminal() == Some(true))
    })
}

/// `start`: release a created container's init.
pub fn start(store: &Store, id: &str) -> Result<i32, CliError> {
    let mut c = Container::load(store, id)?;
    c.start()?;
    Ok(0)
}

/// `state`: the state JSON, indented by two spaces and without a trailing newline,
/// byte for byte as `runc state` prints it.
pub fn state(store: &Store, id: &str) -> Result<i32, CliError> {
    let c = Container::load(store, id)?;
    let json = output::state_to_string_pretty(&c.state_json());
    let mut out = std::io::stdout().lock();
    out.write_all(json.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| super::io_error("write", std::path::Path::new("stdout"), &e))?;
    Ok(0)
}

/// `kill`: the container is looked up before the signal is parsed, as in runc
/// (`kill nosuch BOGUS` says the container does not exist).
pub fn kill(store: &Store, args: &KillArgs) -> Result<i32, CliError> {
    let c = Container::load(store, &args.id)?;
    let sig = coracle::signal::parse(&args.signal)?;
    c.kill(sig, args.all)?;
    Ok(0)
}

/// `delete`: with `--force`, a container that does not exist is not an error (runc
/// exits 0 silently).
pub fn delete(store: &Store, args: &DeleteArgs, log: &Logger) -> Result<i32, CliError> {
    let c = match Container::load(store, &args.id) {
        Ok(c) => c,
        Err(coracle::Error::Unfinished(_)) => {
            Container::remove_unfinished(store, &args.id)?;
            return Ok(0);
        }
        Err(e) => {
            let e = CliError::from(e);
            if args.force && e.is_not_found() {
                log.debug(&format!("delete --force {}: {e}", args.id));
                return Ok(0);
            }
            return Err(e);
        }
    };
    c.delete(args.force)?;
    Ok(0)
}
