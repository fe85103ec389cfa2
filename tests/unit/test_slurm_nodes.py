"""What the health checker may do to a Slurm node (plugins/module_utils/slurm_nodes.py), on
`scontrol -o show node` lines recorded from the local cluster's Slurm 22.05 (tests/fixtures/slurm/)."""

import time
from pathlib import Path

import pytest
from ansible_collections.awsome.ml_cluster.plugins.module_utils import slurm_nodes

SLURM = Path(__file__).resolve().parents[1] / "fixtures" / "slurm"


def node(name):
    return slurm_nodes.parse_node((SLURM / f"{name}.txt").read_text())


def result(*checks):
    return {"checks": list(checks)}


def failed(name="GPU count", detail="7 on the PCI bus, p5.48xlarge has 8", level="isolate"):
    return {"name": name, "status": "fail", "detail": detail, "severity": level}


PASSED = {"name": "GPU count", "status": "pass", "detail": "8", "severity": "isolate"}
UNCHECKED = {"name": "EFA ports", "status": "could not check", "detail": "timed out after 5 s", "severity": "isolate"}


def test_recorded_lines_parse():
    assert node("idle") == {"name": "ml-c1", "state": "IDLE", "flags": [], "reason": None, "reason_time": None}
    ours = node("drained-by-us")
    assert (ours["state"], ours["flags"]) == ("IDLE", ["DRAIN"])
    assert ours["reason"] == "ml_cluster: GPU count: 7 on the PCI bus, p5.48xlarge has 8"
    assert node("drained-by-a-person")["reason"] == "bad DIMM, ticket 4711"
    by_slurm = node("prolog-error")
    assert (by_slurm["reason"], by_slurm["flags"]) == ("Prolog error", ["DRAIN"])
    assert by_slurm["reason_time"] == time.mktime((2026, 12, 7, 20, 35, 17, 0, 0, -1))
    assert "REBOOT_REQUESTED" in node("reboot-requested")["flags"]
    assert node("draining")["state"] == "MIXED"


def test_garbage_is_refused():
    with pytest.raises(ValueError, match="not scontrol's node line"):
        slurm_nodes.parse_node("Node ml-c9 not found\n")


def test_a_failed_check_drains_a_healthy_node_with_the_owners_reason():
    decision = slurm_nodes.decide(node("idle"), result(failed()))
    assert decision["action"] == "drain"
    assert decision["argv"] == [
        "scontrol",
        "update",
        "NodeName=ml-c1",
        "State=DRAIN",
        "Reason=ml_cluster: GPU count: 7 on the PCI bus, p5.48xlarge has 8",
    ]


def test_a_passing_node_we_drained_is_resumed():
    decision = slurm_nodes.decide(node("drained-by-us"), result(PASSED))
    assert decision["action"] == "resume"
    assert decision["argv"] == ["scontrol", "update", "NodeName=ml-c1", "State=RESUME"]


@pytest.mark.parametrize("checks", [[PASSED], [failed()]])
def test_a_node_a_person_drained_is_never_touched(checks):
    decision = slurm_nodes.decide(node("drained-by-a-person"), result(*checks))
    assert decision["action"] == "none" and "drained by someone else" in decision["why"]


@pytest.mark.parametrize("checks", [[PASSED], [failed()]])
def test_a_node_slurm_is_rebooting_is_left_to_slurm(checks):
    assert slurm_nodes.decide(node("reboot-requested"), result(*checks))["action"] == "none"


def test_a_check_that_could_not_run_drains_nothing_unless_required():
    assert slurm_nodes.decide(node("idle"), result(PASSED, UNCHECKED))["action"] == "none"
    required = slurm_nodes.decide(node("idle"), result(PASSED, UNCHECKED), required=["EFA ports"])
    assert required["action"] == "drain" and "EFA ports: timed out after 5 s" in required["why"]


def test_reboot_severity_asks_slurm_for_a_reboot_that_resumes():
    decision = slurm_nodes.decide(node("idle"), result(failed("fabric manager", "inactive", "reboot")))
    assert decision["argv"] == [
        "scontrol",
        "reboot",
        "ASAP",
        "nextstate=RESUME",
        "reason=ml_cluster: fabric manager: inactive",
        "ml-c1",
    ]


def test_the_worst_severity_decides_and_monitor_alone_drains_nothing():
    monitor = failed("persistence mode", "off on GPU 3", "monitor")
    assert slurm_nodes.decide(node("idle"), result(monitor))["action"] == "none"
    both = slurm_nodes.decide(node("idle"), result(monitor, failed("Xid", "79 on GPU 3", "isolate")))
    assert both["action"] == "drain"
    assert both["why"] == "ml_cluster: Xid: 79 on GPU 3"  # the reason names what drains, not what only reports


def test_a_node_drained_already_for_the_same_reason_is_left():
    assert slurm_nodes.decide(node("drained-by-us"), result(failed()))["action"] == "none"
    again = slurm_nodes.decide(node("drained-by-us"), result(failed("EFA devices", "31 of 32")))
    assert again["action"] == "drain" and again["why"] == "ml_cluster: EFA devices: 31 of 32"


def test_a_draining_node_keeps_its_jobs_and_its_reason():
    # MIXED+DRAIN: a job still runs and finishes; the reason is a person's, so nothing is done
    draining = node("draining")
    assert (draining["state"], draining["flags"], draining["reason"]) == ("MIXED", ["DRAIN"], "maintenance")
    for checks in ([PASSED], [failed()]):
        assert slurm_nodes.decide(draining, result(*checks))["action"] == "none"


def test_long_reasons_are_cut_and_quotes_replaced():
    reason = slurm_nodes.reason_for([failed(detail='x"' * 300)])
    assert len(reason) == slurm_nodes.REASON_LIMIT and reason.endswith("...") and '"' not in reason


def test_this_hosts_node_is_found_by_name_or_by_host():
    lines = (SLURM / "idle.txt").read_text()
    pcluster = lines.replace("NodeName=ml-c1", "NodeName=compute-st-p5-1").replace(
        "NodeHostName=ml-c1", "NodeHostName=ip-10-0-0-7"
    )
    assert slurm_nodes.find_node(lines, "ml-c1.cluster.local")["name"] == "ml-c1"
    assert slurm_nodes.find_node(pcluster, "ip-10-0-0-7")["name"] == "compute-st-p5-1"
    with pytest.raises(ValueError, match="no Slurm node named ml-c9"):
        slurm_nodes.find_node(lines, "ml-c9")


def test_a_prolog_error_is_ours_only_just_after_our_prolog_failed():
    line = node("prolog-error")
    assert slurm_nodes.adopted(line, {"time": line["reason_time"] - 1})
    assert not slurm_nodes.adopted(line, {"time": line["reason_time"] - 3600})
    assert not slurm_nodes.adopted(line, None)
    assert not slurm_nodes.adopted(node("drained-by-a-person"), {"time": line["reason_time"]})
    decision = slurm_nodes.decide(line, result(PASSED), prolog={"time": line["reason_time"]})
    assert decision["action"] == "resume" and decision["adopted"]
    assert slurm_nodes.decide(line, result(PASSED))["action"] == "none"


def test_a_reason_names_its_checks_whatever_their_details_hold():
    known = ["ECC and row remapping", "GPU count", "DCGM diagnostics level 3", "munge"]
    reason = "ml_cluster: ECC and row remapping: GPU 0: row remapping failed; GPU 1: 3 uncorrectable ECC errors"
    assert slurm_nodes.reason_checks(reason, known) == ["ECC and row remapping"]
    two = slurm_nodes.reason_for([failed(), failed("DCGM diagnostics level 3", "Memory: Fail")])
    assert slurm_nodes.reason_checks(two, known) == ["GPU count", "DCGM diagnostics level 3"]
    assert slurm_nodes.reason_checks("bad DIMM, GPU count: 7", known) == []


def test_a_node_we_drained_returns_only_once_the_checks_in_its_reason_pass():
    drained = {**node("drained-by-us"), "reason": "ml_cluster: DCGM diagnostics level 3: Memory: Fail"}
    known = ["GPU count", "DCGM diagnostics level 3"]
    quick = slurm_nodes.decide(drained, result(PASSED), known=known)
    assert quick["action"] == "none" and "DCGM diagnostics level 3 did not run and pass here" in quick["why"]
    deep = {"name": "DCGM diagnostics level 3", "status": "pass", "detail": "passed", "severity": "isolate"}
    assert slurm_nodes.decide(drained, result(PASSED, deep), known=known)["action"] == "resume"
    skipped = {**deep, "status": "could not check"}
    assert slurm_nodes.decide(drained, result(PASSED, skipped), known=known)["action"] == "none"


def test_a_quick_failure_on_a_node_the_deep_tier_drained_keeps_the_deep_check_in_the_reason():
    drained = {**node("drained-by-us"), "reason": "ml_cluster: DCGM diagnostics level 3: Memory: Fail"}
    known = ["GPU count", "nvidia-smi", "DCGM diagnostics level 3"]
    decision = slurm_nodes.decide(drained, result(failed("nvidia-smi", "no answer", "reboot")), known=known)
    # a drain, not a reboot: nextstate=RESUME would return the node with its DCGM failure untested
    assert decision["action"] == "drain"
    assert decision["why"] == (
        "ml_cluster: DCGM diagnostics level 3: failed before, not passed since; nvidia-smi: no answer"
    )
    again = {**drained, "reason": decision["why"]}
    assert (
        slurm_nodes.decide(again, result(failed("nvidia-smi", "no answer", "reboot")), known=known)["action"] == "none"
    )
    passed = {"name": "nvidia-smi", "status": "pass", "detail": "8 GPUs", "severity": "reboot"}
    assert slurm_nodes.decide(again, result(passed), known=known)["action"] == "none"  # DCGM still unproven


def test_a_long_reason_shortens_details_and_keeps_every_name():
    checks = [failed(name, "y" * 150) for name in ("GPU count", "ECC and row remapping", "DCGM diagnostics level 3")]
    reason = slurm_nodes.reason_for(checks)
    assert len(reason) <= slurm_nodes.REASON_LIMIT
    assert slurm_nodes.reason_checks(reason, [c["name"] for c in checks]) == [c["name"] for c in checks]


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("ml-c1", ["ml-c1"]),
        ("ml-c[1,3]", ["ml-c1", "ml-c3"]),
        ("p5-[08-10],head", ["p5-08", "p5-09", "p5-10", "head"]),
        ("q-st-p5-[1-2]x,q-dy-p5-[3]", ["q-st-p5-1x", "q-st-p5-2x", "q-dy-p5-3"]),
    ],
)
def test_hostlist_expressions_expand_as_scontrol_show_hostnames_does(expression, names):
    assert slurm_nodes.expand_hostlist(expression) == names


def test_a_broken_hostlist_is_refused():
    with pytest.raises(ValueError, match="not a hostlist range"):
        slurm_nodes.expand_hostlist("ml-c[a-b]")


def test_leaf_switches_are_read_from_scontrol_show_topology():
    leaves = slurm_nodes.leaf_switches((SLURM / "topology.txt").read_text())
    assert leaves == {"leaf1": ["ml-c1", "ml-c3"], "leaf2": ["ml-c2", "ml-c4"]}
    assert slurm_nodes.leaf_switches("") == {}  # no topology: scontrol says so on stderr


def test_a_node_we_drained_returns_when_only_reporting_checks_still_fail():
    # DCGM's CONFIG warning (persistence mode off) comes back as a monitor-only failure of the DCGM check
    drained = {**node("drained-by-us"), "reason": "ml_cluster: DCGM diagnostics level 3: Memory: Fail"}
    config = failed("DCGM diagnostics level 3", "software GPU 0: Persistence mode is disabled", "monitor")
    decision = slurm_nodes.decide(drained, result(PASSED, config), known=["GPU count", "DCGM diagnostics level 3"])
    assert decision["action"] == "resume" and "reported only: DCGM diagnostics level 3" in decision["why"]


def test_a_detail_cannot_end_the_reason_scontrol_prints():
    reason = slurm_nodes.reason_for([failed("DCGM diagnostics level 2", "pcie GPU 1: Expected=16 Found=8")])
    line = (
        (SLURM / "drained-by-us.txt")
        .read_text()
        .replace("GPU count: 7 on the PCI bus, p5.48xlarge has 8", reason[len("ml_cluster: ") :])
    )
    assert slurm_nodes.parse_node(line)["reason"] == reason and "=" not in reason
