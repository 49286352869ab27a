//! Arbitrary bytes as config.json: `spec::parse` must return Ok or Err, never panic.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// One bundle directory with an empty `rootfs/`, shared by every run (and every
/// fuzzing job) so nothing piles up in /tmp: parse only reads it.
fn bundle() -> &'static Path {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = std::env::temp_dir().join("coracle-fuzz-bundle");
        std::fs::create_dir_all(dir.join("rootfs")).expect("create fuzz bundle");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    if let Err(e) = coracle::spec::parse(data, bundle()) {
        // Rendering the error is part of the contract too.
        let _ = e.to_string();
    }
});
