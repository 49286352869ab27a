"""containerd 1.6 through ctr: its own daemon with config, root, state and socket in the
temp dir; containers with --rootfs (or --config for what ctr has no flag for)."""

import json
import os
import re
import subprocess
import time

from common import Result, sh, wait_until
from engine_base import Engine, _tail


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
