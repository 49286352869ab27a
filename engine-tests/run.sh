#!/bin/sh
# The engine battery: containerd (ctr), podman and docker on the runtime given with
# --runtime. Usage: engine-tests/run.sh --runtime PATH [--engine containerd|podman|docker|all]...
#                   [--filter REGEX] [--expect-fail FILE] [--calls FILE] [--keep]
# Needs root and what engine-tests/setup.sh installs.
exec python3 "$(dirname "$0")/lib/battery.py" "$@"
