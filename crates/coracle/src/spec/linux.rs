//! Validation of the `linux` object: namespaces, id mappings, sysctls, devices, paths.

use serde_json::{Map, Value};

use super::json::{
    abs_path, array, get, index, integer, invalid, key, map_key, object, required, string,
};
use super::tables;
use super::validate::{HostChecks, NetnsCheck};
use super::SpecError;

/// Values `linux.rootfsPropagation` may take (runc's mount propagation names).
const PROPAGATIONS: [&str; 8] = [
    "private",
    "rprivate",
    "slave",
    "rslave",
    "shared",
    "rshared",
    "unbindable",
    "runbindable",
];

/// Clocks a time namespace can offset.
const TIME_CLOCKS: [&str; 2] = ["monotonic", "boottime"];

/// One entry of `linux.namespaces`.
#[derive(Debug)]
pub(super) struct Ns {
    /// The OCI type (`network`).
    pub typ: &'static str,
    /// `path` when joining an existing namespace.
    pub path: Option<String>,
    /// `linux.namespaces[i]`.
    pub field: String,
}

/// The namespaces a config asks for.
#[derive(Debug, Default)]
pub(super) struct Namespaces(Vec<Ns>);

impl Namespaces {
    fn find(&self, typ: &str) -> Option<&Ns> {
        self.0.iter().find(|n| n.typ == typ)
    }

    /// A namespace of this type, new or joined, is listed (runc's `Contains`).
    pub fn has(&self, typ: &str) -> bool {
        self.find(typ).is_some()
    }

    /// A new namespace of this type is created (listed without a path).
    pub fn creates(&self, typ: &str) -> bool {
        self.find(typ).is_some_and(|n| n.path.is_none())
    }
}

/// Validate `linux`; returns its namespaces for the checks that depend on them.
pub(super) fn validate(l: &Map<String, Value>) -> Result<(Namespaces, HostChecks), SpecError> {
    let ns = namespaces(l)?;
    id_mappings(l, &ns)?;
    let host = sysctls(l, &ns)?;
    devices(l)?;
    for k in ["maskedPaths", "readonlyPaths"] {
        let field = key("linux", k);
        if let Some(list) = get(l, k) {
            for (i, p) in array(list, &field)?.iter().enumerate() {
                abs_path(p, &index(&field, i))?;
            }
        }
    }
    if let Some(p) = get(l, "rootfsPropagation") {
        let p = string(p, "linux.rootfsPropagation")?;
        if !p.is_empty() && !PROPAGATIONS.contains(&p) {
            return Err(invalid(
                "linux.rootfsPropagation",
                format!(
                    "unknown propagation {p:?} (expected one of {})",
                    PROPAGATIONS.join(", ")
                ),
            ));
        }
    }
    time_offsets(l, &ns)?;
    for k in ["mountLabel", "cgroupsPath"] {
        if let Some(v) = get(l, k) {
            string(v, &key("linux", k))?;
        }
    }
    Ok((ns, host))
}

/// `linux.namespaces`: known, unique types; absolute paths when joining.
fn namespaces(l: &Map<String, Value>) -> Result<Namespaces, SpecError> {
    let mut out = Namespaces::default();
    let Some(list) = get(l, "namespaces") else {
        return Ok(out);
    };
    for (i, n) in array(list, "linux.namespaces")?.iter().enumerate() {
        let field = index("linux.namespaces", i);
        let n = object(n, &field)?;
        let tf = key(&field, "type");
        let typ = string(required(n, "type", &tf)?, &tf)?;
        let Some(&(typ, _)) = tables::NAMESPACES.iter().find(|(t, _)| *t == typ) else {
            let known: Vec<&str> = tables::NAMESPACES.iter().map(|(t, _)| *t).collect();
            return Err(invalid(
                tf,
                format!(
                    "unknown namespace type {typ:?} (expected one of {})",
                    known.join(", ")
                ),
            ));
        };
        if let Some(first) = out.find(typ) {
            return Err(invalid(
                tf,
                format!("duplicate namespace {typ:?} (also at {})", first.field),
            ));
        }
        let path = match get(n, "path") {
            Some(p) => {
                let pf = key(&field, "path");
                let p = string(p, &pf)?;
                // The spec treats an empty path as "create a new namespace".
                if p.is_empty() {
                    None
                } else {
                    Some(abs_path(&Value::from(p), &pf)?.to_string())
                }
            }
            None => None,
        };
        out.0.push(Ns { typ, path, field });
    }
    Ok(out)
}

/// `linux.uidMappings`/`gidMappings`: required for a new user namespace, refused
/// without one, ignored when joining one (the namespace already has its maps).
fn id_mappings(l: &Map<String, Value>, ns: &Namespaces) -> Result<(), SpecError> {
    for k in ["uidMappings", "gidMappings"] {
        let field = key("linux", k);
        let list = match get(l, k) {
            Some(v) => array(v, &field)?,
            None => &[],
        };
        for (i, m) in list.iter().enumerate() {
            let mf = index(&field, i);
            let m = object(m, &mf)?;
            for id in ["containerID", "hostID", "size"] {
                let f = key(&mf, id);
                let n = integer(required(m, id, &f)?, &f)?;
                if !(0..=i128::from(u32::MAX)).contains(&n) {
                    return Err(invalid(f, format!("{n} is outside 0..{}", u32::MAX)));
                }
                if id == "size" && n == 0 {
                    return Err(invalid(f, "must be greater than zero"));
                }
            }
        }
        if ns.creates("user") && list.is_empty() {
            return Err(invalid(field, "required when creating a user namespace"));
        }
        if !ns.has("user") && !list.is_empty() {
            return Err(invalid(
                field,
                "user namespace mappings given, but linux.namespaces has no user namespace",
            ));
        }
    }
    Ok(())
}

/// `linux.sysctl`: only sysctls that live in a namespace the container owns
/// (runc's validator: ipc, net, and the uts domainname).
fn sysctls(l: &Map<String, Value>, ns: &Namespaces) -> Result<HostChecks, SpecError> {
    let mut host = HostChecks::default();
    let Some(map) = get(l, "sysctl") else {
        return Ok(host);
    };
    for (name, value) in object(map, "linux.sysctl")? {
        let field = map_key("linux.sysctl", name);
        if name.contains('\0') {
            return Err(invalid(field, "contains a NUL byte"));
        }
        string(value, &field)?;
        if tables::IPC_SYSCTLS.contains(&name.as_str()) || name.starts_with("fs.mqueue.") {
            if !ns.has("ipc") {
                return Err(invalid(
                    field,
                    "sysctl not allowed in the host ipc namespace (linux.namespaces has no ipc namespace)",
                ));
            }
            continue;
        }
        if name.starts_with("net.") {
            match ns.find("network") {
                None => {
                    return Err(invalid(
                        field,
                        "sysctl not allowed in the host network namespace (linux.namespaces has no network namespace)",
                    ))
                }
                Some(Ns { path: Some(p), field: nf, .. }) => {
                    host.netns_sysctl.get_or_insert_with(|| NetnsCheck {
                        path_field: key(nf, "path"),
                        path: p.clone(),
                        sysctl_field: field.clone(),
                    });
                }
                Some(_) => {}
            }
            continue;
        }
        if ns.has("uts") {
            match name.as_str() {
                "kernel.domainname" => continue,
                "kernel.hostname" => {
                    return Err(invalid(
                        field,
                        "sysctl conflicts with the hostname field; set hostname instead",
                    ))
                }
                _ => {}
            }
        }
        return Err(invalid(
            field,
            "sysctl is not in a separate kernel namespace",
        ));
    }
    Ok(host)
}

/// `linux.devices[i]`: absolute path; type c, b, u or p; major/minor unless a fifo.
fn devices(l: &Map<String, Value>) -> Result<(), SpecError> {
    let Some(list) = get(l, "devices") else {
        return Ok(());
    };
    for (i, d) in array(list, "linux.devices")?.iter().enumerate() {
        let field = index("linux.devices", i);
        let d = object(d, &field)?;
        let pf = key(&field, "path");
        abs_path(required(d, "path", &pf)?, &pf)?;
        let tf = key(&field, "type");
        let typ = string(required(d, "type", &tf)?, &tf)?;
        if !["c", "b", "u", "p"].contains(&typ) {
            return Err(invalid(
                tf,
                format!("unknown device type {typ:?} (expected c, b, u or p)"),
            ));
        }
        if typ != "p" {
            for k in ["major", "minor"] {
                let f = key(&field, k);
                integer(required(d, k, &f)?, &f)?;
            }
        }
    }
    Ok(())
}

/// `linux.timeOffsets`: only for a new time namespace, only for clocks it can offset.
fn time_offsets(l: &Map<String, Value>, ns: &Namespaces) -> Result<(), SpecError> {
    let Some(map) = get(l, "timeOffsets") else {
        return Ok(());
    };
    let map = object(map, "linux.timeOffsets")?;
    for clock in map.keys() {
        if !TIME_CLOCKS.contains(&clock.as_str()) {
            return Err(invalid(
                map_key("linux.timeOffsets", clock),
                format!("unknown clock {clock:?} (expected monotonic or boottime)"),
            ));
        }
    }
    if !map.is_empty() && !ns.creates("time") {
        return Err(invalid(
            "linux.timeOffsets",
            "needs a new time namespace in linux.namespaces",
        ));
    }
    Ok(())
}

/// The deprecated `linux.seccomp.syscalls[].name` (runtime-spec before 1.0, still honoured
/// by runc) merged into `names`, which is all oci-spec's `LinuxSyscall` reads.
pub(super) fn seccomp_name(doc: &mut Value) -> Result<(), SpecError> {
    let Some(syscalls) = doc
        .pointer_mut("/linux/seccomp/syscalls")
        .and_then(Value::as_array_mut)
    else {
        return Ok(());
    };
    for (i, sc) in syscalls.iter_mut().enumerate() {
        let Some(obj) = sc.as_object_mut() else {
            continue; // typed parsing names it
        };
        let Some(name) = obj.remove("name") else {
            continue;
        };
        let field = index("linux.seccomp.syscalls", i);
        let name = string(&name, &key(&field, "name"))?.to_string();
        let names = obj
            .entry("names")
            .or_insert_with(|| Value::Array(Vec::new()));
        let list = names
            .as_array_mut()
            .ok_or_else(|| invalid(key(&field, "names"), "expected an array"))?;
        if !list.iter().any(|n| n.as_str() == Some(name.as_str())) {
            list.push(Value::String(name));
        }
    }
    Ok(())
}
