"""engine-tests/bench.sh: how long `ctr run --rm`, `podman run --rm` (and `docker run --rm`)
of busybox `true` take with each runtime given, median of N, all in the same run (the
runtimes take turns, so drift of the machine hits them alike)."""

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import find_mounts  # noqa: E402
from engines import ENGINES  # noqa: E402
from battery import cleanup_cgroups, unmount_under, host_snapshot, host_cleanup, REPO  # noqa: E402


def main():
    p = argparse.ArgumentParser(prog="engine-tests/bench.sh")
    p.add_argument("--runtime", action="append", required=True,
                   help="a runtime binary; give it twice or more to compare")
    p.add_argument("--engine", action="append", choices=["all"] + list(ENGINES),
                   help="engine(s) to time (default: containerd and podman)")
    p.add_argument("--no-cgroups", action="store_true",
                   help="ctr only: a spec without linux.resources and cgroupsPath (for a "
                        "runtime that cannot do cgroups yet)")
    p.add_argument("-n", type=int, default=20, help="runs per engine and runtime (default 20)")
    a = p.parse_args()
    engines = a.engine or ["containerd", "podman"]
    if "all" in engines:
        engines = list(ENGINES)
    runtimes = [os.path.abspath(r) for r in a.runtime]
    tag = "cor%s" % secrets.token_hex(3)
    tmp = tempfile.mkdtemp(prefix="coracle-bench.", dir="/tmp")
    results = {}  # (engine, runtime index) -> [seconds] or error text
    host_before = host_snapshot()
    os.chdir(tmp)  # engines may drop files into the client's cwd (conmon: ./oom)
    try:
        bundle = os.path.join(tmp, "bundle")
        subprocess.run(["sh", os.path.join(REPO, "scripts", "busybox-bundle.sh"), bundle],
                       check=True, capture_output=True)
        rootfs = os.path.join(bundle, "rootfs")
        for name in engines:
            es = []
            try:
                for i, rt in enumerate(runtimes):
                    e = ENGINES[name](os.path.join(tmp, "rt%d" % i), rt, None, rootfs,
                                      "%s%d" % (tag, i))
                    es.append(e)  # each runtime gets its own daemon, idle while the other runs
                    r = e.start()
                    if r.rc != 0:
                        raise RuntimeError("%s did not start:\n%s" % (name, r.describe()))
                opts = {"no_cgroups": True} if a.no_cgroups and name == "containerd" else {}
                times = {i: [] for i in range(len(es))}
                errors = {}
                for k in range(a.n + 1):  # the first round warms caches, not counted
                    for i, e in enumerate(es):
                        if i in errors:
                            continue
                        n = "%s-bench-%d" % (e.tag, k)
                        t = time.monotonic()
                        r = e.run(n, ["/bin/true"], opts)
                        dt = time.monotonic() - t
                        if r.rc != 0:
                            lines = r.err.strip().splitlines() or ["exit %d" % r.rc]
                            errors[i] = ([l for l in lines if "rror" in l] or lines)[-1]
                        elif k > 0:
                            times[i].append(dt)
                for i in range(len(es)):
                    results[(name, i)] = errors.get(i) or times[i]
            except Exception as ex:  # noqa
                for i in range(len(runtimes)):
                    results.setdefault((name, i), str(ex))
            finally:
                for e in es:
                    e.shutdown()
                    e.kill_strays()
                    cleanup_cgroups(e.tag)
    finally:
        os.chdir("/")
        unmount_under(tmp)
        for p in host_cleanup(host_before):
            print("left on the host: %s" % p)
        if not find_mounts(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    print_table(engines, runtimes, results, a.n, a.no_cgroups)
    return 0


def print_table(engines, runtimes, results, n, no_cgroups=False):
    names = [os.path.basename(r) if [os.path.basename(x) for x in runtimes].count(os.path.basename(r)) == 1
             else r for r in runtimes]
    print("median wall time of %d `ENGINE run --rm busybox true` (ms; min-max in brackets)" % n)
    head = "| %-28s |" % "engine" + "".join(" %-24s |" % x for x in names)
    print(head)
    print("|" + "-" * 30 + "|" + "".join("-" * 26 + "|" for _ in names))
    cmd = {"containerd": "ctr run --rm" + (" (no cgroups)" if no_cgroups else ""), "podman": "podman run --rm", "docker": "docker run --rm"}
    for e in engines:
        row = "| %-28s |" % cmd[e]
        for i in range(len(runtimes)):
            v = results.get((e, i))
            if isinstance(v, list) and v:
                cell = "%.1f [%.0f-%.0f]" % (statistics.median(v) * 1000, min(v) * 1000,
                                             max(v) * 1000)
            else:
                cell = "FAILED"
            row += " %-24s |" % cell
        print(row)
    for (e, i), v in sorted(results.items()):
        if not isinstance(v, list):
            print("  %s with %s failed: %s" % (e, names[i], v[:300]))


if __name__ == "__main__":
    sys.exit(main())
