#!/usr/bin/env python3
"""Time OCI runtimes side by side: `run` and `create`+`start`+`delete` of /bin/true.

Called by benches/lifecycle.sh, which prepares the bundle and the mount namespace. Standard
library only. Every runtime gets the same bundle; runs are interleaved runtime by runtime (with
the starting runtime rotated each round) so drift in the machine's load cancels out.

Peak RSS of `run` is measured in a separate interleaved pass through GNU time (`time -f %M`,
i.e. wait4's ru_maxrss: the largest of the runtime process and the descendants it reaped, such as
`runc init`). Not from this Python process: a child forked or vforked from Python inherits
Python's RSS high-water mark into ru_maxrss at exec, which would swamp the runtime's own.
"""

import argparse
import ctypes
import os
import shlex
import signal
import statistics
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36


class RuntimeFailed(Exception):
    """A runtime command exited non-zero or by a signal."""


def set_child_subreaper():
    """Adopt orphans, as a container shim does: a container's init outlives `create` and is
    reparented to us, so `wait` can reap it like an engine would."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        sys.exit(f"prctl PR_SET_CHILD_SUBREAPER: {os.strerror(err)}")


def spawn(argv, log, expect=0):
    """Run argv with stdin/stdout on /dev/null and stderr to log; return elapsed ns."""
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    errfd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    actions = [
        (os.POSIX_SPAWN_DUP2, devnull, 0),
        (os.POSIX_SPAWN_DUP2, devnull, 1),
        (os.POSIX_SPAWN_DUP2, errfd, 2),
    ]
    try:
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter_ns() - t0
    finally:
        os.close(devnull)
        os.close(errfd)
    code = os.waitstatus_to_exitcode(status)
    if code != expect:
        with open(log, errors="replace") as f:
            err = f.read().strip()
        raise RuntimeFailed(f"{' '.join(argv)}: exit {code}, expected {expect}: {err}")
    return elapsed


def read_maxrss(path):
    """The KiB figure GNU time wrote with -f %M -o PATH."""
    with open(path) as f:
        return int(f.read().split()[-1])


class Runtime:
    """One runtime binary with its own --root state directory."""

    def __init__(self, name, command, root, logdir):
        self.name = name
        self.command = command
        self.root = root
        self.log = os.path.join(logdir, f"{name}.stderr")

    def argv(self, *args):
        return [*self.command, "--root", self.root, *args]

    def spawn(self, *args, wrapper=(), expect=0):
        """Run one runtime command (optionally under a wrapper); return elapsed ns."""
        return spawn([*wrapper, *self.argv(*args)], self.log, expect)

    def peak_rss(self, time_bin, out, *args):
        """Run one runtime command under GNU time; return its ru_maxrss in KiB."""
        self.spawn(*args, wrapper=(time_bin, "-f", "%M", "-o", out))
        return read_maxrss(out)

    def force_delete(self, cid):
        """Best-effort cleanup of one container; errors are ignored on purpose."""
        try:
            self.spawn("delete", "--force", cid)
        except (RuntimeFailed, OSError):
            pass


def wait_container(pid_file):
    """Wait for the container's init (an orphan adopted by us) to exit and reap it."""
    with open(pid_file) as f:
        pid = int(f.read().strip())
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        # Not ours (a runtime kept it as its own child): wait on a pidfd instead.
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            import select

            select.select([fd], [], [])
        finally:
            os.close(fd)


def reap_orphans():
    """Reap any other orphan a runtime left behind (intermediate processes of a double fork)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def scenario_run(rt, bundle, cid):
    return {"total": rt.spawn("run", "--bundle", bundle, cid)}


def scenario_lifecycle(rt, bundle, cid, tmpdir):
    pid_file = os.path.join(tmpdir, f"{cid}.pid")
    steps = {}
    t0 = time.perf_counter_ns()
    steps["create"] = rt.spawn("create", "--bundle", bundle, "--pid-file", pid_file, cid)
    try:
        steps["start"] = rt.spawn("start", cid)
        t1 = time.perf_counter_ns()
        wait_container(pid_file)
        steps["wait"] = time.perf_counter_ns() - t1
        steps["delete"] = rt.spawn("delete", cid)
    except BaseException:
        rt.force_delete(cid)
        raise
    finally:
        try:
            os.unlink(pid_file)
        except FileNotFoundError:
            pass
    steps["total"] = time.perf_counter_ns() - t0
    return steps


SCENARIOS = ["run", "create+start+delete"]


def rotated(runtimes, i):
    """The round's order: A B C, then B C A, then C A B, ... so no runtime always goes first."""
    k = i % len(runtimes)
    return runtimes[k:] + runtimes[:k]


def quantiles(xs):
    """Median, p10 and p90 (inclusive method: interpolated between samples)."""
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=10, method="inclusive")
    return statistics.median(xs), q[0], q[8]


def ms(ns):
    return f"{ns / 1e6:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--root-base", required=True, help="per-runtime --root dirs go under it")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--check-bundle", required=True, help="a bundle whose process exits non-zero")
    ap.add_argument("--check-status", type=int, required=True, help="its exit status")
    ap.add_argument("--rss-runs", type=int, default=10, help="runs of the peak RSS pass")
    ap.add_argument("--time", default="/usr/bin/time", help="GNU time, for peak RSS")
    ap.add_argument(
        "--runtime",
        action="append",
        required=True,
        metavar="NAME=PATH [GLOBAL-ARG...]",
        help="repeatable; ratios are against the first one",
    )
    args = ap.parse_args()
    if args.runs < 1 or args.warmup < 0 or args.rss_runs < 1:
        sys.exit("--runs and --rss-runs must be at least 1 and --warmup not negative")

    set_child_subreaper()
    # SIGTERM (lifecycle.sh's cleanup) and SIGINT stop between measurements: each measurement
    # ends with its container deleted, so stopping there leaves nothing behind. Stopping in the
    # middle of a runtime's `create` could leave a container no one knows of.
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _: stop.append(signum))
    tmpdir = tempfile.mkdtemp(prefix="lifecycle-", dir=args.root_base)
    runtimes = []
    for spec in args.runtime:
        name, _, command = spec.partition("=")
        root = os.path.join(args.root_base, name)
        os.makedirs(root, exist_ok=True)
        runtimes.append(Runtime(name, shlex.split(command), root, tmpdir))

    samples = {s: {rt.name: [] for rt in runtimes} for s in SCENARIOS}
    tag = os.getpid()

    # Proof that each runtime really runs the container's process: the check bundle (same
    # rootfs) exits with a chosen status, which `run` must pass on.
    for rt in runtimes:
        cid = f"bench-{tag}-check-{rt.name}"
        try:
            rt.spawn("run", "--bundle", args.check_bundle, cid, expect=args.check_status)
        except RuntimeFailed as e:
            rt.force_delete(cid)
            sys.exit(f"{rt.name} failed the check run: {e}")
        finally:
            reap_orphans()

    def check_stop():
        if stop:
            sys.exit(f"lifecycle.py: stopped by signal {stop[0]}")

    def measure(i, scenario, rt):
        check_stop()
        cid = f"bench-{tag}-{i}-{rt.name}-{'r' if scenario == 'run' else 'l'}"
        try:
            if scenario == "run":
                return scenario_run(rt, args.bundle, cid)
            return scenario_lifecycle(rt, args.bundle, cid, tmpdir)
        except RuntimeFailed as e:
            rt.force_delete(cid)
            check_stop()  # a Ctrl-C reaches the runtime too: say so rather than blame it
            sys.exit(f"{rt.name} failed in round {i} ({scenario}): {e}")
        finally:
            reap_orphans()

    rounds = args.warmup + args.runs
    for i in range(rounds):
        measured = i >= args.warmup
        for scenario in SCENARIOS:
            for rt in rotated(runtimes, i):
                steps = measure(i, scenario, rt)
                if measured:
                    samples[scenario][rt.name].append(steps)
        print(f"round {i + 1}/{rounds}{'' if measured else ' (warm-up)'}", file=sys.stderr)

    # Peak RSS: a separate pass so the GNU time wrapper does not skew the timings above.
    rss = {rt.name: [] for rt in runtimes}
    out = os.path.join(tmpdir, "maxrss")
    for i in range(args.rss_runs):
        for rt in rotated(runtimes, i):
            check_stop()
            cid = f"bench-{tag}-{i}-{rt.name}-m"
            try:
                rss[rt.name].append(rt.peak_rss(args.time, out, "run", "--bundle", args.bundle, cid))
            except RuntimeFailed as e:
                rt.force_delete(cid)
                check_stop()
                sys.exit(f"{rt.name} failed in peak RSS run {i}: {e}")
            finally:
                reap_orphans()
    spawn([args.time, "-f", "%M", "-o", out, "/bin/busybox", "true"], os.path.join(tmpdir, "log"))
    floor_kib = read_maxrss(out)

    base = runtimes[0].name
    print(f"Lifecycle of /bin/true, {args.runs} runs per runtime per scenario "
          f"(after {args.warmup} warm-up rounds), interleaved.\n")
    print(f"| runtime | scenario | median ms | p10 ms | p90 ms | ratio vs {base} |")
    print("|---|---|---:|---:|---:|---:|")
    for scenario in SCENARIOS:
        base_med = quantiles([s["total"] for s in samples[scenario][base]])[0]
        for rt in runtimes:
            med, p10, p90 = quantiles([s["total"] for s in samples[scenario][rt.name]])
            print(f"| {rt.name} | `{scenario}` | {ms(med)} | {ms(p10)} | {ms(p90)} "
                  f"| {med / base_med:.2f} |")

    print("\nMedian per step of `create`+`start`+`delete` (ms; `wait` is start returning until "
          "the container's init is reaped):\n")
    steps = ["create", "start", "wait", "delete"]
    print("| runtime | " + " | ".join(steps) + " |")
    print("|---|" + "---:|" * len(steps))
    for rt in runtimes:
        rows = samples["create+start+delete"][rt.name]
        cells = [ms(statistics.median([r[s] for r in rows])) for s in steps]
        print(f"| {rt.name} | " + " | ".join(cells) + " |")

    print(f"\nPeak RSS of `run` ({args.rss_runs} runs under `time -f %M`: ru_maxrss, the largest "
          "of the runtime process and the descendants it reaped), KiB. For scale, "
          f"`time -f %M busybox` gives {floor_kib} KiB:\n")
    print(f"| runtime | median KiB | min | max | ratio vs {base} |")
    print("|---|---:|---:|---:|---:|")
    base_rss = statistics.median(rss[base])
    for rt in runtimes:
        xs = rss[rt.name]
        med = statistics.median(xs)
        print(f"| {rt.name} | {med:.0f} | {min(xs)} | {max(xs)} | {med / base_rss:.2f} |")


if __name__ == "__main__":
    main()
