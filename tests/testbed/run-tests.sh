#!/usr/bin/env bash
# Runs the test suite in stages, quickest first, printing each stage's time:
# lint and unit tests (seconds), the integration tests (molecule, collection, Packer, moto, test bed),
# then the real-kernel tier in a QEMU VM (minutes under emulation).
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
timed integration "${pytest[@]}" tests/integration --ignore=tests/integration/test_vm.py || failed+=(integration)
timed vm "${pytest[@]}" tests/integration/test_vm.py || failed+=(vm)
[ ${#failed[@]} -eq 0 ] || die "failed stages: ${failed[*]}"
say "all stages passed"
