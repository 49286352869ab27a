//! One structured edit of a valid config.json, then `spec::parse`: reaches the deep
//! checks that random bytes rarely keep a document valid long enough to hit.
//! The input picks a JSON pointer of the every-field seed, an operation and a value.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn bundle() -> &'static Path {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = std::env::temp_dir().join("coracle-fuzz-bundle");
        std::fs::create_dir_all(dir.join("rootfs")).expect("create fuzz bundle");
        dir
    })
}

fn base() -> &'static (Value, Vec<String>) {
    static BASE: OnceLock<(Value, Vec<String>)> = OnceLock::new();
    BASE.get_or_init(|| {
        let v: Value =
            serde_json::from_str(include_str!("../seeds/config/every-field.json")).unwrap();
        let mut ptrs = Vec::new();
        walk(&v, String::new(), &mut ptrs);
        (v, ptrs)
    })
}

fn walk(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                walk(
                    c,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                walk(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fuzz_target!(|input: (u16, u8, &str)| {
    let (which, op, text) = input;
    let (doc, ptrs) = base();
    let mut doc = doc.clone();
    let ptr = &ptrs[usize::from(which) % ptrs.len()];
    let value = serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::from(text));
    match op % 3 {
        // Replace the value at the pointer.
        0 => {
            if let Some(slot) = doc.pointer_mut(ptr) {
                *slot = value;
            }
        }
        // Remove it from its parent.
        1 => {
            if let Some((parent, last)) = ptr.rsplit_once('/') {
                match doc.pointer_mut(parent) {
                    Some(Value::Object(m)) => {
                        m.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(i) = last.parse::<usize>() {
                            if i < a.len() {
                                a.remove(i);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        // Add a member named by the text, or append the value to an array.
        _ => match doc.pointer_mut(ptr) {
            Some(Value::Object(m)) => {
                m.insert(text.to_string(), value);
            }
            Some(Value::Array(a)) => a.push(value),
            _ => {}
        },
    }
    let bytes = serde_json::to_vec(&doc).unwrap();
    if let Err(e) = coracle::spec::parse(&bytes, bundle()) {
        let _ = e.to_string();
    }
});
