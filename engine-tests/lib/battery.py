"""engine-tests/run.sh: the engine battery. Runs containerd (ctr), podman and docker with
the runtime under test and checks what a user sees. See engine-tests/README.md."""

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import (read_calls, summarize_calls, cgroup_mounts, find_mounts, find_processes,
                    find_cgroups)
from engines import ENGINES
from checks import CHECKS, Fail, Skip

REPO = os.path.dirname(os.path.dirname(HERE))


def parse_args():
    p = argparse.ArgumentParser(prog="engine-tests/run.sh",
                                description="containerd, podman and docker on a runc-compatible runtime")
    p.add_argument("--runtime", required=True, help="the runtime binary under test")
    p.add_argument("--engine", action="append", choices=["all"] + list(ENGINES),
                   help="engine to run, may be repeated (default: all)")
    p.add_argument("--filter", default=None, help="regex on check names (engine/check)")
    p.add_argument("--expect-fail", default=None,
                   help="file of engine/check names expected to fail (a pass of one is a FAIL)")
    p.add_argument("--calls", default=None,
                   help="also write the runtime call summary here (and every call to FILE.raw)")
    p.add_argument("--no-cgroups", action="store_true",
                   help="containerd only: specs without linux.resources and cgroupsPath (for a "
                        "runtime that cannot do cgroups yet); checks that need cgroups skip")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, call log)")
    a = p.parse_args()
    if not a.engine or "all" in a.engine:
        a.engine = list(ENGINES)
    if a.no_cgroups:
        a.engine = [e for e in a.engine if e == "containerd"]
    return a


def load_expected(path):
    if not path:
        return set()
    out = set()
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                out.add(line)
    return out


class Report:
    def __init__(self, expected):
        self.expected = expected
        self.counts = {"pass": 0, "fail": 0, "skip": 0, "xfail": 0}
        self.rows = []

    def record(self, name, outcome, secs, detail=""):
        if outcome == "FAIL" and name in self.expected:
            outcome = "XFAIL"
        elif outcome == "PASS" and name in self.expected:
            outcome = "FAIL"
            detail = "passed, but listed as an expected failure: remove it from the list"
        self.counts[{"PASS": "pass", "FAIL": "fail", "SKIP": "skip", "XFAIL": "xfail"}[outcome]] += 1
        self.rows.append((name, outcome, secs, detail))
        print("%-5s %-45s %5.1fs" % (outcome, name, secs), flush=True)
        if detail and outcome in ("FAIL", "XFAIL", "SKIP"):
            for line in detail.rstrip().splitlines()[:60]:
                print("      | " + line)
            sys.stdout.flush()


def run_check(report, full, fn, engine):
    t = time.monotonic()
    try:
        fn(engine)
        report.record(full, "PASS", time.monotonic() - t)
    except Skip as s:
        report.record(full, "SKIP", time.monotonic() - t, str(s))
    except Fail as f:
        report.record(full, "FAIL", time.monotonic() - t, str(f))
    except Exception:
        report.record(full, "FAIL", time.monotonic() - t, traceback.format_exc())


def cleanup_cgroups(tag):
    """rmdir (deepest first) every cgroup under a /TAG parent in every hierarchy; returns
    the ones that would not go."""
    stuck = []
    for mnt in sorted(set(cgroup_mounts().values())):
        top = os.path.join(mnt, tag)
        if not os.path.isdir(top):
            continue
        for dirpath, dirnames, _ in os.walk(top, topdown=False):
            try:
                os.rmdir(dirpath)
            except OSError as e:
                stuck.append("%s: %s" % (dirpath, e.strerror))
    return stuck


def leftover_report(e, tag):
    """After an engine shut down: what it (or the runtime) left on the host."""
    left = []
    for needle in sorted(e.ids | set(e.names)):
        left += ["cgroup " + p for p in find_cgroups(needle)]
    for needle in [e.tmp, tag]:
        left += ["mount " + l for l in find_mounts(needle)]
        left += ["process %d %s" % p for p in find_processes(needle)]
    return sorted(set(left))


# Directories engines create on the host whatever their flags say (containerd's shim sockets
# in /run/containerd/s, dockerd's /run/docker/plugins and trust key): those that were not
# there before the battery are removed when empty. The runtimes' default roots (/run/runc,
# used under podman, which passes no --root) are left alone: other users share them.
HOST_DIRS = ["/run/containerd", "/run/docker", "/run/libpod", "/run/containers",
             "/etc/docker/key.json", "/var/lib/containers", "/var/lib/docker",
             "/var/lib/containerd"]


def host_snapshot():
    """Every path under the HOST_DIRS that exists now."""
    seen = set()
    for top in HOST_DIRS:
        if os.path.lexists(top):
            seen.add(top)
            for dirpath, dirnames, filenames in os.walk(top):
                seen.update(os.path.join(dirpath, n) for n in dirnames + filenames)
    return seen


def host_cleanup(before):
    """Remove what engines added under HOST_DIRS: new empty dirs (deepest first) and the
    docker trust key. Returns what is new and could not go."""
    left = []
    for p in sorted(host_snapshot() - before, key=len, reverse=True):
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                os.rmdir(p)
            elif p == "/etc/docker/key.json":
                os.unlink(p)
            else:
                left.append(p)
        except OSError as e:
            left.append("%s (%s)" % (p, e.strerror))
    return left


def unmount_under(path):
    """Lazily unmount whatever is still mounted under path (deepest first)."""
    with open("/proc/self/mountinfo") as f:
        points = [l.split()[4] for l in f]
    for m in sorted((p for p in points if p == path or p.startswith(path + "/")),
                    key=len, reverse=True):
        subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)


def main():
    args = parse_args()
    runtime = os.path.abspath(args.runtime)
    if not os.access(runtime, os.X_OK):
        print("--runtime %s: not an executable file" % runtime, file=sys.stderr)
        return 2
    expected = load_expected(args.expect_fail)
    pattern = re.compile(args.filter) if args.filter else None
    report = Report(expected)
    tag = "cor%s" % secrets.token_hex(3)
    tmp = tempfile.mkdtemp(prefix="coracle-engines.", dir="/tmp")
    calls_log = os.path.join(tmp, "calls.log")
    if args.calls:
        args.calls = os.path.abspath(args.calls)
    # conmon writes a file named "oom" into the podman client's working directory when a
    # container is OOM-killed: work in the temp dir, not in the caller's
    os.chdir(tmp)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.monotonic()
    host_before = host_snapshot()
    print("# runtime %s (%s)" % (runtime, _version(runtime)))
    print("# temp dir %s, tag %s" % (tmp, tag))
    interrupted = False
    try:
        bundle = os.path.join(tmp, "bundle")
        r = subprocess.run(["sh", os.path.join(REPO, "scripts", "busybox-bundle.sh"), bundle],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("cannot build the busybox rootfs:\n" + r.stderr)
            return 2
        rootfs = os.path.join(bundle, "rootfs")
        for name in args.engine:
            e = ENGINES[name](tmp, runtime, calls_log, rootfs, tag)
            e.no_cgroups = args.no_cgroups
            todo = [(n, f) for n, f in CHECKS if not pattern or pattern.search("%s/%s" % (name, n))]
            if not todo:
                continue
            t = time.monotonic()
            try:
                try:
                    r = e.start()
                    ok = r.rc == 0
                except Exception:
                    ok, r = False, None
                    detail = traceback.format_exc()
                if not ok:
                    report.record("%s/engine-start" % name, "FAIL", time.monotonic() - t,
                                  r.describe() if r else detail)
                    continue
                for n, f in todo:
                    run_check(report, "%s/%s" % (name, n), f, e)
            finally:
                t = time.monotonic()
                problems = e.shutdown()
                time.sleep(0.5)
                left = leftover_report(e, tag)
                killed = e.kill_strays()
                stuck = cleanup_cgroups(tag)
                detail = "\n".join(problems + left + ["killed stray: " + k for k in killed] +
                                   ["cgroup would not go: " + s for s in stuck])
                report.record("%s/no-leftovers" % name, "FAIL" if detail else "PASS",
                              time.monotonic() - t, detail)
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: cleaning up", flush=True)
    finally:
        cleanup_cgroups(tag)
        unmount_under(tmp)
        host_left = host_cleanup(host_before)
        if host_left:
            report.record("host/no-leftovers", "FAIL", 0,
                          "new on the host and not removable:\n" + "\n".join(host_left))
        calls = read_calls(calls_log)
        summary = summarize_calls(calls)
        print("\n# runtime calls per engine (argv shapes, with counts)\n" + summary)
        if args.calls:
            with open(args.calls, "w") as f:
                f.write(summary)
            if os.path.exists(calls_log):
                shutil.copyfile(calls_log, args.calls + ".raw")
        if args.keep:
            print("# kept %s" % tmp)
        elif not find_mounts(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("# %s still has mounts: not removed" % tmp)
    c = report.counts
    os.chdir("/")
    print("# %.0fs; %d expected failures (listed with --expect-fail, not counted below)"
          % (time.monotonic() - started, c["xfail"]))
    print("%d passed, %d failed, %d skipped" % (c["pass"], c["fail"], c["skip"]))
    return 1 if c["fail"] or interrupted else 0


def _version(runtime):
    try:
        r = subprocess.run([runtime, "--version"], capture_output=True, text=True, timeout=10)
        return r.stdout.splitlines()[0] if r.stdout else "no --version"
    except Exception as e:  # noqa
        return str(e)


if __name__ == "__main__":
    sys.exit(main())
