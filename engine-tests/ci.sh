#!/bin/sh
# What CI runs for the engines (meant as one step of scripts/test.sh): install the engines,
# prove the battery on runc (the reference must pass fully), then run it on coracle with
# its known gaps listed in expected/coracle.txt. Needs target/release/coracle built.
set -eu
cd "$(dirname "$0")/.."
engine-tests/setup.sh
[ -x target/release/coracle ] || cargo build --release -q -p coracle-cli
echo "== engine battery on runc (the reference)"
engine-tests/run.sh --runtime /usr/sbin/runc
echo "== engine battery on coracle"
engine-tests/run.sh --runtime "$PWD/target/release/coracle" \
    --expect-fail engine-tests/expected/coracle.txt
