"""Every module documents itself in YAML that ansible-doc can read (a stray ': ' breaks it silently)."""

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted((ROOT / "plugins" / "modules").glob("*.py"))


def constant(path, name):
    tree = ast.parse(path.read_text())
    return next(node.value.value for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == name)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.stem)
def test_module_documentation_parses(path):
    doc = yaml.safe_load(constant(path, "DOCUMENTATION"))
    assert doc["module"] == path.stem and doc["short_description"] and doc["options"] is not None
    yaml.safe_load(constant(path, "EXAMPLES"))
    yaml.safe_load(constant(path, "RETURN"))
