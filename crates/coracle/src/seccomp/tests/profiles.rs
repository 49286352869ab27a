//! Test profiles: containers-common's default prepared as an engine does, a Docker-style
//! fixture, and random profiles.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

/// Where Debian's golang-github-containers-common installs its default profile.
pub(super) const CONTAINERS_COMMON: &str = "/usr/share/containers/seccomp.json";

/// The capabilities an engine grants by default.
pub(super) const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

fn strs(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Prepare an engine-format profile for amd64 and `caps`: keep the rules whose
/// `includes` match and `excludes` do not, drop those keys, resolve `archMap`.
pub(super) fn prepare(engine: &Value, caps: &[&str]) -> LinuxSeccomp {
    let arch = "amd64";
    let mut architectures = Vec::new();
    for m in engine["archMap"].as_array().into_iter().flatten() {
        if m["architecture"] == "SCMP_ARCH_X86_64" {
            architectures.push(m["architecture"].clone());
            architectures.extend(
                m["subArchitectures"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    let mut syscalls = Vec::new();
    for s in engine["syscalls"].as_array().into_iter().flatten() {
        let inc = &s["includes"];
        let exc = &s["excludes"];
        let inc_arches = strs(inc, "arches");
        let inc_caps = strs(inc, "caps");
        if !inc_arches.is_empty() && !inc_arches.iter().any(|a| a == arch) {
            continue;
        }
        if !inc_caps.iter().all(|c| caps.contains(&c.as_str())) {
            continue;
        }
        if strs(exc, "arches").iter().any(|a| a == arch) {
            continue;
        }
        if strs(exc, "caps").iter().any(|c| caps.contains(&c.as_str())) {
            continue;
        }
        let mut r = json!({ "names": s["names"], "action": s["action"] });
        if let Some(e) = s.get("errnoRet") {
            r["errnoRet"] = e.clone();
        }
        if let Some(a) = s.get("args").filter(|a| !a.is_null()) {
            r["args"] = a.clone();
        }
        syscalls.push(r);
    }
    let mut p = json!({
        "defaultAction": engine["defaultAction"],
        "architectures": architectures,
        "syscalls": syscalls,
    });
    if let Some(e) = engine.get("defaultErrnoRet") {
        p["defaultErrnoRet"] = e.clone();
    }
    serde_json::from_value(p).expect("prepared profile parses")
}

/// A small xorshift generator: reproducible inputs without a dependency.
pub(super) struct Rng(pub u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(super) fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "read",
    "write",
    "getppid",
    "personality",
    "socket",
    "socketcall",
    "clone",
    "ioctl",
    "mmap",
    "mprotect",
    "kill",
    "getpid",
    "shmget",
    "semop",
    "recv",
    "send",
    "accept4",
    "arm_fadvise64_64",
    "set_tls",
    "rt_sigaction",
    "open",
    "openat",
    "waitpid",
    "fcntl64",
    "no_such_call",
    "sethostname",
    "prctl",
    "setsockopt",
    "clock_gettime",
    "futex",
];
const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_LOG",
    "SCMP_ACT_ERRNO",
];
const OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];
/// Values chosen so that comparisons overlap and straddle the 32-bit halves.
pub(super) const VALUES: &[u64] = &[
    0,
    1,
    2,
    3,
    22,
    40,
    0xff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0xffff_ffff_0000_0000,
    0x8000_0000_0000_0000,
    u64::MAX,
];

/// A random profile over a small pool of names, actions, operators and values.
pub(super) fn random(rng: &mut Rng) -> LinuxSeccomp {
    let arches = [
        vec![],
        vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        vec!["SCMP_ARCH_X86"],
        vec!["SCMP_ARCH_X32"],
        vec!["SCMP_ARCH_AARCH64"],
        vec!["SCMP_ARCH_ARM"],
        vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        vec![
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X32",
            "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM",
        ],
    ];
    let mut syscalls = Vec::new();
    for _ in 0..rng.below(12) + 1 {
        let mut names = Vec::new();
        for _ in 0..rng.below(3) + 1 {
            names.push(*rng.pick(NAMES));
        }
        let mut args = Vec::new();
        for _ in 0..rng.below(4).saturating_sub(1) {
            let mut a = json!({
                "index": rng.below(3),
                "value": *rng.pick(VALUES),
                "valueTwo": *rng.pick(VALUES),
                "op": *rng.pick(OPS),
            });
            // libseccomp 2.5.4 can loop forever adding a MASKED_EQ with a zero mask (see
            // the module docs); the seccomp_verdict fuzz target checks those against the
            // rules instead.
            if a["op"] == "SCMP_CMP_MASKED_EQ" && a["value"] == 0 {
                a["value"] = json!(u64::MAX);
            }
            args.push(a);
        }
        let mut r = json!({ "names": names, "action": *rng.pick(ACTIONS), "args": args });
        if rng.below(2) == 0 {
            r["errnoRet"] = json!(rng.below(40));
        }
        syscalls.push(r);
    }
    let mut p = json!({
        "defaultAction": *rng.pick(ACTIONS),
        "architectures": rng.pick(&arches),
        "syscalls": syscalls,
    });
    if rng.below(2) == 0 {
        p["defaultErrnoRet"] = json!(38);
    }
    serde_json::from_value(p).expect("random profile parses")
}
