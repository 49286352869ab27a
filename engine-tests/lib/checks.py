"""The checks: each takes an engine, raises Fail (with what it saw) or Skip, or returns.
A check cleans up its containers itself (a finally: remove), so one failure does not leak
into the next."""

import os
import re
import time

from common import (sh, pty_session, wait_until, frozen, memory_limit, pid_cgroup_dirs,
                    proc_state, find_cgroups, find_mounts, find_processes)
from engines import MiB


class Fail(Exception):
    """A check failed; the message says what was expected and what was seen."""


class Skip(Exception):
    """The engine cannot express this check."""


def expect(cond, what, *results):
    if not cond:
        raise Fail(what + "".join("\n" + r.describe() for r in results if r is not None))


SLEEPER = ["/bin/sleep", "1000"]


def needs_cgroups(e):
    if e.no_cgroups:
        raise Skip("--no-cgroups: the spec has no cgroup part")


class Detached:
    """A detached container for the length of a with-block, force-removed afterwards."""

    def __init__(self, e, what, cmd=SLEEPER, opts=None):
        self.e, self.cmd, self.opts = e, cmd, opts
        self.name = e.new_name(what)

    def __enter__(self):
        r = self.e.run_detached(self.name, self.cmd, self.opts)
        expect(r.rc == 0, "detached run failed", r)
        pid = wait_until(lambda: self.e.init_pid(self.name), 10)
        expect(pid, "no init pid for %s (status %s)" % (self.name, self.e.status(self.name)), r)
        self.pid = pid
        self.id = self.e.container_id(self.name)
        self.e.ids.add(self.id)
        return self

    def __exit__(self, *exc):
        self.e.remove(self.name)


def run_stdout_exit_code(e):
    """stdout and stderr come back apart, and exit 3 comes back as 3."""
    r = e.run(e.new_name("exit"), ["/bin/sh", "-c", "echo out-line; echo err-line >&2; exit 3"])
    expect(r.rc == 3, "want exit code 3", r)
    expect(r.out.strip() == "out-line", "want stdout 'out-line'", r)
    expect("err-line" in r.err, "want 'err-line' on stderr", r)


def run_missing_command(e):
    """A failed create reaches the user with the runtime's reason (its --log JSON)."""
    r = e.run(e.new_name("nocmd"), ["/no-such-command-xyz"])
    expect(r.rc not in (0, -999), "want a failure", r)
    expect("no-such-command-xyz" in r.err, "want the command named in the error", r)


def exec_output(e):
    """exec into a detached container: output and exit status come back."""
    with Detached(e, "exec") as c:
        r = e.exec(c.name, ["/bin/sh", "-c", "echo exec-out $$; cat /proc/1/cmdline; exit 4"])
        expect(r.rc == 4, "want exec exit code 4", r)
        expect(re.search(r"exec-out \d+", r.out) and "sleep1000" in r.out.replace("\0", ""),
               "want exec output and the container's pid 1 visible", r)


def exec_user_cwd_env(e):
    """exec with another user, working directory (and env where the client can)."""
    with Detached(e, "execopts") as c:
        env = {"EXEC_VAR": "x y"} if e.exec_env else None
        r = e.exec(c.name, ["/bin/sh", "-c", 'echo "id=$(id -u):$(id -g) cwd=$(pwd) '
                                             'var=$EXEC_VAR"'],
                   user="1000:1001", cwd="/tmp", env=env)
        want = "id=1000:1001 cwd=/tmp var=%s" % ("x y" if env else "")
        expect(r.rc == 0 and want in r.out, "want %r" % want, r)


def run_stdin_pipe(e):
    """Input piped to the client reaches the container's stdin, and EOF closes it.
    (EOF comes a second after the data: ctr 1.6 loses an EOF that arrives before the task
    has started and then waits forever, whatever the runtime.)"""
    data = os.path.join(e.tmp, "stdin-data")
    with open(data, "w") as f:
        f.write("".join("line %d\n" % i for i in range(2000)))
    argv = e.run_argv(e.new_name("stdin"), ["/bin/sh", "-c", "wc -l; md5sum"], {"stdin": True})
    r = sh(["/bin/sh", "-c", 'f=$1; shift; { cat "$f"; sleep 1; } | "$@"', "sh", data] + argv,
           env=e.env)
    expect(r.rc == 0 and r.out.split()[:1] == ["2000"], "want 2000 lines counted", r)


def restart(e):
    """A restarted container (delete, create, start with the same id) runs again."""
    with Detached(e, "restart") as c:
        r = e.restart(c.name)
        expect(r.rc == 0, "restart failed", r)
        pid = wait_until(lambda: e.status(c.name) == "running" and e.init_pid(c.name), 10)
        expect(pid and pid != c.pid, "want a new init (old %d, now %s, status %s)"
               % (c.pid, pid, e.status(c.name)), r)
        try:
            cmd = open("/proc/%d/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            cmd = "(gone)"
        expect(cmd.strip() == "/bin/sleep 1000", "want the new init to run sleep, it runs %r" % cmd, r)


def exec_tty(e):
    """exec -t: the process gets a pty as stdin/stdout."""
    with Detached(e, "exectty") as c:
        r = pty_session(e.exec_argv(c.name, ["/bin/sh", "-c",
                                             "tty; [ -t 0 ] && echo stdin-is-tty; exit 6"],
                                    tty=True), [], timeout=30, env=e.env)
        expect(re.search(r"/dev/pts/\d+", r.out) and "stdin-is-tty" in r.out,
               "want a pty on stdin", r)
        expect(r.rc == 6, "want exit code 6", r)


def run_tty_interactive(e):
    """An interactive tty run driven from a pty: typed input runs, exit status comes back."""
    r = pty_session(e.run_argv(e.new_name("tty"), ["/bin/sh"], tty=True),
                    [("# ", "echo $((6*7))x; tty\n"), ("42x", "exit 5\n")],
                    timeout=30, env=e.env)
    expect("42x" in r.out and re.search(r"/dev/pts/\d+", r.out), "want the shell's answer", r)
    expect(r.rc == 5, "want exit code 5", r)


def stop_term(e):
    """stop: a container that handles SIGTERM exits on it, well before the grace period."""
    with Detached(e, "stopterm", ["/bin/sh", "-c",
                                  "trap 'exit 0' TERM; while :; do sleep 0.1; done"]) as c:
        time.sleep(0.3)  # let the shell install its trap
        t = time.monotonic()
        r = e.stop(c.name, 10)
        took = time.monotonic() - t
        expect(r.rc == 0, "stop failed", r)
        expect(took < 8, "stop took %.1fs: SIGTERM was not delivered" % took, r)
        code = e.exit_code(c.name)
        expect(code == 0, "want exit code 0 after SIGTERM, got %s" % code, r)


def stop_kill(e):
    """stop: a container that ignores SIGTERM gets SIGKILL after the grace period."""
    with Detached(e, "stopkill", ["/bin/sh", "-c",
                                  "trap '' TERM; while :; do sleep 0.1; done"]) as c:
        time.sleep(0.3)
        t = time.monotonic()
        r = e.stop(c.name, 2)
        took = time.monotonic() - t
        expect(r.rc == 0, "stop failed", r)
        expect(took >= 1.8, "stop took %.1fs: the TERM was not ignored?" % took, r)
        expect(proc_state(c.pid) in (None, "Z"), "init %d still alive" % c.pid, r)
        code = e.exit_code(c.name)
        expect(code == 137, "want exit code 137 (SIGKILL), got %s" % code, r)


def pause_resume(e):
    """pause freezes the cgroup, resume thaws it and the container works again."""
    needs_cgroups(e)
    with Detached(e, "pause") as c:
        r = e.pause(c.name)
        expect(r.rc == 0, "pause failed", r)
        expect(e.status(c.name) == "paused", "want status paused, got %s" % e.status(c.name), r)
        expect(frozen(c.pid) is True, "want the cgroup of %d frozen" % c.pid, r)
        r = e.resume(c.name)
        expect(r.rc == 0, "resume failed", r)
        expect(e.status(c.name) == "running", "want status running, got %s" % e.status(c.name), r)
        expect(frozen(c.pid) is False, "want the cgroup of %d thawed" % c.pid, r)
        r = e.exec(c.name, ["/bin/echo", "alive"])
        expect(r.rc == 0 and "alive" in r.out, "want exec to work after resume", r)


def top(e):
    """top/ps lists the container's processes."""
    needs_cgroups(e)
    with Detached(e, "top") as c:
        r = e.top(c.name)
        expect(r.rc == 0 and e.top_shows(r, c.pid), "want the init (%d) listed" % c.pid, r)


def stats(e):
    """stats reports memory use and pids of a running container."""
    needs_cgroups(e)
    with Detached(e, "stats") as c:
        r = e.stats(c.name)
        expect(r.rc == 0 and e.stats_ok(r), "want memory and pids figures", r)


def update_memory(e):
    """update raises a memory limit on a running container (checked in its cgroup)."""
    needs_cgroups(e)
    if not e.can_update:
        raise Skip(e.can_update_why)
    with Detached(e, "update", opts={"memory": 64 * MiB}) as c:
        got = memory_limit(c.pid)
        expect(got == 64 * MiB, "want the initial limit %d, cgroup says %s" % (64 * MiB, got))
        r = e.update_memory(c.name, 96 * MiB)
        expect(r.rc == 0, "update failed", r)
        got = memory_limit(c.pid)
        expect(got == 96 * MiB, "want the new limit %d, cgroup says %s" % (96 * MiB, got), r)


def memory_limit_kills(e):
    """A process that grows past the memory limit is OOM killed (exit 137)."""
    needs_cgroups(e)
    name = e.new_name("oom")
    r = e.run(name, ["/bin/tail", "/dev/zero"], {"memory": 32 * MiB}, timeout=60)
    expect(r.rc == 137, "want exit code 137 (OOM kill)", r)


def pids_limit(e):
    """pids limit: forks past it fail, the container never holds more processes."""
    needs_cgroups(e)
    r = e.run(e.new_name("pids"), ["/bin/sh", "-c",
                                  "(for i in $(seq 30); do sleep 30 & done); "
                                  "set -- /proc/[0-9]*; echo procs=$#"], {"pids_limit": 10})
    m = re.search(r"procs=(\d+)", r.out)
    expect(m and 2 <= int(m.group(1)) <= 10, "want between 2 and 10 processes", r)
    expect("fork" in (r.out + r.err), "want fork failures reported", r)


def read_only_rootfs(e):
    """A read-only rootfs refuses writes."""
    r = e.run(e.new_name("ro"), ["/bin/sh", "-c", "touch /rofile; echo rc=$?"],
              {"read_only": True})
    expect("rc=1" in r.out and "Read-only file system" in r.out + r.err,
           "want touch to fail with EROFS", r)


def env_workdir_user_hostname(e):
    """env, workdir, user and hostname reach the process."""
    r = e.run(e.new_name("ewuh"), ["/bin/sh", "-c",
                                   'echo "env=$FOO_BAR cwd=$(pwd) id=$(id -u):$(id -g) '
                                   'host=$(hostname)"'],
              {"env": {"FOO_BAR": "baz qux"}, "workdir": "/tmp", "user": "1000:1001",
               "hostname": "coracle-host"})
    expect(r.rc == 0 and "env=baz qux cwd=/tmp id=1000:1001 host=coracle-host" in r.out,
           "want env, cwd, uid:gid and hostname as asked", r)


def removal_leaves_nothing(e):
    """After removal: no cgroup, mount, runtime state or process of the container."""
    d = Detached(e, "rm")
    with d as c:
        dirs = [p for p in pid_cgroup_dirs(c.pid).values() if c.id in p or c.name in p]
        expect(dirs or e.no_cgroups, "the container's cgroups should name it: %s" % pid_cgroup_dirs(c.pid))
        roots = e.runtime_roots()
        expect(any(os.path.isdir(os.path.join(r, c.id)) for r in roots),
               "no runtime state for %s under %s while it runs" % (c.id, roots))
        pid, cid, name = c.pid, c.id, c.name
    # removed by __exit__
    def leftovers():
        out = []
        out += ["cgroup " + p for p in dirs if os.path.exists(p)]
        out += ["cgroup " + p for p in find_cgroups(cid)]
        out += ["mount " + l for l in find_mounts(cid)]
        if name != cid:
            out += ["mount " + l for l in find_mounts(name)]
        out += ["state " + os.path.join(r, cid) for r in e.runtime_roots()
                if os.path.exists(os.path.join(r, cid))]
        if proc_state(pid) not in (None, "Z"):
            out.append("process %d (the init)" % pid)
        out += ["process %d %s" % p for p in find_processes(cid)]
        return out
    wait_until(lambda: not leftovers(), 10)
    left = leftovers()
    expect(not left, "left behind:\n  " + "\n  ".join(left))


CHECKS = [
    ("run-stdout-exit-code", run_stdout_exit_code),
    ("run-missing-command-error", run_missing_command),
    ("run-stdin-pipe", run_stdin_pipe),
    ("exec-output", exec_output),
    ("exec-user-cwd-env", exec_user_cwd_env),
    ("exec-tty", exec_tty),
    ("run-tty-interactive", run_tty_interactive),
    ("stop-sigterm", stop_term),
    ("stop-sigkill-after-grace", stop_kill),
    ("pause-resume", pause_resume),
    ("top-ps", top),
    ("stats", stats),
    ("update-memory", update_memory),
    ("memory-limit-oom-kill", memory_limit_kills),
    ("pids-limit", pids_limit),
    ("read-only-rootfs", read_only_rootfs),
    ("env-workdir-user-hostname", env_workdir_user_hostname),
    ("restart", restart),
    ("removal-leaves-nothing", removal_leaves_nothing),
]
