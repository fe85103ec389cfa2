# Shared helpers for the test bed's shell steps (sourced, not run).
# shellcheck shell=bash
AWSOME_CACHE=${AWSOME_CACHE:-/var/cache/awsome-ml-cluster}
export AWSOME_CACHE

say() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

# timed NAME CMD...: runs CMD and prints how long it took.
timed() {
  local name=$1 start rc=0
  shift
  start=$(date +%s)
  "$@" || rc=$?
  say "step $name: $(( $(date +%s) - start )) s$([ $rc = 0 ] || echo " (FAILED, exit $rc)")"
  return $rc
}

# serve_daemon NAME PIDFILE URL LOG CMD...: runs CMD in the background (output in LOG, pid in PIDFILE)
# unless the process PIDFILE names is alive and URL answers; waits up to 10 s for URL to answer.
serve_daemon() {
  local name=$1 pidfile=$2 url=$3 log=$4
  shift 4
  if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && curl -fsS -o /dev/null "$url" 2>/dev/null; then
    say "$name already served at $url"
    return
  fi
  nohup "$@" >"$log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 40); do curl -fsS -o /dev/null "$url" 2>/dev/null && break; sleep 0.25; done
  curl -fsS -o /dev/null "$url" 2>/dev/null || die "the $name did not start: see $log"
  say "$name served at $url"
}

# stop_daemon PIDFILE: stops what serve_daemon started.
stop_daemon() {
  [ -s "$1" ] && kill "$(cat "$1")" 2>/dev/null || true
  rm -f "$1"
}

# recipe_hash FILE...: a short content hash, used as a cache key.
recipe_hash() { cat "$@" | sha256sum | cut -c1-12; }

# apt_fresh_enough: true when the host's apt lists are younger than a day.
apt_fresh_enough() {
  local stamp=/var/lib/apt/periodic/update-success-stamp lists=/var/lib/apt/lists
  local newest
  newest=$(find "$lists" -maxdepth 1 -name '*_Packages*' -newermt '-1 day' -print -quit 2>/dev/null)
  [ -n "$newest" ] || [ -n "$(find "$stamp" -newermt '-1 day' 2>/dev/null)" ]
}

# debian_mirror: the Debian mirror the host's apt uses (deb822 or one-line sources).
debian_mirror() {
  local m
  m=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | grep -m1 debian || true)
  [ -n "$m" ] || m=$(grep -hE '^deb\s+http' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | grep -v security | grep -m1 debian || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# docker_gateway: the host's address on docker's default bridge, where containers reach the mirror.
docker_gateway() {
  local ip
  ip=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
  [ -n "$ip" ] || die "no docker0 address: is dockerd running? (tests/testbed/bootstrap.sh host)"
  echo "$ip"
}

# install_zipimport_cache ROOTFS: the test bed's zipimport code cache (zipimport_cache.py) into the
# Python of ROOTFS, as a .pth hook: Ansible's zipped modules are compiled once per node, not per task.
install_zipimport_cache() {
  local rootfs=$1 site
  site=$rootfs/usr/local/lib/$(chroot "$rootfs" python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])')/dist-packages
  install -d "$site"
  install -m 644 "$(dirname "${BASH_SOURCE[0]}")/zipimport_cache.py" "$site/zipimport_cache.py"
  echo "import zipimport_cache; zipimport_cache.install()" >"$site/testbed-zipimport-cache.pth"
}
