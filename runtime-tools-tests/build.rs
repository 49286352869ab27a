//! Builds the static `runtimetest` checker (crate `checker/`) and hands its path to the runner,
//! which embeds it. The checker runs inside container rootfses that hold nothing but busybox, so
//! it must be statically linked: musl when that target is installed, else glibc with crt-static
//! (the checker uses no NSS).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let checker = manifest_dir.join("checker");
    println!("cargo:rerun-if-changed={}", checker.join("src").display());
    println!(
        "cargo:rerun-if-changed={}",
        checker.join("Cargo.toml").display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = out.join("checker-target");

    let attempts: [(&str, &str); 2] = [
        ("x86_64-unknown-linux-musl", ""),
        ("x86_64-unknown-linux-gnu", "-C target-feature=+crt-static"),
    ];
    let mut errors = String::new();
    for (target, flags) in attempts {
        let mut cmd = Command::new(&cargo);
        cmd.args([
            "build",
            "--release",
            "--offline",
            "-p",
            "runtimetest",
            "--target",
            target,
        ])
        .arg("--manifest-path")
        .arg(checker.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
        // Do not let the outer build's settings (profile, target, flags, jobserver) leak in.
        for (k, _) in std::env::vars() {
            if (k.starts_with("CARGO_") && k != "CARGO_HOME")
                || k.starts_with("RUSTC")
                || k == "RUSTFLAGS"
                || k == "TARGET"
                || k == "HOST"
                || k == "PROFILE"
                || k == "OUT_DIR"
                || k == "OPT_LEVEL"
                || k == "DEBUG"
                || k == "NUM_JOBS"
            {
                cmd.env_remove(&k);
            }
        }
        if !flags.is_empty() {
            cmd.env("RUSTFLAGS", flags);
        }
        match cmd.output() {
            Ok(o) if o.status.success() => {
                let bin = target_dir.join(target).join("release").join("runtimetest");
                println!("cargo:rustc-env=RTT_CHECKER_PATH={}", bin.display());
                return;
            }
            Ok(o) => errors.push_str(&format!(
                "{target}: {}\n",
                String::from_utf8_lossy(&o.stderr)
            )),
            Err(e) => errors.push_str(&format!("{target}: spawn {cargo}: {e}\n")),
        }
    }
    panic!("cannot build the static runtimetest checker:\n{errors}");
}
