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
# paths as `  KEY=value` lines), `list`, and `import docker://[USER@][REGISTRY#]IMAGE[:TAG]` with
# --output and --arch: it reads the registry's manifest (list) over HTTPS, or HTTP with ENROOT_ALLOW_HTTP,
# checks each blob's sha256 into ENROOT_CACHE_PATH, applies the layers and their whiteouts in order,
# writes the image's /etc/rc, /etc/environment and /etc/fstab from its config, and packs the root with
# mksquashfs -all-root and ENROOT_SQUASH_OPTIONS, with the real messages ("File already exists: ...",
# "URL ... returned error code: 404 Not Found"). It does no token authentication (the test bed's
# registry has none) and runs no container. `enroot+caps` sets the file
# capabilities the real one sets on enroot-mksquashovlfs and enroot-aufs2ovlfs (whether the real
# package does it in its postinst is unconfirmed).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"

# ENROOT_STANDIN_VERSION builds another release beside it, for a test that changes the version on a
# running cluster (tests/integration/test_cluster.py, the rolling change).
version=${ENROOT_STANDIN_VERSION:-4.2.1}
out=$MIRROR_ROOT/github.com/NVIDIA/enroot/releases/download/v$version
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
p=$work/enroot
mkdir -p "$out" "$p/usr/bin" "$p/usr/lib/enroot" "$p/etc/enroot/enroot.conf.d" "$p/etc/enroot/hooks.d" \
  "$p/etc/enroot/mounts.d" "$p/etc/enroot/environ.d" "$p/usr/share/enroot/hooks.d" "$p/usr/share/enroot/mounts.d"

cat >"$p/usr/bin/enroot" <<'SH'
#!/bin/bash
# Test bed stand-in for NVIDIA's enroot: configuration, directories, version, info, list, import.
set -euo pipefail
readonly version=@VERSION@
readonly sysconf=${ENROOT_SYSCONF_PATH:-/etc/enroot}
keys=(ENROOT_LIBRARY_PATH ENROOT_SYSCONF_PATH ENROOT_RUNTIME_PATH ENROOT_CONFIG_PATH ENROOT_CACHE_PATH
  ENROOT_DATA_PATH ENROOT_TEMP_PATH ENROOT_SQUASH_OPTIONS ENROOT_ROOTFS_WRITABLE ENROOT_MOUNT_HOME
  ENROOT_RESTRICT_DEV ENROOT_MAX_PROCESSORS ENROOT_CONNECT_TIMEOUT ENROOT_TRANSFER_TIMEOUT ENROOT_TRANSFER_RETRIES)
declare -A conf=(
  [ENROOT_LIBRARY_PATH]=/usr/lib/enroot [ENROOT_SYSCONF_PATH]=/etc/enroot
  [ENROOT_RUNTIME_PATH]='${XDG_RUNTIME_DIR}/enroot' [ENROOT_CONFIG_PATH]='${XDG_CONFIG_HOME}/enroot'
  [ENROOT_CACHE_PATH]='${XDG_CACHE_HOME}/enroot' [ENROOT_DATA_PATH]='${XDG_DATA_HOME}/enroot'
  [ENROOT_TEMP_PATH]='${TMPDIR:-/tmp}' [ENROOT_SQUASH_OPTIONS]='-comp lzo -noD -exit-on-error'
  [ENROOT_ROOTFS_WRITABLE]=no [ENROOT_MOUNT_HOME]=no [ENROOT_RESTRICT_DEV]=no
  [ENROOT_MAX_PROCESSORS]='$(nproc)' [ENROOT_CONNECT_TIMEOUT]=30 [ENROOT_TRANSFER_TIMEOUT]=0
  [ENROOT_TRANSFER_RETRIES]=0)
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
  import)
    shift
    # shellcheck source=/dev/null
    . "$ENROOT_LIBRARY_PATH/docker.sh"
    docker_import "$@" ;;
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
cat >"$p/usr/lib/enroot/docker.sh" <<'SH'
# Test bed stand-in for enroot's `import docker://...` (sourced by enroot import).
err() { echo "[ERROR] $*" >&2; exit 1; }
info() { echo "[INFO] $*" >&2; }

# fetch URL [HEADER...]: the body on stdout; an HTTP error fails with the real message.
fetch() {
  local url=$1 code
  shift
  local headers=()
  for h in "$@"; do headers+=(-H "$h"); done
  code=$(curl "${curl_opts[@]}" "${headers[@]}" -o "$work/body" -w '%{http_code}' -- "$url") \
    || err "Could not fetch $url (curl exit $?)"
  case "$code" in
    2??) cat "$work/body" ;;
    401) err "URL $url returned error code: 401 Unauthorized" ;;
    404) err "URL $url returned error code: 404 Not Found" ;;
    *) err "URL $url returned error code: $code" ;;
  esac
}

# blob DIGEST: the blob in the cache, its sha256 checked before it is kept.
blob() {
  local hex=${1#sha256:} tmp
  [ -e "$ENROOT_CACHE_PATH/$hex" ] && return
  tmp=$(mktemp -p "$ENROOT_CACHE_PATH" "$hex.XXXXXX")
  fetch "$base/blobs/sha256:$hex" >"$tmp"
  [ "$(sha256sum <"$tmp" | cut -d' ' -f1)" = "$hex" ] || { rm -f "$tmp"; err "Checksum mismatch: $hex"; }
  mv -n "$tmp" "$ENROOT_CACHE_PATH/$hex"
}

# apply_layer TARBALL ROOT: extract one layer over ROOT, honouring its AUFS whiteouts (.wh.NAME removes
# NAME from the layers below, .wh..wh..opq empties the directory) as the real overlay conversion does.
apply_layer() {
  local layer=$1 root=$2 entry dir name
  while IFS= read -r entry; do
    entry=${entry#./}
    dir=$(dirname "$entry")
    name=$(basename "$entry")
    if [ "$name" = .wh..wh..opq ]; then
      find "$root/$dir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
    elif [[ $name == .wh.* ]]; then
      rm -rf "${root:?}/$dir/${name#.wh.}"
    fi
  done < <(tar -tzf "$layer" | grep -E '(^|/)\.wh\.' || true)
  tar -C "$root" --warning=no-timestamp --exclude='dev/*' --exclude='./dev/*' --wildcards \
    --exclude='*.wh.*' -pxzf "$layer"
}

# configure ROOT CONFIG: the image's volumes, environment, labels, working directory, entrypoint and
# command as enroot writes them (/etc/fstab, /etc/environment, /etc/rc).
configure() {
  local root=$1 config=$2 workdir entrypoint cmd
  mkdir -p "$root/etc"
  jq -r '(.config.Volumes // {}) | keys[] | "${ENROOT_ROOTFS}\(.) \(.) none x-create=dir,bind,rw,nosuid,nodev"' \
    "$config" >"$root/etc/fstab"
  jq -r '(.config.Env // [])[]' "$config" >"$root/etc/environment"
  workdir=$(jq -r '.config.WorkingDir // "" | if . == "" then "/" else . end' "$config")
  entrypoint=$(jq -r '(.config.Entrypoint // []) | map(@sh) | join(" ")' "$config")
  cmd=$(jq -r '(.config.Cmd // []) | map(@sh) | join(" ")' "$config")
  [ -n "$entrypoint$cmd" ] || cmd=/bin/sh
  mkdir -p "$root$workdir"
  {
    jq -r '(.config.Labels // {}) | to_entries[] | "# \(.key) \(.value)"' "$config"
    echo "mkdir -p \"$workdir\" 2> /dev/null"
    echo "cd \"$workdir\" && unset OLDPWD || exit 1"
    echo 'if [ -s /etc/rc.local ]; then . /etc/rc.local; fi'
    echo "if [ \$# -gt 0 ]; then exec $entrypoint \"\$@\"; else exec $entrypoint $cmd; fi"
  } >"$root/etc/rc"
  echo '# This file is sourced by /etc/rc when the container starts.' >"$root/etc/rc.local"
}

docker_import() {
  local output="" arch user registry image tag filename manifest digest config layer
  arch=$(dpkg --print-architecture)
  while [ $# -gt 0 ]; do
    case "$1" in
      -o | --output) output=$2; shift 2 ;;
      -a | --arch) arch=$2; shift 2 ;;
      --) shift; break ;;
      -*) err "Invalid option: $1" ;;
      *) break ;;
    esac
  done
  [ $# -eq 1 ] || err "Usage: enroot import [options] [--] URI"
  local -r re='^docker://(([^@#]+)@)?(([^#]+)#)?([a-z0-9/._-]+)(:([A-Za-z0-9._:-]+))?$'
  [[ $1 =~ $re ]] || err "Invalid image reference: $1"
  user=${BASH_REMATCH[2]} registry=${BASH_REMATCH[4]:-registry-1.docker.io}
  image=${BASH_REMATCH[5]} tag=${BASH_REMATCH[7]:-latest}
  [ -z "$user" ] || info "Authenticating with user: $user (the stand-in sends no credentials)"
  if [[ $image != */* && $registry =~ docker\.io$ ]]; then image=library/$image; fi
  filename=${output:-${image//\//+}+$tag.sqsh}
  filename=$(readlink -f "$filename") || err "No such file or directory: $output"
  [ ! -e "$filename" ] || err "File already exists: $filename"

  local proto=https
  [ -z "${ENROOT_ALLOW_HTTP:-}" ] || proto=http
  curl_opts=(--proto "=http,https" -sSL --connect-timeout "$ENROOT_CONNECT_TIMEOUT"
    --max-time "$ENROOT_TRANSFER_TIMEOUT" --retry "$ENROOT_TRANSFER_RETRIES")
  [ "$proto" = http ] || curl_opts[1]="=https"
  base=$proto://$registry/v2/$image
  work=$(mktemp -d -p "$ENROOT_TEMP_PATH" enroot.XXXXXXXXXX)
  trap 'rm -rf "$work"' EXIT

  info "Fetching image manifest list"
  manifest=$tag
  digest=$(fetch "$base/manifests/$tag" "Accept: application/vnd.docker.distribution.manifest.list.v2+json" \
    "Accept: application/vnd.oci.image.index.v1+json" \
    "Accept: application/vnd.docker.distribution.manifest.v2+json" \
    | jq -r --arg arch "$arch" '(.manifests // [])[] | select(.platform.architecture == $arch) | .digest')
  [ -z "$digest" ] || manifest=$digest
  info "Fetching image manifest"
  fetch "$base/manifests/$manifest" "Accept: application/vnd.docker.distribution.manifest.v2+json" \
    "Accept: application/vnd.oci.image.manifest.v1+json" >"$work/manifest.json"
  config=$(jq -r '.config.digest // empty' "$work/manifest.json")
  mapfile -t layers < <(jq -r '(.layers // [])[].digest' "$work/manifest.json")
  [ -n "$config" ] && [ ${#layers[@]} -gt 0 ] || err "Could not parse digest information from $base/manifests/$manifest"
  info "Downloading $(( ${#layers[@]} + 1 )) layers (the cache keeps the ones it has)"
  for digest in "$config" "${layers[@]}"; do blob "$digest"; done

  info "Extracting image layers..."
  mkdir "$work/rootfs"
  for layer in "${layers[@]}"; do apply_layer "$ENROOT_CACHE_PATH/${layer#sha256:}" "$work/rootfs"; done
  configure "$work/rootfs" "$ENROOT_CACHE_PATH/${config#sha256:}"
  info "Creating squashfs filesystem..."
  # shellcheck disable=SC2086 # the options are words, as enroot passes them
  mksquashfs "$work/rootfs" "$filename" -all-root -no-progress -processors "$ENROOT_MAX_PROCESSORS" \
    $ENROOT_SQUASH_OPTIONS >&2 || { rm -f "$filename"; err "Could not create $filename"; }
}
SH

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

# The RedHat family's release files (enroot-<v>-1.el8.<arch>.rpm, NVIDIA's one el8 build for EL 8, 9
# and Amazon Linux 2023), unsigned as NVIDIA's are, from the same payloads. Dependencies in the RPM
# names of the Debian package's (parallel left out: the test bed's RedHat-family container has none).
rm -rf "$p/DEBIAN" "$c/DEBIAN"
make_rpm "$out" enroot "$version-1.el8" x86_64 "bash >= 4.2, curl, gawk, jq >= 1.5, shadow-utils, squashfs-tools" "$p"
RPM_POST="setcap cap_sys_admin+pe /usr/bin/enroot-mksquashovlfs
setcap cap_sys_admin,cap_mknod+pe /usr/bin/enroot-aufs2ovlfs" \
  make_rpm "$out" enroot+caps "$version-1.el8" x86_64 "enroot = $version-1.el8, libcap" "$c"
