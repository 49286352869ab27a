#!/bin/bash
# The README's test command: installs what the suite needs, then runs every check.
# Run as root on Debian 12 (CI runs it through .ci/run on a fresh machine).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=""
for pkg in busybox-static file runc gcc libc6-dev pkg-config libseccomp-dev golang-github-containers-common; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q $need >/dev/null
fi

step() { printf '\n== %s\n' "$*"; }

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -q -- -D warnings

step "unit and integration tests (real containers, as root)"
cargo test --workspace -q

step "conformance suite (runtime-tools-tests) against coracle"
cargo build --release -q -p coracle-cli
if [ -d runtime-tools-tests ]; then
    cargo run --release -q -p runtime-tools-tests -- --runtime "$PWD/target/release/coracle" --jobs 2 \
        --expect-fail runtime-tools-tests/expected/coracle.txt
fi

step "engines: containerd, podman and docker on runc (the reference), then on coracle"
engine-tests/ci.sh

step "the same on a pure cgroup v2 kernel (qemu guest)"
./scripts/vm-tests.sh
