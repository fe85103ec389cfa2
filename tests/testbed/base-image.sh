#!/usr/bin/env bash
# Builds the Debian 12 base image every container of the test bed starts from: systemd as PID 1,
# python3 and python3-apt for Ansible, apt lists kept fresh so a converge need not update them, and the
# test bed's cache of the code Python compiles for Ansible's zipped modules.
# Built with debootstrap from the host's own Debian mirror and `docker import`ed (no registry is
# reachable); rebuilt only when this recipe or the mirror changes. Prints the image's tag.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"

suite=bookworm
include=systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,ca-certificates,sudo,procps,kmod
mirror=$(debian_mirror)
tag="awsome-ml-base:$( (cat "${BASH_SOURCE[0]}" "$here/zipimport_cache.py"; echo "$mirror") | sha256sum | cut -c1-12)"

if docker image inspect "$tag" >/dev/null 2>&1; then
  say "base image $tag cached"
  echo "$tag"
  exit 0
fi

work=$(mktemp -d "$AWSOME_CACHE/base-image.XXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
say "debootstrap $suite from $mirror into $rootfs (about a minute)"
debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }

# The same sources the host uses (main only; roles add contrib/non-free where they need them).
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror%/debian}/debian-security $suite-security main
SOURCES
chroot "$rootfs" apt-get update -q >/dev/null
chroot "$rootfs" apt-get clean
# Each Ansible task compiles the module_utils of its zipped module again (zipimport writes no bytecode):
# the test bed keeps the compiled code per node (tests/testbed/zipimport_cache.py, lib.sh).
install_zipimport_cache "$rootfs"
# A container's first boot must make its own machine-id; units a container cannot run are masked.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
for unit in getty@tty1.service systemd-remount-fs.service systemd-modules-load.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done

say "importing $tag"
tar -C "$rootfs" -c . | docker import -c 'CMD ["/sbin/init"]' -c 'ENV container=docker' - "$tag.raw" >/dev/null
# docker import refuses STOPSIGNAL; without it `docker stop` waits 10 s and kills systemd.
printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n' "$tag.raw" | docker build -q -t "$tag" - >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; die "docker build failed"; }
docker rmi "$tag.raw" >/dev/null
docker tag "$tag" awsome-ml-base:latest
say "built $tag"
echo "$tag"
