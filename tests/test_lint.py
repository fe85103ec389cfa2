"""Lint, as CI runs it: yamllint, ansible-lint with the production profile, ruff. No blanket skips."""

from pathlib import Path

import pytest

from tests.helpers import run

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "cmd",
    [
        ["yamllint", "--strict", "."],
        ["ansible-lint", "--offline", "--profile", "production"],
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
    ],
    ids=["yamllint", "ansible-lint", "ruff-check", "ruff-format"],
)
def test_lint(cmd, venv_bin):
    run(
        [str(venv_bin / cmd[0]), *cmd[1:]],
        cwd=ROOT,
        env={
            "PATH": f"{venv_bin}:/usr/bin:/bin",
            "ANSIBLE_GALAXY_SERVER": "http://127.0.0.1:9/",
            "HOME": str(Path.home()),
        },
    )
