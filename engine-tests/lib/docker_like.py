"""podman and docker: one command line (docker's), two ways of starting."""

import json
import os
import subprocess

from common import Result, sh, wait_until
from engine_base import Engine, _tail


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
