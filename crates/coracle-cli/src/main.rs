//! `coracle`: runc's command line over the coracle library.
//!
//! Exit codes as runc: 0 on success, 1 on any error (usage errors included), and
//! `run` without `--detach` exits with the container's code (128+N when killed by
//! signal N). Errors go to the log (`--log`, else stderr) in runc's formats.

mod cli;
mod commands;
mod log;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use cli::{Cli, Command, LogFormat};
use log::{Level, Logger};

fn main() {
    let args = cli::normalize_args(std::env::args_os());
    std::process::exit(real_main(args));
}

fn real_main(args: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&args, &e),
    };
    let logger = match &cli.log {
        Some(path) => match Logger::open(path, cli.log_format, cli.debug) {
            Ok(l) => l,
            Err(e) => {
                let msg = commands::io_error("open", path, &e).to_string();
                Logger::stderr(cli.log_format, cli.debug).write(Level::Error, &msg);
                return 1;
            }
        },
        None => Logger::stderr(cli.log_format, cli.debug),
    };
    let logger = Arc::new(logger);
    install_panic_hook(Arc::clone(&logger));
    // Library warnings (failed poststart/poststop hooks) go to the same log, as runc's.
    let warn_log = Arc::clone(&logger);
    coracle::warn::set_sink(Box::new(move |msg| warn_log.write(Level::Warning, msg)));

    if cli.version {
        print!("{}", version_text());
        return 0;
    }
    let Some(cmd) = &cli.command else {
        // runc with no subcommand shows its help and exits 0.
        let _ = Cli::command().print_help();
        return 0;
    };
    match commands::dispatch(&cli, cmd, &logger) {
        Ok(code) => code,
        Err(e) => {
            let msg = match cmd {
                Command::Create(_) | Command::Run(_) => {
                    format!("coracle {} failed: {e}", cmd.name())
                }
                _ => e.to_string(),
            };
            logger.fatal(&msg);
            1
        }
    }
}

/// `coracle --version`, in runc's layout (runc adds commit, go and libseccomp lines).
fn version_text() -> String {
    format!(
        "coracle version {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        coracle::OCI_VERSION
    )
}

/// Print clap's message; help and version are not errors. A real usage error is
/// also logged to `--log` when one can be found in argv, so engines that read
/// the log file (containerd's shim) see why; it exits 1 like runc's "Incorrect Usage".
fn usage_error(args: &[OsString], e: &clap::Error) -> i32 {
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
        _ => {
            let (path, format) = prescan_log(args);
            if let Some(path) = path {
                if let Ok(l) = Logger::open(&path, format, false) {
                    let text = e.to_string();
                    let first = text.lines().next().unwrap_or("usage error");
                    l.write(Level::Error, first.trim_start_matches("error: "));
                }
            }
            1
        }
    }
}

/// `--log` and `--log-format` from argv that clap could not parse, looking only
/// before the first non-flag word (the subcommand), where the global flags live.
fn prescan_log(args: &[OsString]) -> (Option<PathBuf>, LogFormat) {
    let mut log = None;
    let mut format = LogFormat::Text;
    let mut it = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (a, None),
        };
        let mut value = || inline.clone().or_else(|| it.next().map(str::to_string));
        match name {
            "--log" => log = value().map(PathBuf::from),
            "--log-format" => {
                if value().as_deref() == Some("json") {
                    format = LogFormat::Json;
                }
            }
            "--root" | "--criu" | "--rootless" => {
                value();
            }
            _ if a.starts_with('-') => {}
            _ => break,
        }
    }
    (log, format)
}

/// A panic (a bug) is reported as one runc-style error line and exit 1, never as
/// Rust's panic message. The release profile aborts on panic; the hook runs first.
fn install_panic_hook(logger: Arc<Logger>) {
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        logger.fatal(&format!("internal error: {msg}{at}"));
        std::process::exit(1);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn prescan_finds_log_flags_before_the_subcommand() {
        let (log, fmt) = prescan_log(&os(&[
            "coracle",
            "--root",
            "/r",
            "--log",
            "/l.json",
            "--log-format",
            "json",
            "create",
            "--log",
            "/other",
        ]));
        assert_eq!(log, Some(PathBuf::from("/l.json")));
        assert_eq!(fmt, LogFormat::Json);
        let (log, fmt) = prescan_log(&os(&["coracle", "--log=/x", "--debug", "bogus"]));
        assert_eq!(log, Some(PathBuf::from("/x")));
        assert_eq!(fmt, LogFormat::Text);
        assert_eq!(
            prescan_log(&os(&["coracle", "state", "--log", "/y"])).0,
            None
        );
    }

    #[test]
    fn version_layout() {
        assert_eq!(version_text(), "coracle version 0.1.0\nspec: 1.2.0\n");
    }
}
