"""The health sweep (plugins/module_utils/health_sweep.py, its module and its filter): which nodes get
an exclusive job, which are checked on the node, which are left and why, on `scontrol -o show node`
lines recorded from the local cluster (tests/fixtures/slurm/); then what the sweep found."""

import base64
import json
from pathlib import Path

import pytest
from ansible_collections.awsome.ml_cluster.plugins.filter.health import health_sweep_verdict
from ansible_collections.awsome.ml_cluster.plugins.module_utils import health_sweep, slurm_jobs, slurm_nodes
from ansible_collections.awsome.ml_cluster.plugins.modules import health_sweep as health_sweep_module

SLURM = Path(__file__).resolve().parents[1] / "fixtures" / "slurm"


def node(fixture, name=None):
    record = slurm_nodes.parse_node((SLURM / f"{fixture}.txt").read_text())
    return {**record, "name": name or record["name"]}


def test_idle_nodes_get_a_job_and_busy_ones_wait_only_when_asked():
    nodes = [node("idle", "a"), node("allocated", "b")]
    assert health_sweep.plan(nodes) == {"submit": ["a"], "direct": [], "skipped": {"b": "running jobs (mixed)"}}
    assert health_sweep.plan(nodes, busy="queue")["submit"] == ["a", "b"]


def test_a_node_whose_epilog_still_runs_is_not_checked_on_the_node():
    completing = {**node("drained-by-us"), "flags": ["COMPLETING", "DRAIN"]}
    assert health_sweep.plan([completing])["skipped"]["ml-c1"].startswith("draining, its jobs still run")


def test_a_node_we_drained_is_checked_on_the_node_once_its_jobs_are_done():
    ours_draining = {**node("draining"), "reason": "ml_cluster: munge: unmunge: Expired credential"}
    chosen = health_sweep.plan([node("drained-by-us", "a"), {**ours_draining, "name": "b"}])
    assert chosen["direct"] == ["a"] and chosen["submit"] == []
    assert chosen["skipped"]["b"].startswith("draining, its jobs still run (ml_cluster: munge")


@pytest.mark.parametrize(
    ("fixture", "why"),
    [
        ("drained-by-a-person", "drained by someone else (bad DIMM, ticket 4711)"),
        ("draining", "drained by someone else (maintenance)"),
        ("reboot-requested", "rebooting: Slurm returns it"),
        ("down", "down: no slurmd answers"),
        ("powered-down", "powered down (a cloud node): a job would launch an instance"),
    ],
)
def test_nodes_the_sweep_must_not_touch_are_left_with_the_reason(fixture, why):
    assert health_sweep.plan([node(fixture, "x")]) == {"submit": [], "direct": [], "skipped": {"x": why}}


def test_asked_nodes_must_be_in_the_partition_and_the_busy_mode_must_exist():
    nodes = [node("idle", "a"), node("idle", "b")]
    assert health_sweep.plan(nodes, ["b", "b"])["submit"] == ["b"]  # one job a node
    with pytest.raises(ValueError, match="not Slurm nodes of the partition: c"):
        health_sweep.plan(nodes, ["b", "c"])
    with pytest.raises(ValueError, match="busy must be one of skip, queue"):
        health_sweep.plan(nodes, busy="preempt")


def program_result(name, outcome, *checks, action="none"):
    return {"node": name, "outcome": outcome, "checks": list(checks), "slurm": {"action": action}}


FAILED = {"name": "scratch writable", "status": "fail", "detail": "/scratch is read-only"}
UNCHECKED = {"name": "DCGM diagnostics level 3", "status": "could not check", "detail": "dcgmi timed out"}


def test_the_verdict_names_each_node_with_what_was_found():
    swept = {"a": None, "b": None, "c": None, "d": None, "e": "running jobs (mixed)", "f": None, "g": None}
    stays = {"action": "none", "why": "g stays drained: DCGM diagnostics level 3 did not run and pass here (...)"}
    results = {
        "f": {"node": "f", "outcome": "not run", "why": "f still runs jobs"},
        "g": {**program_result("g", "healthy"), "slurm": stays},
        "a": program_result("a", "healthy"),
        "b": program_result("b", "unhealthy", FAILED, action="drain"),
        "c": program_result("c", "could not check", UNCHECKED),
        "d": None,
    }
    found = health_sweep.verdict(swept, results)
    assert found["healthy"] == ["a"] and found["unhealthy"] == {"b": ["scratch writable: /scratch is read-only"]}
    assert found["could_not_check"]["c"] == "DCGM diagnostics level 3: dcgmi timed out"
    assert "no result came back" in found["could_not_check"]["d"]
    assert found["not_swept"] == {"e": "running jobs (mixed)", "f": "f still runs jobs"}
    assert found["could_not_check"]["g"].startswith("g stays drained") and found["actions"] == {"b": "drain"}
    assert found["summary"][1] == "b: unhealthy: scratch writable: /scratch is read-only (Slurm: drain)"


def test_the_filter_reads_the_registered_results_of_the_sweeps_tasks():
    sweep = {
        "jobs": [{"node": "a", "id": "7"}, {"node": "b", "id": "8"}],
        "direct": ["c"],
        "skipped": {"d": "rebooting: Slurm returns it"},
    }
    line = json.dumps(program_result("a", "healthy")) + "\n"
    outputs = {"results": [{"content": base64.b64encode(line.encode()).decode()}, {"failed": True, "msg": "not found"}]}
    direct = {"results": [{"rc": 1, "stdout": json.dumps(program_result("c", "unhealthy", FAILED))}]}
    found = health_sweep_verdict(sweep, outputs, direct)
    assert found["healthy"] == ["a"] and list(found["unhealthy"]) == ["c"]
    assert list(found["could_not_check"]) == ["b"] and list(found["not_swept"]) == ["d"]


class Module:
    """AnsibleModule's run_command and fail_json for the module's functions: argv -> (rc, out, err)."""

    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def run_command(self, argv):
        self.calls.append(argv)
        return self.answer(argv)

    def fail_json(self, msg):
        raise AssertionError(msg)


PARAMS = {
    "partition": "maintenance",
    "tier": "deep",
    "time_limit": 7260,
    "wait": 0,
    "program": "/usr/local/sbin/ml-health",
    "output_dir": "/var/lib/ml_cluster/health",
    "slurm_bin_dir": "/usr/bin",
}


def test_each_job_is_exclusive_in_the_maintenance_partition_and_writes_its_result_on_its_node():
    module = Module(lambda argv: (0, "41\n", ""))
    job = health_sweep_module.submit(module, PARAMS, "ml-c2")
    argv = module.calls[0]
    assert argv[:3] == ["/usr/bin/sbatch", "--parsable", "--partition"] and "--exclusive" in argv
    assert argv[argv.index("--nodelist") + 1] == "ml-c2" and argv[argv.index("--time") + 1] == "121"
    assert argv[-2:] == ["--wrap", "/usr/local/sbin/ml-health --tier deep --slurm"]
    assert "--deadline=now+7320seconds" in argv  # Slurm drops it once it cannot start in time
    assert job["files"] == ["/var/lib/ml_cluster/health/sweep-41.json", "/var/lib/ml_cluster/health/sweep-41.log"]


def test_a_job_still_waiting_for_its_node_is_cancelled_and_a_running_one_left_to_its_limit(monkeypatch):
    states = {"41": ["RUNNING", "COMPLETED"], "42": ["PENDING", "PENDING"]}

    def answer(argv):
        if argv[0].endswith("scancel"):
            return 0, "", ""
        return 0, f"JobId={argv[-1]} JobState={states[argv[-1]].pop(0)} Reason=None", ""

    monkeypatch.setattr(health_sweep_module, "POLL_S", 0)
    module = Module(answer)
    jobs = [{"id": "41", "state": "PENDING"}, {"id": "42", "state": "PENDING"}]
    health_sweep_module.wait(module, PARAMS, jobs)
    assert ["/usr/bin/scancel", "42"] in module.calls and ["/usr/bin/scancel", "41"] not in module.calls
    assert [j["state"] for j in jobs] == ["COMPLETED", "CANCELLED (waited too long for its node)"]


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ((1, "", "slurm_load_jobs error: Invalid job id specified\n"), "COMPLETED"),
        ((1, "", "slurm_load_jobs error: Socket timed out on send/recv operation\n"), "RUNNING"),
    ],
)
def test_a_job_is_gone_only_when_slurm_says_so(answer, state):
    module = Module(lambda argv: answer)
    assert slurm_jobs.job_state(module, "/usr/bin/scontrol", "41", "RUNNING") == state


def test_a_job_that_neither_ends_nor_pends_is_cancelled_past_the_wait_and_its_limit(monkeypatch):
    def answer(argv):
        return (0, "", "") if argv[0].endswith("scancel") else (0, f"JobId={argv[-1]} JobState=REQUEUE_HOLD", "")

    monkeypatch.setattr(health_sweep_module, "POLL_S", 0)
    monkeypatch.setattr(health_sweep_module, "CUTOFF_MARGIN_S", -7260)  # the cutoff at once
    module = Module(answer)
    jobs = [{"id": "43", "state": "PENDING"}]
    health_sweep_module.wait(module, PARAMS, jobs)
    assert ["/usr/bin/scancel", "43"] in module.calls and jobs[0]["state"].startswith("CANCELLED (still REQUEUE_HOLD")
