#!/usr/bin/env bash
# The local artifact mirror: one directory tree laid out as <host>/<path> of the vendors' real URLs
# (as `wget --mirror` lays it out), served over HTTP to the containers and VMs. Pointing the roles'
# single mirror variable (versions_mirror_base) at http://<gateway>:<port>/ is all a test changes.
#   build   make the signing key, run each stand-in recipe under standins/ whose hash changed, fill
#           the Python wheelhouse
#   serve   serve the tree (idempotent); prints the base URL
#   url     print the base URL
#   stop    stop serving
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"

MIRROR_ROOT=$AWSOME_CACHE/mirror
GNUPGHOME=$AWSOME_CACHE/mirror-gnupg
port=${AWSOME_MIRROR_PORT:-8089}
pidfile=$AWSOME_CACHE/mirror.pid
export MIRROR_ROOT GNUPGHOME

make_key() {
  [ -s "$MIRROR_ROOT/testbed/keys/mirror.fpr" ] && return 0
  say "generating the mirror's signing key"
  mkdir -p "$GNUPGHOME" "$MIRROR_ROOT/testbed/keys"
  chmod 700 "$GNUPGHOME"
  gpg --batch --quiet --passphrase '' --quick-gen-key 'awsome test bed mirror <testbed@awsome.invalid>' \
    ed25519 sign never 2>/dev/null
  gpg --batch --export --armor >"$MIRROR_ROOT/testbed/keys/mirror.asc"
  gpg --batch --export >"$MIRROR_ROOT/testbed/keys/mirror.gpg"
  gpg --batch --with-colons --list-keys | awk -F: '/^fpr/ {print $10; exit}' >"$MIRROR_ROOT/testbed/keys/mirror.fpr"
}

# The version-set override that makes the roles trust this mirror's key where they pin a vendor's:
# for image builds and playbooks run against the mirror (-e @file / versions_file).
write_versions_override() {
  local fpr pyxis efa nccl_tests gdrcopy ofi enroot enroot_caps enroot_rpm enroot_caps_rpm neuronx_cc torch_neuronx
  fpr=$(cat "$MIRROR_ROOT/testbed/keys/mirror.fpr")
  pyxis=$(sha256sum "$MIRROR_ROOT/github.com/NVIDIA/pyxis/archive/refs/tags/v0.24.0.tar.gz" | cut -d' ' -f1)
  efa=$(sha256sum "$MIRROR_ROOT/efa-installer.amazonaws.com/aws-efa-installer-1.42.0.tar.gz" | cut -d' ' -f1)
  gdrcopy=$(sha256sum "$MIRROR_ROOT/github.com/NVIDIA/gdrcopy/archive/refs/tags/v2.5.1.tar.gz" | cut -d' ' -f1)
  ofi=$(sha512sum "$MIRROR_ROOT/github.com/aws/aws-ofi-nccl/releases/download/v1.21.1/aws-ofi-nccl-1.21.1.tar.gz" | cut -d' ' -f1)
  enroot=$(sha256sum "$MIRROR_ROOT/github.com/NVIDIA/enroot/releases/download/v4.2.1/enroot_4.2.1-1_amd64.deb" | cut -d' ' -f1)
  enroot_caps=$(sha256sum "$MIRROR_ROOT/github.com/NVIDIA/enroot/releases/download/v4.2.1/enroot+caps_4.2.1-1_amd64.deb" | cut -d' ' -f1)
  enroot_rpm=$(sha256sum "$MIRROR_ROOT/github.com/NVIDIA/enroot/releases/download/v4.2.1/enroot-4.2.1-1.el8.x86_64.rpm" | cut -d' ' -f1)
  enroot_caps_rpm=$(sha256sum "$MIRROR_ROOT/github.com/NVIDIA/enroot/releases/download/v4.2.1/enroot+caps-4.2.1-1.el8.x86_64.rpm" | cut -d' ' -f1)
  neuronx_cc=$(sha256sum "$MIRROR_ROOT"/pip.repos.neuron.amazonaws.com/neuronx-cc/*.whl | cut -d' ' -f1)
  torch_neuronx=$(sha256sum "$MIRROR_ROOT"/pip.repos.neuron.amazonaws.com/torch-neuronx/*.whl | cut -d' ' -f1)
  nccl_tests=$(sha256sum "$MIRROR_ROOT/github.com/NVIDIA/nccl-tests/archive/refs/tags/v2.17.6.tar.gz" | cut -d' ' -f1)
  # written beside, then moved: tests running at the same time read it whole or not at all
  cat >"$AWSOME_CACHE/.mirror-versions.yml.$$" <<YAML
# Written by tests/testbed/mirror.sh: the test bed's mirror signs its stand-in repositories, and its
# stand-in source releases have checksums of their own.
versions_cuda_repository:
  path: developer.download.nvidia.com/compute/cuda/repos
  keys:
    Debian: {file: 3bf863cc.pub, fingerprint: $fpr}
    RedHat: {file: D42D0685.pub, fingerprint: $fpr}
versions_pyxis:
  version: "0.24.0"
  sha256: "$pyxis"
  path: github.com/NVIDIA/pyxis/archive/refs/tags
versions_enroot:
  version: "4.2.1"
  path: github.com/NVIDIA/enroot/releases/download
  sha256: {enroot_4.2.1-1_amd64.deb: "$enroot", enroot+caps_4.2.1-1_amd64.deb: "$enroot_caps",
           enroot-4.2.1-1.el8.x86_64.rpm: "$enroot_rpm", enroot+caps-4.2.1-1.el8.x86_64.rpm: "$enroot_caps_rpm"}
versions_neuron:
  sdk: "2.32.0"
  repository:
    apt_path: apt.repos.neuron.amazonaws.com
    yum_path: yum.repos.neuron.amazonaws.com
    key: {file: GPG-PUB-KEY-AMAZON-AWS-NEURON.PUB, fingerprint: $fpr}
  packages: {aws-neuronx-dkms: "2.30.2.0", aws-neuronx-runtime-lib: "2.34.10.0", aws-neuronx-collectives: "2.34.10.0",
             aws-neuronx-tools: "2.32.28.0", aws-neuronx-oci-hook: "2.18.25.0"}
  pip_path: pip.repos.neuron.amazonaws.com
  python: {neuronx-cc: "2.27.5334.0", torch-neuronx: "2.9.0.2.15.32035"}
  locks:
    cp311-x86_64:
      - "neuronx-cc==2.27.5334.0 --hash=sha256:$neuronx_cc"
      - "torch-neuronx==2.9.0.2.15.32035 --hash=sha256:$torch_neuronx"
versions_efa:
  version: "1.42.0"
  path: efa-installer.amazonaws.com
  sha256: {"1.42.0": "$efa"}
  key: {file: aws-efa-installer.key, fingerprint: $fpr}
  bundles: {libfabric: "2.1.0amzn3.0", aws_ofi_nccl: "1.15.0"}
versions_aws_ofi_nccl:
  install: bundled
  version: "1.21.1"
  sha512: "$ofi"
  path: github.com/aws/aws-ofi-nccl/releases/download
versions_gdrcopy:
  version: "2.5.1"
  sha256: "$gdrcopy"
  path: github.com/NVIDIA/gdrcopy/archive/refs/tags
versions_nccl_tests:
  version: "2.17.6"
  sha256: "$nccl_tests"
  path: github.com/NVIDIA/nccl-tests/archive/refs/tags
YAML
  mv "$AWSOME_CACHE/.mirror-versions.yml.$$" "$AWSOME_CACHE/mirror-versions.yml"
}

# A rebuilt stand-in keeps its name and version, which a real vendor never republishes with other
# bytes: drop the nodes' cached copies (apt-archives/<node>/) so apt fetches the new ones.
forget_cached_debs() {
  local since=$1 deb
  [ -d "$AWSOME_CACHE/apt-archives" ] || return 0
  find "$MIRROR_ROOT" -name '*.deb' -newer "$since" -printf '%f\n' | while read -r deb; do
    find "$AWSOME_CACHE/apt-archives" -name "$deb" -delete
  done
}

# Each recipe standins/<name>.sh fills its part of the tree; it reruns only when it (or lib) changed.
run_standins() {
  local recipe name hash stamp own
  for recipe in "$here"/standins/*.sh; do
    [ -e "$recipe" ] || continue
    name=$(basename "$recipe" .sh)
    # a recipe's own files (standins/<name>/) and the fixtures it packs count as the recipe
    own=()
    [ ! -d "$here/standins/$name" ] || own=("$here/standins/$name"/*)
    # and the running kernel, which the containers share: fsx-lustre names its modules after it
    hash=$(recipe_hash "$recipe" "$here/standin-lib.sh" "$MIRROR_ROOT/testbed/keys/mirror.fpr" \
      "${own[@]}" "$root"/tests/fixtures/*.py <(uname -r))
    stamp="$MIRROR_ROOT/testbed/stamps/$name"
    if [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then
      say "stand-in $name cached"
      continue
    fi
    say "building stand-in $name"
    touch "$AWSOME_CACHE/.standin-start"
    bash "$recipe"
    forget_cached_debs "$AWSOME_CACHE/.standin-start"
    mkdir -p "$(dirname "$stamp")"
    echo "$hash" >"$stamp"
  done
}

# The PyTorch CPU build the version set locks (roles/versions: versions_pytorch.locks), every file
# checked against its pinned sha256, laid out as a PEP 503 index the way download.pytorch.org/whl/cpu
# serves it (one folder per project; http.server lists it). Refilled only when the lock changes.
fill_wheelhouse() {
  local idx=$MIRROR_ROOT/download.pytorch.org/whl/cpu build=${AWSOME_TORCH_BUILD:-cpu-cp311-x86_64}
  local lock hash
  lock=$(mktemp "$AWSOME_CACHE/lock.XXXX")
  "$root/.venv/bin/python" -c 'import sys, yaml
print("\n".join(yaml.safe_load(open(sys.argv[1]))["versions_pytorch"]["locks"][sys.argv[2]]))' \
    "$root/roles/versions/defaults/main.yml" "$build" >"$lock"
  hash=$(recipe_hash "$lock")
  if [ "$(cat "$idx/.lock-hash" 2>/dev/null)" = "$hash" ]; then
    say "wheelhouse cached ($build, lock $hash)"
    rm -f "$lock"
    return 0
  fi
  say "filling the wheelhouse with the $build lock (torch and every file it needs, sha256-checked)"
  local dl
  dl=$(mktemp -d "$AWSOME_CACHE/wheels.XXXX")
  python3 -m pip download -q --require-hashes --no-deps --only-binary=:all: -d "$dl" -r "$lock" >"$dl/pip.log" 2>&1 \
    || { grep -v 'WARNING: Location' "$dl/pip.log" >&2; die "pip download of the lock failed"; }
  local f project
  for f in "$dl"/*.whl; do
    project=$(basename "$f" | cut -d- -f1 | tr 'A-Z_.' 'a-z--')
    mkdir -p "$idx/$project"
    mv "$f" "$idx/$project/"
  done
  rm -rf "$dl" "$lock"
  echo "$hash" >"$idx/.lock-hash"
}

url() { echo "http://$(docker_gateway):$port/"; }

serve() {
  local base
  base=$(url)
  mkdir -p "$MIRROR_ROOT"
  serve_daemon mirror "$pidfile" "$base" "$AWSOME_CACHE/mirror.log" \
    python3 -m http.server --bind "$(docker_gateway)" --directory "$MIRROR_ROOT" "$port"
  echo "$base" >"$AWSOME_CACHE/mirror.url"
  echo "$base"
}

case "${1:-}" in
  build) mkdir -p "$MIRROR_ROOT"; make_key; run_standins; write_versions_override; fill_wheelhouse ;;
  serve) serve ;;
  url) url ;;
  stop) stop_daemon "$pidfile" ;;
  *) die "usage: mirror.sh build|serve|url|stop" ;;
esac
