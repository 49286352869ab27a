"""What every engine shares: its temp dir, the logged runtime wrapper, the names handed
out, stopping its daemon and killing its strays."""

import os
import signal

from common import wait_until, write_wrapper, find_processes, read_calls

MiB = 1024 * 1024


class Engine:
    """Common parts: the temp dir, the logged runtime wrapper, the names handed out."""

    name = "?"
    env = None  # environment for the engine's client (None: ours)
    no_cgroups = False  # containerd only: specs without linux.resources/cgroupsPath
    exec_env = True  # the client's exec can set environment variables
    can_update = True  # the client can change resources of a running container
    can_update_why = ""

    def __init__(self, tmp, runtime, calls_log, rootfs, tag):
        self.tmp = os.path.join(tmp, self.name)
        os.makedirs(self.tmp, exist_ok=True)
        self.runtime = runtime
        self.calls_log = calls_log
        self.rootfs = rootfs
        self.tag = tag  # unique per battery run: cgroup parents, namespaces, names
        # conmon passes --log-format json only to runtimes it knows by file name, so the
        # runtime is always reached as .../runc (containerd and docker ignore the name):
        # a wrapper that logs each call, or (calls_log None, for timing) a plain symlink.
        bindir = os.path.join(self.tmp, "bin")
        if calls_log:
            self.wrapper = write_wrapper(bindir, "runc", self.name, runtime, calls_log)
        else:
            os.makedirs(bindir, exist_ok=True)
            self.wrapper = os.path.join(bindir, "runc")
            os.symlink(runtime, self.wrapper)
        self.names = []
        self.ids = set()
        self.daemon_pid = None

    def new_name(self, what):
        n = "%s-%s-%d" % (self.tag, what, len(self.names))
        self.names.append(n)
        return n

    def runtime_roots(self):
        """Directories where the runtime keeps state for this engine's containers: every
        --root the engine passed (from the call log), else the runtimes' defaults."""
        roots = []
        for engine, argv in read_calls(self.calls_log) if self.calls_log else []:
            if engine == self.name and "--root" in argv[:-1]:
                r = argv[argv.index("--root") + 1]
                if r not in roots:
                    roots.append(r)
        return roots or ["/run/runc", "/run/coracle", "/run/crun"]

    def stop_daemon(self, pidfile_or_pid):
        """SIGTERM the daemon we started, SIGKILL after 15 s."""
        pid = pidfile_or_pid
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        gone = wait_until(lambda: not os.path.exists("/proc/%d" % pid) or _zombie(pid), 15)
        if not gone:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    def kill_strays(self):
        """SIGKILL processes this engine left that name our temp dir or tag (shims, conmon)."""
        killed = []
        for needle in (self.tmp, self.tag):
            for pid, cmd in find_processes(needle):
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append("%d %s" % (pid, cmd))
                except ProcessLookupError:
                    pass
        return killed


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _tail(path, n=30):
    try:
        with open(path) as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""
