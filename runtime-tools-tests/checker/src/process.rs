//! Checks of the `process` object: args, env, cwd, user, umask, rlimits, capabilities,
//! noNewPrivileges and oomScoreAdj.

use crate::Report;
use serde_json::Value;

/// Returns the value of a `Key:\tvalue` line of /proc/self/status.
pub fn status_field(key: &str) -> Option<String> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    })
}

/// Runs every process check the config asks for.
pub fn check(r: &mut Report, cfg: &Value) {
    let p = &cfg["process"];
    let want_args: Vec<String> = p["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let got_args: Vec<String> = std::env::args().collect();
    r.eq("process.args", got_args, want_args);

    for e in p["env"].as_array().into_iter().flatten() {
        let Some(kv) = e.as_str() else { continue };
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        r.eq(
            &format!("process.env.{k}"),
            std::env::var(k).ok(),
            Some(v.to_string()),
        );
    }

    if let Some(cwd) = p["cwd"].as_str() {
        let got = std::env::current_dir().map(|d| d.display().to_string());
        r.eq(
            "process.cwd",
            got.map_err(|e| e.to_string()),
            Ok(cwd.to_string()),
        );
    }

    let uid = p["user"]["uid"].as_u64().unwrap_or(0);
    let gid = p["user"]["gid"].as_u64().unwrap_or(0);
    let ids = |k: &str| {
        status_field(k)
            .unwrap_or_default()
            .split_whitespace()
            .map(|s| s.parse::<u64>().unwrap_or(u64::MAX))
            .collect::<Vec<_>>()
    };
    r.eq("process.user.uid", ids("Uid"), vec![uid; 4]);
    r.eq("process.user.gid", ids("Gid"), vec![gid; 4]);
    if let Some(extra) = p["user"]["additionalGids"].as_array() {
        let groups = ids("Groups");
        for g in extra.iter().filter_map(Value::as_u64) {
            r.check(
                &format!("process.user.additionalGids.{g}"),
                groups.contains(&g),
                || format!("groups {groups:?}"),
            );
        }
    }
    if let Some(m) = p["user"]["umask"].as_u64() {
        let got = status_field("Umask").and_then(|s| u64::from_str_radix(&s, 8).ok());
        r.eq("process.user.umask", got, Some(m));
    }

    check_rlimits(r, p);
    check_caps(r, p, uid);

    let nnp = p["noNewPrivileges"].as_bool().unwrap_or(false);
    r.eq(
        "process.noNewPrivileges",
        status_field("NoNewPrivs"),
        Some(if nnp { "1" } else { "0" }.to_string()),
    );
    if let Some(adj) = p["oomScoreAdj"].as_i64() {
        let got = std::fs::read_to_string("/proc/self/oom_score_adj")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok());
        r.eq("process.oomScoreAdj", got, Some(adj));
    }
}

/// Maps an OCI rlimit type to its row title in /proc/self/limits.
fn limits_row(t: &str) -> Option<&'static str> {
    Some(match t {
        "RLIMIT_CPU" => "Max cpu time",
        "RLIMIT_FSIZE" => "Max file size",
        "RLIMIT_DATA" => "Max data size",
        "RLIMIT_STACK" => "Max stack size",
        "RLIMIT_CORE" => "Max core file size",
        "RLIMIT_RSS" => "Max resident set",
        "RLIMIT_NPROC" => "Max processes",
        "RLIMIT_NOFILE" => "Max open files",
        "RLIMIT_MEMLOCK" => "Max locked memory",
        "RLIMIT_AS" => "Max address space",
        "RLIMIT_LOCKS" => "Max file locks",
        "RLIMIT_SIGPENDING" => "Max pending signals",
        "RLIMIT_MSGQUEUE" => "Max msgqueue size",
        "RLIMIT_NICE" => "Max nice priority",
        "RLIMIT_RTPRIO" => "Max realtime priority",
        "RLIMIT_RTTIME" => "Max realtime timeout",
        _ => return None,
    })
}

fn check_rlimits(r: &mut Report, p: &Value) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    for rl in p["rlimits"].as_array().into_iter().flatten() {
        let t = rl["type"].as_str().unwrap_or("");
        let name = format!("process.rlimits.{t}");
        let Some(row) = limits_row(t) else {
            r.check(&name, false, || "unknown rlimit type in config".into());
            continue;
        };
        let parse = |s: &str| {
            if s == "unlimited" {
                Some(u64::MAX)
            } else {
                s.parse::<u64>().ok()
            }
        };
        let got = limits.lines().find(|l| l.starts_with(row)).map(|l| {
            let f: Vec<&str> = l[row.len()..].split_whitespace().collect();
            (
                f.first().and_then(|s| parse(s)),
                f.get(1).and_then(|s| parse(s)),
            )
        });
        let want = (rl["soft"].as_u64(), rl["hard"].as_u64());
        r.eq(&name, got, Some(want));
    }
}

/// Capability names in bit order (CAP_CHOWN = 0).
const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

fn cap_mask(v: &Value) -> u64 {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|n| CAPS.iter().position(|c| *c == n))
        .fold(0, |m, bit| m | (1u64 << bit))
}

fn cap_names(m: u64) -> Vec<&'static str> {
    (0..CAPS.len())
        .filter(|b| m & (1 << b) != 0)
        .map(|b| CAPS[b])
        .collect()
}

/// The five sets as the kernel leaves them after the runtime's execve of this (capability-less,
/// non-setuid) file: for a non-root user permitted = effective = ambient; for uid 0 the file
/// counts as fully privileged, so permitted = effective = bounding | inheritable | ambient
/// (capabilities(7), "Transformation of capabilities during execve()").
fn check_caps(r: &mut Report, p: &Value, uid: u64) {
    let c = &p["capabilities"];
    if c.is_null() {
        return;
    }
    let bnd = cap_mask(&c["bounding"]);
    let inh = cap_mask(&c["inheritable"]);
    let amb = cap_mask(&c["ambient"]);
    let nnp = p["noNewPrivileges"].as_bool().unwrap_or(false);
    // The kernel only lets ambient hold capabilities that are permitted and inheritable; the
    // spec lets a runtime drop (with a warning) what cannot be granted.
    let amb = amb & inh & cap_mask(&c["permitted"]);
    let (prm, eff) = if uid == 0 {
        // With no_new_privs execve never gains capabilities beyond the old permitted set.
        let mut full = bnd | inh | amb;
        if nnp {
            full &= cap_mask(&c["permitted"]);
        }
        (full, full)
    } else {
        (amb, amb)
    };
    let known = (1u64 << CAPS.len()) - 1;
    for (set, field, want) in [
        ("bounding", "CapBnd", bnd),
        ("inheritable", "CapInh", inh),
        ("permitted", "CapPrm", prm),
        ("effective", "CapEff", eff),
        ("ambient", "CapAmb", amb),
    ] {
        let got = status_field(field).and_then(|s| u64::from_str_radix(&s, 16).ok());
        let got = got.map(|g| cap_names(g & known));
        r.eq(
            &format!("process.capabilities.{set}"),
            got,
            Some(cap_names(want)),
        );
    }
}
