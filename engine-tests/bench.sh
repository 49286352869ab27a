#!/bin/sh
# Timing: median of 20 `ctr run --rm` and `podman run --rm` of busybox true per runtime,
# the runtimes taking turns in the same run. Usage:
#   engine-tests/bench.sh --runtime PATH [--runtime PATH2 ...] [--engine containerd|podman|docker|all]... [-n 20]
exec python3 "$(dirname "$0")/lib/bench.py" "$@"
