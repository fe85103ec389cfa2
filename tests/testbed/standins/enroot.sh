#!/usr/bin/env bash
# Stand-in for NVIDIA's Enroot release packages at their real URLs
# (reference/neuron_containers.md section 2.1):
#   github.com/NVIDIA/enroot/releases/download/v<V>/enroot_<V>-1_amd64.deb
#   github.com/NVIDIA/enroot/releases/download/v<V>/enroot+caps_<V>-1_amd64.deb
# `enroot` carries the real paths: /usr/bin/enroot and its helpers, /etc/enroot/enroot.conf (a
# conffile) with enroot.conf.d/, the default hooks in /etc/enroot/hooks.d/ and the extra ones, shipped
# disabled, in /usr/share/enroot/hooks.d/ (50-slurm-pmi.sh, 50-slurm-pytorch.sh, ...). Its Depends are
# the real runtime dependencies, so apt installs them from Debian for real. Its `enroot` reads the
# configuration the way the real one does (defaults, enroot.conf, then enroot.conf.d/*.conf; the
# environment wins; values are shell-expanded, so $(id -u) works), creates the runtime, cache and data
# directories as the calling user on every command, and implements `version`, `info` (the effective
# paths as `  KEY=value` lines) and `list`; it runs no container. `enroot+caps` sets the file
# capabilities the real one sets on enroot-mksquashovlfs and enroot-aufs2ovlfs (whether the real
# package does it in its postinst is unconfirmed).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"

version=4.2.1
out=$MIRROR_ROOT/github.com/NVIDIA/enroot/releases/download/v$version
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
p=$work/enroot
mkdir -p "$out" "$p/usr/bin" "$p/usr/lib/enroot" "$p/etc/enroot/enroot.conf.d" "$p/etc/enroot/hooks.d" \
  "$p/etc/enroot/mounts.d" "$p/etc/enroot/environ.d" "$p/usr/share/enroot/hooks.d" "$p/usr/share/enroot/mounts.d"

cat >"$p/usr/bin/enroot" <<'SH'
#!/bin/bash
# Test bed stand-in for NVIDIA's enroot: configuration, directories, version, info, list.
set -euo pipefail
readonly version=@VERSION@
readonly sysconf=${ENROOT_SYSCONF_PATH:-/etc/enroot}
keys=(ENROOT_LIBRARY_PATH ENROOT_SYSCONF_PATH ENROOT_RUNTIME_PATH ENROOT_CONFIG_PATH ENROOT_CACHE_PATH
  ENROOT_DATA_PATH ENROOT_TEMP_PATH ENROOT_SQUASH_OPTIONS ENROOT_ROOTFS_WRITABLE ENROOT_MOUNT_HOME
  ENROOT_RESTRICT_DEV)
declare -A conf=(
  [ENROOT_LIBRARY_PATH]=/usr/lib/enroot [ENROOT_SYSCONF_PATH]=/etc/enroot
  [ENROOT_RUNTIME_PATH]='${XDG_RUNTIME_DIR}/enroot' [ENROOT_CONFIG_PATH]='${XDG_CONFIG_HOME}/enroot'
  [ENROOT_CACHE_PATH]='${XDG_CACHE_HOME}/enroot' [ENROOT_DATA_PATH]='${XDG_DATA_HOME}/enroot'
  [ENROOT_TEMP_PATH]='${TMPDIR:-/tmp}' [ENROOT_SQUASH_OPTIONS]='-comp lzo -noD -exit-on-error'
  [ENROOT_ROOTFS_WRITABLE]=no [ENROOT_MOUNT_HOME]=no [ENROOT_RESTRICT_DEV]=no)
: "${XDG_RUNTIME_DIR:=/run/user/$(id -u)}" "${XDG_CONFIG_HOME:=$HOME/.config}"
: "${XDG_CACHE_HOME:=$HOME/.cache}" "${XDG_DATA_HOME:=$HOME/.local/share}"
declare -A from_env=()
for key in "${keys[@]}"; do [ -z "${!key+x}" ] || from_env[$key]=1; done
for file in "$sysconf/enroot.conf" "$sysconf"/enroot.conf.d/*.conf; do
  [ -f "$file" ] || continue
  while read -r key value; do
    case "$key" in ENROOT_*) ;; *) continue ;; esac
    [ -n "${from_env[$key]:-}" ] || conf[$key]=$value
  done <"$file"
done
for key in "${keys[@]}"; do
  if [ -z "${from_env[$key]:-}" ]; then
    value=$(eval "echo \"${conf[$key]}\"")
    export "$key=$value"
  fi
done
for dir in "$ENROOT_RUNTIME_PATH" "$ENROOT_CACHE_PATH" "$ENROOT_DATA_PATH"; do
  mkdir -p "$dir" 2>/dev/null || { echo "[ERROR] Could not create directory: $dir" >&2; exit 1; }
done
case "${1:-}" in
  version) echo "$version" ;;
  info)
    echo "Kernel version:"
    echo "  $(uname -srv)"
    echo
    echo "Configuration:"
    for key in "${keys[@]}"; do echo "  $key=${!key}"; done ;;
  list) ls -1 "$ENROOT_DATA_PATH" ;;
  *) echo "[ERROR] the test bed's enroot stand-in runs no container (command: ${1:-none})" >&2; exit 1 ;;
esac
SH
sed -i "s/@VERSION@/$version/" "$p/usr/bin/enroot"
chmod 755 "$p/usr/bin/enroot"
for helper in enroot-aufs2ovlfs enroot-mksquashovlfs enroot-mount enroot-switchroot enroot-nsenter; do
  printf '#!/bin/sh\necho "%s: test bed stand-in" >&2\nexit 1\n' "$helper" >"$p/usr/bin/$helper"
  chmod 755 "$p/usr/bin/$helper"
done
printf '# test bed stand-in for enroot %s library\n' "$version" >"$p/usr/lib/enroot/common.sh"

cat >"$p/etc/enroot/enroot.conf" <<'CONF'
#ENROOT_LIBRARY_PATH        /usr/lib/enroot
#ENROOT_SYSCONF_PATH        /etc/enroot
#ENROOT_RUNTIME_PATH        ${XDG_RUNTIME_DIR}/enroot
#ENROOT_CONFIG_PATH         ${XDG_CONFIG_HOME}/enroot
#ENROOT_CACHE_PATH          ${XDG_CACHE_HOME}/enroot
#ENROOT_DATA_PATH           ${XDG_DATA_HOME}/enroot
#ENROOT_TEMP_PATH           ${TMPDIR:-/tmp}
#ENROOT_SQUASH_OPTIONS      -comp lzo -noD -exit-on-error
#ENROOT_ROOTFS_WRITABLE     no
#ENROOT_MOUNT_HOME          no
#ENROOT_RESTRICT_DEV        no
CONF
for hook in 10-aptfix.sh 10-cgroups.sh 10-devices.sh 10-home.sh 10-localtime.sh 10-shadow.sh 98-nvidia.sh \
  99-mellanox.sh; do
  printf '#!/bin/bash\n# test bed stand-in for enroot hook %s\n' "$hook" >"$p/etc/enroot/hooks.d/$hook"
done
for hook in 50-slurm-pmi.sh 50-slurm-pytorch.sh 50-mig-config.sh 50-sharp.sh; do
  printf '#!/bin/bash\n# test bed stand-in for enroot extra hook %s\n' "$hook" >"$p/usr/share/enroot/hooks.d/$hook"
done
chmod 755 "$p"/etc/enroot/hooks.d/* "$p"/usr/share/enroot/hooks.d/*
printf '# test bed stand-in\n' >"$p/etc/enroot/mounts.d/10-system.fstab"
printf '# test bed stand-in\n' >"$p/usr/share/enroot/mounts.d/30-lxcfs.fstab"
printf 'TERM\n' >"$p/etc/enroot/environ.d/10-terminal.env"
mkdir -p "$p/DEBIAN"
(cd "$p" && find etc -type f | sed 's|^|/|' | sort) >"$p/DEBIAN/conffiles"
CONTROL="Recommends: pigz
Suggests: fuse-overlayfs, libnvidia-container-tools, squashfuse" \
  make_deb "$out" enroot "$version-1" amd64 "bash (>= 4.2), curl, gawk, jq (>= 1.5), parallel, passwd, squashfs-tools" "$p"

c=$work/caps
mkdir -p "$c/DEBIAN"
cat >"$c/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
setcap cap_sys_admin+pe /usr/bin/enroot-mksquashovlfs
setcap cap_sys_admin,cap_mknod+pe /usr/bin/enroot-aufs2ovlfs
SH
cat >"$c/DEBIAN/prerm" <<'SH'
#!/bin/sh
set -e
setcap -r /usr/bin/enroot-mksquashovlfs 2>/dev/null || true
setcap -r /usr/bin/enroot-aufs2ovlfs 2>/dev/null || true
SH
chmod 755 "$c/DEBIAN/postinst" "$c/DEBIAN/prerm"
make_deb "$out" enroot+caps "$version-1" amd64 "enroot (= $version-1), libcap2-bin" "$c"
