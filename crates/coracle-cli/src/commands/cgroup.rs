//! pause, resume, ps, events, update: the commands that act on a container's cgroup.

use std::io::{Read, Write};
use std::path::Path;

use coracle::state::Store;
use coracle::Container;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};

use super::{io_error, CliError};
use crate::cli::{EventsArgs, PsArgs, PsFormat, UpdateArgs};

/// `pause`: freeze every process of the container.
pub fn pause(store: &Store, id: &str) -> Result<i32, CliError> {
    Container::load(store, id)?.pause()?;
    Ok(0)
}

/// `resume`: thaw a paused container.
pub fn resume(store: &Store, id: &str) -> Result<i32, CliError> {
    Container::load(store, id)?.resume()?;
    Ok(0)
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| io_error("write", Path::new("stdout"), &e))
}

/// `ps`: the container's pids as JSON, or ps(1)'s table filtered to them, as runc.
pub fn ps(store: &Store, args: &PsArgs) -> Result<i32, CliError> {
    let pids = Container::load(store, &args.id)?.processes()?;
    if args.format == PsFormat::Json {
        let json = serde_json::to_string(&pids).unwrap_or_else(|_| "[]".into());
        write_stdout(format!("{json}\n").as_bytes())?;
        return Ok(0);
    }
    let ps_args: Vec<std::ffi::OsString> = if args.ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.ps_args.clone()
    };
    let out = std::process::Command::new("ps")
        .args(&ps_args)
        .output()
        .map_err(|e| io_error("run", Path::new("ps"), &e))?;
    if !out.status.success() {
        return Err(CliError::Msg(format!(
            "ps: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    write_stdout(filter_ps(&text, &pids)?.as_bytes())?;
    Ok(0)
}

/// ps(1) output reduced to its header and the lines whose PID column is one of `pids`.
fn filter_ps(text: &str, pids: &[i32]) -> Result<String, CliError> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|f| f == "PID")
        .ok_or_else(|| CliError::Msg("ps: couldn't find PID field in ps output".into()))?;
    let mut out = format!("{header}\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// One event as runc prints it: `{"type":...,"id":...,"data":...}` on a line.
fn event(kind: &str, id: &str, data: Option<Value>) -> String {
    let mut v = json!({"type": kind, "id": id});
    if let Some(d) = data {
        v["data"] = d;
    }
    format!("{v}\n")
}

/// `events`: with `--stats` one stats event; otherwise a stats event every
/// `--interval` and an `oom` event per OOM kill, until the container stops.
pub fn events(store: &Store, args: &EventsArgs) -> Result<i32, CliError> {
    // The monitor keeps what it needs; the container's lock is released at once so
    // that other commands keep working while we follow it.
    let monitor = Container::load(store, &args.id)?.monitor()?;
    let stats = |m: &coracle::container::Monitor| -> Result<String, CliError> {
        let data = serde_json::to_value(m.stats()?)
            .map_err(|e| CliError::Msg(format!("encode stats: {e}")))?;
        Ok(event("stats", &args.id, Some(data)))
    };
    if args.stats {
        write_stdout(stats(&monitor)?.as_bytes())?;
        return Ok(0);
    }
    let mut oom = monitor.oom_watcher()?;
    let interval = PollTimeout::try_from(args.interval.as_millis().min(i32::MAX as u128) as i32)
        .unwrap_or(PollTimeout::MAX);
    let mut next = std::time::Instant::now() + args.interval;
    loop {
        let left = next.saturating_duration_since(std::time::Instant::now());
        let timeout = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(interval);
        let (init_gone, oom_ready) = {
            let mut fds = [
                PollFd::new(monitor.init(), PollFlags::POLLIN),
                PollFd::new(oom.fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, timeout) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(CliError::Msg(format!("events: poll: {}", e.desc()))),
                Ok(_) => {}
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), ready(&fds[1]))
        };
        if oom_ready {
            for _ in 0..oom.read().map_err(coracle::Error::from)? {
                write_stdout(event("oom", &args.id, None).as_bytes())?;
            }
        }
        if init_gone {
            return Ok(0);
        }
        if std::time::Instant::now() >= next {
            match stats(&monitor) {
                Ok(line) => write_stdout(line.as_bytes())?,
                // Deleted between two polls: the cgroup went with it. That is the end
                // of the stream, not an error.
                Err(_) if monitor.exited() => return Ok(0),
                Err(e) => return Err(e),
            }
            next += args.interval;
        }
    }
}

/// `update`: the resources JSON from `--resources FILE|-`, or runc's flags.
pub fn update(store: &Store, args: &UpdateArgs) -> Result<i32, CliError> {
    let resources = match &args.resources {
        Some(path) => {
            if args.has_flags() {
                return Err(CliError::Msg(
                    "update: --resources cannot be combined with other resource flags".into(),
                ));
            }
            read_resources(path)?
        }
        None => flags_to_resources(args)?,
    };
    let mut c = Container::load(store, &args.id)?;
    c.update(&resources)?;
    Ok(0)
}

fn read_resources(path: &Path) -> Result<LinuxResources, CliError> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| io_error("read", Path::new("stdin"), &e))?;
    } else {
        let mut f = std::fs::File::open(path).map_err(|e| io_error("open", path, &e))?;
        f.read_to_string(&mut text)
            .map_err(|e| io_error("read", path, &e))?;
    }
    serde_json::from_str(&text).map_err(|e| {
        CliError::Msg(format!(
            "update: --resources {}: invalid LinuxResources JSON: {e}",
            path.display()
        ))
    })
}

/// runc's individual flags as LinuxResources; only the flags given are set.
fn flags_to_resources(a: &UpdateArgs) -> Result<LinuxResources, CliError> {
    fn put(obj: &mut Map<String, Value>, section: &str, key: &str, v: Option<Value>) {
        if let Some(v) = v {
            obj.entry(section)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("section is an object")
                .insert(key.into(), v);
        }
    }
    let mut r = Map::new();
    put(&mut r, "memory", "limit", a.memory.map(Value::from));
    put(
        &mut r,
        "memory",
        "reservation",
        a.memory_reservation.map(Value::from),
    );
    put(&mut r, "memory", "swap", a.memory_swap.map(Value::from));
    put(&mut r, "cpu", "shares", a.cpu_share.map(Value::from));
    put(&mut r, "cpu", "quota", a.cpu_quota.map(Value::from));
    put(&mut r, "cpu", "period", a.cpu_period.map(Value::from));
    put(
        &mut r,
        "cpu",
        "realtimeRuntime",
        a.cpu_rt_runtime.map(Value::from),
    );
    put(
        &mut r,
        "cpu",
        "realtimePeriod",
        a.cpu_rt_period.map(Value::from),
    );
    put(
        &mut r,
        "cpu",
        "cpus",
        a.cpuset_cpus.clone().map(Value::from),
    );
    put(
        &mut r,
        "cpu",
        "mems",
        a.cpuset_mems.clone().map(Value::from),
    );
    put(&mut r, "cpu", "idle", a.cpu_idle.map(Value::from));
    put(&mut r, "cpu", "burst", a.cpu_burst.map(Value::from));
    put(&mut r, "pids", "limit", a.pids_limit.map(Value::from));
    put(&mut r, "blockIO", "weight", a.blkio_weight.map(Value::from));
    serde_json::from_value(Value::Object(r)).map_err(|e| CliError::Msg(format!("update: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_table_keeps_header_and_container_pids() {
        let text = "UID   PID  PPID  C STIME TTY TIME CMD\nroot    1     0  0 10:00 ?   00:00:01 init\nroot   42     1  0 10:00 ?   00:00:00 sleep 10\nroot  420     1  0 10:00 ?   00:00:00 sh\n";
        let out = filter_ps(text, &[42]).unwrap();
        assert_eq!(
            out,
            "UID   PID  PPID  C STIME TTY TIME CMD\nroot   42     1  0 10:00 ?   00:00:00 sleep 10\n"
        );
        assert!(filter_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }

    #[test]
    fn update_flags_become_resources() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "coracle",
            "update",
            "--memory",
            "64m",
            "--pids-limit",
            "20",
            "--cpu-share",
            "512",
            "c1",
        ])
        .unwrap();
        let Some(crate::cli::Command::Update(a)) = cli.command else {
            panic!("not update")
        };
        let r = flags_to_resources(&a).unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(64 << 20));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 20);
        assert_eq!(r.cpu().as_ref().unwrap().shares(), Some(512));
        assert!(r.block_io().is_none());
    }
}
