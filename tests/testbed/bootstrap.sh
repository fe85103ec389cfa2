#!/usr/bin/env bash
# Sets up the local test bed, idempotently, on a fresh Debian 12 machine:
#   host    Debian packages (docker.io, debootstrap, packer, qemu, gnupg, apt-utils, rpm) and a running dockerd
#   venv    the pinned Python toolchain (requirements.txt), cached by the file's hash
#   image   the Debian 12 systemd base image and the RedHat-family image on it, cached by their recipes'
#           hashes (tests/testbed/base-image.sh, el-image.sh)
#   mirror  the local artifact mirror (signing key, stand-ins, wheelhouse), served over HTTP
#   all     every step above, in that order (the default)
# Each step prints what it did and how long it took; a step with nothing to do says so.
# Caches live under $AWSOME_CACHE (default /var/cache/awsome-ml-cluster) so clones share them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"

host_packages=(docker.io debootstrap packer python3-venv gnupg apt-utils dpkg-dev gcc libc6-dev
  qemu-system-x86 qemu-utils openssh-client e2fsprogs curl docker-registry skopeo rpm createrepo-c)

step_host() {
  [ "$(id -u)" = 0 ] || die "the test bed needs root (apt, dockerd, debootstrap): run it as root or with sudo"
  command -v apt-get >/dev/null || die "the test bed needs a Debian-family host with apt-get"
  local missing=()
  for p in "${host_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing host packages: ${missing[*]}"
    apt_fresh_enough || apt-get update -q >/dev/null
    NEEDRESTART_SUSPEND=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "host packages present"
  fi
  if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || die "no dockerd found although docker.io is installed"
    say "starting dockerd (log: $AWSOME_CACHE/dockerd.log)"
    nohup dockerd >"$AWSOME_CACHE/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || die "dockerd did not start: see $AWSOME_CACHE/dockerd.log"
  else
    say "dockerd running"
  fi
}

step_venv() {
  local hash venv
  hash=$(recipe_hash "$root/requirements.txt")
  venv="$AWSOME_CACHE/venv-$hash"
  # Built in place (a venv's scripts name its path) and marked complete only when pip succeeded.
  if [ ! -e "$venv/.complete" ]; then
    say "creating the Python toolchain in $venv (about a minute)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r "$root/requirements.txt" >"$AWSOME_CACHE/pip.log" 2>&1 \
      || { grep -v 'WARNING: Location' "$AWSOME_CACHE/pip.log" >&2; die "pip install failed"; }
    touch "$venv/.complete"
  else
    say "Python toolchain cached ($venv)"
  fi
  ln -sfn "$venv" "$root/.venv"
  # Playbooks run from this checkout find the collection by its FQCN through ansible.cfg's path.
  mkdir -p "$root/.ansible/collections/ansible_collections/awsome"
  ln -sfn ../../../.. "$root/.ansible/collections/ansible_collections/awsome/ml_cluster"
}

step_image() {
  "$here/base-image.sh" >/dev/null
  "$here/el-image.sh" >/dev/null
}

step_mirror() {
  "$here/mirror.sh" build
  "$here/mirror.sh" serve
}

main() {
  mkdir -p "$AWSOME_CACHE"
  local steps=("$@")
  [ ${#steps[@]} -gt 0 ] || steps=(host venv image mirror)
  for s in "${steps[@]}"; do
    case "$s" in
      all) main host venv image mirror ;;
      host|venv|image|mirror) timed "$s" "step_$s" ;;
      *) die "unknown step '$s' (host, venv, image, mirror, all)" ;;
    esac
  done
}

main "$@"
