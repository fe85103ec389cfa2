"""Every molecule scenario (one per stack) as a pytest case: create, prepare (negative tests),
converge, idempotence, verify, destroy."""

from pathlib import Path

import pytest

from tests.helpers import run

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


@pytest.mark.integration
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario, testbed, keep_artifacts):
    cmd = ["molecule", "test", "-s", scenario]
    if keep_artifacts:
        cmd += ["--destroy", "never"]
    run(cmd, cwd=ROOT, env=testbed, capture=False)
