#!/bin/sh
# The README's demo: build coracle, prepare a busybox bundle, run a container and show
# what it isolates next to what the host sees. Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
command -v file >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q file >/dev/null
cargo build --release -q -p coracle-cli
bin=$PWD/target/release/coracle
bundle=$PWD/.bundles/demo
scripts/busybox-bundle.sh "$bundle"
(cd "$bundle" && rm -f config.json && "$bin" spec)
# The demo runs without a terminal so it works in CI logs too.
sed -i 's/"terminal": true/"terminal": false/' "$bundle/config.json"
show='echo "hostname:   $(hostname)"
echo "pid of sh:  $$"
echo "processes:  $(ls -d /proc/[0-9]* | wc -l)"
echo "net links:  $(ls /sys/class/net | tr "\n" " ")"
echo "mounts:     $(wc -l < /proc/self/mounts)"
echo "uid:        $(id -u)"
echo "caps (eff): $(grep CapEff /proc/self/status | cut -f2)"
echo "root dir:   $(ls / | tr "\n" " ")"
echo "mem limit:  $(cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null)"
echo "pids limit: $(cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null)"'
# The bundle's args become the script above.
python3 - "$bundle/config.json" "$show" <<'PY'
import json, sys
path, script = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["args"] = ["sh", "-c", script]
# A cgroup of its own with limits, and its cgroup tree mounted where tools look.
c["linux"]["resources"].update({"memory": {"limit": 128 << 20}, "pids": {"limit": 64}})
c["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                    "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
json.dump(c, open(path, "w"), indent=2)
PY
echo "== on the host"
sh -c "$show"
echo
echo "== inside a coracle container (coracle run --bundle $bundle demo)"
"$bin" --root /run/coracle-demo run --bundle "$bundle" "demo-$$"
