#!/usr/bin/env bash
# Builds the bootable Debian 12 disk the VM tier boots, and the qemu Packer source builds on: Debian's
# kernel and its matching headers, systemd, openssh-server, python3, dkms and a compiler with the C
# library's headers (GDRCopy's library), zstd (initramfs-tools' default compression); root reachable
# with the test bed's SSH key; MODULES=dep for initramfs-tools (an in-VM rebuild takes ~80 s instead of
# ~12 min under emulation); the fixture PCI tree of a g5.48xlarge under /srv/fixture/sys; a cache of the
# code Python compiles for Ansible's zipped modules (tests/testbed/zipimport_cache.py).
# Built natively with debootstrap from the host's Debian mirror (never under emulation), cached by
# this recipe's hash in $AWSOME_CACHE/vm/<hash>/: disk.qcow2 (and its .sha256), vmlinuz, initrd.img,
# id_ed25519, and the disk's own SSH host key (ssh_host_ed25519_key.pub: what a build VM presents).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"

suite=bookworm
include=systemd,systemd-sysv,dbus,linux-image-amd64,linux-headers-amd64,initramfs-tools,openssh-server,python3,python3-apt,sudo,ca-certificates,dkms,gcc,libc6-dev,make,kmod,procps,iproute2,gnupg,zstd
mirror=$(debian_mirror)
fixture=$here/../fixtures/sysfs.py
hash=$( (cat "${BASH_SOURCE[0]}" "$fixture" "$here/zipimport_cache.py"; echo "$mirror") | sha256sum | cut -c1-12)
out=$AWSOME_CACHE/vm/$hash

if [ -s "$out/disk.qcow2" ] && [ -s "$out/vmlinuz" ]; then
  say "VM disk $out cached"
  echo "$out"
  exit 0
fi
command -v qemu-img >/dev/null || die "qemu-utils is missing (tests/testbed/bootstrap.sh host installs it)"
work=$(mktemp -d "$AWSOME_CACHE/vm-image.XXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
say "debootstrap $suite with a kernel from $mirror (about two minutes)"
debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }

echo "/dev/vda / ext4 defaults 0 1" >"$rootfs/etc/fstab"
echo awsome-vm >"$rootfs/etc/hostname"
sed -i 's/^MODULES=.*/MODULES=dep/' "$rootfs/etc/initramfs-tools/initramfs.conf"
mkdir -p "$rootfs/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n' >"$rootfs/etc/systemd/network/20-wired.network"
ln -sf /lib/systemd/system/systemd-networkd.service "$rootfs/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
ln -sf /dev/null "$rootfs/etc/systemd/system/systemd-networkd-wait-online.service"

ssh-keygen -q -t ed25519 -N '' -C awsome-testbed -f "$work/id_ed25519"
install -d -m 700 "$rootfs/root/.ssh"
install -m 600 "$work/id_ed25519.pub" "$rootfs/root/.ssh/authorized_keys"
# The key a cloud gives an instance at boot (cloud-init writes it from the instance metadata): an image
# build removes the build user's authorized_keys, and a VM booted from the image is reached with this one.
install -d -m 755 "$rootfs/etc/ssh/authorized_keys.d"
install -m 644 "$work/id_ed25519.pub" "$rootfs/etc/ssh/authorized_keys.d/root"
echo "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys.d/%u" >"$rootfs/etc/ssh/sshd_config.d/testbed.conf"
# The guest reads only the local mirror's repositories, which the roles configure: every package the
# kernel path needs is on the disk, and apt opens a few hundred packages instead of Debian's 63,000
# (about 8 s less per apt task under emulation: 16.7 -> 8.9 s measured).
rm -f "$rootfs/etc/apt/sources.list"
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/*
# Ansible's modules arrive as zips, whose module_utils Python compiles again on every task (zipimport
# writes no bytecode): under emulation a third of each task's CPU. A .pth hook keeps the compiled code
# by the source's hash (tests/testbed/zipimport_cache.py, lib.sh); on the test bed's disk only, as a
# faster CPU would be, so the images built on it carry it too.
install_zipimport_cache "$rootfs"
# The fixture hardware of a g5.48xlarge (8 A10G, no NVSwitch): the roles read it through
# versions_sysfs_root=/srv/fixture/sys.
python3 "$fixture" g5.48xlarge "$rootfs/srv/fixture/sys"
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"

mkdir -p "$out.tmp"
cp -L "$rootfs/vmlinuz" "$out.tmp/vmlinuz"
cp -L "$rootfs/initrd.img" "$out.tmp/initrd.img"
cp "$work/id_ed25519" "$work/id_ed25519.pub" "$rootfs/etc/ssh/ssh_host_ed25519_key.pub" "$out.tmp/"
say "making the disk image"
truncate -s 6G "$work/disk.raw"
mkfs.ext4 -q -F -d "$rootfs" "$work/disk.raw"
qemu-img convert -O qcow2 "$work/disk.raw" "$out.tmp/disk.qcow2"
(cd "$out.tmp" && sha256sum disk.qcow2 >disk.qcow2.sha256)
rm -rf "$out"
mv "$out.tmp" "$out"
say "built the VM disk $out"
echo "$out"
