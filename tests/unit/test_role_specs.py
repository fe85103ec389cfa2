"""Every role documents every option: meta/argument_specs.yml and defaults/main.yml list the same
options with the same defaults (prometheus.prometheus checks the same in its CI)."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())


def load(path):
    return yaml.safe_load(path.read_text()) or {}


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_an_argument_spec(role):
    assert (ROOT / "roles" / role / "meta" / "argument_specs.yml").is_file()


@pytest.mark.parametrize("role", ROLES)
def test_spec_and_defaults_agree(role):
    spec = load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = load(ROOT / "roles" / role / "defaults" / "main.yml")
    assert sorted(spec) == sorted(defaults), "options in one file but not the other"
    for name, option in spec.items():
        assert option.get("description"), f"{name} has no description"
        assert option.get("default") == defaults[name], f"{name}: spec default differs from defaults/main.yml"
        assert name.startswith(f"{role}_"), f"{name} lacks the role's prefix"


@pytest.mark.parametrize("role", ROLES)
def test_role_has_a_readme(role):
    assert (ROOT / "roles" / role / "README.md").is_file()
