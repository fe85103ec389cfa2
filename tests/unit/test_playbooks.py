"""Every image flavour playbook exists for the Packer flavours, and uses only roles of this collection
that exist."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FLAVOURS = sorted(p.name.split(".")[0] for p in (ROOT / "packer" / "flavours").glob("*.pkrvars.hcl"))


def roles_of(playbook):
    for play in yaml.safe_load(playbook.read_text()):
        for role in play.get("roles", []):
            yield role["role"] if isinstance(role, dict) else role


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_flavour_playbook_uses_only_this_collections_roles(flavour):
    playbook = ROOT / "playbooks" / f"image-{flavour}.yml"
    assert playbook.is_file()
    roles = list(roles_of(playbook))
    assert roles, "a flavour playbook applies roles"
    for role in roles:
        namespace, name = role.rsplit(".", 1)
        assert namespace == "awsome.ml_cluster", role
        assert (ROOT / "roles" / name / "tasks" / "main.yml").is_file(), role
    assert roles[-1] == "awsome.ml_cluster.image", "the image role finishes every flavour"


@pytest.mark.parametrize("playbook", sorted(p.name for p in (ROOT / "playbooks").glob("*.yml")))
def test_playbooks_parse(playbook):
    assert isinstance(yaml.safe_load((ROOT / "playbooks" / playbook).read_text()), list)
