#!/usr/bin/env bash
# The main job on the local default: a three-node Slurm cluster of containers (inventories/local),
# converged with playbooks/site.yml and converged again to show that nothing changes; then the test
# cases are staged, the FSDP benchmark runs through sbatch + torchrun across both compute nodes on the
# CPU, a collective bandwidth sweep runs the same way, every node is validated, and the reports are
# printed.
#   AWSOME_DEMO_KEEP=1 (default) keeps the cluster for a look around; 0 removes it at the end.
#   AWSOME_REPORT_DIR  where the reports go (default: artifacts/reports in this checkout).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"
cd "$root"
export PATH="$root/.venv/bin:$PATH" ANSIBLE_GALAXY_SERVER=http://127.0.0.1:9/
AWSOME_MIRROR_URL=$(cat "$AWSOME_CACHE/mirror.url")
export AWSOME_MIRROR_URL
keep=${AWSOME_DEMO_KEEP:-1}
reports=${AWSOME_REPORT_DIR:-$root/artifacts/reports}
mkdir -p "$reports"
log=$AWSOME_CACHE/demo
mkdir -p "$log"
# The mirror's version-set override pins the stand-ins' checksums (Pyxis's source release).
playbook() {
  ansible-playbook -i inventories/local -e "@$AWSOME_CACHE/mirror-versions.yml" \
    -e "benchmark_report_dir=$reports" -e "validate_report_dir=$reports/validate" "$@"
}

[ "$keep" = 1 ] || trap '"$here/cluster.sh" down' EXIT
timed cluster "$here/cluster.sh" up
say "converging the local cluster (playbooks/site.yml; full log: $log/converge.log)"
timed converge playbook playbooks/site.yml >"$log/converge.log" || { tail -40 "$log/converge.log" >&2; die "converge failed"; }
say "converging again: a converged cluster must report changed=0"
timed reconverge playbook playbooks/site.yml >"$log/reconverge.log" || { tail -40 "$log/reconverge.log" >&2; die "second converge failed"; }
say "what the first converge changed:"
grep -E '^changed:' -B2 "$log/converge.log" | grep -E '^(TASK|RUNNING HANDLER)' \
  | sed -E 's/^(TASK|RUNNING HANDLER) \[(.*)\] \**$/  - \2/' | sort | uniq -c >&2 || true
say "recap of the second converge:"
grep -E '^[a-z0-9-]+ +: ok=' "$log/reconverge.log" | sed 's/^/  /' >&2
if grep -qE 'changed=[1-9]|failed=[1-9]' "$log/reconverge.log"; then
  die "the second converge was not a no-op (see $log/reconverge.log)"
fi

timed stage playbook playbooks/stage_test_cases.yml >"$log/stage.log" || { tail -40 "$log/stage.log" >&2; die "staging failed"; }
say "FSDP benchmark through Slurm on both compute nodes (log: $log/fsdp.log)"
timed fsdp playbook playbooks/benchmark_fsdp.yml >"$log/fsdp.log" || { tail -40 "$log/fsdp.log" >&2; die "the FSDP benchmark failed"; }
say "collective bandwidth sweep through Slurm (log: $log/nccl.log)"
timed nccl playbook playbooks/benchmark_nccl.yml >"$log/nccl.log" || { tail -40 "$log/nccl.log" >&2; die "the collective benchmark failed"; }

say "node validation (log: $log/validate.log)"
timed validate playbook playbooks/validate.yml >"$log/validate.log" || { tail -40 "$log/validate.log" >&2; die "validation failed"; }

for f in "$log/fsdp.log" "$log/nccl.log"; do
  grep -E '"msg": ' "$f" | tail -1 | sed -E 's/^ *"msg": "(.*)"$/\1/; s/\\n/ /g' | sed 's/^/[testbed]   /' >&2
done
latest() { find "$reports" -name "$1" -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2; }
echo "$(latest fsdp.md)"
echo "$(latest nccl.md)"
echo "$reports/validate/summary.md"
if [ "$keep" = 1 ]; then
  say "the cluster stays up: docker exec -it ml-head bash (sinfo, squeue); make clean removes it"
fi
