#!/usr/bin/env bash
# Stand-in for AWS's EFA installer at its real URLs (reference/network.md section 1):
#   efa-installer.amazonaws.com/aws-efa-installer-<V>.tar.gz       top directory aws-efa-installer/
#   efa-installer.amazonaws.com/aws-efa-installer-<V>.tar.gz.sig   detached signature (mirror's key)
#   efa-installer.amazonaws.com/aws-efa-installer.key              the signing key (the mirror's)
# Its efa_installer.sh takes the real flags (-y -n -l -k -m -d -g --mpi= -u), installs .deb packages
# with the real names where the reference gives them (efa, efa-config, efa-profile, libfabric-aws,
# openmpi40-aws, openmpi50-aws; libnccl-ofi and the DEBIAN12/, UBUNTU2204/ layout are unconfirmed; the
# Ubuntu directory holds the Debian builds, for the test bed's Ubuntu-shaped node) into the real
# paths (/opt/amazon/efa, /opt/amazon/openmpi, /opt/amazon/openmpi5, /opt/amazon/ofi-nccl), and writes
# the real install record (/opt/amazon/efa_installed_packages). Nothing in it talks to a device.
#
# Also a tampered copy under testbed/tampered/ (other bytes, the genuine signature) for the negative
# test of the signature check.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"

version=1.42.0
libfabric=2.1.0amzn3.0
ofi=1.15.0
out=$MIRROR_ROOT/efa-installer.amazonaws.com
tampered=$MIRROR_ROOT/testbed/tampered/efa-installer.amazonaws.com
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
top=$work/aws-efa-installer
debs=$top/DEBIAN12/x86_64
mkdir -p "$out" "$tampered" "$debs"

postinst_ldconfig() { mkdir -p "$1/DEBIAN"; printf '#!/bin/sh\nset -e\nldconfig\n' >"$1/DEBIAN/postinst"; chmod 755 "$1/DEBIAN/postinst"; }

# libfabric with fi_info, which (like the real one) finds the efa provider only where an EFA device is
p=$(payload libfabric)
script "$p/opt/amazon/efa/bin/fi_info" "case \"\$*\" in
  *--version*) echo \"fi_info: $libfabric\"; echo \"libfabric: $libfabric\"; exit 0;;
esac
if ls /sys/class/infiniband 2>/dev/null | grep -q efa; then
  printf 'provider: efa\n    fabric: efa\n    domain: rdmap0s0-rdm\n    version: 122.0\n    type: FI_EP_RDM\n    protocol: FI_PROTO_EFA\n'
else
  echo 'fi_getinfo: -61 (No data available)' >&2; exit 61
fi"
shared_lib "$p/opt/amazon/efa/lib/libfabric.so.1" libfabric.so.1
mkdir -p "$p/opt/amazon/efa/include/rdma"
echo "/* test bed stand-in for libfabric's rdma/fabric.h ($libfabric) */" >"$p/opt/amazon/efa/include/rdma/fabric.h"
make_deb "$debs" libfabric-aws "$libfabric-1" amd64 "" "$p"

p=$(payload profile)
mkdir -p "$p/etc/ld.so.conf.d" "$p/etc/profile.d"
echo /opt/amazon/efa/lib >"$p/etc/ld.so.conf.d/efa.conf"
echo 'PATH="$PATH:/opt/amazon/efa/bin"' >"$p/etc/profile.d/efa.sh"
postinst_ldconfig "$p"
make_deb "$debs" efa-profile 1.7-1 all "" "$p"

p=$(payload config)
mkdir -p "$p/etc/security/limits.d"
printf '* hard memlock unlimited\n* soft memlock unlimited\n' >"$p/etc/security/limits.d/01_efa.conf"
make_deb "$debs" efa-config 1.18-1 all "" "$p"

# the kernel module (DKMS) is what --skip-kmod leaves out; the stand-in's source builds nothing
p=$(payload kmod)
mkdir -p "$p/usr/src/efa-2.15.3"
echo 'PACKAGE_NAME="efa"' >"$p/usr/src/efa-2.15.3/dkms.conf"
make_deb "$debs" efa 2.15.3-1 amd64 "" "$p"

mpi() {
  local name=$1 version=$2 prefix=$3
  p=$(payload "$name")
  script "$p$prefix/bin/mpirun" "case \"\$1\" in --version|-V) echo \"mpirun (Open MPI) $version\"; exit 0;; esac
echo 'mpirun: test bed stand-in, launches nothing' >&2; exit 1"
  mkdir -p "$p$prefix/include"
  echo "/* test bed stand-in for Open MPI $version's mpi.h */" >"$p$prefix/include/mpi.h"
  shared_lib "$p$prefix/lib/libmpi.so.40" libmpi.so.40
  make_deb "$debs" "$name" "$version-1" amd64 "" "$p"
}
mpi openmpi40-aws 4.1.7 /opt/amazon/openmpi
mpi openmpi50-aws 5.0.6 /opt/amazon/openmpi5

# aws-ofi-nccl (before 1.17 the Debian package keeps the library under lib/<triplet>/)
p=$(payload ofi)
lib=/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu
shared_lib "$p$lib/libnccl-net-ofi.so" libnccl-net-ofi.so
ln -s libnccl-net-ofi.so "$p$lib/libnccl-net.so"
mkdir -p "$p/etc/ld.so.conf.d"
echo "$lib" >"$p/etc/ld.so.conf.d/100_ofinccl.conf"
postinst_ldconfig "$p"
make_deb "$debs" libnccl-ofi "$ofi-1" amd64 "libfabric-aws" "$p"

# The same packages as Amazon Linux 2023's RPMs (ALINUX2023/x86_64/, unconfirmed as the debs' layout
# is), with the RPM library directory: /opt/amazon/efa/lib64 and /opt/amazon/ofi-nccl/lib64 (the
# plugin's RPM path is unconfirmed, reference/network.md section 1).
rpms=$top/ALINUX2023/x86_64
mkdir -p "$rpms"
# rpm_payload NAME: the deb payload NAME without its DEBIAN/, its libraries moved to lib64
rpm_payload() {
  local r=$work/r/$1 f
  rm -rf "$r"; mkdir -p "$r"
  cp -a "$work/p/$1/." "$r/"
  rm -rf "$r/DEBIAN"
  [ ! -d "$r/opt/amazon/efa/lib" ] || mv "$r/opt/amazon/efa/lib" "$r/opt/amazon/efa/lib64"
  if [ -d "$r/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu" ]; then
    mv "$r/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu" "$r/opt/amazon/ofi-nccl/lib64"
    rmdir "$r/opt/amazon/ofi-nccl/lib"
  fi
  for f in "$r"/etc/ld.so.conf.d/*; do
    [ -e "$f" ] && sed -i -e 's|/opt/amazon/efa/lib$|/opt/amazon/efa/lib64|' \
      -e 's|/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu$|/opt/amazon/ofi-nccl/lib64|' "$f"
  done
  echo "$r"
}
make_rpm "$rpms" libfabric-aws "$libfabric-1.amzn2023" x86_64 "" "$(rpm_payload libfabric)"
RPM_POST=/sbin/ldconfig make_rpm "$rpms" efa-profile 1.7-1.amzn2023 noarch "" "$(rpm_payload profile)"
make_rpm "$rpms" efa-config 1.18-1.amzn2023 noarch "" "$(rpm_payload config)"
make_rpm "$rpms" efa 2.15.3-1.amzn2023 x86_64 "" "$(rpm_payload kmod)"
make_rpm "$rpms" openmpi40-aws 4.1.7-1 x86_64 "" "$(rpm_payload openmpi40-aws)"
make_rpm "$rpms" openmpi50-aws 5.0.6-1 x86_64 "" "$(rpm_payload openmpi50-aws)"
RPM_POST=/sbin/ldconfig make_rpm "$rpms" libnccl-ofi "$ofi-1.amzn2023" x86_64 "libfabric-aws" "$(rpm_payload ofi)"

cat >"$top/efa_installer.sh" <<SH
#!/bin/bash
# Test bed stand-in for efa_installer.sh $version: the real flags, packages from DEBIAN12/x86_64/ or
# UBUNTU2204/x86_64/ (dpkg) or ALINUX2023/x86_64/ (dnf, with what they need from the OS's repositories).
set -euo pipefail
cd "\$(dirname "\$0")"
INSTALLER_VERSION=$version
SH
cat >>"$top/efa_installer.sh" <<'SH'
yes=0 no_verify=0 skip_limit=0 skip_kmod=0 minimal=0 debug=0 uninstall=0 mpi="openmpi4,openmpi5"
usage() { echo "Usage: efa_installer.sh [-y] [-n] [-l] [-k] [-m] [-d] [-g] [--mpi=openmpi4|openmpi5] [-u]"; }
for arg in "$@"; do
  case "$arg" in
    -y|--yes) yes=1 ;;
    -n|--no-verify) no_verify=1 ;;
    -l|--skip-limit-conf) skip_limit=1 ;;
    -k|--skip-kmod) skip_kmod=1 ;;
    -m|--minimal) minimal=1 ;;
    -d|--debug-packages) debug=1 ;;
    -g|--enable-gdr) ;;  # a no-op since 1.14.0
    --mpi=openmpi4|--mpi=openmpi5) mpi=${arg#--mpi=} ;;
    -u|--uninstall) uninstall=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "Error: unknown option $arg" >&2; usage >&2; exit 1 ;;
  esac
done
record=/opt/amazon/efa_installed_packages
[ "$(id -u)" = 0 ] || { echo "Error: run efa_installer.sh as root" >&2; exit 1; }
if [ "$yes" = 0 ]; then
  [ -t 0 ] || { echo "Error: interactive install without a terminal; use -y" >&2; exit 1; }
fi
. /etc/os-release
case "$ID$VERSION_ID" in
  debian12) format=deb dir=DEBIAN12/x86_64 ;;
  ubuntu22.04) format=deb dir=UBUNTU2204/x86_64 ;;
  amzn2023) format=rpm dir=ALINUX2023/x86_64 ;;
  *) echo "Error: $PRETTY_NAME is not supported by this stand-in" >&2; exit 1 ;;
esac
if [ "$uninstall" = 1 ]; then
  [ -f "$record" ] || { echo "EFA is not installed" >&2; exit 1; }
  if [ "$format" = deb ]; then
    mapfile -t installed < <(grep -v '^#' "$record" | cut -d_ -f1)
    dpkg -r "${installed[@]}" >/dev/null
  else
    mapfile -t installed < <(grep -v '^#' "$record" | sed 's/-[^-]*-[^-]*$//')
    rpm -e "${installed[@]}" >/dev/null
  fi
  rm -f "$record"
  echo "Uninstalled EFA packages."
  exit 0
fi
packages=(efa-profile libfabric-aws)
[ "$skip_limit" = 1 ] || packages+=(efa-config)
[ "$skip_kmod" = 1 ] || packages+=(efa)
if [ "$minimal" = 0 ]; then
  case "$mpi" in *openmpi4*) packages+=(openmpi40-aws) ;; esac
  case "$mpi" in *openmpi5*) packages+=(openmpi50-aws) ;; esac
  packages+=(libnccl-ofi)
fi
files=()
if [ "$format" = deb ]; then
  for p in "${packages[@]}"; do files+=("$dir/$p"_*.deb); done
else
  for p in "${packages[@]}"; do files+=("$(ls "$dir/$p"-[0-9]*.rpm)"); done
fi
echo "== Installing EFA $INSTALLER_VERSION packages: ${packages[*]}"
if [ "$format" = deb ]; then
  DEBIAN_FRONTEND=noninteractive dpkg -i "${files[@]}" >/dev/null
else
  dnf install -y -q "${files[@]/#/./}" >/dev/null
fi
mkdir -p /opt/amazon
{
  echo "# EFA installer version: $INSTALLER_VERSION"
  echo "# Debug packages installed: $([ "$debug" = 1 ] && echo yes || echo no)"
  echo "# Packages installed:"
  for f in "${files[@]}"; do basename "$f" ".$format"; done
} >"$record"
if [ "$no_verify" = 0 ]; then
  /opt/amazon/efa/bin/fi_info -p efa >/dev/null 2>&1 \
    || { echo "Error: EFA device not detected (fi_info -p efa); use -n to skip the check" >&2; exit 1; }
fi
echo "===================================================="
echo "EFA installation complete."
SH
chmod 755 "$top/efa_installer.sh"

mkdir -p "$top/UBUNTU2204"
cp -a "$debs" "$top/UBUNTU2204/"
tarball=aws-efa-installer-$version.tar.gz
tar -C "$work" --owner=0 --group=0 -czf "$out/$tarball" aws-efa-installer
gpg --batch --yes --detach-sign -o "$out/$tarball.sig" "$out/$tarball"
cp "$MIRROR_ROOT/testbed/keys/mirror.asc" "$out/aws-efa-installer.key"

# the tampered copy: one more file in it, signed by nobody
echo 'echo tampered' >"$top/extra.sh"
tar -C "$work" --owner=0 --group=0 -czf "$tampered/$tarball" aws-efa-installer
cp "$out/$tarball.sig" "$tampered/$tarball.sig"
cp "$out/aws-efa-installer.key" "$tampered/aws-efa-installer.key"
