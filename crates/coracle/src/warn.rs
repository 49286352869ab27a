//! Warnings the library reports without failing (poststart/poststop hooks, cleanup).
//! The binary installs a sink that writes them to its log.

use std::sync::OnceLock;

/// Where warnings go.
pub type Sink = Box<dyn Fn(&str) + Send + Sync>;

static SINK: OnceLock<Sink> = OnceLock::new();

/// Install the function that receives warnings (once; later calls are ignored).
pub fn set_sink(f: Sink) {
    let _ = SINK.set(f);
}

/// Report a warning (to stderr when no sink is installed).
pub fn emit(msg: &str) {
    match SINK.get() {
        Some(f) => f(msg),
        None => eprintln!("warning: {msg}"),
    }
}
