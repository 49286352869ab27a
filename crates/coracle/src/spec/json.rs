//! Typed access to a `serde_json::Value` that names the field on every error.

use serde_json::{Map, Value};

use super::SpecError;

/// A field error at `field`.
pub(super) fn invalid(field: impl Into<String>, msg: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        field: field.into(),
        msg: msg.into(),
    }
}

/// `parent.key`, or `key` at the top level.
pub(super) fn key(parent: &str, k: &str) -> String {
    if parent.is_empty() {
        k.to_string()
    } else {
        format!("{parent}.{k}")
    }
}

/// `parent[i]`.
pub(super) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// `parent["k"]`, for map keys that are data (sysctl names), not schema.
pub(super) fn map_key(parent: &str, k: &str) -> String {
    format!("{parent}[{k:?}]")
}

/// A member that is present and not `null` (serde treats `null` as absent for our options).
pub(super) fn get<'a>(obj: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    obj.get(k).filter(|v| !v.is_null())
}

/// A member that must be present.
pub(super) fn required<'a>(
    obj: &'a Map<String, Value>,
    k: &str,
    field: &str,
) -> Result<&'a Value, SpecError> {
    get(obj, k).ok_or_else(|| invalid(field, "required"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The value as an object.
pub(super) fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, SpecError> {
    v.as_object()
        .ok_or_else(|| invalid(field, format!("expected an object, found {}", kind(v))))
}

/// The value as an array.
pub(super) fn array<'a>(v: &'a Value, field: &str) -> Result<&'a [Value], SpecError> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| invalid(field, format!("expected an array, found {}", kind(v))))
}

/// The value as a string without NUL bytes (no syscall can take one).
pub(super) fn string<'a>(v: &'a Value, field: &str) -> Result<&'a str, SpecError> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid(field, format!("expected a string, found {}", kind(v))))?;
    if s.contains('\0') {
        return Err(invalid(field, "contains a NUL byte"));
    }
    Ok(s)
}

/// The value as an absolute path string.
pub(super) fn abs_path<'a>(v: &'a Value, field: &str) -> Result<&'a str, SpecError> {
    let s = string(v, field)?;
    if !s.starts_with('/') {
        return Err(invalid(field, format!("must be absolute, got {s:?}")));
    }
    Ok(s)
}

/// The value as an integer (any JSON number without a fraction, as i128).
pub(super) fn integer(v: &Value, field: &str) -> Result<i128, SpecError> {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
        .ok_or_else(|| invalid(field, format!("expected an integer, found {}", show(v))))
}

/// Each element of an optional array of strings, checked for NUL bytes.
pub(super) fn strings<'a>(
    obj: &'a Map<String, Value>,
    k: &str,
    parent: &str,
) -> Result<Vec<&'a str>, SpecError> {
    let field = key(parent, k);
    let Some(v) = get(obj, k) else {
        return Ok(Vec::new());
    };
    array(v, &field)?
        .iter()
        .enumerate()
        .map(|(i, e)| string(e, &index(&field, i)))
        .collect()
}

/// A short rendering of a value for messages.
fn show(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => kind(v).to_string(),
        other => other.to_string(),
    }
}
