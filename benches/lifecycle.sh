#!/bin/sh
# Lifecycle benchmark: coracle, runc and crun side by side on the same busybox bundle.
#
#   benches/lifecycle.sh [--runs N] [--warmup W] [--coracle PATH] [--without-coracle] [--state-tmpfs]
#
# Run as root from anywhere. Times `RUNTIME run` of /bin/true and `create`+`start`+(wait for
# exit)+`delete`, interleaving the runtimes run by run, and prints markdown tables (medians,
# p10/p90, ratios vs coracle, peak RSS of `run`). Defaults: N=50, W=5, coracle built with
# `cargo build --release -p coracle-cli` at target/release/coracle. The --root dirs are under
# /run; --state-tmpfs puts them on a tmpfs private to the measurement instead, for hosts whose
# /run is a disk (coracle fsyncs its state file, runc and crun do not).
#
# crun 1.8.1 refuses a hybrid cgroup host (v1 controllers plus cgroup2 at
# /sys/fs/cgroup/unified), so the whole measurement runs in a private mount namespace where
# that cgroup2 mount is detached (and an empty tmpfs put in its place): all runtimes see the
# same cgroup v1 view. The host's mounts are not touched. Containers, --root dirs and the
# bundle are removed at the end, also on failure or interrupt.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
runs=50
warmup=5
coracle=
with_coracle=1
state_tmpfs=0

usage() {
    sed -n '4p' "$0" | sed 's/^#   /usage: /' >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs a number}; shift 2 ;;
    --coracle) coracle=${2:?--coracle needs a path}; shift 2 ;;
    --without-coracle) with_coracle=0; shift ;;
    --state-tmpfs) state_tmpfs=1; shift ;;
    -h | --help) usage ;;
    *) echo "lifecycle.sh: unknown argument $1" >&2; usage ;;
    esac
done

[ "$(id -u)" = 0 ] || { echo "lifecycle.sh: must run as root" >&2; exit 1; }

install_missing() { # command package
    command -v "$1" >/dev/null 2>&1 && return
    echo "lifecycle.sh: installing $2" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null
}
install_missing runc runc
install_missing crun crun
install_missing python3 python3
install_missing unshare util-linux
install_missing file file # used by scripts/busybox-bundle.sh
[ -x /usr/bin/time ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null

if [ "$with_coracle" = 1 ]; then
    if [ -z "$coracle" ]; then
        (cd "$repo" && cargo build --release -q -p coracle-cli)
        coracle=$repo/target/release/coracle
    fi
    [ -x "$coracle" ] || { echo "lifecycle.sh: $coracle is not executable" >&2; exit 1; }
    coracle=$(cd "$(dirname "$coracle")" && pwd)/$(basename "$coracle")
fi
runc=$(command -v runc)
crun=$(command -v crun)
case "$coracle$runc$crun" in *' '*) echo "lifecycle.sh: runtime paths with spaces are not supported" >&2; exit 1 ;; esac

measure=
work=$(mktemp -d /run/coracle-bench.XXXXXX)
cleanup() {
    status=$?
    trap - EXIT INT TERM HUP
    if [ -n "$measure" ]; then
        kill "$measure" 2>/dev/null || true
        wait "$measure" 2>/dev/null || true
    fi
    # Anything the Python driver could not delete (it force-deletes on its own failures).
    for dir in "$work"/root/*/bench-*/; do
        [ -d "$dir" ] || continue
        root=$(dirname "$dir")
        case $(basename "$root") in
        coracle) cmd=$coracle ;;
        runc) cmd=$runc ;;
        crun) cmd=$crun ;;
        crun-nocgroup) cmd="$crun --cgroup-manager=disabled" ;;
        *) continue ;;
        esac
        [ -n "$cmd" ] && $cmd --root "$root" delete --force "$(basename "$dir")" 2>/dev/null || true
    done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

bundle=$work/bundle
"$repo/scripts/busybox-bundle.sh" "$bundle"
# runc's default spec, with no terminal, /bin/true, and two removals; all runtimes get
# the same config. linux.resources: coracle refuses cgroup resources until its cgroups module
# lands. process.capabilities.ambient: runc lists ambient capabilities that are not in the
# (absent) inheritable set, which the kernel cannot raise; runc and crun skip them silently,
# coracle fails closed. Without the list, all three start the same capability sets.
(cd "$bundle" && rm -f config.json && "$runc" spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    c = json.load(f)
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["linux"].pop("resources", None)
c["process"].get("capabilities", {}).pop("ambient", None)
with open(path, "w") as f:
    json.dump(c, f, indent=2)
PY
# The check bundle: same rootfs, a process that exits 7; every runtime's `run` must report 7.
mkdir -p "$work/check" "$work/root"
python3 - "$bundle/config.json" "$work/check/config.json" "$bundle/rootfs" <<'PY'
import json, sys
src, dst, rootfs = sys.argv[1:]
with open(src) as f:
    c = json.load(f)
c["root"]["path"] = rootfs
c["process"]["args"] = ["/bin/sh", "-c", "exit 7"]
with open(dst, "w") as f:
    json.dump(c, f, indent=2)
PY

set -- --bundle "$bundle" --check-bundle "$work/check" --check-status 7 \
    --root-base "$work/root" --runs "$runs" --warmup "$warmup"
[ "$with_coracle" = 1 ] && set -- "$@" --runtime "coracle=$coracle"
set -- "$@" --runtime "runc=$runc" --runtime "crun=$crun"
# crun once more without cgroups, to show what creating them costs (coracle does not create
# any yet; runc has no switch to skip them).
set -- "$@" --runtime "crun-nocgroup=$crun --cgroup-manager=disabled"

rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$repo" status --porcelain 2>/dev/null)" ] || rev="$rev (with local changes)"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) cores;" \
    "$("$runc" --version | head -1); $("$crun" --version | head -1)${coracle:+; coracle $coracle, repository at $rev};" \
    "state under $(if [ "$state_tmpfs" = 1 ]; then echo "a private tmpfs"; else echo "$work/root ($(stat -f -c %T "$work"))"; fi)"
echo
# The measurement itself, in a private mount namespace without the cgroup2 mount. crun then
# takes the bare directory for a hierarchy and writes cgroup.procs files into it; without the
# throwaway tmpfs those would land in the host's /sys/fs/cgroup tmpfs, hidden under cgroup2.
# In the background so that a signal reaches the traps at once; cleanup stops it first.
STATE_TMPFS=$state_tmpfs STATE_DIR=$work/root unshare -m --propagation private sh -c '
    if mountpoint -q /sys/fs/cgroup/unified; then
        umount /sys/fs/cgroup/unified &&
            mount -t tmpfs -o size=1m,mode=755 coracle-bench-void /sys/fs/cgroup/unified || exit 1
    fi
    if [ "$STATE_TMPFS" = 1 ]; then
        mount -t tmpfs -o mode=700 coracle-bench-state "$STATE_DIR" || exit 1
    fi
    exec python3 "$0" "$@"' "$here/lifecycle.py" "$@" &
measure=$!
wait "$measure"
