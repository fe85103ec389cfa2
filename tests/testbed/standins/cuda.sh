#!/usr/bin/env bash
# Stand-in for NVIDIA's CUDA network repository for Debian 12 on x86_64, at its real path under the
# mirror: developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/ (and, the same packages,
# at ubuntu2204/x86_64/ for the test bed's Ubuntu-shaped node), with the signing key at
# its real file name (3bf863cc.pub, here the test bed's key) and Release labelled "NVIDIA CUDA".
#
# Package names, versions and dependency shapes follow the real repository (reference/nvidia.md §3,
# §5, §6): two driver branches, so that a role which did not pin exactly would get the newer one, and
# one release that is not NVIDIA's (580.999.01) whose kernel modules do not compile, as a driver that
# predates a kernel API change does not: the VM tier's DKMS-failure test installs it.
# Binaries are small scripts that answer the flags the roles and tests use; the kernel modules are
# tiny real ones that DKMS builds in a VM.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"

repo=$MIRROR_ROOT/developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64
rm -rf "$repo"
mkdir -p "$repo"
cp "$MIRROR_ROOT/testbed/keys/mirror.asc" "$repo/3bf863cc.pub"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# dkms_source PAYLOAD VERSION LICENSE NAME [broken]: a DKMS source tree at NVIDIA's path
# (/usr/src/nvidia-<v>) whose two modules (nvidia, nvidia-uvm) really build for the running kernel and load; the license
# string tells the flavours apart as modinfo does. Its postinst is what dh_dkms generates: the dkms
# package's common.postinst, where dkms is installed (a VM; containers have none).
dkms_source() {
  local p=$1 v=$2 license=$3 name=$4 broken=${5:-} src mod body="return 0;"
  # gcc's own words, as make.log shows them for a real build against a kernel that moved on
  [ -z "$broken" ] || body="return NV_KERNEL_API_REMOVED_IN_THIS_KERNEL;"
  src=$p/usr/src/nvidia-$v
  mkdir -p "$src" "$p/DEBIAN"
  cat >"$src/dkms.conf" <<CONF
PACKAGE_NAME="nvidia"
PACKAGE_VERSION="$v"
AUTOINSTALL="yes"
MAKE[0]="make -C \${kernel_source_dir} M=\${dkms_tree}/nvidia/$v/build modules"
CLEAN="make -C \${kernel_source_dir} M=\${dkms_tree}/nvidia/$v/build clean"
BUILT_MODULE_NAME[0]="nvidia"
DEST_MODULE_LOCATION[0]="/updates/dkms"
BUILT_MODULE_NAME[1]="nvidia-uvm"
DEST_MODULE_LOCATION[1]="/updates/dkms"
CONF
  echo 'obj-m := nvidia.o nvidia-uvm.o' >"$src/Kbuild"
  # the header GDRCopy's gdrdrv builds against (NVIDIA_SRC_DIR=/usr/src/nvidia-<v>/nvidia)
  mkdir -p "$src/nvidia" && echo "/* test bed stand-in for nv-p2p.h ($v) */" >"$src/nvidia/nv-p2p.h"
  for mod in nvidia nvidia-uvm; do
    cat >"$src/$mod.c" <<C
#include <linux/module.h>
#include <linux/init.h>
MODULE_LICENSE("$license");
MODULE_VERSION("$v");
MODULE_DESCRIPTION("test bed stand-in for $mod $v");
static int __init standin_init(void) { pr_info("NVRM: loading $name for x86_64 $v ($mod, test bed stand-in)\\n"); $body }
static void __exit standin_exit(void) { }
module_init(standin_init);
module_exit(standin_exit);
C
  done
  printf '#!/bin/sh\nset -e\nif [ -x /usr/lib/dkms/common.postinst ]; then\n  /usr/lib/dkms/common.postinst nvidia %s "" "" "$2"\nfi\n' "$v" >"$p/DEBIAN/postinst"
  printf '#!/bin/sh\nset -e\nif command -v dkms >/dev/null; then\n  dkms remove -m nvidia -v %s --all >/dev/null 2>&1 || true\nfi\n' "$v" >"$p/DEBIAN/prerm"
  chmod 755 "$p/DEBIAN/postinst" "$p/DEBIAN/prerm"
}

# branch_deb OLD OUTDIR NAME ...: make_deb, where a package of the 590 naming (nvidia-driver-open)
# takes over from its branch-suffixed predecessor OLD (nvidia-driver-580-open), as renamed packages do.
branch_deb() {
  local old=$1
  shift
  if [ -n "$old" ]; then
    CONTROL="Conflicts: $old"$'\n'"Replaces: $old" make_deb "$@"
  else
    make_deb "$@"
  fi
}

driver_branch() {
  local v=$1 rev=$2 broken=${3:-} branch=${1%%.*} sfx open_driver dkms common compute
  local old=""  # the predecessor's suffix, for packages of the unsuffixed naming
  if [ "$branch" -le 580 ]; then sfx="-$branch"; else sfx=""; old="-580"; fi
  open_driver="nvidia-driver$sfx-open"; dkms="nvidia-dkms$sfx-open"; common="nvidia-kernel-common$sfx"
  compute="libnvidia-compute$sfx"

  local p
  # apt ignores preferences.d files whose name has an extension other than .pref ("580.126.20" would
  # read as extension ".20"); the real file name is unconfirmed.
  p=$(payload "pin-$v")
  mkdir -p "$p/etc/apt/preferences.d"
  printf 'Package: *nvidia* cuda-drivers* libnvidia*\nPin: version %s-*\nPin-Priority: 1000\n' "$v" \
    >"$p/etc/apt/preferences.d/nvidia-driver-pinning-$v.pref"
  make_deb "$repo" "nvidia-driver-pinning-$v" "$v-1" all "" "$p"

  make_deb "$repo" nvidia-open "$v-$rev" amd64 "$open_driver (= $v-$rev)"
  branch_deb "${old:+nvidia-driver$old-open}" "$repo" "$open_driver" "$v-$rev" amd64 "$dkms (= $v-$rev), $common (= $v-$rev), $compute (= $v-$rev), nvidia-persistenced (= $v-$rev)"
  p=$(payload "dkms-$v")
  dkms_source "$p" "$v" "Dual MIT/GPL" "NVIDIA UNIX Open Kernel Module" "$broken"
  # One DKMS driver at a time, whatever its branch or flavour (Ubuntu's nvidia-dkms-kernel idiom).
  CONTROL=$'Provides: nvidia-dkms-kernel\nConflicts: nvidia-dkms-kernel' make_deb "$repo" "$dkms" "$v-$rev" amd64 "" "$p"
  branch_deb "${old:+nvidia-kernel-common$old}" "$repo" "$common" "$v-$rev" all ""
  p=$(payload "compute-$v")
  mkdir -p "$p/usr/lib/x86_64-linux-gnu"
  : >"$p/usr/lib/x86_64-linux-gnu/libcuda.so.$v"
  branch_deb "${old:+libnvidia-compute$old}" "$repo" "$compute" "$v-$rev" amd64 "" "$p"

  # proprietary flavour
  local prop_driver="nvidia-driver$sfx" prop_dkms="nvidia-dkms$sfx"
  make_deb "$repo" cuda-drivers "$v-$rev" amd64 "$prop_driver (= $v-$rev)"
  branch_deb "${old:+nvidia-driver$old}" "$repo" "$prop_driver" "$v-$rev" amd64 "$prop_dkms (= $v-$rev), $common (= $v-$rev), $compute (= $v-$rev), nvidia-persistenced (= $v-$rev)"
  p=$(payload "prop-dkms-$v")
  dkms_source "$p" "$v" "NVIDIA" "NVIDIA UNIX Kernel Module" "$broken"
  CONTROL=$'Provides: nvidia-dkms-kernel\nConflicts: nvidia-dkms-kernel' make_deb "$repo" "$prop_dkms" "$v-$rev" amd64 "" "$p"

  p=$(payload "persistenced-$v")
  # like the real daemons, these run only where the driver is loaded
  script "$p/usr/bin/nvidia-persistenced" '[ -d /sys/module/nvidia ] || { echo "nvidia-persistenced: Failed to query NVIDIA devices: the driver is not loaded" >&2; exit 1; }; exec sleep infinity'
  unit "$p/usr/lib/systemd/system/nvidia-persistenced.service" "NVIDIA Persistence Daemon" \
    "/usr/bin/nvidia-persistenced --user root --persistence-mode --verbose"
  make_deb "$repo" nvidia-persistenced "$v-$rev" amd64 "" "$p"

  # fabric manager and NSCQ: unsuffixed names from 580 on, at the driver's version
  local fm="nvidia-fabricmanager" nscq="libnvidia-nscq"
  [ "$branch" -ge 580 ] || { fm="nvidia-fabricmanager-$branch"; nscq="libnvidia-nscq-$branch"; }
  p=$(payload "fm-$v")
  script "$p/usr/bin/nv-fabricmanager" "echo \"Fabric Manager version is : $v\"; [ -d /sys/module/nvidia ] || exit 1; exec sleep infinity"
  unit "$p/usr/lib/systemd/system/nvidia-fabricmanager.service" "NVIDIA fabric manager service" \
    "/usr/bin/nv-fabricmanager -c /usr/share/nvidia/nvswitch/fabricmanager.cfg"
  mkdir -p "$p/usr/share/nvidia/nvswitch"
  printf 'LOG_LEVEL=4\nFABRIC_MODE=0\n' >"$p/usr/share/nvidia/nvswitch/fabricmanager.cfg"
  make_deb "$repo" "$fm" "$v-1" amd64 "" "$p"
  make_deb "$repo" "$nscq" "$v-1" amd64 ""

  # IMEX (multi-node NVLink), at the driver's version: its daemon, CLI, unit and the two config files
  local imex="nvidia-imex"
  [ "$branch" -ge 580 ] || imex="nvidia-imex-$branch"
  p=$(payload "imex-$v")
  script "$p/usr/bin/nvidia-imex" "[ -d /sys/module/nvidia ] || { echo 'nvidia-imex: the driver is not loaded' >&2; exit 1; }; exec sleep infinity"
  script "$p/usr/bin/nvidia-imex-ctl" "echo 'IMEX version is: $v'"
  unit "$p/usr/lib/systemd/system/nvidia-imex.service" "NVIDIA IMEX service" \
    "/usr/bin/nvidia-imex -c /etc/nvidia-imex/config.cfg"
  mkdir -p "$p/etc/nvidia-imex"
  printf 'IMEX_NODE_CONFIG_FILE=/etc/nvidia-imex/nodes_config.cfg\nSERVER_PORT=50000\n' >"$p/etc/nvidia-imex/config.cfg"
  printf '# one IP address per line, the same list on every node of the NVLink domain\n' \
    >"$p/etc/nvidia-imex/nodes_config.cfg"
  mkdir -p "$p/DEBIAN"
  printf '/etc/nvidia-imex/config.cfg\n/etc/nvidia-imex/nodes_config.cfg\n' >"$p/DEBIAN/conffiles"
  make_deb "$repo" "$imex" "$v-1" amd64 "" "$p"

  # NVLink 5 (HGX B200/B300): the nvlink5-<branch> meta at the driver's version pulls fabric manager,
  # the NVLink subnet manager (its own release line) and NVSDM, with Debian's libibumad3 and
  # infiniband-diags (reference/nvidia.md section 5; the meta's exact dependencies are unconfirmed)
  if [ "$branch" -ge 580 ]; then
    make_deb "$repo" libnvsdm "$v-1" amd64 ""
    p=$(payload "nvlsm-$v")
    script "$p/opt/nvidia/nvlsm/sbin/nvlsm" "echo 'nvlsm: test bed stand-in' >&2; exit 1"
    make_deb "$repo" nvlsm "2025.10.4-1" amd64 "libibumad3" "$p"
    make_deb "$repo" "nvlink5-$branch" "$v-1" amd64 \
      "$fm (= $v-1), libnvsdm (= $v-1), nvlsm, libibumad3, infiniband-diags"
  fi
}

toolkit() {
  local version=$1 nvcc_version=$2 mm=${1%.*} dashed p
  dashed=${mm/./-}
  p=$(payload "cuda-$version")
  script "$p/usr/local/cuda-$mm/bin/nvcc" "case \"\$1\" in --version|-V) printf 'nvcc: NVIDIA (R) Cuda compiler driver\\nCuda compilation tools, release $mm, V$nvcc_version\\n';; *) echo 'nvcc: stand-in, compiles nothing' >&2; exit 1;; esac"
  printf '{"cuda": {"name": "CUDA SDK", "version": "%s"}}\n' "$version" >"$p/usr/local/cuda-$mm/version.json"
  mkdir -p "$p/usr/local/cuda-$mm/include"
  printf '/* test bed stand-in for cuda.h */\n#define CUDA_VERSION %s\n' "${mm/./}0" >"$p/usr/local/cuda-$mm/include/cuda.h"
  mkdir -p "$p/DEBIAN"
  # As NVIDIA's config packages do: register the toolkit as an alternative, priority rising with version.
  local prio=${mm/./}
  cat >"$p/DEBIAN/postinst" <<POSTINST
#!/bin/sh
set -e
update-alternatives --install /usr/local/cuda cuda /usr/local/cuda-$mm $prio
update-alternatives --install /usr/local/cuda-${mm%%.*} cuda-${mm%%.*} /usr/local/cuda-$mm $prio
POSTINST
  cat >"$p/DEBIAN/prerm" <<PRERM
#!/bin/sh
set -e
[ "\$1" = remove ] || exit 0
update-alternatives --remove cuda /usr/local/cuda-$mm
update-alternatives --remove cuda-${mm%%.*} /usr/local/cuda-$mm
PRERM
  chmod 755 "$p/DEBIAN/postinst" "$p/DEBIAN/prerm"
  make_deb "$repo" "cuda-toolkit-$dashed" "$version-1" amd64 "" "$p"
  # cuda-compat exists in the repository and must stay off hosts
  make_deb "$repo" "cuda-compat-$dashed" "$version-1" amd64 ""
}

# NVIDIA Container Toolkit, also published in the CUDA repositories: four packages at one version.
container_toolkit() {
  local v=$1 p
  make_deb "$repo" libnvidia-container1 "$v" amd64 ""
  make_deb "$repo" libnvidia-container-tools "$v" amd64 "libnvidia-container1 (= $v)"
  p=$(payload "ctk-base-$v")
  script "$p/usr/bin/nvidia-container-runtime" 'echo "nvidia-container-runtime: stand-in, runs no container" >&2; exit 1'
  script "$p/usr/bin/nvidia-ctk" "echo \"NVIDIA Container Toolkit CLI version ${v%-*}\""
  make_deb "$repo" nvidia-container-toolkit-base "$v" amd64 "" "$p"
  make_deb "$repo" nvidia-container-toolkit "$v" amd64 \
    "nvidia-container-toolkit-base (= $v), libnvidia-container-tools (= $v), libnvidia-container1 (= $v)"
}

# DCGM 4: the core package and one per CUDA major of the driver, at an epoch-1 version.
dcgm() {
  local v=$1 p
  p=$(payload "dcgm-$v")
  script "$p/usr/bin/nv-hostengine" 'echo "nv-hostengine: stand-in, no GPU to manage" >&2; exit 1'
  unit "$p/usr/lib/systemd/system/nvidia-dcgm.service" "NVIDIA DCGM service" "/usr/bin/nv-hostengine -n --service-account nvidia-dcgm"
  make_deb "$repo" datacenter-gpu-manager-4-core "$v" amd64 "" "$p"
  make_deb "$repo" datacenter-gpu-manager-4-cuda12 "$v" amd64 "datacenter-gpu-manager-4-core (= $v)"
  make_deb "$repo" datacenter-gpu-manager-4-cuda13 "$v" amd64 "datacenter-gpu-manager-4-core (= $v)"
}

# shared_lib PATH SONAME: a real (empty) ELF library, so that ldconfig indexes it as it does NVIDIA's
# NCCL: libnccl2 and libnccl-dev at <version>+cuda<X.Y> (reference/network.md section 3); -dev needs
# exactly its libnccl2, and nccl.h carries the version macros that builds (nccl-tests) read.
nccl() {
  local v=$1 cuda=$2 full="$1+cuda$2" release=${1%-*} major minor patch p lib=usr/lib/x86_64-linux-gnu
  IFS=. read -r major minor patch <<<"$release"
  p=$(payload "nccl-$full")
  shared_lib "$p/$lib/libnccl.so.$release" libnccl.so.2
  ln -s "libnccl.so.$release" "$p/$lib/libnccl.so.2"
  # as every Debian shared-library package does: dpkg's ldconfig trigger
  mkdir -p "$p/DEBIAN" && echo 'activate-noawait ldconfig' >"$p/DEBIAN/triggers"
  make_deb "$repo" libnccl2 "$full" amd64 "" "$p"
  p=$(payload "nccl-dev-$full")
  mkdir -p "$p/usr/include" "$p/$lib"
  printf '/* test bed stand-in for nccl.h %s */\n#define NCCL_MAJOR %s\n#define NCCL_MINOR %s\n#define NCCL_PATCH %s\n#define NCCL_SUFFIX ""\n#define NCCL_VERSION_CODE %s\n' \
    "$full" "$major" "$minor" "$patch" "$((major * 10000 + minor * 100 + patch))" >"$p/usr/include/nccl.h"
  ln -s libnccl.so.2 "$p/$lib/libnccl.so"
  make_deb "$repo" libnccl-dev "$full" amd64 "libnccl2 (= $full)" "$p"
}

driver_branch 580.126.20 1
driver_branch 590.48.01 1
driver_branch 580.999.01 1 broken
toolkit 12.8.1 12.8.93
toolkit 13.0.2 13.0.88
toolkit 12.6.3 12.6.85
container_toolkit 1.20.0-1
container_toolkit 1.20.1-1
dcgm 1:4.5.3-1
dcgm 1:4.6.0-1
# the pinned build, and newer ones that an unpinned install would take instead
nccl 2.27.7-1 12.9
nccl 2.28.9-1 12.9
nccl 2.28.9-1 13.0

flat_repo "$repo" "NVIDIA" "NVIDIA CUDA"
ubuntu=$repo/../../ubuntu2204
mkdir -p "$ubuntu"
ln -sfn ../debian12/x86_64 "$ubuntu/x86_64"
