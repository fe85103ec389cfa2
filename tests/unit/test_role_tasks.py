"""Tags reach every task: a dynamic include passes its section's tags to the tasks it includes
(`apply: tags`), or `--tags nvidia_driver_install` would run the include and skip what it includes."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TASK_FILES = sorted((ROOT / "roles").glob("*/tasks/*.yml"))
INCLUDES = ("ansible.builtin.include_tasks", "ansible.builtin.include_role")
# the benchmark role's entry points are chosen with tasks_from, not tags; the rolling role applies whole
# roles to a node, and --tags would apply part of a change to a drained node
ENTRY_POINT_ROLES = {"benchmark", "rolling"}


def tasks(items):
    for task in items or []:
        yield task
        for section in ("block", "rescue", "always"):
            yield from tasks(task.get(section))


def dynamic_includes():
    for path in TASK_FILES:
        if path.parts[-3] in ENTRY_POINT_ROLES:
            continue
        for task in tasks(yaml.safe_load(path.read_text())):
            for key in INCLUDES:
                if key in task:
                    yield pytest.param(task, id=f"{path.relative_to(ROOT)}: {task.get('name')}")


@pytest.mark.parametrize("task", list(dynamic_includes()))
def test_dynamic_includes_apply_their_tags(task):
    include = next(task[key] for key in INCLUDES if key in task)
    assert isinstance(include, dict) and include.get("apply", {}).get("tags"), (
        "give the include apply: tags (the tags of its section) so --tags selects what it includes"
    )
