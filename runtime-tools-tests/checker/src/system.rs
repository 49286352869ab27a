//! Checks of namespaces (as seen from inside), hostname, domainname, sysctl, root.readonly and
//! devices.

use crate::Report;
use serde_json::Value;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// Runs the system checks the config asks for.
pub fn check(r: &mut Report, cfg: &Value) {
    let linux = &cfg["linux"];
    let nss: Vec<&Value> = linux["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let new_ns = |t: &str| {
        nss.iter()
            .any(|n| n["type"] == t && n["path"].as_str().is_none())
    };
    if new_ns("pid") {
        r.eq("linux.namespaces.pid.init-is-pid-1", std::process::id(), 1);
    }
    if new_ns("network") {
        let dev = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
        let ifs: Vec<String> = dev
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next().map(|s| s.trim().to_string()))
            .collect();
        r.eq(
            "linux.namespaces.network.only-lo",
            ifs,
            vec!["lo".to_string()],
        );
    }
    if new_ns("user") {
        for (key, file) in [("uidMappings", "uid_map"), ("gidMappings", "gid_map")] {
            let want: Vec<[u64; 3]> = linux[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    [
                        m["containerID"].as_u64().unwrap_or(0),
                        m["hostID"].as_u64().unwrap_or(0),
                        m["size"].as_u64().unwrap_or(0),
                    ]
                })
                .collect();
            let got: Vec<[u64; 3]> = std::fs::read_to_string(format!("/proc/self/{file}"))
                .unwrap_or_default()
                .lines()
                .map(|l| {
                    let f: Vec<u64> = l
                        .split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect();
                    [
                        f.first().copied().unwrap_or(0),
                        f.get(1).copied().unwrap_or(0),
                        f.get(2).copied().unwrap_or(0),
                    ]
                })
                .collect();
            r.eq(&format!("linux.{key}"), got, want);
        }
    }
    if new_ns("cgroup") {
        let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let bad: Vec<&str> = cg.lines().filter(|l| !l.ends_with(":/")).collect();
        r.check(
            "linux.namespaces.cgroup.root-is-own-cgroup",
            !cg.is_empty() && bad.is_empty(),
            || format!("/proc/self/cgroup lines not at the namespace root: {bad:?}"),
        );
    }
    if let Some(offs) = linux["timeOffsets"].as_object() {
        let got = std::fs::read_to_string("/proc/self/timens_offsets").unwrap_or_default();
        for (clock, o) in offs {
            let want = format!(
                "{clock} {} {}",
                o["secs"].as_i64().unwrap_or(0),
                o["nanosecs"].as_u64().unwrap_or(0)
            );
            let line = got
                .lines()
                .find(|l| l.starts_with(clock.as_str()))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
            r.eq(&format!("linux.timeOffsets.{clock}"), line, Some(want));
        }
    }

    let read_trim = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .ok()
    };
    if let Some(h) = cfg["hostname"].as_str() {
        r.eq(
            "hostname",
            read_trim("/proc/sys/kernel/hostname"),
            Some(h.to_string()),
        );
    }
    if let Some(d) = cfg["domainname"].as_str() {
        r.eq(
            "domainname",
            read_trim("/proc/sys/kernel/domainname"),
            Some(d.to_string()),
        );
    }
    for (k, v) in linux["sysctl"].as_object().into_iter().flatten() {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let got = read_trim(&path).map(|s| norm(&s));
        r.eq(&format!("linux.sysctl.{k}"), got, v.as_str().map(norm));
    }

    let ro = cfg["root"]["readonly"].as_bool().unwrap_or(false);
    let probe = std::fs::File::create("/rtt-root-write-probe");
    if ro {
        let e = probe.as_ref().err().and_then(|e| e.raw_os_error());
        r.eq("root.readonly.write-fails-erofs", e, Some(libc::EROFS));
    } else {
        // A non-root user may lack permission; only a read-only root is wrong here.
        let e = probe.as_ref().err().and_then(|e| e.raw_os_error());
        r.check(
            "root.readonly.false-is-writable",
            e != Some(libc::EROFS),
            || format!("{probe:?}"),
        );
        let _ = std::fs::remove_file("/rtt-root-write-probe");
    }

    check_devices(r, linux);
}

fn check_devices(r: &mut Report, linux: &Value) {
    let dev_ok = |path: &str, major: u64, minor: u64| -> Result<(), String> {
        let m = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if !m.file_type().is_char_device() {
            return Err("not a character device".into());
        }
        let (ma, mi) = (libc::major(m.rdev()) as u64, libc::minor(m.rdev()) as u64);
        if (ma, mi) != (major, minor) {
            return Err(format!("device {ma}:{mi}, want {major}:{minor}"));
        }
        Ok(())
    };
    for (path, ma, mi) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ] {
        let res = dev_ok(path, ma, mi);
        r.check(&format!("devices.default.{path}"), res.is_ok(), || {
            format!("{res:?}")
        });
    }
    let ptmx = std::fs::symlink_metadata("/dev/ptmx");
    let ptmx_ok = match &ptmx {
        Ok(m) if m.file_type().is_symlink() => std::fs::read_link("/dev/ptmx")
            .map(|t| t.to_str() == Some("pts/ptmx") || t.to_str() == Some("/dev/pts/ptmx"))
            .unwrap_or(false),
        Ok(m) => m.file_type().is_char_device() && libc::major(m.rdev()) == 5,
        Err(_) => false,
    };
    r.check("devices.default./dev/ptmx", ptmx_ok, || format!("{ptmx:?}"));
    let w = std::fs::write("/dev/null", b"x");
    r.check("devices.default./dev/null.writable", w.is_ok(), || {
        format!("{w:?}")
    });
    let mut buf = [7u8; 16];
    let rd = std::fs::File::open("/dev/zero")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf));
    r.check(
        "devices.default./dev/zero.reads-zeros",
        rd.is_ok() && buf == [0; 16],
        || format!("{rd:?} {buf:?}"),
    );
    let full = std::fs::write("/dev/full", b"x")
        .err()
        .and_then(|e| e.raw_os_error());
    r.eq("devices.default./dev/full.enospc", full, Some(libc::ENOSPC));
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        let got = std::fs::read_link(link)
            .map(|p| p.display().to_string())
            .ok();
        r.eq(
            &format!("devices.symlink.{link}"),
            got,
            Some(target.to_string()),
        );
    }

    for d in linux["devices"].as_array().into_iter().flatten() {
        let path = d["path"].as_str().unwrap_or("");
        let name = format!("linux.devices.{path}");
        let m = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                r.check(&name, false, || e.to_string());
                continue;
            }
        };
        let ft = m.file_type();
        let kind = if ft.is_char_device() {
            "c"
        } else if ft.is_block_device() {
            "b"
        } else if ft.is_fifo() {
            "p"
        } else {
            "?"
        };
        let want_kind = match d["type"].as_str() {
            Some("u") => "c",
            Some(t) => t,
            None => "?",
        };
        r.eq(&format!("{name}.type"), kind, want_kind);
        if kind != "p" {
            let got = (libc::major(m.rdev()) as u64, libc::minor(m.rdev()) as u64);
            let want = (
                d["major"].as_u64().unwrap_or(0),
                d["minor"].as_u64().unwrap_or(0),
            );
            r.eq(&format!("{name}.major-minor"), got, want);
        }
        if let Some(mode) = d["fileMode"].as_u64() {
            r.eq(
                &format!("{name}.fileMode"),
                format!("{:o}", m.mode() & 0o7777),
                format!("{mode:o}"),
            );
        }
        if let Some(uid) = d["uid"].as_u64() {
            r.eq(&format!("{name}.uid"), m.uid() as u64, uid);
        }
        if let Some(gid) = d["gid"].as_u64() {
            r.eq(&format!("{name}.gid"), m.gid() as u64, gid);
        }
    }
}
