#!/usr/bin/env bash
# Runs the test suite in stages, quickest first, printing each stage's time:
# lint and unit tests (seconds), the integration tests (molecule, collection, Packer, moto, test bed),
# and beside them the real-kernel tier in a QEMU VM (minutes under emulation).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"
cd "$root"
pytest=(.venv/bin/pytest -p no:cacheprovider --durations=0 "$@")
# Every stage runs even when an earlier one failed, so one CI run reports every failure.
failed=()
timed lint "${pytest[@]}" tests/test_lint.py || failed+=(lint)
timed unit "${pytest[@]}" tests/unit || failed+=(unit)
# The VM tier keeps about one of the two cores busy (one guest under emulation), the containers of the
# integration tests the other: they run side by side unless AWSOME_SERIAL_TIERS=1. The VM tier's output
# is printed whole when it ends, after the integration tests'.
if [ "${AWSOME_SERIAL_TIERS:-0}" = 1 ]; then
  timed integration "${pytest[@]}" tests/integration --ignore=tests/integration/test_vm.py || failed+=(integration)
  timed vm "${pytest[@]}" tests/integration/test_vm.py || failed+=(vm)
else
  vm_log=$(mktemp "${TMPDIR:-/tmp}/awsome-vm-tier.XXXX.log")
  start=$(date +%s)
  timed vm "${pytest[@]}" tests/integration/test_vm.py >"$vm_log" 2>&1 &
  vm_pid=$!
  say "the VM tier runs beside the integration tests (log: $vm_log)"
  timed integration "${pytest[@]}" tests/integration --ignore=tests/integration/test_vm.py || failed+=(integration)
  vm_rc=0
  wait "$vm_pid" || vm_rc=$?
  say "the VM tier's output:"
  cat "$vm_log" >&2
  [ "$vm_rc" = 0 ] || failed+=(vm)
  say "step integration + vm (side by side): $(( $(date +%s) - start )) s"
fi
[ ${#failed[@]} -eq 0 ] || die "failed stages: ${failed[*]}"
say "all stages passed"
