#!/usr/bin/env bash
# The main job on the local default: converge the local cluster (inventories/local) with
# playbooks/site.yml, converge it again to show nothing changes, and say what was done.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"
cd "$root"
export PATH="$root/.venv/bin:$PATH" ANSIBLE_GALAXY_SERVER=http://127.0.0.1:9/
AWSOME_MIRROR_URL=$(cat "$AWSOME_CACHE/mirror.url")
export AWSOME_MIRROR_URL

timed cluster "$here/cluster.sh" up
log=$AWSOME_CACHE/demo-converge.log
say "converging the local cluster (playbooks/site.yml; full log: $log)"
timed converge ansible-playbook -i inventories/local playbooks/site.yml | tee "$log"
say "converging again: a converged cluster must report changed=0"
timed reconverge ansible-playbook -i inventories/local playbooks/site.yml >"$log.2"

echo
say "what the first converge changed:"
grep -E '^changed:' -B2 "$log" | grep -E '^(TASK|RUNNING HANDLER)' | sed -E 's/^(TASK|RUNNING HANDLER) \[(.*)\] \**$/  - \2/' >&2
say "recap of the second converge:"
grep -E '^[a-z0-9-]+ +: ok=' "$log.2" | sed 's/^/  /' >&2
if grep -qE 'changed=[1-9]|failed=[1-9]' "$log.2"; then
  die "the second converge was not a no-op (see $log.2)"
fi
say "node ml-head is converged; look around with: docker exec -it ml-head bash"
