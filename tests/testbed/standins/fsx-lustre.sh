#!/usr/bin/env bash
# AWS's FSx for Lustre client repositories at their real paths on the mirror, signed with the mirror's
# key (published under AWS's key file names):
#   fsx-lustre-client-repo-public-keys.s3.amazonaws.com/fsx-ubuntu-public-key.asc, fsx-rpm-public-key.asc
#   fsx-lustre-client-repo.s3.amazonaws.com/ubuntu/        dists jammy and noble: lustre-client-modules-<kernel>
#                                                          for the running kernel (the containers share the
#                                                          host's), lustre-client-modules-aws, lustre-client-utils
#   fsx-lustre-client-repo.s3.amazonaws.com/el/9/x86_64/   kmod-lustre-client and lustre-client
# and the lustre-client that Amazon Linux 2023 ships in its own repositories, in a stand-in of that
# repository (testbed/amazonlinux/al2023/core/x86_64/): the test bed's AL2023-shaped container has none.
# The package names are AWS's (reference/network.md section 5); the versions and the split of the
# Ubuntu tools into lustre-client-utils are unconfirmed. The modules cannot load in a container and
# carry no module: mount.lustre fails as it does without the modules, lfs reports its version.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"
version=2.15.6
kernel=$(uname -r)
keys=$MIRROR_ROOT/fsx-lustre-client-repo-public-keys.s3.amazonaws.com
repo=$MIRROR_ROOT/fsx-lustre-client-repo.s3.amazonaws.com
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$repo" "$MIRROR_ROOT/testbed/amazonlinux"
mkdir -p "$keys"
cp "$MIRROR_ROOT/testbed/keys/mirror.asc" "$keys/fsx-ubuntu-public-key.asc"
cp "$MIRROR_ROOT/testbed/keys/mirror.asc" "$keys/fsx-rpm-public-key.asc"

# tools DIR: the client's commands
tools() {
  script "$1/usr/sbin/mount.lustre" \
    "echo \"mount.lustre: mount \$1 at \$2 failed: No such device (is the lustre module loaded?)\" >&2; exit 19"
  script "$1/usr/bin/lfs" "case \"\$1\" in --version) echo 'lfs $version' ;; *) echo 'lfs: test bed stand-in' >&2; exit 1 ;; esac"
}
# modules DIR NAME: where the modules would be, a note that they are not
modules() {
  mkdir -p "$1/usr/share/doc/$2"
  echo "test bed stand-in for $2 $version: Lustre's modules for kernel $kernel, left out" >"$1/usr/share/doc/$2/README"
}

# Ubuntu: one pool for both codenames, the modules named after the kernel they are built for
deb_version=$version-1fsx1
pool=$repo/ubuntu/pool/main
p=$(payload utils) && tools "$p"
make_deb "$pool" lustre-client-utils "$deb_version" amd64 "" "$p"
p=$(payload modules) && modules "$p" "lustre-client-modules-$kernel"
make_deb "$pool" "lustre-client-modules-$kernel" "$deb_version" amd64 "lustre-client-utils (= $deb_version)" "$p"
make_deb "$pool" lustre-client-modules-aws "$deb_version" amd64 "lustre-client-modules-$kernel"
dists_repo "$repo/ubuntu" jammy noble

# RHEL 9: the modules built for the RHEL kernels AWS lists (kmod-lustre-client) and the tools
el=$repo/el/9/x86_64
p=$(payload el-tools) && tools "$p"
make_rpm "$el" lustre-client "$version-1.el9" x86_64 "kmod-lustre-client = $version-1.el9" "$p"
p=$(payload el-modules) && modules "$p" kmod-lustre-client
make_rpm "$el" kmod-lustre-client "$version-1.el9" x86_64 "" "$p"
rpm_repo "$el"

# Amazon Linux 2023: the client in the OS's repository, its modules in the kernel's own packages
al=$MIRROR_ROOT/testbed/amazonlinux/al2023/core/x86_64
p=$(payload al-tools) && tools "$p"
make_rpm "$al" lustre-client "$version-1.amzn2023" x86_64 "" "$p"
rpm_repo "$al"
