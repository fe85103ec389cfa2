#!/usr/bin/env bash
# Stand-in for NVIDIA's CUDA network repository for Amazon Linux 2023 on x86_64, at its real path under
# the mirror: developer.download.nvidia.com/compute/cuda/repos/amzn2023/x86_64/, a dnf repository
# (repodata/) whose RPMs are signed with the test bed's key, published at the real key's file name
# (D42D0685.pub). No module streams: Amazon Linux has none (RHEL 9's repository has them; the role
# installs with module_hotfixes so that exact versions resolve on both).
#
# Besides the driver: CUDA toolkits, the NVIDIA Container Toolkit, DCGM 4 and NCCL, with the RPM names
# and versions of the Debian stand-ins' packages (tests/testbed/standins/cuda.sh).
# Names, epochs and release tags follow reference/nvidia.md section 3.2: the driver's packages at
# 3:<version>-1.amzn2023, fabric manager, NSCQ and IMEX at <version>-1 without epoch or dist tag; two
# branches, so that an install that did not pin exactly would get the newer one. Dependencies are
# exact within a release, as NVIDIA's are. The DKMS packages carry the source tree's dkms.conf and no
# dependency on dkms (as the Debian stand-ins): this repository serves containers, which build nothing.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"

repo=$MIRROR_ROOT/developer.download.nvidia.com/compute/cuda/repos/amzn2023/x86_64
rm -rf "$repo"
mkdir -p "$repo"
cp "$MIRROR_ROOT/testbed/keys/mirror.asc" "$repo/D42D0685.pub"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

driver_branch() {
  local v=$1 branch=${1%%.*} evr p flavour kmod
  evr="3:$v-1.amzn2023"
  p=$(payload "kmod-common-$v")
  mkdir -p "$p/usr/lib/modprobe.d"
  printf 'options nvidia NVreg_DeviceFileUID=0 NVreg_DeviceFileGID=0 NVreg_DeviceFileMode=0666\n' \
    >"$p/usr/lib/modprobe.d/nvidia.conf"
  make_rpm "$repo" nvidia-kmod-common "$evr" noarch "" "$p"
  # one kernel-module flavour at a time, as NVIDIA's kmod packages conflict with each other
  for flavour in open latest; do
    kmod="kmod-nvidia-$flavour-dkms"
    p=$(payload "$kmod-$v")
    mkdir -p "$p/usr/src/nvidia-$v"
    printf 'PACKAGE_NAME="nvidia"\nPACKAGE_VERSION="%s"\nBUILT_MODULE_NAME[0]="nvidia"\n' "$v" \
      >"$p/usr/src/nvidia-$v/dkms.conf"
    RPM_TAGS="Provides: kmod-nvidia = $evr
Conflicts: kmod-nvidia-$([ $flavour = open ] && echo latest || echo open)-dkms" \
      make_rpm "$repo" "$kmod" "$evr" noarch "nvidia-kmod-common = $evr" "$p"
  done
  p=$(payload "libs-$v")
  mkdir -p "$p/usr/lib64"
  : >"$p/usr/lib64/libcuda.so.$v"
  make_rpm "$repo" nvidia-driver-cuda-libs "$evr" x86_64 "" "$p"
  p=$(payload "persistenced-$v")
  script "$p/usr/bin/nvidia-persistenced" '[ -d /sys/module/nvidia ] || { echo "nvidia-persistenced: Failed to query NVIDIA devices: the driver is not loaded" >&2; exit 1; }; exec sleep infinity'
  unit "$p/usr/lib/systemd/system/nvidia-persistenced.service" "NVIDIA Persistence Daemon" \
    "/usr/bin/nvidia-persistenced --user root --persistence-mode --verbose"
  make_rpm "$repo" nvidia-persistenced "$evr" x86_64 "" "$p"
  p=$(payload "cuda-$v")
  script "$p/usr/bin/nvidia-smi" "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'; exit 9"
  make_rpm "$repo" nvidia-driver-cuda "$evr" x86_64 \
    "nvidia-driver-cuda-libs = $evr, nvidia-persistenced = $evr, nvidia-kmod-common = $evr, kmod-nvidia = $evr" "$p"

  # fabric manager, NSCQ and IMEX: no epoch, no dist tag; unsuffixed from 580 on
  local fm=nvidia-fabricmanager nscq=libnvidia-nscq imex=nvidia-imex
  [ "$branch" -ge 580 ] || { fm="nvidia-fabric-manager"; nscq="libnvidia-nscq-$branch"; imex="nvidia-imex-$branch"; }
  p=$(payload "fm-$v")
  script "$p/usr/bin/nv-fabricmanager" "echo \"Fabric Manager version is : $v\"; [ -d /sys/module/nvidia ] || exit 1; exec sleep infinity"
  unit "$p/usr/lib/systemd/system/nvidia-fabricmanager.service" "NVIDIA fabric manager service" \
    "/usr/bin/nv-fabricmanager -c /usr/share/nvidia/nvswitch/fabricmanager.cfg"
  mkdir -p "$p/usr/share/nvidia/nvswitch"
  printf 'LOG_LEVEL=4\nFABRIC_MODE=0\n' >"$p/usr/share/nvidia/nvswitch/fabricmanager.cfg"
  make_rpm "$repo" "$fm" "$v-1" x86_64 "" "$p"
  make_rpm "$repo" "$nscq" "$v-1" x86_64 ""
  p=$(payload "imex-$v")
  script "$p/usr/bin/nvidia-imex" "[ -d /sys/module/nvidia ] || { echo 'nvidia-imex: the driver is not loaded' >&2; exit 1; }; exec sleep infinity"
  script "$p/usr/bin/nvidia-imex-ctl" "echo 'IMEX version is: $v'"
  unit "$p/usr/lib/systemd/system/nvidia-imex.service" "NVIDIA IMEX service" \
    "/usr/bin/nvidia-imex -c /etc/nvidia-imex/config.cfg"
  mkdir -p "$p/etc/nvidia-imex"
  printf 'IMEX_NODE_CONFIG_FILE=/etc/nvidia-imex/nodes_config.cfg\nSERVER_PORT=50000\n' >"$p/etc/nvidia-imex/config.cfg"
  printf '# one IP address per line, the same list on every node of the NVLink domain\n' \
    >"$p/etc/nvidia-imex/nodes_config.cfg"
  make_rpm "$repo" "$imex" "$v-1" x86_64 "" "$p"
  if [ "$branch" -ge 580 ]; then
    make_rpm "$repo" libnvsdm "$v-1" x86_64 ""
    make_rpm "$repo" nvlsm "2025.10.4-1" x86_64 ""
    make_rpm "$repo" "nvlink5-$branch" "$v-1" x86_64 "$fm = $v-1, libnvsdm = $v-1, nvlsm"
  fi
}

toolkit() {
  local version=$1 nvcc_version=$2 mm=${1%.*} dashed p
  dashed=${mm/./-}
  p=$(payload "cuda-$version")
  script "$p/usr/local/cuda-$mm/bin/nvcc" "case \"\$1\" in --version|-V) printf 'nvcc: NVIDIA (R) Cuda compiler driver\\nCuda compilation tools, release $mm, V$nvcc_version\\n';; *) echo 'nvcc: stand-in, compiles nothing' >&2; exit 1;; esac"
  printf '{"cuda": {"name": "CUDA SDK", "version": "%s"}}\n' "$version" >"$p/usr/local/cuda-$mm/version.json"
  # NVIDIA's RPMs register the toolkit as an alternative too, priority rising with the version
  RPM_POST="update-alternatives --install /usr/local/cuda cuda /usr/local/cuda-$mm ${mm/./}
update-alternatives --install /usr/local/cuda-${mm%%.*} cuda-${mm%%.*} /usr/local/cuda-$mm ${mm/./}" \
    make_rpm "$repo" "cuda-toolkit-$dashed" "$version-1" x86_64 "" "$p"
  make_rpm "$repo" "cuda-compat-$dashed" "$version-1" x86_64 ""
}

# NVIDIA Container Toolkit, also published in the CUDA repositories: four packages at one version.
container_toolkit() {
  local v=$1 p
  make_rpm "$repo" libnvidia-container1 "$v" x86_64 ""
  make_rpm "$repo" libnvidia-container-tools "$v" x86_64 "libnvidia-container1 = $v"
  p=$(payload "ctk-base-$v")
  script "$p/usr/bin/nvidia-container-runtime" 'echo "nvidia-container-runtime: stand-in, runs no container" >&2; exit 1'
  script "$p/usr/bin/nvidia-ctk" "echo \"NVIDIA Container Toolkit CLI version ${v%-*}\""
  make_rpm "$repo" nvidia-container-toolkit-base "$v" x86_64 "" "$p"
  make_rpm "$repo" nvidia-container-toolkit "$v" x86_64 \
    "nvidia-container-toolkit-base = $v, libnvidia-container-tools = $v, libnvidia-container1 = $v"
}

# DCGM 4: the core package and one per CUDA major of the driver, at an epoch-1 version.
dcgm() {
  local v=$1 p
  p=$(payload "dcgm-$v")
  script "$p/usr/bin/nv-hostengine" 'echo "nv-hostengine: stand-in, no GPU to manage" >&2; exit 1'
  unit "$p/usr/lib/systemd/system/nvidia-dcgm.service" "NVIDIA DCGM service" "/usr/bin/nv-hostengine -n --service-account nvidia-dcgm"
  make_rpm "$repo" datacenter-gpu-manager-4-core "$v" x86_64 "" "$p"
  make_rpm "$repo" datacenter-gpu-manager-4-cuda12 "$v" x86_64 "datacenter-gpu-manager-4-core = $v"
  make_rpm "$repo" datacenter-gpu-manager-4-cuda13 "$v" x86_64 "datacenter-gpu-manager-4-core = $v"
}

# NCCL: libnccl and libnccl-devel at <version>-<rev>+cuda<X.Y> (Version 2.27.7, Release 1+cuda12.9;
# reference/network.md section 3), -devel requiring exactly its libnccl.
nccl() {
  local v=$1 cuda=$2 full="$1+cuda$2" release=${1%-*} p
  p=$(payload "nccl-$full")
  mkdir -p "$p/usr/lib64"
  gcc -shared -fPIC -nostdlib -Wl,-soname,libnccl.so.2 -o "$p/usr/lib64/libnccl.so.$release" -x c /dev/null
  ln -s "libnccl.so.$release" "$p/usr/lib64/libnccl.so.2"
  RPM_POST=/sbin/ldconfig make_rpm "$repo" libnccl "$full" x86_64 "" "$p"
  p=$(payload "nccl-devel-$full")
  mkdir -p "$p/usr/include" "$p/usr/lib64"
  printf '/* test bed stand-in for nccl.h %s */\n#define NCCL_MAJOR %s\n' "$full" "${release%%.*}" >"$p/usr/include/nccl.h"
  ln -s libnccl.so.2 "$p/usr/lib64/libnccl.so"
  make_rpm "$repo" libnccl-devel "$full" x86_64 "libnccl = $full" "$p"
}

driver_branch 580.126.20
driver_branch 590.48.01
container_toolkit 1.20.0-1
container_toolkit 1.20.1-1
dcgm 1:4.5.3-1
dcgm 1:4.6.0-1
# the pinned build, and newer ones that an unpinned install would take instead
nccl 2.27.7-1 12.9
nccl 2.28.9-1 12.9
nccl 2.28.9-1 13.0
toolkit 12.8.1 12.8.93
toolkit 13.0.2 13.0.88
rpm_repo "$repo"
