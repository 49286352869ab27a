#!/bin/sh
# Prepare an OCI bundle at $1 whose rootfs is the distribution's static busybox.
# Installs busybox-static if it is missing. The config is what `coracle spec` writes.
set -eu
bundle=${1:?usage: busybox-bundle.sh DIR [COMMAND...]}
shift
if ! [ -x /bin/busybox ] || ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null
fi
rm -rf "$bundle"
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/etc" "$bundle/rootfs/root" "$bundle/rootfs/tmp"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$bundle/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$bundle/rootfs/etc/passwd"
printf 'root:x:0:\n' > "$bundle/rootfs/etc/group"
