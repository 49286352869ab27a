"""The three engines, each started on its own (config, root, state, socket in a temp dir)
and driven through its own command line. Every engine offers the same methods, so one
check runs against all of them."""

import json
import os
import re
import shutil
import signal
import time

from common import Result, sh, wait_until, write_wrapper, find_processes, read_calls

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


# ---- podman and docker: one command line -------------------------------------------

class DockerLike(Engine):
    """podman and docker share the docker command line."""

    env = None

    def cli(self):
        raise NotImplementedError

    def image_args(self):
        raise NotImplementedError

    def c(self, *args, timeout=60, stdin=None):
        return sh(self.cli() + list(args), timeout=timeout, env=self.env, stdin=stdin)

    def opt_args(self, opts):
        a = []
        for k, v in (opts.get("env") or {}).items():
            a += ["-e", "%s=%s" % (k, v)]
        if opts.get("workdir"):
            a += ["-w", opts["workdir"]]
        if opts.get("user"):
            a += ["-u", opts["user"]]
        if opts.get("hostname"):
            a += ["--hostname", opts["hostname"]]
        if opts.get("read_only"):
            a += ["--read-only"]
        if opts.get("memory"):
            a += ["--memory", str(opts["memory"]), "--memory-swap", str(opts["memory"])]
        if opts.get("pids_limit"):
            a += ["--pids-limit", str(opts["pids_limit"])]
        if opts.get("stdin"):
            a += ["-i"]
        return a

    def run_argv(self, name, cmd, opts=None, tty=False):
        flags = ["-it"] if tty else []
        return self.cli() + ["run", "--rm", "--name", name] + flags + self.opt_args(opts or {}) \
            + self.image_args() + list(cmd)

    def run(self, name, cmd, opts=None, timeout=60, stdin=None):
        return sh(self.run_argv(name, cmd, opts), timeout=timeout, env=self.env, stdin=stdin)

    def run_detached(self, name, cmd, opts=None):
        r = self.c("run", "-d", "--name", name, *self.opt_args(opts or {}), *self.image_args(),
                   *cmd)
        if r.rc == 0:
            self.ids.add(r.out.strip())
        return r

    def exec(self, name, cmd, user=None, cwd=None, env=None):
        a = []
        if user:
            a += ["-u", user]
        if cwd:
            a += ["-w", cwd]
        for k, v in (env or {}).items():
            a += ["-e", "%s=%s" % (k, v)]
        return self.c("exec", *a, name, *cmd)

    def restart(self, name):
        return self.c("restart", "-t", "0", name)

    def exec_argv(self, name, cmd, tty=False):
        return self.cli() + ["exec"] + (["-it"] if tty else []) + [name] + list(cmd)

    def inspect(self, name, fmt):
        r = self.c("inspect", "--format", fmt, name)
        return r.out.strip() if r.rc == 0 else None

    def stop(self, name, grace):
        return self.c("stop", "-t", str(grace), name, timeout=grace + 60)

    def exit_code(self, name):
        v = self.inspect(name, "{{.State.ExitCode}}")
        return int(v) if v not in (None, "") else None

    def status(self, name):
        return self.inspect(name, "{{.State.Status}}")

    def init_pid(self, name):
        v = self.inspect(name, "{{.State.Pid}}")
        return int(v) if v and v.isdigit() and v != "0" else None

    def container_id(self, name):
        return self.inspect(name, "{{.Id}}")

    def oom_killed(self, name):
        return self.inspect(name, "{{.State.OOMKilled}}") == "true"

    def remove(self, name):
        return self.c("rm", "-f", name)

    def pause(self, name):
        return self.c("pause", name)

    def resume(self, name):
        return self.c("unpause", name)

    def top(self, name):
        return self.c("top", name)

    def top_shows(self, r, pid):
        return "sleep 1000" in r.out

    def update_memory(self, name, limit):
        return self.c("update", "--memory", str(limit), "--memory-swap", str(limit), name)


class Podman(DockerLike):
    name = "podman"

    def start(self):
        t = self.tmp
        for d in ("root", "runroot", "tmp"):
            os.makedirs(os.path.join(t, d), exist_ok=True)
        # Our own containers.conf and storage.conf (by env, nothing under /etc changes).
        # default_ulimits = []: no rlimits in the spec. Podman's own defaults for root
        # (nofile 1048576, nproc) need CAP_SYS_RESOURCE to raise the hard limits, and this
        # host's bounding set lacks it (even the host's own hard limits fail for nproc here).
        with open(os.path.join(t, "containers.conf"), "w") as f:
            f.write(
                '[containers]\n'
                'default_ulimits = []\n'
                'netns = "none"\n'
                'log_driver = "k8s-file"\n'
                'cgroupns = "host"\n'
                '[engine]\n'
                'cgroup_manager = "cgroupfs"\n'
                'events_logger = "file"\n'
                'events_logfile_path = "%s/events.log"\n'
                'tmp_dir = "%s/tmp"\n'
                'volume_path = "%s/root/volumes"\n' % (t, t, t))
        with open(os.path.join(t, "storage.conf"), "w") as f:
            f.write('[storage]\ndriver = "vfs"\nrunroot = "%s/runroot"\ngraphroot = "%s/root"\n'
                    % (t, t))
        self.env = dict(os.environ)
        self.env["CONTAINERS_CONF"] = os.path.join(t, "containers.conf")
        self.env["CONTAINERS_STORAGE_CONF"] = os.path.join(t, "storage.conf")
        self.env["CONTAINERS_REGISTRIES_CONF"] = os.path.join(t, "registries.conf")
        with open(self.env["CONTAINERS_REGISTRIES_CONF"], "w") as f:
            f.write("")
        self.cgroup_parent = "/%s" % self.tag
        return self.c("info", "--format", "{{.Host.OCIRuntime.Path}} {{.Host.CgroupManager}}")

    def cli(self):
        t = self.tmp
        return ["podman", "--root", t + "/root", "--runroot", t + "/runroot", "--runtime",
                self.wrapper, "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                "--storage-driver", "vfs", "--tmpdir", t + "/tmp"]

    def image_args(self):
        return ["--cgroup-parent", self.cgroup_parent, "--rootfs", self.rootfs]

    def remove(self, name):
        return self.c("rm", "-f", "-t", "0", name)

    def stats(self, name):
        return self.c("stats", "--no-stream", "--format", "json", name)

    def stats_ok(self, r):
        try:
            s = json.loads(r.out)[0]
        except (ValueError, IndexError, KeyError):
            return False
        return str(s.get("pids")) not in ("0", "", "None") and not str(s.get("mem_usage", "0")).startswith("0B")

    def shutdown(self):
        out = []
        r = self.c("rm", "-f", "--all", "-t", "0")
        if r.rc != 0:
            out.append(r.describe())
        return out


class Docker(DockerLike):
    name = "docker"
    image = "coracle-busybox:battery"

    def start(self):
        t = self.tmp
        self.sock = os.path.join(t, "docker.sock")
        self.pidfile = os.path.join(t, "docker.pid")
        with open(os.path.join(t, "daemon.json"), "w") as f:
            # dockerd 20.10 writes its trust key to /etc/docker/key.json unless told otherwise
            json.dump({"deprecated-key-path": os.path.join(t, "key.json")}, f)
        self.cgroup_parent = "/%s" % self.tag
        argv = ["dockerd", "--config-file", os.path.join(t, "daemon.json"),
                "--data-root", os.path.join(t, "root"), "--exec-root", os.path.join(t, "exec"),
                "-H", "unix://" + self.sock, "--pidfile", self.pidfile,
                "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip6tables=false",
                "--cgroup-parent", self.cgroup_parent, "--storage-driver", "overlay2",
                "--add-runtime", "undertest=" + self.wrapper, "--default-runtime", "undertest"]
        import subprocess
        self.log = open(os.path.join(t, "dockerd.log"), "w")
        p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.daemon_pid = p.pid
        self.proc = p
        up = wait_until(lambda: p.poll() is not None or
                        sh(self.cli() + ["version"], timeout=5).rc == 0, 30, 0.3)
        if p.poll() is not None or not up:
            return Result(argv, p.poll() if p.poll() is not None else -999, "",
                          _tail(os.path.join(t, "dockerd.log")), 0)
        tar = sh(["tar", "-C", self.rootfs, "-cf", os.path.join(t, "rootfs.tar"), "."])
        if tar.rc != 0:
            return tar
        return self.c("import", os.path.join(t, "rootfs.tar"), self.image)

    def cli(self):
        return ["docker", "-H", "unix://" + self.sock]

    def image_args(self):
        return ["--runtime", "undertest", "--network", "none", self.image]

    def stats(self, name):
        return self.c("stats", "--no-stream", "--format", "{{json .}}", name)

    def stats_ok(self, r):
        try:
            s = json.loads(r.out.strip().splitlines()[0])
        except (ValueError, IndexError):
            return False
        return s.get("PIDs") not in (None, "0", "") and not s.get("MemUsage", "0B").startswith("0B")

    def shutdown(self):
        out = []
        if self.daemon_pid is None:
            return out
        r = self.c("ps", "-aq")
        ids = r.out.split() if r.rc == 0 else []
        if ids:
            r = self.c("rm", "-f", *ids)
            if r.rc != 0:
                out.append(r.describe())
        self.stop_daemon(self.daemon_pid)
        self.log.close()
        return out


# ---- containerd through ctr ---------------------------------------------------------

class Containerd(Engine):
    name = "containerd"
    can_update = False
    can_update_why = "ctr 1.6 has no task update (docker covers the containerd shim's update call)"

    def start(self):
        t = self.tmp
        self.sock = os.path.join(t, "containerd.sock")
        self.ns = self.tag
        self.runc_root = os.path.join(t, "runc-root")
        self.fifo_dir = os.path.join(t, "fifo")  # ctr's default is /run/containerd/fifo
        cfg = os.path.join(t, "config.toml")
        disabled = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
        with open(cfg, "w") as f:
            f.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n'
                    'disabled_plugins = %s\n'
                    '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s.ttrpc"\n'
                    '[debug]\n  address = "%s/debug.sock"\n'
                    % (t, t, json.dumps(disabled), self.sock, self.sock, t))
        import subprocess
        self.log = open(os.path.join(t, "containerd.log"), "w")
        argv = ["containerd", "--config", cfg]
        p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.daemon_pid = p.pid
        self.proc = p
        up = wait_until(lambda: p.poll() is not None or
                        sh(["ctr", "-a", self.sock, "version"], timeout=5).rc == 0, 20, 0.2)
        if p.poll() is not None or not up:
            return Result(argv, p.poll() if p.poll() is not None else -999, "",
                          _tail(os.path.join(t, "containerd.log")), 0)
        return sh(["ctr", "-a", self.sock, "version"])

    def ctr(self, *args, timeout=60):
        return sh(["ctr", "-a", self.sock, "-n", self.ns] + list(args), timeout=timeout)

    def spec_file(self, name, cmd, opts, tty):
        """A full OCI config for the options ctr has no flag for (user, hostname, pids)."""
        uid, gid = 0, 0
        if opts.get("user"):
            u, _, g = opts["user"].partition(":")
            uid, gid = int(u), int(g or u)
        env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        env += ["%s=%s" % kv for kv in (opts.get("env") or {}).items()]
        caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
        resources = {"devices": [{"allow": False, "access": "rwm"}]}
        if opts.get("pids_limit"):
            resources["pids"] = {"limit": opts["pids_limit"]}
        if opts.get("memory"):
            resources["memory"] = {"limit": opts["memory"], "swap": opts["memory"]}
        if opts.get("no_cgroups"):
            resources = None
        spec = {
            "ociVersion": "1.0.2-dev",
            "process": {
                "terminal": tty, "user": {"uid": uid, "gid": gid}, "args": list(cmd),
                "env": env, "cwd": opts.get("workdir") or "/",
                "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                "noNewPrivileges": True,
            },
            "root": {"path": self.rootfs, "readonly": bool(opts.get("read_only"))},
            "hostname": opts.get("hostname") or name,
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                 "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
                {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                 "options": ["nosuid", "noexec", "nodev"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                 "options": ["nosuid", "noexec", "nodev", "ro"]},
            ],
            "linux": {
                "resources": resources,
                "cgroupsPath": "/%s/%s" % (self.ns, name),
                "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
                "devices": [],
                "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                                "/sys/firmware", "/proc/scsi"],
                "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq",
                                  "/proc/sys", "/proc/sysrq-trigger"],
            },
        }
        if resources is None:  # a spec with no cgroup part at all (bench --no-cgroups)
            del spec["linux"]["resources"], spec["linux"]["cgroupsPath"]
        path = os.path.join(self.tmp, "spec-%s.json" % name)
        with open(path, "w") as f:
            json.dump(spec, f, indent=1)
        return path

    def run_argv(self, name, cmd, opts=None, tty=False, detach=False):
        opts = dict(opts or {})
        if self.no_cgroups:
            opts["no_cgroups"] = True
        a = ["ctr", "-a", self.sock, "-n", self.ns, "run"]
        a += ["-d"] if detach else ["--rm"]
        a += ["--runc-binary", self.wrapper, "--runc-root", self.runc_root,
              "--fifo-dir", self.fifo_dir]
        if tty:
            a += ["-t"]
        if opts.get("user") or opts.get("hostname") or opts.get("pids_limit") or \
                opts.get("no_cgroups"):
            return a + ["--config", self.spec_file(name, cmd, opts, tty), name]
        for k, v in (opts.get("env") or {}).items():
            a += ["--env", "%s=%s" % (k, v)]
        if opts.get("workdir"):
            a += ["--cwd", opts["workdir"]]
        if opts.get("read_only"):
            a += ["--read-only"]
        if opts.get("memory"):
            a += ["--memory-limit", str(opts["memory"])]
        return a + ["--rootfs", self.rootfs, name] + list(cmd)

    def run(self, name, cmd, opts=None, timeout=60, stdin=None):
        return sh(self.run_argv(name, cmd, opts), timeout=timeout, stdin=stdin)

    def run_detached(self, name, cmd, opts=None):
        r = sh(self.run_argv(name, cmd, opts, detach=True))
        if r.rc == 0:
            wait_until(lambda: self.status(name) in ("running", "exited"), 10)
        return r

    exec_env = False  # ctr task exec has no --env

    def exec(self, name, cmd, user=None, cwd=None, env=None):
        a = []
        if user:
            a += ["--user", user]
        if cwd:
            a += ["--cwd", cwd]
        return self.ctr("task", "exec", "--fifo-dir", self.fifo_dir,
                        "--exec-id", "e%d" % time.monotonic_ns(), *a, name, *cmd)

    def restart(self, name):
        """What `docker restart` does to the runtime: kill, delete, create and start with
        the same id."""
        r = self.ctr("task", "kill", "-s", "SIGKILL", name)
        if r.rc != 0:
            return r
        wait_until(lambda: self.status(name) == "exited", 20)
        r = self.ctr("task", "rm", name)
        if r.rc != 0:
            return r
        return self.ctr("task", "start", "-d", "--fifo-dir", self.fifo_dir, name)

    def exec_argv(self, name, cmd, tty=False):
        return ["ctr", "-a", self.sock, "-n", self.ns, "task", "exec", "--fifo-dir", self.fifo_dir] \
            + (["-t"] if tty else []) + ["--exec-id", "e%d" % time.monotonic_ns(), name] + list(cmd)

    def tasks(self):
        r = self.ctr("task", "ls")
        out = {}
        for line in r.out.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3:
                out[f[0]] = (int(f[1]), f[2])
        return out

    def status(self, name):
        t = self.tasks().get(name)
        if t is None:
            return None
        return {"RUNNING": "running", "PAUSED": "paused", "STOPPED": "exited",
                "CREATED": "created"}.get(t[1], t[1].lower())

    def init_pid(self, name):
        t = self.tasks().get(name)
        return t[0] if t else None

    def container_id(self, name):
        return name

    def stop(self, name, grace):
        """What `docker stop -t grace` does: SIGTERM, then SIGKILL if it is still running."""
        r = self.ctr("task", "kill", name)
        if r.rc != 0:
            return r
        if not wait_until(lambda: self.status(name) == "exited", grace):
            r = self.ctr("task", "kill", "-s", "SIGKILL", name)
            if r.rc != 0:
                return r
            wait_until(lambda: self.status(name) == "exited", 20)
        return r

    def exit_code(self, name):
        """`ctr task rm` warns "task X exit with non-zero exit code N" (and exits 0); the
        task is gone after this, so the code is remembered."""
        if not hasattr(self, "_codes"):
            self._codes = {}
        if name not in self._codes:
            r = self.ctr("task", "rm", name)
            m = re.search(r"exit code (\d+)", r.err)
            self._codes[name] = int(m.group(1)) if m else (0 if r.rc == 0 else None)
        return self._codes[name]

    def oom_killed(self, name):
        return None

    def remove(self, name):
        self.ctr("task", "rm", "-f", name)
        return self.ctr("container", "rm", name)

    def pause(self, name):
        return self.ctr("task", "pause", name)

    def resume(self, name):
        return self.ctr("task", "resume", name)

    def top(self, name):
        return self.ctr("task", "ps", name)

    def top_shows(self, r, pid):
        return re.search(r"^%d\b" % pid, r.out, re.M) is not None

    def stats(self, name):
        return self.ctr("task", "metrics", name)

    def stats_ok(self, r):
        m = re.search(r"^pids\.current\s+(\d+)", r.out, re.M) or \
            re.search(r"^pids\.current\s+(\d+)", r.out, re.M)
        mem = re.search(r"^memory\.usage(_in_bytes)?\s+(\d+)", r.out, re.M)
        return bool(m and int(m.group(1)) > 0 and mem and int(mem.group(2)) > 0)

    def shutdown(self):
        out = []
        if self.daemon_pid is None:
            return out
        for name in list(self.tasks()):
            self.ctr("task", "kill", "-s", "SIGKILL", name)
            self.ctr("task", "rm", "-f", name)
        r = self.ctr("container", "ls", "-q")
        for name in r.out.split():
            self.ctr("container", "rm", name)
        self.stop_daemon(self.daemon_pid)
        self.log.close()
        return out


def _tail(path, n=30):
    try:
        with open(path) as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


ENGINES = {"containerd": Containerd, "podman": Podman, "docker": Docker}
