"""The slurm role's topology preflight (plugins/filter/slurm.py)."""

from ansible_collections.awsome.ml_cluster.plugins.filter.slurm import slurm_topology_problems, slurm_unregistered

COMPUTE = ["ml-c1", "ml-c2", "ml-c3", "ml-c4"]


def test_a_two_level_tree_is_accepted():
    tree = [
        {"switch": "leaf1", "nodes": ["ml-c1", "ml-c3"]},
        {"switch": "leaf2", "nodes": ["ml-c2", "ml-c4"]},
        {"switch": "spine", "switches": ["leaf1", "leaf2"]},
    ]
    assert slurm_topology_problems(tree, COMPUTE) == []


def test_each_mistake_is_named():
    broken = [
        {"switch": "leaf1", "nodes": ["ml-c1", "ml-c9"]},
        {"switch": "leaf1", "nodes": ["ml-c2"], "switches": ["leaf2"]},
        {"switch": "spine", "switches": ["leaf1", "leafX"]},
        {"nodes": ["ml-c3"]},
    ]
    assert slurm_topology_problems(broken, COMPUTE) == [
        "slurm_topology: switch leaf1 names nodes that are not compute nodes: ml-c9.",
        "slurm_topology: switch leaf1 needs either nodes (a leaf) or switches, not both or neither.",
        "slurm_topology: switch leaf1 names switches that are not defined: leaf2.",
        "slurm_topology: switch spine names switches that are not defined: leafX.",
        "slurm_topology entry 4 needs a switch name.",
        "slurm_topology leaves compute nodes under no switch: ml-c4.",
        "slurm_topology names a switch twice: leaf1.",
    ]


def test_an_empty_leaf_is_refused_and_no_topology_is_fine():
    empty = [{"switch": "leaf1", "nodes": []}, {"switch": "leaf2", "nodes": COMPUTE}]
    assert slurm_topology_problems(empty, COMPUTE) == ["slurm_topology: leaf switch leaf1 has no nodes."]
    assert slurm_topology_problems([], COMPUTE) == []


def test_registration_waits_for_usable_nodes_and_accepts_the_collections_own_drains():
    nodes = ["ml-c1", "ml-c2"]
    assert slurm_unregistered(["ml-c1 idle none", "ml-c1 idle none", "ml-c2 alloc none"], nodes) == []
    rolling = "ml-c1 drain ml_cluster rolling: change Enroot 4.2.1 -> 4.3.0"
    health = "ml-c2 drng ml_cluster: filesystems: /fsx not mounted"
    assert slurm_unregistered([rolling, health], nodes) == []
    # a person's drain, Slurm's own (22.05 shows a config mismatch as drain), down, not responding
    assert slurm_unregistered(["ml-c1 drain bad DIMM", "ml-c2 drain Low RealMemory"], nodes) == [
        "ml-c1: drain (bad DIMM)",
        "ml-c2: drain (Low RealMemory)",
    ]
    assert slurm_unregistered(["ml-c1 idle* none", "ml-c2 down Not responding"], nodes) == [
        "ml-c1: idle* (none)",
        "ml-c2: down (Not responding)",
    ]
    assert slurm_unregistered(["ml-c1 idle none"], nodes) == ["ml-c2: not listed by sinfo"]
    # a wave of a rolling change checks its own nodes only: another node's trouble is not its own
    assert slurm_unregistered(["ml-c1 idle none", "ml-c2 down Not responding"], nodes, ["ml-c1"]) == []
