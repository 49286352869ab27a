#!/bin/sh
# Install what the engine battery needs (idempotent; CI calls it before run.sh).
# Debian 12 packages: containerd (+ ctr, containerd-shim-runc-v2), podman with conmon,
# docker.io (dockerd, docker), runc (the reference runtime), busybox-static and file
# (the rootfs, as scripts/busybox-bundle.sh builds it), python3 (the battery itself).
# --no-install-recommends keeps out cgroupfs-mount (it would mount cgroup hierarchies at
# boot) and needrestart. No daemon is started: the battery runs its own, in temp dirs.
set -eu
pkgs="containerd podman conmon docker.io runc busybox-static file python3"
need=""
for p in $pkgs; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
[ -z "$need" ] && exit 0
echo "engine-tests/setup.sh: installing$need"
# Keep the packages' maintainer scripts from starting containerd/docker on the host: the
# Debian way is a policy-rc.d that says no; add one only for this install if none exists.
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    added_policy=1
fi
cleanup() { [ -n "$added_policy" ] && rm -f "$policy"; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends $need >/dev/null; then
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends $need >/dev/null
fi
