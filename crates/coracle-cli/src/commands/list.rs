//! `list`: the containers under `--root`, as runc prints them.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use coracle::state::Store;
use coracle::Container;
use serde_json::Value;

use super::output::{table, Ordered};
use super::{io_error, CliError};
use crate::cli::{ListArgs, ListFormat};

/// `list`: `--quiet` wins over `--format`, as in runc. An empty JSON list is `null`.
pub fn list(store: &Store, args: &ListArgs) -> Result<i32, CliError> {
    let mut states = Vec::new();
    for id in store.list()? {
        match Container::load(store, &id) {
            Ok(c) => {
                let mut v = c.state_json();
                if let Value::Object(map) = &mut v {
                    map.insert("owner".into(), owner(&store.root().join(&id)).into());
                }
                states.push(v);
            }
            Err(e) => {
                // Deleted while we listed: not worth a word. Otherwise runc warns and goes on.
                let e = CliError::from(e);
                if !e.is_not_found() {
                    eprintln!("load container {id}: {e}");
                }
            }
        }
    }
    let text = if args.quiet {
        states
            .iter()
            .map(|s| format!("{}\n", str_field(s, "id")))
            .collect()
    } else {
        match args.format {
            ListFormat::Json => json(&states),
            ListFormat::Table => table(&rows(&states)),
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| io_error("write", Path::new("stdout"), &e))?;
    Ok(0)
}

/// runc's `json.NewEncoder(os.Stdout).Encode(s)` of a nil or non-empty slice.
fn json(states: &[Value]) -> String {
    if states.is_empty() {
        return "null\n".into();
    }
    let ordered: Vec<Ordered<'_>> = states.iter().map(Ordered).collect();
    let mut s = serde_json::to_string(&ordered).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}

fn rows(states: &[Value]) -> Vec<Vec<String>> {
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .map(String::from)
        .to_vec()];
    for s in states {
        rows.push(vec![
            str_field(s, "id"),
            s.get("pid")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .to_string(),
            str_field(s, "status"),
            str_field(s, "bundle"),
            str_field(s, "created"),
            str_field(s, "owner"),
        ]);
    }
    rows
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// The owner of a container: the user owning its state directory, by name, else `#UID`.
fn owner(dir: &Path) -> String {
    match std::fs::metadata(dir) {
        Ok(m) => {
            let uid = m.uid();
            let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            user_name(&passwd, uid).unwrap_or_else(|| format!("#{uid}"))
        }
        Err(_) => String::new(),
    }
}

/// The name of `uid` in passwd(5) text.
fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_json_list_is_null() {
        assert_eq!(json(&[]), "null\n");
    }

    #[test]
    fn json_list_is_one_line_in_runc_order() {
        let v = serde_json::json!({"owner": "root", "id": "a", "ociVersion": "1.2.0", "pid": 0});
        assert_eq!(
            json(&[v]),
            "[{\"ociVersion\":\"1.2.0\",\"id\":\"a\",\"pid\":0,\"owner\":\"root\"}]\n"
        );
    }

    #[test]
    fn passwd_lookup() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\n# comment\nbad\nbob:x:1000:1000::/home/bob:/bin/sh\n";
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 1000).as_deref(), Some("bob"));
        assert_eq!(user_name(passwd, 5), None);
    }

    #[test]
    fn owner_of_a_root_owned_dir() {
        // The tests run as root (see COMMON.md); /etc/passwd names uid 0 "root".
        if nix::unistd::geteuid().is_root() {
            assert_eq!(owner(Path::new("/")), "root");
        }
        assert_eq!(owner(Path::new("/nonexistent/coracle")), "");
    }
}
