//! The state JSON others read: the OCI state hooks get on stdin, and what
//! `runc state` prints.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{State, Status};

impl State {
    /// The OCI runtime-spec state, as hooks receive it on stdin.
    ///
    /// Fields in runc's order: `ociVersion`, `id`, `status`, `pid`, `bundle`,
    /// `annotations`. Like runc (its `pid` is `omitempty` and unset once the
    /// container stopped) `pid` is left out for a stopped container or while it
    /// is 0; `annotations` is left out when empty.
    pub fn oci_state(&self, status: Status) -> Value {
        let mut out = Map::new();
        out.insert("ociVersion".into(), json!(crate::OCI_VERSION));
        out.insert("id".into(), json!(self.id));
        out.insert("status".into(), json!(status));
        if status != Status::Stopped && self.pid != 0 {
            out.insert("pid".into(), json!(self.pid));
        }
        out.insert("bundle".into(), json!(self.bundle));
        if !self.annotations.is_empty() {
            out.insert("annotations".into(), self.sorted_annotations());
        }
        Value::Object(out)
    }

    /// What `runc state` prints: `ociVersion`, `id`, `pid` (0 once stopped),
    /// `status`, `bundle`, `rootfs`, `created`, `annotations` (left out when
    /// empty), `owner` (always "", as `runc state` prints it).
    pub fn runc_state(&self, status: Status) -> Value {
        let mut out = Map::new();
        out.insert("ociVersion".into(), json!(crate::OCI_VERSION));
        out.insert("id".into(), json!(self.id));
        let pid = if status == Status::Stopped {
            0
        } else {
            self.pid
        };
        out.insert("pid".into(), json!(pid));
        out.insert("status".into(), json!(status));
        out.insert("bundle".into(), json!(self.bundle));
        out.insert("rootfs".into(), json!(self.rootfs));
        out.insert("created".into(), json!(self.created));
        if !self.annotations.is_empty() {
            out.insert("annotations".into(), self.sorted_annotations());
        }
        out.insert("owner".into(), json!(""));
        Value::Object(out)
    }

    /// Annotations sorted by key, as Go's encoder writes a map.
    fn sorted_annotations(&self) -> Value {
        let sorted: BTreeMap<&String, &String> = self.annotations.iter().collect();
        json!(sorted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn state(annotations: &[(&str, &str)]) -> State {
        State {
            id: "c1".into(),
            pid: 4242,
            pid_start_time: 7,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2024-01-02T03:04:05.123456789Z".into(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
            config: oci_spec::runtime::Spec::default(),
            cgroup: None,
        }
    }

    #[test]
    fn runc_state_matches_runc_layout() {
        let s = state(&[("org.z", "1"), ("b", "x"), ("a", "y")]);
        let out = serde_json::to_string(&s.runc_state(Status::Created)).unwrap();
        let want = format!(
            concat!(
                r#"{{"ociVersion":"{}","id":"c1","pid":4242,"status":"created","bundle":"/b","#,
                r#""rootfs":"/b/rootfs","created":"2024-01-02T03:04:05.123456789Z","#,
                r#""annotations":{{"a":"y","b":"x","org.z":"1"}},"owner":""}}"#
            ),
            crate::OCI_VERSION
        );
        assert_eq!(out, want);
    }

    #[test]
    fn runc_state_stopped_has_pid_zero_and_no_empty_annotations() {
        let v = state(&[]).runc_state(Status::Stopped);
        assert_eq!(v["pid"], 0);
        assert_eq!(v["status"], "stopped");
        assert!(v.get("annotations").is_none());
        assert_eq!(v["owner"], "");
    }

    #[test]
    fn oci_state_fields_in_spec_order() {
        let s = state(&[("k", "v")]);
        let out = serde_json::to_string(&s.oci_state(Status::Running)).unwrap();
        let want = format!(
            r#"{{"ociVersion":"{}","id":"c1","status":"running","pid":4242,"bundle":"/b","annotations":{{"k":"v"}}}}"#,
            crate::OCI_VERSION
        );
        assert_eq!(out, want);
    }

    #[test]
    fn oci_state_stopped_or_creating_omit_pid() {
        let s = state(&[]);
        let stopped = s.oci_state(Status::Stopped);
        assert!(stopped.get("pid").is_none());
        assert!(stopped.get("annotations").is_none());
        let mut creating = state(&[]);
        creating.pid = 0;
        assert!(creating.oci_state(Status::Creating).get("pid").is_none());
    }
}
