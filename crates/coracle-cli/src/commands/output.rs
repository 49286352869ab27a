//! Output shapes runc's callers parse: state JSON in runc's field order, and the
//! `list` table as Go's text/tabwriter lays it out.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// The fields of runc's `containerState`, in its declaration order.
const STATE_ORDER: &[&str] = &[
    "ociVersion",
    "id",
    "pid",
    "status",
    "bundle",
    "rootfs",
    "created",
    "annotations",
    "owner",
];

/// A JSON value whose top-level object keys come in runc's order, other keys after.
pub struct Ordered<'a>(pub &'a Value);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Value::Object(map) = self.0 else {
            return self.0.serialize(s);
        };
        let mut m = s.serialize_map(Some(map.len()))?;
        for key in STATE_ORDER {
            if let Some(v) = map.get(*key) {
                m.serialize_entry(key, v)?;
            }
        }
        for (k, v) in map {
            if !STATE_ORDER.contains(&k.as_str()) {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// `json.MarshalIndent(state, "", "  ")`: two-space indent, no trailing newline.
pub fn state_to_string_pretty(v: &Value) -> String {
    serde_json::to_string_pretty(&Ordered(v)).unwrap_or_else(|_| v.to_string())
}

/// Lay out rows like `tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)` with every cell but
/// the last of a line tab-terminated: a column is as wide as its widest cell plus 3,
/// at least 12; the last cell is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    const MIN_WIDTH: usize = 12;
    const PADDING: usize = 3;
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![MIN_WIDTH; columns.saturating_sub(1)];
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            widths[i] = widths[i].max(cell.chars().count() + PADDING);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    const HEADER: &[&str] = &["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];

    #[test]
    fn header_only_table_matches_runc() {
        // `runc list` on an empty root, byte for byte.
        assert_eq!(
            table(&[row(HEADER)]),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
    }

    #[test]
    fn table_with_a_container_matches_runc() {
        // Observed from runc 1.1.5 with one created container.
        let t = table(&[
            row(HEADER),
            row(&[
                "testct",
                "7340",
                "created",
                "/tmp/runcbundle-cli",
                "2026-11-24T20:11:49.107281732Z",
                "root",
            ]),
        ]);
        assert_eq!(
            t,
            "ID          PID         STATUS      BUNDLE                CREATED                          OWNER\n\
             testct      7340        created     /tmp/runcbundle-cli   2026-11-24T20:11:49.107281732Z   root\n"
        );
    }

    #[test]
    fn state_keys_in_runc_order() {
        let v = serde_json::json!({
            "owner": "",
            "created": "2026-11-24T20:11:49.107281732Z",
            "rootfs": "/b/rootfs",
            "bundle": "/b",
            "status": "created",
            "pid": 7,
            "id": "c",
            "ociVersion": "1.2.0",
            "zzz": 1,
        });
        assert_eq!(
            state_to_string_pretty(&v),
            "{\n  \"ociVersion\": \"1.2.0\",\n  \"id\": \"c\",\n  \"pid\": 7,\n  \
             \"status\": \"created\",\n  \"bundle\": \"/b\",\n  \"rootfs\": \"/b/rootfs\",\n  \
             \"created\": \"2026-11-24T20:11:49.107281732Z\",\n  \"owner\": \"\",\n  \"zzz\": 1\n}"
        );
    }
}
