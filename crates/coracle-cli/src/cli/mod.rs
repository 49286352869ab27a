//! runc's command line, parsed with clap.
//!
//! Flag names, short forms and defaults follow `runc --help` and `runc <cmd> --help`
//! of runc 1.1. Global flags are accepted only before the subcommand, as in runc.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod cgroup;

pub use cgroup::{EventsArgs, PsArgs, PsFormat, UpdateArgs};

/// The default state root.
pub const DEFAULT_ROOT: &str = "/run/coracle";

/// Open Container Initiative runtime.
#[derive(Debug, Parser)]
#[command(
    name = "coracle",
    about = "coracle - Open Container Initiative runtime",
    disable_version_flag = true,
    subcommand_required = false,
    arg_required_else_help = false
)]
pub struct Cli {
    /// Enable debug logging.
    #[arg(long)]
    pub debug: bool,

    /// Set the log file to write coracle logs to (default is stderr).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Set the log format.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Root directory for storage of container state (this should be located in tmpfs).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_ROOT)]
    pub root: PathBuf,

    /// Path to the criu binary used for checkpoint and restore (accepted, unused).
    #[arg(long, value_name = "PATH", default_value = "criu")]
    pub criu: PathBuf,

    /// Enable systemd cgroup support (not supported yet).
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,

    /// Ignore cgroup permission errors ('true', 'false', or 'auto').
    #[arg(long, value_enum, default_value_t = Rootless::Auto)]
    pub rootless: Rootless,

    /// Print the version.
    #[arg(short = 'v', long)]
    pub version: bool,

    /// The subcommand.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// logrus text: `time="..." level=error msg="..."`.
    Text,
    /// One JSON object per line.
    Json,
}

/// `--rootless`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rootless {
    /// Rootless mode.
    True,
    /// Not rootless.
    False,
    /// Decide from the euid.
    Auto,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container.
    Create(CreateArgs),
    /// Executes the user defined process in a created container.
    Start(IdArg),
    /// Create and run a container.
    Run(RunArgs),
    /// Output the state of a container.
    State(IdArg),
    /// Kill sends the specified signal (default: SIGTERM) to the container's init process.
    Kill(KillArgs),
    /// Delete any resources held by the container often used with detached container.
    Delete(DeleteArgs),
    /// Lists containers started by coracle with the given root.
    List(ListArgs),
    /// Create a new specification file.
    Spec(SpecArgs),
    /// Execute new process inside the container.
    Exec(Box<ExecArgs>),
    /// Ps displays the processes running inside a container.
    Ps(PsArgs),
    /// Pause suspends all processes inside the container.
    Pause(IdArg),
    /// Resumes all processes that have been previously paused.
    Resume(IdArg),
    /// Display container events such as OOM notifications and cpu, memory, and IO usage statistics.
    Events(EventsArgs),
    /// Update container resource constraints.
    Update(UpdateArgs),
    /// Show the enabled features.
    Features(StubArgs),
    /// Checkpoint a running container (not implemented yet).
    Checkpoint(StubArgs),
    /// Restore a container from a previous checkpoint (not implemented yet).
    Restore(StubArgs),
}

impl Command {
    /// The subcommand's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Create(_) => "create",
            Command::Start(_) => "start",
            Command::Run(_) => "run",
            Command::State(_) => "state",
            Command::Kill(_) => "kill",
            Command::Delete(_) => "delete",
            Command::List(_) => "list",
            Command::Spec(_) => "spec",
            Command::Exec(_) => "exec",
            Command::Ps(_) => "ps",
            Command::Pause(_) => "pause",
            Command::Resume(_) => "resume",
            Command::Events(_) => "events",
            Command::Update(_) => "update",
            Command::Features(_) => "features",
            Command::Checkpoint(_) => "checkpoint",
            Command::Restore(_) => "restore",
        }
    }
}

/// A single `<container-id>`.
#[derive(Debug, Args)]
pub struct IdArg {
    /// The container id.
    #[arg(value_name = "container-id")]
    pub id: String,
}

/// Flags shared by `create` and `run`.
#[derive(Debug, Args)]
pub struct CreateFlags {
    /// Path to the root of the bundle directory, defaults to the current directory.
    #[arg(short, long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Path to an AF_UNIX socket which will receive the master end of the console's pty.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Path to an AF_UNIX socket which will receive the init's pidfd (not supported yet).
    #[arg(long = "pidfd-socket", value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
    /// Specify the file to write the process id to.
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot root to jail process inside rootfs.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors to the container (stdio + N in total).
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
}

/// `create [flags] <container-id>`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The create flags.
    #[command(flatten)]
    pub flags: CreateFlags,
    /// The container id.
    #[arg(value_name = "container-id")]
    pub id: String,
}

/// `run [flags] <container-id>`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The create flags.
    #[command(flatten)]
    pub flags: CreateFlags,
    /// Detach from the container's process.
    #[arg(short, long)]
    pub detach: bool,
    /// Do not delete the container after it exits (not supported yet).
    #[arg(long)]
    pub keep: bool,
    /// Disable the use of the subreaper used to reap reparented processes.
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// The container id.
    #[arg(value_name = "container-id")]
    pub id: String,
}

/// `kill [--all] <container-id> [signal]`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Send the specified signal to all processes inside the container.
    #[arg(short, long)]
    pub all: bool,
    /// The container id.
    #[arg(value_name = "container-id")]
    pub id: String,
    /// The signal: a name (`KILL`, `SIGKILL`) or a number (default: SIGTERM).
    #[arg(value_name = "signal", default_value = "SIGTERM")]
    pub signal: String,
}

/// `delete [--force] <container-id>`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Forcibly deletes the container if it is still running (uses SIGKILL).
    #[arg(short, long)]
    pub force: bool,
    /// The container id.
    #[arg(value_name = "container-id")]
    pub id: String,
}

/// `list [--format table|json] [--quiet]`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Select one of: table or json.
    #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Display only container IDs.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `list --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// A JSON array.
    Json,
}

/// `spec [--bundle DIR] [--rootless]`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Path to the root of the bundle directory.
    #[arg(short, long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Generate a configuration for a rootless container.
    #[arg(long)]
    pub rootless: bool,
}

/// `exec [flags] <container-id> [command...]`, or `exec -p process.json <container-id>`.
///
/// As in runc, everything after the container id is the command, verbatim (flags
/// included): [`normalize_args`] puts a `--` after the id.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Path to an AF_UNIX socket which will receive a file descriptor referencing the
    /// master end of the console's pseudoterminal.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Path to an AF_UNIX socket which will receive the process's pidfd (not supported yet).
    #[arg(long = "pidfd-socket", value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
    /// Current working directory in the container.
    #[arg(long, value_name = "PATH")]
    pub cwd: Option<String>,
    /// Set environment variables (NAME=VALUE); can be given more than once.
    #[arg(short, long, value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// UID (format: <uid>[:<gid>]).
    #[arg(short, long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional gids; can be given more than once.
    #[arg(
        short = 'g',
        long = "additional-gids",
        value_name = "GID",
        allow_negative_numbers = true
    )]
    pub additional_gids: Vec<i64>,
    /// Path to the process.json.
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Detach from the container's process.
    #[arg(short, long)]
    pub detach: bool,
    /// Specify the file to write the process id to.
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Set the asm process label for the process commonly used with selinux.
    #[arg(long = "process-label", value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Set the apparmor profile for the process.
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// Set the no new privileges value for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability to the bounding set for the process; can be given more than once.
    #[arg(short, long, value_name = "CAP")]
    pub cap: Vec<String>,
    /// Pass N additional file descriptors to the container (stdio + N in total).
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run the process in an (existing) sub-cgroup (not supported yet).
    #[arg(long, value_name = "[CONTROLLER:]CGROUP")]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// The container id.
    #[arg(value_name = "container-id")]
    pub id: String,
    /// The command and its arguments (none with --process).
    #[arg(value_name = "command", trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub command: Vec<String>,
}

/// `exec` flags that take a value (a separate word unless written `--flag=value`).
const EXEC_VALUE_FLAGS: &[&str] = &[
    "console-socket",
    "pidfd-socket",
    "cwd",
    "env",
    "e",
    "user",
    "u",
    "additional-gids",
    "g",
    "process",
    "p",
    "pid-file",
    "process-label",
    "apparmor",
    "cap",
    "c",
    "preserve-fds",
    "cgroup",
];

/// Global flags that take a value.
const GLOBAL_VALUE_FLAGS: &[&str] = &["log", "log-format", "root", "criu", "rootless"];

/// Anything at all: the subcommand is not implemented yet, so its flags are not checked.
#[derive(Debug, Args)]
pub struct StubArgs {
    /// Ignored.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub rest: Vec<OsString>,
}

/// Long flag names runc (urfave/cli) also accepts with a single dash (`-root`).
const LONG_FLAGS: &[&str] = &[
    "debug",
    "log",
    "log-format",
    "root",
    "criu",
    "systemd-cgroup",
    "rootless",
    "version",
    "help",
    "bundle",
    "console-socket",
    "pidfd-socket",
    "pid-file",
    "no-pivot",
    "no-new-keyring",
    "preserve-fds",
    "detach",
    "keep",
    "no-subreaper",
    "all",
    "force",
    "format",
    "quiet",
    "interval",
    "stats",
    "resources",
    "blkio-weight",
    "cpu-period",
    "cpu-quota",
    "cpu-share",
    "cpu-shares",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "cpuset-cpus",
    "cpuset-mems",
    "memory",
    "memory-reservation",
    "memory-swap",
    "pids-limit",
    "cpu-idle",
    "cpu-burst",
    "cwd",
    "env",
    "tty",
    "user",
    "additional-gids",
    "process",
    "process-label",
    "apparmor",
    "no-new-privs",
    "cap",
    "cgroup",
    "ignore-paused",
];

/// Rewrite single-dash long flags (`-root`, `-pid-file=x`) to their double-dash
/// form, as urfave/cli accepts both. Stops at `--`; the program name is kept.
///
/// For `exec`, everything after the container id is the command, verbatim, as in
/// runc: a `--` is put after the id and nothing after it is rewritten.
pub fn normalize_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let exec_id = exec_id_position(&args);
    let mut out = Vec::new();
    let mut done = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || done {
            out.push(arg);
            continue;
        }
        if Some(i) == exec_id {
            out.push(arg);
            out.push("--".into());
            done = true;
            continue;
        }
        if arg == "--" {
            done = true;
            out.push(arg);
            continue;
        }
        let rewritten = arg.to_str().and_then(|s| {
            let rest = s.strip_prefix('-')?;
            if rest.starts_with('-') {
                return None;
            }
            let name = rest.split_once('=').map_or(rest, |(n, _)| n);
            LONG_FLAGS
                .contains(&name)
                .then(|| OsString::from(format!("-{s}")))
        });
        out.push(rewritten.unwrap_or(arg));
    }
    out
}

/// Where the container id of an `exec` command line is: the first word after `exec`
/// that is neither a flag nor a flag's value.
fn exec_id_position(args: &[OsString]) -> Option<usize> {
    let words: Vec<Option<&str>> = args.iter().map(|a| a.to_str()).collect();
    let mut i = 1;
    let mut value_flags = GLOBAL_VALUE_FLAGS;
    let mut in_exec = false;
    while i < words.len() {
        let w = words[i]?;
        if w == "--" {
            // `exec -- ID`: the id follows; before `exec`, there is no subcommand.
            return in_exec.then_some(i + 1).filter(|&n| n < words.len());
        }
        match w.strip_prefix('-') {
            Some(flag) if !flag.is_empty() => {
                let name = flag.trim_start_matches('-');
                if !name.contains('=') && value_flags.contains(&name) {
                    i += 1;
                }
            }
            _ if in_exec => return Some(i),
            _ if w == "exec" => {
                in_exec = true;
                value_flags = EXEC_VALUE_FLAGS;
            }
            _ => return None,
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests;
