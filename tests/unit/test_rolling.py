"""Rolling changes (plugins/module_utils/rolling.py): what would change on a node, what the run does
with the node for each Slurm state (recorded scontrol lines), the reasons it writes, and its report."""

import json
import re
from pathlib import Path

from ansible_collections.awsome.ml_cluster.plugins.filter import rolling as filters
from ansible_collections.awsome.ml_cluster.plugins.module_utils import rolling, slurm_nodes

SLURM = Path(__file__).resolve().parents[1] / "fixtures" / "slurm"
DECLARED = {
    "enroot": {"version": "4.3.0"},
    "nccl": {"version": "2.27.7-1", "cuda": "12.9"},
    "nvidia_driver": {"version": "580.126.20"},
    "efa": {"version": "1.42.0"},
    "pytorch": {"version": "2.13.0"},
    "neuron": {"packages": {"aws-neuronx-dkms": "2.30.2.0"}},
}
# what node_health observes on a CPU node of the local cluster
CPU_NODE = {"enroot": "4.2.1", "torch": "2.13.0+cpu", "nccl": None, "efa_installer": None, "neuron_driver": None}


def line(name):
    return (SLURM / f"{name}.txt").read_text()


def with_reason(text, reason):
    return re.sub(r"Reason=.*?(?= [A-Z]\w+=|$)", f"Reason={reason} [root@2026-12-08T03:00:00]", text.strip())


def test_a_component_at_another_version_than_declared_is_a_change():
    assert rolling.changes(CPU_NODE, DECLARED) == [
        {"component": "Enroot", "installed": "4.2.1", "declared": "4.3.0", "kernel": False}
    ]
    # torch's local version (+cpu) is the build, not the release
    assert rolling.changes({**CPU_NODE, "enroot": "4.3.0"}, DECLARED) == []


def test_a_gpu_nodes_driver_and_efa_changes_bring_a_kernel_module():
    observed = {
        "nvidia_smi": [{"driver_version": "570.172.08"}] * 8,
        "efa_installer": "1.41.0",
        "nccl": "2.27.7-1+cuda12.9",
        "torch": "2.13.0+cu130",
    }
    found = rolling.changes(observed, DECLARED)
    assert [(c["component"], c["installed"], c["kernel"]) for c in found] == [
        ("NVIDIA driver", "570.172.08", True),
        ("EFA installer", "1.41.0", True),
    ]


def test_a_component_the_node_lacks_or_the_set_does_not_declare_is_not_a_change():
    assert rolling.changes({"enroot": None, "torch": "2.13.0+cpu"}, DECLARED) == []
    assert rolling.changes({"enroot": "4.2.1"}, {}) == []


CHANGE = rolling.changes(CPU_NODE, DECLARED)


def test_an_idle_or_busy_node_with_a_change_is_drained_with_the_rolling_owners_reason():
    for state in ("idle", "allocated"):
        plan = filters.rolling_plan(line(state), CHANGE)
        assert plan["action"] == "change"
        assert plan["reason"] == "ml_cluster rolling: change Enroot 4.2.1 -> 4.3.0"
    # the health program takes the rolling reason for someone else's and never resumes the node
    drained = slurm_nodes.parse_node(with_reason(line("drained-by-us"), plan["reason"]))
    assert not slurm_nodes.ours(drained) and rolling.ours(drained)


def test_a_node_with_nothing_to_change_is_not_drained():
    assert filters.rolling_plan(line("idle"), []) == {"action": "skip", "why": "nothing to change", "reason": None}
    assert filters.rolling_plan(line("allocated"), [])["action"] == "skip"


def test_nodes_drained_by_someone_else_down_rebooting_or_powered_down_are_left_alone():
    for name, why in (
        ("drained-by-a-person", "drained by someone else"),
        ("drained-by-us", "drained by someone else (ml_cluster:"),  # the health program's: it returns it
        ("down", "down: no slurmd answers"),
        ("reboot-requested", "rebooting"),
        ("powered-down", "powered down"),
    ):
        plan = filters.rolling_plan(line(name), CHANGE)
        assert plan["action"] == "left alone" and plan["why"].startswith(why), (name, plan)


def test_a_node_an_earlier_run_left_drained_is_changed_or_finished():
    ours = with_reason(line("drained-by-us"), "ml_cluster rolling: change Enroot 4.2.1 -> 4.3.0")
    assert filters.rolling_plan(ours, CHANGE)["action"] == "change"
    finish = filters.rolling_plan(ours, [])
    assert finish["action"] == "finish" and "an earlier run left it drained" in finish["why"]
    assert filters.rolling_ours(ours) and not filters.rolling_ours(line("drained-by-a-person"))


def test_the_wait_ends_when_the_node_runs_no_job():
    assert filters.rolling_runs_jobs(line("allocated")) and filters.rolling_runs_jobs(line("draining"))
    assert not filters.rolling_runs_jobs(line("idle"))


def health_result(*checks):
    return json.dumps(
        {
            "node": "ml-c1",
            "outcome": "x",
            "checks": [dict(zip(("name", "status", "severity", "detail"), c, strict=True)) for c in checks],
        }
    )


def test_what_fails_after_the_change_keeps_the_node_drained_and_could_not_check_does_not():
    checks = [
        {"name": "Enroot", "status": "fail", "detail": "4.2.1 installed, declared 4.3.0"},
        {"name": "PyTorch", "status": "pass", "detail": "ok"},
    ]
    healthy = health_result(("munge", "pass", "reboot", "ok"))
    assert rolling.failures(checks, 0, healthy) == (["Enroot: 4.2.1 installed, declared 4.3.0"], [])
    # the health program's JSON names the failures that act; a monitor-only one does not keep the node
    unhealthy = health_result(
        ("munge", "pass", "reboot", "ok"),
        ("filesystems", "fail", "isolate", "/fsx missing"),
        ("memory", "fail", "monitor", "3 % available"),
    )
    assert rolling.failures([], 1, f"noise\n{unhealthy}\n") == (["health: filesystems: /fsx missing"], [])
    unchecked = health_result(("munge", "pass", "reboot", "ok"), ("NVLink", "could not check", "reset", "timed out"))
    assert rolling.failures([], 2, unchecked) == ([], ["health: could not check NVLink"])
    # no result (a wrong program, a crash): the node is not resumed unchecked
    assert rolling.failures([], 2, "") == (["health: ml-health printed no result (exit 2)"], [])
    assert rolling.failures([], 127, "") == (["health: ml-health printed no result (exit 127)"], [])
    assert rolling.failures([], None, "") == ([], ["health: not run (rolling_health_program is empty)"])


def test_the_reasons_are_one_line_that_scontrol_keeps_whole():
    failed = ["Enroot: 4.2.1 installed, declared 4.3.0"]
    reason = rolling.failed_reason(CHANGE, failed)
    assert (
        reason
        == "ml_cluster rolling: checks failed after Enroot 4.2.1 -> 4.3.0: Enroot: 4.2.1 installed, declared 4.3.0"
    )
    long = rolling.failed_reason([], ['x "quoted" Reason=y\nnext line ' * 20])
    assert len(long) == slurm_nodes.REASON_LIMIT and long.startswith(
        "ml_cluster rolling: checks failed: x 'quoted' Reason:y next"
    )
    assert "\n" not in long and '"' not in long and "=" not in long
    # read back from scontrol's line as written
    node = slurm_nodes.parse_node(with_reason(line("drained-by-us"), long))
    assert node["reason"] == long and rolling.ours(node)


def test_the_summary_counts_each_outcome_and_times_each_wave():
    records = [
        {"node": "ml-c1", "action": "changed", "wave": 1, "seconds": 40.5},
        {"node": "ml-c2", "action": "skipped", "wave": 1, "seconds": 3.0},
        {"node": "ml-c3", "action": "failed", "wave": 2, "seconds": 12.0},
        {"node": "ml-c4", "action": "left alone", "wave": 2, "seconds": 1.0},
    ]
    found = rolling.summary(records)
    assert not found["passed"] and found["changed"] == ["ml-c1"] and found["skipped"] == ["ml-c2"]
    assert found["failed"] == ["ml-c3"] and found["left_alone"] == ["ml-c4"]
    assert found["waves"] == [
        {"wave": 1, "nodes": ["ml-c1", "ml-c2"], "seconds": 40.5},
        {"wave": 2, "nodes": ["ml-c3", "ml-c4"], "seconds": 12.0},
    ]
    assert rolling.summary(records[:2])["passed"]
    # a node whose turn came and wrote no record was lost (unreachable): the run did not pass
    lost = rolling.summary(records[:2], expected=["ml-c1", "ml-c2", "ml-c5"])
    assert lost["unreachable"] == ["ml-c5"] and not lost["passed"]
