"""Shared helpers of the engine battery: commands with time limits, a pty driver,
cgroup/mount/process inspection of the host, and the runtime call logger."""

import os
import pty
import re
import select
import shlex
import signal
import subprocess
import time

# Every command the battery runs gets a time limit, so a hung engine is a FAIL, not a hang.
DEFAULT_TIMEOUT = 60


class Result:
    """What a finished command left: exit code, stdout, stderr, the argv and how long it took."""

    def __init__(self, argv, rc, out, err, secs):
        self.argv = argv
        self.rc = rc
        self.out = out
        self.err = err
        self.secs = secs

    def describe(self):
        """The command and everything it printed, for a FAIL report."""
        return "$ %s\nexit %s after %.2fs\n--- stdout\n%s\n--- stderr\n%s" % (
            " ".join(shlex.quote(a) for a in self.argv),
            self.rc,
            self.secs,
            self.out.rstrip(),
            self.err.rstrip(),
        )


def sh(argv, timeout=DEFAULT_TIMEOUT, env=None, stdin=None):
    """Run argv to the end (killing its process group at the time limit); never raises
    for a non-zero exit. rc is -999 on a time-out."""
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        text=True,
    )
    try:
        out, err = proc.communicate(input=stdin, timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = proc.communicate()
        err += "\n[battery: timed out after %ss, killed]" % timeout
        rc = -999
    except BaseException:  # interrupted: do not leave the client running
        kill_group(proc.pid)
        proc.wait()
        raise
    return Result(argv, rc, out, err, time.monotonic() - start)


def kill_group(pid):
    """SIGKILL a process group we started (start_new_session made pid its leader)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def pty_session(argv, steps, timeout=30, env=None):
    """Run argv on a new pty as a person would at a terminal.

    steps: list of (wait_for_regex_or_None, text_to_send_or_None). Each step waits until
    the output so far matches the regex, then types the text. Returns a Result whose out
    is everything the terminal showed (err says which step timed out, if one did)."""
    start = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:  # child: exec the engine's client on the pty
        try:
            os.execvpe(argv[0], argv, env if env is not None else os.environ)
        finally:
            os._exit(127)
    deadline = start + timeout
    try:
        return _drive(pid, fd, argv, steps, start, deadline, timeout)
    except BaseException:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
        raise


def _drive(pid, fd, argv, steps, start, deadline, timeout):
    buf = b""
    err = ""

    def read_some(wait):
        """'data', 'idle' (nothing within wait) or 'closed' (EIO/EOF: no writer left)."""
        nonlocal buf
        r, _, _ = select.select([fd], [], [], wait)
        if not r:
            return "idle"
        try:
            data = os.read(fd, 4096)
        except OSError:
            return "closed"
        if not data:
            return "closed"
        buf += data
        return "data"

    state = "idle"
    for pattern, text in steps:
        if pattern is not None:
            rx = re.compile(pattern.encode())
            while not rx.search(buf):
                if time.monotonic() > deadline or state == "closed":
                    err = "[battery: never saw %r on the terminal]" % pattern
                    break
                state = read_some(0.2)
            if err:
                break
        if text is not None and state != "closed":
            os.write(fd, text.encode())
    # read until the client exits (then drain for a moment) or the time runs out
    done, status = 0, 0
    while time.monotonic() < deadline:
        if state != "closed":
            state = read_some(0.2)
        else:
            time.sleep(0.05)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            end = time.monotonic() + 1
            while state != "closed" and time.monotonic() < end:
                state = read_some(0.05)
                if state == "idle":
                    break
            break
    if not done:
        err += "\n[battery: terminal session timed out after %ss, killed]" % timeout
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    rc = os.waitstatus_to_exitcode(status) if done else -999
    return Result(argv, rc, buf.decode(errors="replace"), err, time.monotonic() - start)


def wait_until(pred, timeout=20, step=0.1):
    """Poll pred() until it returns something true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


# ---- host inspection ----------------------------------------------------------------

def cgroup_mounts():
    """{controller name or '' for the unified hierarchy: mount point} from mountinfo."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            fields = pre.split()
            fstype, _src, opts = post.split()[:3]
            mnt = fields[4]
            if fstype == "cgroup2":
                mounts.setdefault("", mnt)
            elif fstype == "cgroup":
                for o in opts.split(","):
                    if o in ("rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec"):
                        continue
                    mounts.setdefault(o, mnt)
    return mounts


def pid_cgroup_dirs(pid):
    """{controller: host directory} of a process's cgroups ('' = unified)."""
    mounts = cgroup_mounts()
    dirs = {}
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            lines = f.read().splitlines()
    except OSError:
        return dirs
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        for c in (ctrls.split(",") if ctrls else [""]):
            if c in mounts:
                dirs[c] = os.path.join(mounts[c], path.lstrip("/"))
    return dirs


def memory_limit(pid):
    """The memory limit in bytes of a process's cgroup (v1 memory.limit_in_bytes or v2
    memory.max), or None when unlimited/unreadable."""
    dirs = pid_cgroup_dirs(pid)
    for ctrl, name in (("memory", "memory.limit_in_bytes"), ("", "memory.max")):
        if ctrl in dirs:
            p = os.path.join(dirs[ctrl], name)
            if os.path.exists(p):
                v = open(p).read().strip()
                return None if v == "max" else int(v)
    return None


def frozen(pid):
    """True when the cgroup of pid is frozen (v1 freezer.state or v2 cgroup.freeze)."""
    dirs = pid_cgroup_dirs(pid)
    if "freezer" in dirs:
        return open(os.path.join(dirs["freezer"], "freezer.state")).read().strip() == "FROZEN"
    if "" in dirs and os.path.exists(os.path.join(dirs[""], "cgroup.freeze")):
        return open(os.path.join(dirs[""], "cgroup.freeze")).read().strip() == "1"
    return None


def proc_state(pid):
    """The one-letter state of a process from /proc/PID/stat, None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def find_cgroups(needle, roots=None):
    """Every cgroup directory (any hierarchy) whose path contains needle."""
    hits = []
    for mnt in sorted(set(cgroup_mounts().values())):
        for dirpath, dirnames, _ in os.walk(mnt):
            if dirpath.count("/") - mnt.count("/") > 6:
                dirnames[:] = []
                continue
            if needle in dirpath[len(mnt):]:
                hits.append(dirpath)
                dirnames[:] = []
    return hits


def find_mounts(needle):
    """mountinfo lines of this (the host's) mount namespace that mention needle."""
    with open("/proc/self/mountinfo") as f:
        return [l.rstrip() for l in f if needle in l]


def find_processes(needle, exclude=()):
    """(pid, cmdline) of every process whose command line mentions needle."""
    hits = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me or int(d) in exclude:
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmd:
            hits.append((int(d), cmd.strip()))
    return hits


# ---- runtime call logger ------------------------------------------------------------

WRAPPER = """#!/bin/bash
# Written by engine-tests: logs every call an engine makes to the runtime under test
# (one line per call: ENGINE<TAB>argv shell-quoted), then runs it.
printf '%s\\t%s\\n' {engine} "$(printf '%q ' "$@")" >> {log}
exec {runtime} "$@"
"""


def write_wrapper(directory, name, engine, runtime, log):
    """Install an executable called `name` in directory that appends its argv (tagged with
    the engine) to log and execs runtime. Returns its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(WRAPPER.format(engine=shlex.quote(engine), log=shlex.quote(log),
                               runtime=shlex.quote(runtime)))
    os.chmod(path, 0o755)
    return path


def read_calls(log):
    """[(engine, argv list)] from the call log."""
    calls = []
    if not os.path.exists(log):
        return calls
    with open(log) as f:
        for line in f:
            if "\t" not in line:
                continue
            engine, rest = line.rstrip("\n").split("\t", 1)
            try:
                calls.append((engine, shlex.split(rest)))
            except ValueError:
                calls.append((engine, rest.split()))
    return calls


# runc's global flags that take a value
GLOBAL_VALUE_FLAGS = {"--root", "--log", "--log-format", "--criu", "--rootless"}
HEX_ID = re.compile(r"^[0-9a-f]{64}$")


def call_shape(argv, ids=()):
    """An argv with its variable parts replaced: absolute paths by <path>, container ids by
    <id>, numbers by <n>, so that calls of the same kind collapse into one line."""
    out = []
    for a in argv:
        flag, eq, val = a.partition("=")
        if eq and flag.startswith("-"):
            out.append(flag + "=" + shape_value(val, ids))
        elif a.startswith("-"):
            out.append(a)
        else:
            out.append(shape_value(a, ids))
    return " ".join(out)


NAME = re.compile(r"cor[0-9a-f]{6}-[a-z]+-[0-9]+")
TAG = re.compile(r"cor[0-9a-f]{6}")


def shape_value(v, ids):
    if v in ids or HEX_ID.match(v) or NAME.fullmatch(v):
        return "<id>"
    if v.startswith("/"):
        for i in ids:
            v = v.replace(i, "<id>")
        v = NAME.sub("<id>", v)
        v = TAG.sub("<tag>", v)
        v = re.sub(r"[0-9a-f]{64}", "<id>", v)
        base = re.sub(r"[0-9]{4,}", "N", os.path.basename(v))
        base = re.sub(r"\.[A-Za-z0-9]{6}$", ".*", base)  # mkstemp-style suffixes
        parent = os.path.basename(os.path.dirname(v))
        if "<" in parent:
            return "<dir>/%s/%s" % (parent, base)
        return "<dir>/" + base
    return v


def subcommand(argv):
    """The runc subcommand in argv (the first word after the global flags)."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in GLOBAL_VALUE_FLAGS:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        return a
    return "?"


def summarize_calls(calls, ids=()):
    """Text: per engine, each subcommand's argv shapes with their counts."""
    lines = []
    engines = []
    for e, _ in calls:
        if e not in engines:
            engines.append(e)
    for e in engines:
        mine = [a for en, a in calls if en == e]
        lines.append("%s: %d calls" % (e, len(mine)))
        shapes = {}
        order = []
        for a in mine:
            s = call_shape(a, ids)
            if s not in shapes:
                order.append(s)
                shapes[s] = 0
            shapes[s] += 1
        by_sub = {}
        for s in order:
            by_sub.setdefault(subcommand(s.split()), []).append(s)
        for sub in sorted(by_sub):
            lines.append("  %s" % sub)
            for s in by_sub[sub]:
                lines.append("    %4d x  %s" % (shapes[s], s))
    return "\n".join(lines) + "\n"
