#!/bin/sh
# Seccomp benchmark: per-system-call cost of coracle's, runc's and crun's filters for
# containers-common's default profile, side by side, against a no-seccomp baseline.
#
#   benches/seccomp.sh [--rounds N] [--calls C] [--coracle PATH] [--without-coracle]
#
# Run as root from anywhere. A static program (benches/seccomp_bench.c, gcc -static) times C
# raw getppid() calls (late in the profile's allow list) and C read(fd, buf, 0) calls inside
# the container, 5 times, and prints the median ns/call; each runtime runs it N times with
# the profile and N times without linux.seccomp, interleaved. Also reads each filter's size
# in instructions from the kernel (PTRACE_SECCOMP_GET_FILTER). Prints markdown tables.
# Defaults: N=7, C=1000000, coracle built with `cargo build --release -p coracle-cli`.
#
# The profile is /usr/share/containers/seccomp.json prepared as an engine prepares it for
# runc's default capabilities on amd64 (rules kept when their includes/excludes match, then
# those keys dropped, archMap turned into architectures). As benches/lifecycle.sh, the
# measurement runs in a private mount namespace without the hybrid cgroup2 mount (crun 1.8.1
# refuses a hybrid host); the host's mounts are not touched, and containers, --root dirs and
# bundles are removed at the end, also on failure or interrupt.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
rounds=7
calls=1000000
coracle=
with_coracle=1

usage() {
    sed -n '5p' "$0" | sed 's/^#   /usage: /' >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    --calls) calls=${2:?--calls needs a number}; shift 2 ;;
    --coracle) coracle=${2:?--coracle needs a path}; shift 2 ;;
    --without-coracle) with_coracle=0; shift ;;
    -h | --help) usage ;;
    *) echo "seccomp.sh: unknown argument $1" >&2; usage ;;
    esac
done

[ "$(id -u)" = 0 ] || { echo "seccomp.sh: must run as root" >&2; exit 1; }

install_missing() { # command-or-file package
    { command -v "$1" >/dev/null 2>&1 || [ -e "$1" ]; } && return
    echo "seccomp.sh: installing $2" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null
}
install_missing runc runc
install_missing crun crun
install_missing python3 python3
install_missing unshare util-linux
install_missing gcc gcc
install_missing /usr/lib/x86_64-linux-gnu/libc.a libc6-dev
install_missing file file # used by scripts/busybox-bundle.sh
install_missing /usr/share/containers/seccomp.json golang-github-containers-common

if [ "$with_coracle" = 1 ]; then
    if [ -z "$coracle" ]; then
        (cd "$repo" && cargo build --release -q -p coracle-cli)
        coracle=$repo/target/release/coracle
    fi
    [ -x "$coracle" ] || { echo "seccomp.sh: $coracle is not executable" >&2; exit 1; }
    coracle=$(cd "$(dirname "$coracle")" && pwd)/$(basename "$coracle")
fi
runc=$(command -v runc)
crun=$(command -v crun)
case "$coracle$runc$crun" in *' '*) echo "seccomp.sh: runtime paths with spaces are not supported" >&2; exit 1 ;; esac

measure=
work=$(mktemp -d /run/coracle-seccomp-bench.XXXXXX)
cleanup() {
    status=$?
    trap - EXIT INT TERM HUP
    if [ -n "$measure" ]; then
        kill "$measure" 2>/dev/null || true
        wait "$measure" 2>/dev/null || true
    fi
    for dir in "$work"/root/*/bench-*/; do
        [ -d "$dir" ] || continue
        root=$(dirname "$dir")
        case $(basename "$root") in
        coracle) cmd=$coracle ;;
        runc) cmd=$runc ;;
        crun) cmd=$crun ;;
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

"$repo/scripts/busybox-bundle.sh" "$work/base"
gcc -static -O2 -o "$work/base/rootfs/seccomp_bench" "$here/seccomp_bench.c"
(cd "$work/base" && rm -f config.json && "$runc" spec)
# Three bundles on the one rootfs: with the profile, without seccomp, and a pausing one for
# reading the filter size. runc's default spec with terminal off and, as lifecycle.sh explains,
# without linux.resources and the ambient capabilities.
python3 - "$work" "$calls" <<'PY'
import copy, json, os, sys
work, calls = sys.argv[1], sys.argv[2]
with open(os.path.join(work, "base/config.json")) as f:
    c = json.load(f)
c["process"]["terminal"] = False
c["linux"].pop("resources", None)
c["process"].get("capabilities", {}).pop("ambient", None)
c["root"]["path"] = os.path.join(work, "base/rootfs")
caps = set(c["process"]["capabilities"]["bounding"])

with open("/usr/share/containers/seccomp.json") as f:
    p = json.load(f)
rules = []
for r in p["syscalls"]:
    inc, exc = r.get("includes") or {}, r.get("excludes") or {}
    if inc.get("arches") and "amd64" not in inc["arches"]:
        continue
    if not set(inc.get("caps") or []) <= caps:
        continue
    if "amd64" in (exc.get("arches") or []) or set(exc.get("caps") or []) & caps:
        continue
    if inc.get("minKernel"):
        sys.exit("seccomp.sh: minKernel rules are not handled")
    out = {"names": r["names"], "action": r["action"]}
    if r.get("args"):
        out["args"] = r["args"]
    if "errnoRet" in r:
        out["errnoRet"] = r["errnoRet"]
    rules.append(out)
native = next(m for m in p["archMap"] if m["architecture"] == "SCMP_ARCH_X86_64")
profile = {
    "defaultAction": p["defaultAction"],
    "defaultErrnoRet": p["defaultErrnoRet"],
    "architectures": [native["architecture"]] + native["subArchitectures"],
    "syscalls": rules,
}
for name, args, seccomp in [
    ("seccomp", ["/seccomp_bench", calls, "5"], profile),
    ("none", ["/seccomp_bench", calls, "5"], None),
    ("pause", ["/seccomp_bench", "pause"], profile),
]:
    b = copy.deepcopy(c)
    b["process"]["args"] = args
    if seccomp:
        b["linux"]["seccomp"] = seccomp
    else:
        b["linux"].pop("seccomp", None)
    os.makedirs(os.path.join(work, "bundles", name))
    with open(os.path.join(work, "bundles", name, "config.json"), "w") as f:
        json.dump(b, f, indent=2)
PY
mkdir -p "$work/root"

set -- --bundles "$work/bundles" --root-base "$work/root" --rounds "$rounds" --calls "$calls"
[ "$with_coracle" = 1 ] && set -- "$@" --runtime "coracle=$coracle"
set -- "$@" --runtime "runc=$runc" --runtime "crun=$crun"

rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$repo" status --porcelain 2>/dev/null)" ] || rev="$rev (with local changes)"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) cores;" \
    "bpf_jit_enable=$(cat /proc/sys/net/core/bpf_jit_enable 2>/dev/null || echo ?);" \
    "$("$runc" --version | sed -n '1p;/libseccomp/p' | tr '\n' ' ')$("$crun" --version | head -1)${coracle:+; coracle $coracle, repository at $rev};" \
    "profile: containers-common $(dpkg-query -W -f '${Version}' golang-github-containers-common 2>/dev/null || echo '?')"
echo
unshare -m --propagation private sh -c '
    if mountpoint -q /sys/fs/cgroup/unified; then
        umount /sys/fs/cgroup/unified &&
            mount -t tmpfs -o size=1m,mode=755 coracle-bench-void /sys/fs/cgroup/unified || exit 1
    fi
    exec python3 "$0" "$@"' "$here/seccomp.py" "$@" &
measure=$!
wait "$measure"
