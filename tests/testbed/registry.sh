#!/usr/bin/env bash
# The local container registry: Debian's docker-registry (the CNCF Distribution registry, Docker's
# Registry HTTP API v2) serving the test bed's images over HTTP to the containers at <gateway>:<port>,
# where a cluster would pull from nvcr.io or ECR. Its images are built from the test bed's own files
# (nothing is pulled) and pushed with skopeo: docker itself pushes over plain HTTP only to 127.0.0.0/8,
# which the containers cannot reach.
#   serve   serve the registry (idempotent); prints <gateway>:<port>
#   push    build and push the test bed's images, each once per recipe; prints their references
#   stop    stop serving (the stored images stay under $AWSOME_CACHE/registry)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"
port=${AWSOME_REGISTRY_PORT:-5005}
store=$AWSOME_CACHE/registry
pidfile=$AWSOME_CACHE/registry.pid

address() { echo "$(docker_gateway):$port"; }

serve() {
  command -v docker-registry >/dev/null || die "no docker-registry: run tests/testbed/bootstrap.sh host"
  mkdir -p "$store/data"
  # no auth: the containers pull anonymously, as from a public registry
  cat >"$store/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $store/data}}
http: {addr: "$(address)"}
EOF
  serve_daemon registry "$pidfile" "http://$(address)/v2/" "$AWSOME_CACHE/registry.log" \
    docker-registry serve "$store/config.yml"
  address
}

# hello: a two-layer image from scratch (a message, then a marker naming its recipe), with an
# environment, a working directory and an entrypoint, as a framework image has.
push_hello() {
  local ref hash ctx out
  hash=$(recipe_hash "${BASH_SOURCE[0]}")
  ref=$(address)/testbed/hello:1
  if [ "$(cat "$store/hello.stamp" 2>/dev/null)" = "$hash" ] && skopeo inspect --tls-verify=false "docker://$ref" >/dev/null 2>&1; then
    echo "$ref"
    return
  fi
  ctx=$(mktemp -d)
  mkdir -p "$ctx/opt/hello"
  echo "hello from the test bed's registry" >"$ctx/opt/hello/message"
  echo "$hash" >"$ctx/recipe"
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY opt /opt
COPY recipe /opt/hello/recipe
ENV HELLO_HOME=/opt/hello LANG=C.UTF-8
WORKDIR /opt/hello
ENTRYPOINT ["/opt/hello/run"]
EOF
  out=$(docker build -q -t awsome-testbed-hello:1 "$ctx" 2>&1) || { echo "$out" >&2; die "docker build of hello failed"; }
  rm -rf "$ctx"
  skopeo copy -q --dest-tls-verify=false docker-daemon:awsome-testbed-hello:1 "docker://$ref" >&2
  echo "$hash" >"$store/hello.stamp"
  say "pushed $ref"
  echo "$ref"
}

case "${1:-}" in
  serve) serve ;;
  push) serve >/dev/null; push_hello ;;
  stop) stop_daemon "$pidfile" ;;
  *) die "usage: registry.sh serve|push|stop" ;;
esac
