"""The three engines, each started on its own (config, root, state, socket in a temp dir)
and driven through its own command line. Every engine offers the same methods, so one
check runs against all of them."""

from engine_base import MiB  # noqa: F401  (checks use it)
from containerd import Containerd
from docker_like import Podman, Docker

ENGINES = {"containerd": Containerd, "podman": Podman, "docker": Docker}
