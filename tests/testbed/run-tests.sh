#!/usr/bin/env bash
# Runs the test suite in stages, printing each stage's time: lint and unit tests (seconds), the
# integration tests (molecule, collection, moto, the local cluster, test bed), the Packer image build,
# and the real-kernel tier in a QEMU VM (minutes under emulation).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"
cd "$root"
pytest=(.venv/bin/pytest -p no:cacheprovider --durations=0 "$@")
# Every stage runs even when an earlier one failed, so one CI run reports every failure.
failed=()
integration=("${pytest[@]}" tests/integration --ignore=tests/integration/test_vm.py
  --ignore=tests/integration/test_packer.py)
if [ "${AWSOME_SERIAL_TIERS:-0}" = 1 ]; then
  timed lint "${pytest[@]}" tests/test_lint.py || failed+=(lint)
  timed unit "${pytest[@]}" tests/unit || failed+=(unit)
  timed integration "${integration[@]}" || failed+=(integration)
  timed images "${pytest[@]}" tests/integration/test_packer.py || failed+=(images)
  timed vm "${pytest[@]}" tests/integration/test_vm.py || failed+=(vm)
else
  # Two streams side by side: the VM tier (one guest under emulation keeps about one core busy) and then
  # the Packer image build, beside lint, unit and the other integration tests (containers). The first
  # stream's output is printed whole when both have ended. AWSOME_SERIAL_TIERS=1 runs one stage at a time.
  log=$(mktemp "${TMPDIR:-/tmp}/awsome-vm-images.XXXX.log")
  stream_failed=$log.failed
  start=$(date +%s)
  {
    timed vm "${pytest[@]}" tests/integration/test_vm.py || echo vm >>"$stream_failed"
    timed images "${pytest[@]}" tests/integration/test_packer.py || echo images >>"$stream_failed"
  } >"$log" 2>&1 &
  stream=$!
  say "the VM tier and then the image build run beside the other stages (log: $log)"
  timed lint "${pytest[@]}" tests/test_lint.py || failed+=(lint)
  timed unit "${pytest[@]}" tests/unit || failed+=(unit)
  timed integration "${integration[@]}" || failed+=(integration)
  wait "$stream" || true
  say "the VM tier's and the image build's output:"
  cat "$log" >&2
  [ ! -s "$stream_failed" ] || mapfile -t -O "${#failed[@]}" failed <"$stream_failed"
  say "step all stages, side by side: $(( $(date +%s) - start )) s"
fi
[ ${#failed[@]} -eq 0 ] || die "failed stages: ${failed[*]}"
say "all stages passed"
