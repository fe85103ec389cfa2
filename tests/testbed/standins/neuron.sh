#!/usr/bin/env bash
# Stand-in for AWS's Neuron repositories at their real URLs (reference/neuron_containers.md section 1):
#   apt.repos.neuron.amazonaws.com/                         dists/{jammy,noble}/main, signed (mirror's key)
#   apt.repos.neuron.amazonaws.com/GPG-PUB-KEY-AMAZON-AWS-NEURON.PUB   the signing key (the mirror's)
#   yum.repos.neuron.amazonaws.com/                         the same packages as signed RPMs (repodata/)
#   pip.repos.neuron.amazonaws.com/<project>/               a PEP 503 index: neuronx-cc, torch-neuronx
# The packages carry SDK 2.32.0's names and versions (the hash suffixes are made up, in the real form):
# aws-neuronx-dkms (a real DKMS source tree, module `neuron`, registered in its postinst and built only
# for a kernel whose headers are installed, as dh_dkms does; the DKMS and module names are
# unconfirmed), aws-neuronx-runtime-lib (libnrt.so.1), aws-neuronx-collectives (libnccom.so.2),
# aws-neuronx-tools (neuron-ls, which like the real one finds no device where /dev/neuron* is absent,
# nccom-test) and aws-neuronx-oci-hook, all under /opt/aws/neuron. The wheels are pure-Python stand-ins
# (neuronx-cc prints its version; torch_neuronx has __version__) with the real project names.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"

dkms=2.30.2.0
runtime=2.34.10.0-3dcef56f0
collectives=2.34.10.0-8b1c2a6d3
tools=2.32.28.0-5e0f9a7c1
hook=2.18.25.0-a4d7e2b90
cc=2.27.5334.0
torch_neuronx=2.9.0.2.15.32035
apt=$MIRROR_ROOT/apt.repos.neuron.amazonaws.com
pip=$MIRROR_ROOT/pip.repos.neuron.amazonaws.com
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$apt" "$pip"
mkdir -p "$apt/pool/main" "$pip"
gpg --batch --export --armor >"$apt/GPG-PUB-KEY-AMAZON-AWS-NEURON.PUB"

# The driver: a DKMS source tree that builds a real (empty) module for the node's kernel
p=$(payload dkms)
src=$p/usr/src/aws-neuronx-$dkms
mkdir -p "$src" "$p/DEBIAN"
cat >"$src/dkms.conf" <<CONF
PACKAGE_NAME=aws-neuronx
PACKAGE_VERSION=$dkms
BUILT_MODULE_NAME[0]="neuron"
DEST_MODULE_LOCATION[0]="/kernel/drivers/neuron"
MAKE[0]="make -C \${kernel_source_dir} M=\${dkms_tree}/\${PACKAGE_NAME}/\${PACKAGE_VERSION}/build modules"
CLEAN="make -C \${kernel_source_dir} M=\${dkms_tree}/\${PACKAGE_NAME}/\${PACKAGE_VERSION}/build clean"
AUTOINSTALL="yes"
CONF
echo 'obj-m := neuron.o' >"$src/Kbuild"
cat >"$src/neuron.c" <<'C'
/* Test bed stand-in for AWS's Neuron driver: loads and unloads, drives nothing. */
#include <linux/module.h>
static int __init neuron_init(void) { return 0; }
static void __exit neuron_exit(void) { }
module_init(neuron_init);
module_exit(neuron_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("test bed stand-in for the AWS Neuron driver");
C
cat >"$p/DEBIAN/postinst" <<SH
#!/bin/sh
set -e
dkms status -m aws-neuronx -v $dkms | grep -q . || dkms add -m aws-neuronx -v $dkms
kernel=\$(uname -r)
if [ -e "/lib/modules/\$kernel/build" ]; then
  dkms install -m aws-neuronx -v $dkms -k "\$kernel"
else
  echo "Module build for kernel \$kernel was skipped since the kernel headers for this kernel do not seem to be installed."
fi
SH
cat >"$p/DEBIAN/prerm" <<SH
#!/bin/sh
set -e
dkms remove -m aws-neuronx -v $dkms --all 2>/dev/null || true
SH
chmod 755 "$p/DEBIAN/postinst" "$p/DEBIAN/prerm"
make_deb "$apt/pool/main" aws-neuronx-dkms "$dkms" amd64 "dkms" "$p"

p=$(payload runtime)
shared_lib "$p/opt/aws/neuron/lib/libnrt.so.1" libnrt.so.1
make_deb "$apt/pool/main" aws-neuronx-runtime-lib "$runtime" amd64 "" "$p"

p=$(payload collectives)
shared_lib "$p/opt/aws/neuron/lib/libnccom.so.2" libnccom.so.2
make_deb "$apt/pool/main" aws-neuronx-collectives "$collectives" amd64 "" "$p"

p=$(payload tools)
# neuron-ls: the table's header lines, or with -j/--json-output one object per /dev/neuronN (2 cores,
# 32 GiB, as a trn1's), as tests/fixtures/readings/README.md describes the format
script "$p/opt/aws/neuron/bin/neuron-ls" 'n=$(ls /dev/neuron[0-9]* 2>/dev/null | wc -l)
if [ "$n" -eq 0 ]; then echo "neuron-ls: no Neuron devices found (is the driver loaded?)" >&2; exit 1; fi
case "$*" in
  *-j*|*--json-output*)
    sep="["; for i in $(seq 0 $((n - 1))); do
      printf "%s{\"neuron_device\": %d, \"bdf\": \"%02x:1e.0\", \"connected_to\": [], \"nc_count\": 2, \"memory_size\": 34359738368, \"neuron_processes\": []}" "$sep" "$i" "$((16 + i))"
      sep=", "
    done; echo "]" ;;
  *) echo "instance-type: unknown"; echo "neuron devices: $n" ;;
esac'
script "$p/opt/aws/neuron/bin/nccom-test" 'echo "nccom-test: test bed stand-in, runs no collective" >&2; exit 1'
script "$p/opt/aws/neuron/bin/neuron-top" 'echo "neuron-top: test bed stand-in" >&2; exit 1'
make_deb "$apt/pool/main" aws-neuronx-tools "$tools" amd64 "" "$p"

p=$(payload hook)
script "$p/opt/aws/neuron/bin/oci_neuron_hook_wrapper.sh" 'exec "$@"'
mkdir -p "$p/opt/aws/neuron/share"
printf '{"runtimes": {"neuron": {"path": "/opt/aws/neuron/bin/oci_neuron_hook_wrapper.sh"}}}\n' \
  >"$p/opt/aws/neuron/share/docker-daemon.json"
make_deb "$apt/pool/main" aws-neuronx-oci-hook "$hook" amd64 "" "$p"

dists_repo "$apt" jammy noble

# The yum repository: the same payloads as RPMs (the build hash moves into the version, as in
# aws-neuronx-runtime-lib-2.33.10.0_3dcef56f0-1; the driver's release is "dkms"), signed, indexed.
yum=$MIRROR_ROOT/yum.repos.neuron.amazonaws.com
rm -rf "$yum"
mkdir -p "$yum"
cp "$apt/GPG-PUB-KEY-AMAZON-AWS-NEURON.PUB" "$yum/"
rpm_version() { echo "${1%-*}_${1##*-}-1"; }  # 2.34.10.0-3dcef56f0 -> 2.34.10.0_3dcef56f0-1
for name in dkms runtime collectives tools hook; do rm -rf "$work/p/$name/DEBIAN"; done
make_rpm "$yum" aws-neuronx-dkms "$dkms-dkms" noarch "" "$work/p/dkms"
make_rpm "$yum" aws-neuronx-runtime-lib "$(rpm_version "$runtime")" x86_64 "" "$work/p/runtime"
make_rpm "$yum" aws-neuronx-collectives "$(rpm_version "$collectives")" x86_64 "" "$work/p/collectives"
make_rpm "$yum" aws-neuronx-tools "$(rpm_version "$tools")" x86_64 "" "$work/p/tools"
make_rpm "$yum" aws-neuronx-oci-hook "$(rpm_version "$hook")" x86_64 "" "$work/p/hook"
# a newer runtime, which an install that did not pin would take
make_rpm "$yum" aws-neuronx-runtime-lib "2.35.1.0_9f8e7d6c5-1" x86_64 "" "$work/p/runtime"
rpm_repo "$yum"

# The Python side: the compiler and the PyTorch plugin, pure-Python stand-ins with the real names
mkdir -p "$work/w/neuronxcc" "$work/w/torch_neuronx"
printf '__version__ = "%s"\n\n\ndef main():\n    print("NeuronX Compiler version " + __version__)\n' "$cc" \
  >"$work/w/neuronxcc/__init__.py"
printf '__version__ = "%s"\n' "$torch_neuronx" >"$work/w/torch_neuronx/__init__.py"
make_wheel "$pip/neuronx-cc" neuronx-cc "$cc" "$work/w/neuronxcc" "neuronx-cc=neuronxcc:main"
make_wheel "$pip/torch-neuronx" torch-neuronx "$torch_neuronx" "$work/w/torch_neuronx"
