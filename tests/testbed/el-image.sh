#!/usr/bin/env bash
# Builds the test bed's RedHat-family node: no Amazon Linux or RHEL image can be fetched here, so this
# is the Debian 12 base image (base-image.sh) with RPM's own package stack on top: dnf 4.14 (the dnf
# that Amazon Linux 2023 and RHEL 9 ship), rpm 4.18, the versionlock plugin, and the os-release and
# system-release of Amazon Linux 2023, so that Ansible reads it as Amazon 2023 (os_family RedHat,
# pkg_mgr dnf) and the roles take their RedHat paths: dnf transactions, rpm keys, yum repositories,
# exact versions, version locks, idempotence, all real.
# What it cannot prove: Amazon Linux's own package set. Its rpm database knows only two packages,
# installed here: system-release (dnf's $releasever comes from it, as on Amazon Linux) and
# testbed-el-base, which provides the names of what the Debian userland underneath really has (python3,
# gnupg2, systemd, the versionlock plugin...). A role that installs anything else from the OS's own
# repositories finds none here: that part is checked against the reference, not run.
# dnf.conf is Amazon Linux 2023's; Debian's dnf-plugins-core `local` plugin (a repository of every
# installed package, not on Amazon Linux) is switched off; /usr/lib64, where RPMs put libraries and
# which the RedHat family's loader searches by default, is added to the loader's path.
# The common role's base packages are Debian's, under their Amazon Linux names; chrony keeps Amazon
# Linux's layout: /etc/chrony.conf and the unit chronyd.service (Debian's chrony.service, its own
# config and alias removed).
# Rebuilt only when this recipe or the base image changes. Prints the image's tag.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"

base=$("$here/base-image.sh")
tag="awsome-ml-el:$( (cat "${BASH_SOURCE[0]}"; echo "$base") | sha256sum | cut -c1-12)"
if docker image inspect "$tag" >/dev/null 2>&1; then
  say "RedHat-family image $tag cached"
  echo "$tag"
  exit 0
fi

# What testbed-el-base provides: the Debian packages below, by their Amazon Linux 2023 names.
provides=(bash /bin/sh coreutils glibc systemd kmod procps-ng iproute sudo ca-certificates python3
  python3-dnf dnf rpm gnupg2 gnupg2-minimal python3-dnf-plugin-versionlock dnf-plugins-core
  curl gawk jq squashfs-tools shadow-utils libcap python3-pip python3-packaging make gcc gcc-c++
  glibc-devel numactl hwloc openssh-server pciutils ethtool rsync lsof strace tmux nvme-cli chrony)

work=$(mktemp -d "$AWSOME_CACHE/el-image.XXXX")
trap 'rm -rf "$work"' EXIT
# spec NAME VERSION-RELEASE TAGS: a payload-free package whose only content is what it provides
spec() {
  printf 'Name: %s\nVersion: %s\nRelease: %s\nSummary: test bed\nLicense: test bed\nBuildArch: noarch\nAutoReqProv: no\n%s\n%%description\n%s\n%%files\n' \
    "$1" "${2%-*}" "${2##*-}" "$3" "test bed RedHat-family container: $1" >"$work/$1.spec"
  rpmbuild -bb --quiet --define "_topdir $work/top" "$work/$1.spec" >/dev/null
}
spec system-release 2023.9.20251208-0.amzn2023 'Provides: system-release(releasever) = 2023'
spec testbed-el-base 1-1 "$(printf 'Provides: %s\n' "${provides[@]}")"
mkdir -p "$work/ctx"
find "$work/top/RPMS" -name '*.rpm' -exec cp {} "$work/ctx/" \;

cat >"$work/ctx/os-release" <<'OSRELEASE'
NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.9.20251208"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"
SUPPORT_END="2029-06-30"
OSRELEASE

# A chrony configuration like Amazon Linux 2023's (Amazon Time Sync first; the exact lines unconfirmed), its unit name
cat >"$work/ctx/chrony.conf" <<'CHRONY'
server 169.254.169.123 prefer iburst minpoll 4 maxpoll 4
pool 2.amazon.pool.ntp.org iburst
sourcedir /run/chrony-dhcp
driftfile /var/lib/chrony/drift
makestep 1.0 3
rtcsync
keyfile /etc/chrony.keys
leapsectz right/UTC
logdir /var/log/chrony
CHRONY
cat >"$work/ctx/chronyd.service" <<'UNIT'
[Unit]
Description=NTP client/server
After=network.target
ConditionCapability=CAP_SYS_TIME

[Service]
Type=forking
PIDFile=/run/chrony/chronyd.pid
ExecStart=/usr/sbin/chronyd -f /etc/chrony.conf

[Install]
WantedBy=multi-user.target
UNIT

cat >"$work/ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY *.rpm os-release chrony.conf chronyd.service /tmp/el/
RUN apt-get install -y -q --no-install-recommends dnf python3-dnf dnf-plugins-core rpm gnupg \\
     curl gawk jq squashfs-tools libcap2-bin python3-venv python3-packaging make g++ \\
     numactl hwloc-nox openssh-server pciutils ethtool rsync lsof strace tmux nvme-cli chrony >/dev/null \\
 && apt-get clean \\
 && rm -rf /etc/chrony /lib/systemd/system/chrony.service /etc/systemd/system/chronyd.service \\
      /etc/systemd/system/multi-user.target.wants/chrony.service \\
 && cp /tmp/el/chrony.conf /etc/chrony.conf && cp /tmp/el/chronyd.service /lib/systemd/system/chronyd.service \\
 && mkdir -p /etc/rpm /var/lib/rpm /etc/yum.repos.d \\
 && echo '%_dbpath /var/lib/rpm' >/etc/rpm/macros \\
 && rpm -i --nodeps /tmp/el/*.rpm \\
 && rm -f /etc/os-release /usr/lib/os-release /etc/debian_version && cp /tmp/el/os-release /etc/os-release \\
 && echo 'Amazon Linux release 2023.9.20251208 (Amazon Linux)' >/etc/system-release \\
 && printf '[main]\\ngpgcheck=True\\ninstallonly_limit=3\\nclean_requirements_on_remove=True\\nbest=True\\nskip_if_unavailable=False\\n' >/etc/dnf/dnf.conf \\
 && printf '[main]\\nenabled = false\\n' >/etc/dnf/plugins/local.conf \\
 && echo /usr/lib64 >/etc/ld.so.conf.d/00-el-lib64.conf && mkdir -p /usr/lib64 \\
 && rm -rf /tmp/el /etc/yum.repos.d/*
DOCKERFILE
say "building $tag from $base"
docker build -q -t "$tag" "$work/ctx" >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; die "docker build of $tag failed"; }
docker tag "$tag" awsome-ml-el:latest
say "built $tag"
echo "$tag"
