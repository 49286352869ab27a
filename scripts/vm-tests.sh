#!/bin/bash
# The integration tests and the conformance suite again, on a pure cgroup v2 kernel:
# a throwaway qemu guest (../shared/vm/run-in-vm.sh) that sees this checkout. Binaries
# are built on the host; the guest only runs them. lifecycle_repeat (200 cycles) stays
# on the host: under software emulation it alone takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
vm=../shared/vm/run-in-vm.sh
[ -x "$vm" ] || { echo "vm-tests: $vm not found (it sits beside the checkout)" >&2; exit 1; }
cargo build --release -q -p coracle-cli -p runtime-tools-tests
mapfile -t bins < <(cargo test --no-run -q -p coracle-cli --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"] \
            and m["target"]["name"] != "lifecycle_repeat":
        print(m["executable"])')
script=target/vm-tests.sh
{
    echo 'rc=0'
    for b in "${bins[@]}"; do
        echo "echo '== $(basename "$b")'; $b --test-threads=2 -q || rc=1"
    done
    echo "echo '== runtime-tools-tests'"
    echo "$PWD/target/release/runtime-tools-tests --runtime $PWD/target/release/coracle --jobs 2 --expect-fail $PWD/runtime-tools-tests/expected/coracle.txt || rc=1"
    echo 'exit $rc'
} > "$script"
"$vm" --mem 2G --cpus 2 --timeout 1500 -- sh "$script"
