//! Signal names and numbers, as runc's `kill` accepts them.
//! OWNER: spec helper. Stub with the agreed interface.

/// An unknown or malformed signal.
#[derive(Debug, thiserror::Error)]
#[error("invalid signal {0:?}")]
pub struct SignalError(pub String);

/// Parse `KILL`, `SIGKILL`, `kill`, `9` or `RTMIN+3` into a signal number.
pub fn parse(s: &str) -> Result<i32, SignalError> {
    let _ = s;
    todo!("signal::parse")
}
