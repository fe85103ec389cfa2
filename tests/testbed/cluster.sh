#!/usr/bin/env bash
# The local cluster: systemd containers from the base image, named as inventories/local names them:
# a head node and two compute nodes on one user network (Docker's DNS resolves their names, as Slurm
# needs), sharing one host directory at /fsx as FSx for Lustre would be shared.
#   up          start the nodes that are not running (idempotent)
#   down        remove them (the shared directory stays, under $AWSOME_CACHE/cluster/fsx)
#   node NAME   start one more such node (tests use it)
#   clone SRC NAME [CAP]
#               start NAME from a snapshot of the converged node SRC (a compute node in seconds,
#               with CAP added, e.g. NET_ADMIN for tc); converge Slurm to make it one of the cluster
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"

nodes=(ml-head ml-c1 ml-c2)
network=awsome-ml
shared=${AWSOME_SHARED_DIR:-$AWSOME_CACHE/cluster/fsx}

# node NAME: a systemd container with the flags that work here (no --privileged; see testbed.md),
# keeping its apt archive on the host (per node: apt locks the directory) so a rerun fetches nothing.
node() {
  local n=$1
  if [ "$(docker inspect -f '{{.State.Running}}' "$n" 2>/dev/null)" = true ]; then
    say "node $n running"
    return 0
  fi
  mkdir -p "$AWSOME_CACHE/apt-archives/$n/partial" "$shared"
  docker network inspect "$network" >/dev/null 2>&1 || docker network create "$network" >/dev/null
  docker rm -f "$n" >/dev/null 2>&1 || true
  docker run -d --name "$n" --hostname "$n" --network "$network" --cap-add SYS_ADMIN --cgroupns=host \
    --label awsome-ml-node -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock -v "$shared:/fsx" \
    -v "$AWSOME_CACHE/apt-archives/$n:/var/cache/apt/archives" "${@:2}" "${image:-awsome-ml-base:latest}" >/dev/null
  say "node $n started"
}

# clone SRC NAME [CAP]: NAME from SRC's filesystem as it is now (docker commit: the mounts are not
# in it), without SRC's slurmd state.
clone() {
  local src=$1 n=$2 cap=${3:-}
  docker commit "$src" "awsome-ml-clone:$src" >/dev/null
  image="awsome-ml-clone:$src" node "$n" ${cap:+--cap-add "$cap"}
  docker exec "$n" sh -c 'rm -rf /var/lib/slurm/slurmd/* /var/lib/ml_cluster/health/*'
}

up() {
  local n
  for n in "${nodes[@]}"; do node "$n"; done
}

down() {
  local all images
  mapfile -t all < <(docker ps -aq --filter label=awsome-ml-node)
  docker rm -f "${nodes[@]}" "${all[@]}" >/dev/null 2>&1 || true
  mapfile -t images < <(docker images -q awsome-ml-clone)
  [ ${#images[@]} -eq 0 ] || docker image rm "${images[@]}" >/dev/null 2>&1 || true
  say "nodes removed: ${nodes[*]} and ${#all[@]} labelled"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  node) node "${2:?usage: cluster.sh node NAME}" ;;
  clone) clone "${2:?usage: cluster.sh clone SRC NAME [CAP]}" "${3:?usage: cluster.sh clone SRC NAME [CAP]}" "${4:-}" ;;
  *) die "usage: cluster.sh up|down|node NAME|clone SRC NAME [CAP]" ;;
esac
