//! The field-path validator: walks the config.json Value before it becomes a [`Spec`](super::Spec).
//!
//! Pure: nothing here touches the system. Checks that need the host are returned
//! to the caller ([`HostChecks`]) and run after the whole document is known good.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::json::{
    abs_path, array, get, index, integer, invalid, key, object, required, string, strings,
};
use super::linux::{self, Namespaces};
use super::tables;
use super::SpecError;

/// The capability sets of `process.capabilities`.
const CAPABILITY_SETS: [&str; 5] = [
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
];

/// The hook kinds of `hooks`.
const HOOK_KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// sethostname(2)/setdomainname(2) refuse longer names (`HOST_NAME_MAX`).
const HOST_NAME_MAX: usize = 64;

/// A host-side check of a joined network namespace that carries `net.*` sysctls.
#[derive(Debug)]
pub(super) struct NetnsCheck {
    /// `linux.namespaces[i].path`.
    pub path_field: String,
    /// The namespace path.
    pub path: String,
    /// The first `linux.sysctl["net.…"]` that needs it.
    pub sysctl_field: String,
}

/// Checks that need the host, deferred until the document is valid.
#[derive(Debug, Default)]
pub(super) struct HostChecks {
    /// Set when `net.*` sysctls go into a joined network namespace.
    pub netns_sysctl: Option<NetnsCheck>,
}

/// Validate the whole document.
pub(super) fn validate(doc: &Value) -> Result<HostChecks, SpecError> {
    let top = doc
        .as_object()
        .ok_or_else(|| invalid("config.json", "expected a JSON object at the top level"))?;
    version(top)?;
    root(top)?;
    process(top)?;
    mounts(top)?;
    hooks(top)?;
    let (namespaces, host) = match get(top, "linux") {
        Some(l) => linux::validate(object(l, "linux")?)?,
        None => (Namespaces::default(), HostChecks::default()),
    };
    names(top, &namespaces)?;
    Ok(host)
}

/// `ociVersion`: SemVer 2.0.0 with major version 1 (1.x configs stay compatible).
fn version(top: &Map<String, Value>) -> Result<(), SpecError> {
    let v = string(required(top, "ociVersion", "ociVersion")?, "ociVersion")?;
    let major = semver_major(v)
        .ok_or_else(|| invalid("ociVersion", format!("{v:?} is not a semantic version")))?;
    if major != 1 {
        return Err(invalid(
            "ociVersion",
            format!(
                "unsupported version {v:?} (this runtime implements {})",
                crate::OCI_VERSION
            ),
        ));
    }
    Ok(())
}

/// The major number of a SemVer 2.0.0 string, or None if it is not one.
pub(super) fn semver_major(v: &str) -> Option<u64> {
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident_ok = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 || !parts.iter().all(|p| numeric(p)) {
        return None;
    }
    if pre.is_some_and(|p| !ident_ok(p)) || build.is_some_and(|b| !ident_ok(b)) {
        return None;
    }
    parts[0].parse().ok()
}

/// `root`: present, with a non-empty `path` (existence is checked on the host later).
fn root(top: &Map<String, Value>) -> Result<(), SpecError> {
    let root = object(required(top, "root", "root")?, "root")?;
    let path = string(required(root, "path", "root.path")?, "root.path")?;
    if path.is_empty() {
        return Err(invalid("root.path", "must not be empty"));
    }
    Ok(())
}

/// `process`: present, with args, an absolute cwd, a user and known names.
fn process(top: &Map<String, Value>) -> Result<(), SpecError> {
    let p = object(required(top, "process", "process")?, "process")?;

    let user = object(required(p, "user", "process.user")?, "process.user")?;
    required(user, "uid", "process.user.uid")?;
    required(user, "gid", "process.user.gid")?;

    let args = required(p, "args", "process.args")?;
    let args = array(args, "process.args")?;
    if args.is_empty() {
        return Err(invalid("process.args", "must not be empty"));
    }
    for (i, a) in args.iter().enumerate() {
        string(a, &index("process.args", i))?;
    }
    if string(&args[0], "process.args[0]")?.is_empty() {
        return Err(invalid("process.args[0]", "must not be empty"));
    }

    abs_path(required(p, "cwd", "process.cwd")?, "process.cwd")?;

    for (i, e) in strings(p, "env", "process")?.into_iter().enumerate() {
        env_entry(e, &index("process.env", i))?;
    }

    if let Some(caps) = get(p, "capabilities") {
        let caps = object(caps, "process.capabilities")?;
        for set in CAPABILITY_SETS {
            let field = key("process.capabilities", set);
            for (i, name) in strings(caps, set, "process.capabilities")?
                .into_iter()
                .enumerate()
            {
                if tables::capability_number(name).is_none() {
                    return Err(invalid(
                        index(&field, i),
                        format!("unknown capability {name:?}"),
                    ));
                }
            }
        }
    }

    if let Some(rl) = get(p, "rlimits") {
        rlimits(array(rl, "process.rlimits")?)?;
    }

    if let Some(adj) = get(p, "oomScoreAdj") {
        let n = integer(adj, "process.oomScoreAdj")?;
        if !(-1000..=1000).contains(&n) {
            return Err(invalid(
                "process.oomScoreAdj",
                format!("{n} is outside -1000..1000"),
            ));
        }
    }
    for k in ["apparmorProfile", "selinuxLabel"] {
        if let Some(v) = get(p, k) {
            string(v, &key("process", k))?;
        }
    }
    Ok(())
}

/// One `NAME=VALUE` environment entry, as runc checks them.
pub(super) fn env_entry(e: &str, field: &str) -> Result<(), SpecError> {
    match e.split_once('=') {
        None => Err(invalid(field, format!("expected NAME=VALUE, got {e:?}"))),
        Some(("", _)) => Err(invalid(field, format!("empty variable name in {e:?}"))),
        Some(_) => Ok(()),
    }
}

/// `process.rlimits`: known, unique types; soft and hard present, soft <= hard.
fn rlimits(list: &[Value]) -> Result<(), SpecError> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, rl) in list.iter().enumerate() {
        let field = index("process.rlimits", i);
        let rl = object(rl, &field)?;
        let tf = key(&field, "type");
        let typ = string(required(rl, "type", &tf)?, &tf)?;
        // The table setrlimit uses: what validates is what gets applied.
        if crate::security::rlimit_resource(typ).is_none() {
            return Err(invalid(tf, format!("unknown rlimit {typ:?}")));
        }
        if let Some(first) = seen.insert(typ, i) {
            return Err(invalid(
                tf,
                format!("duplicate rlimit {typ:?} (also at process.rlimits[{first}])"),
            ));
        }
        let sf = key(&field, "soft");
        let hf = key(&field, "hard");
        let soft = integer(required(rl, "soft", &sf)?, &sf)?;
        let hard = integer(required(rl, "hard", &hf)?, &hf)?;
        if soft > hard {
            return Err(invalid(
                sf,
                format!("soft limit {soft} exceeds hard limit {hard}"),
            ));
        }
    }
    Ok(())
}

/// `mounts[i]`: absolute destinations; strings without NUL bytes.
///
/// `..` in a destination is allowed: the rootfs code resolves it inside the root.
fn mounts(top: &Map<String, Value>) -> Result<(), SpecError> {
    let Some(list) = get(top, "mounts") else {
        return Ok(());
    };
    for (i, m) in array(list, "mounts")?.iter().enumerate() {
        let field = index("mounts", i);
        let m = object(m, &field)?;
        let df = key(&field, "destination");
        abs_path(required(m, "destination", &df)?, &df)?;
        for k in ["source", "type"] {
            if let Some(v) = get(m, k) {
                string(v, &key(&field, k))?;
            }
        }
        strings(m, "options", &field)?;
    }
    Ok(())
}

/// `hooks.<kind>[i]`: absolute paths, NAME=VALUE env, positive timeouts.
fn hooks(top: &Map<String, Value>) -> Result<(), SpecError> {
    let Some(h) = get(top, "hooks") else {
        return Ok(());
    };
    let h = object(h, "hooks")?;
    for kind in HOOK_KINDS {
        let kf = key("hooks", kind);
        let Some(list) = get(h, kind) else {
            continue;
        };
        for (i, hook) in array(list, &kf)?.iter().enumerate() {
            let field = index(&kf, i);
            let hook = object(hook, &field)?;
            let pf = key(&field, "path");
            abs_path(required(hook, "path", &pf)?, &pf)?;
            strings(hook, "args", &field)?;
            for (j, e) in strings(hook, "env", &field)?.into_iter().enumerate() {
                env_entry(e, &index(&key(&field, "env"), j))?;
            }
            if let Some(t) = get(hook, "timeout") {
                let tf = key(&field, "timeout");
                if integer(t, &tf)? <= 0 {
                    return Err(invalid(tf, "must be greater than zero"));
                }
            }
        }
    }
    Ok(())
}

/// `hostname` and `domainname`: need a UTS namespace of their own (new or joined).
fn names(top: &Map<String, Value>, ns: &Namespaces) -> Result<(), SpecError> {
    for k in ["hostname", "domainname"] {
        let Some(v) = get(top, k) else {
            continue;
        };
        let name = string(v, k)?;
        if name.len() > HOST_NAME_MAX {
            return Err(invalid(k, format!("longer than {HOST_NAME_MAX} bytes")));
        }
        if !name.is_empty() && !ns.has("uts") {
            return Err(invalid(
                k,
                format!("cannot set the {k} without a uts namespace in linux.namespaces"),
            ));
        }
    }
    Ok(())
}
