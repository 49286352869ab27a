#!/usr/bin/env python3
"""Per-system-call cost of each runtime's seccomp filter, side by side.

Called by benches/seccomp.sh, which prepares the bundles and the mount namespace. Standard
library only. For every round, each runtime runs the static benchmark program once with
containers-common's default profile and once without seccomp (the baseline), in a rotated
order so drift in the machine's load cancels out. The program prints the median ns/call of
CALLS raw getppid() and CALLS read(fd, buf, 0); we report the median over rounds.

The filter's size is read from the kernel, not from the runtime: a container running
`seccomp_bench pause` is ptrace-seized and PTRACE_SECCOMP_GET_FILTER counts the instructions
of each filter attached to it (what the kernel runs, stubs and all).
"""

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile

PTRACE_DETACH = 17
WALL = 0x40000000  # __WALL: wait for a tracee that is not our child
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_SECCOMP_GET_FILTER = 0x420C

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]


def run(cmd):
    """Run cmd; stdout and stderr through temporary files, not pipes: a created container's
    init inherits them and would keep a pipe's reader waiting until the container exits."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err).returncode
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, rc, out.read(), err.read())


def filter_sizes(pid):
    """Instruction counts of the filters attached to pid, newest first."""
    if libc.ptrace(PTRACE_SEIZE, pid, None, None) != 0:
        raise OSError(ctypes.get_errno(), f"ptrace seize {pid}")
    try:
        libc.ptrace(PTRACE_INTERRUPT, pid, None, None)
        os.waitpid(pid, WALL)
        sizes = []
        for index in range(64):
            n = libc.ptrace(PTRACE_SECCOMP_GET_FILTER, pid, ctypes.c_void_p(index), None)
            if n < 0:
                break
            sizes.append(n)
        return sizes
    finally:
        libc.ptrace(PTRACE_DETACH, pid, None, None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", action="append", required=True, help="NAME=COMMAND")
    ap.add_argument("--bundles", required=True, help="dir with seccomp/, none/, pause/")
    ap.add_argument("--root-base", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=1000000)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    runtimes = [r.split("=", 1) for r in a.runtime]
    runtimes = [(name, cmd.split()) for name, cmd in runtimes]
    for name, _ in runtimes:
        os.makedirs(os.path.join(a.root_base, name), exist_ok=True)

    def rt(name, cmd, *args):
        return cmd + ["--root", os.path.join(a.root_base, name)] + list(args)

    # Filter sizes.
    sizes = {}
    for name, cmd in runtimes:
        cid = f"bench-pause-{os.getpid()}"
        bundle = os.path.join(a.bundles, "pause")
        r = run(rt(name, cmd, "create", "--bundle", bundle, cid))
        if r.returncode != 0:
            sys.exit(f"{name} create: {r.stderr.strip()}")
        try:
            r = run(rt(name, cmd, "start", cid))
            if r.returncode != 0:
                sys.exit(f"{name} start: {r.stderr.strip()}")
            pid = json.loads(run(rt(name, cmd, "state", cid)).stdout)["pid"]
            sizes[name] = filter_sizes(pid)
        finally:
            run(rt(name, cmd, "kill", cid, "KILL"))
            for _ in range(50):
                if run(rt(name, cmd, "delete", "--force", cid)).returncode == 0:
                    break
    # Timings.
    configs = [(name, cmd, prof) for prof in ("seccomp", "none") for name, cmd in runtimes]
    calls = ("getppid", "read", "personality")
    samples = {(name, prof): {c: [] for c in calls} for name, _, prof in configs}
    extra = {}
    for rnd in range(a.rounds):
        order = configs[rnd % len(configs):] + configs[: rnd % len(configs)]
        for name, cmd, prof in order:
            cid = f"bench-{prof}-{os.getpid()}-{rnd}"
            bundle = os.path.join(a.bundles, prof)
            # The program's arguments come from config.json (set by seccomp.sh).
            r = run(rt(name, cmd, "run", "--bundle", bundle, cid))
            if r.returncode != 0:
                sys.exit(f"{name} run ({prof}): exit {r.returncode}: {r.stderr.strip()}")
            fields = dict(kv.split("=", 1) for kv in r.stdout.split())
            for c in calls:
                samples[(name, prof)][c].append(float(fields[f"{c}_ns"]))
            extra[(name, prof)] = (fields["filters"], fields["ssb"])
            print(f"round {rnd + 1}/{a.rounds} {name} {prof}: {r.stdout.strip()}", file=sys.stderr)

    med = {k: {c: statistics.median(v) for c, v in d.items()} for k, d in samples.items()}
    ref = runtimes[0][0]
    print(f"{a.calls} calls x {a.repeats} repeats per run (median), median of {a.rounds} rounds.")
    print()
    label = {"getppid": "getppid", "read": "read(0)", "personality": "personality(-1)"}
    print("ns/call with the profile [without seccomp] (filter cost: the difference):")
    print()
    print("| runtime | filter instructions | "
          + " | ".join(f"{label[c]} | {label[c]} filter cost" for c in calls) + " |")
    print("|---|---|" + "---|---|" * len(calls))
    cost = {}
    for name, _ in runtimes:
        s, n = med[(name, "seccomp")], med[(name, "none")]
        cost[name] = {c: s[c] - n[c] for c in calls}
        cells = " | ".join(f"{s[c]:.1f} [{n[c]:.1f}] | {cost[name][c]:+.1f}" for c in calls)
        print(f"| {name} | {', '.join(map(str, sizes[name]))} | {cells} |")
    print()
    print(f"Relative to {ref}: per-call time with the profile, and the filter's own cost:")
    print()
    print("| runtime | " + " | ".join(f"{label[c]} | {label[c]} filter cost" for c in calls) + " |")
    print("|---|" + "---|---|" * len(calls))

    def ratio(x, y):
        return f"{x / y:.2f}x" if y > 0 else "n/a"

    for name, _ in runtimes:
        s, r0 = med[(name, "seccomp")], med[(ref, "seccomp")]
        cells = " | ".join(
            f"{ratio(s[c], r0[c])} | {ratio(cost[name][c], cost[ref][c])}" for c in calls)
        print(f"| {name} | {cells} |")
    print()
    print("Speculation_Store_Bypass inside the containers: "
          + ", ".join(f"{n}: {extra[(n, 'seccomp')][1]}" for n, _ in runtimes))


if __name__ == "__main__":
    main()
