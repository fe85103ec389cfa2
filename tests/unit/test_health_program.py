"""The node health program (plugins/module_utils/health_program.py): its checks on fixture nodes
(a sysfs tree and answers for each command), timeouts and the budget, exit codes, the state it keeps,
and what it does to Slurm."""

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from ansible_collections.awsome.ml_cluster.plugins.filter.health import (
    health_busbw_problems,
    health_problems,
)
from ansible_collections.awsome.ml_cluster.plugins.module_utils import hardware, health_program

from tests.fixtures import nccl, sysfs

READINGS = Path(__file__).resolve().parents[1] / "fixtures" / "readings"
SLURM = Path(__file__).resolve().parents[1] / "fixtures" / "slurm"
QUERY = ("nvidia-smi", "--query-gpu=index,name,driver_version,pci.bus_id", "--format=csv,noheader")
PERSISTENCE = ("nvidia-smi", "--query-gpu=index,persistence_mode", "--format=csv,noheader")
ECC = (
    "nvidia-smi",
    "--query-gpu=index,ecc.errors.uncorrected.volatile.total,remapped_rows.pending,remapped_rows.failure",
    "--format=csv,noheader",
)
JOURNAL = ("journalctl", "-k", "-b", "--no-pager", "-o", "short-monotonic")
NVLINK = ("nvidia-smi", "nvlink", "--status")


class Runner:
    """subprocess.run for a fixture node: argv -> (rc, stdout) or an exception to raise."""

    def __init__(self, answers):
        self.answers, self.calls = dict(answers), []

    def __call__(self, argv, timeout, stdin=None):
        self.calls.append(tuple(argv))
        answer = self.answers.get(tuple(argv))
        if answer is None:
            raise FileNotFoundError(argv[0])
        if isinstance(answer, Exception):
            raise answer
        rc, out = answer
        return subprocess.CompletedProcess(argv, rc, out, "" if rc == 0 else out)


def p5_answers(gpus=8):
    return {
        QUERY: (
            0,
            "".join(f"{i}, NVIDIA H100 80GB HBM3, 580.126.20, 00000000:{0x53 + i:02X}:00.0\n" for i in range(gpus)),
        ),
        PERSISTENCE: (0, "".join(f"{i}, Enabled\n" for i in range(gpus))),
        ECC: (0, "".join(f"{i}, 0, No, No\n" for i in range(gpus))),
        JOURNAL: (0, "[    5.1] kernel: Linux version 6.1\n"),
        ("systemctl", "is-active", "nvidia-fabricmanager"): (0, "active\n"),
        # the recorded 8-GPU NVLink status is an A100 node's (none of an H100 SXM node is public); the
        # check reads the links, not the model
        NVLINK: (0, (READINGS / "nvidia-smi-nvlink-status-a100-sxm4-8gpu.txt").read_text()),
        ("munge", "-n"): (0, "MUNGE:AwQFAAB...:\n"),
        ("unmunge",): (0, (READINGS / "unmunge-success.txt").read_text()),
        ("df", "-P", "-k", "/"): (
            0,
            "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/root 100 1 99000000 1% /\n",
        ),
    }


def p5_node(tmp_path, answers=None, ports=32, port_state="4: ACTIVE", mounts=("/fsx",)):
    root = sysfs.build("p5.48xlarge", tmp_path / "root")
    for i in range(ports):
        port = root / "sys" / "class" / "infiniband" / f"rdmap{i}s0" / "ports" / "1"
        port.mkdir(parents=True)
        (port / "state").write_text(port_state + "\n")
    (root / "proc").mkdir()
    (root / "proc" / "mounts").write_text("".join(f"fsx@tcp:/x {m} lustre rw 0 0\n" for m in ("/", *mounts)))
    (root / "proc" / "meminfo").write_text("MemTotal:  2097152000 kB\nMemAvailable: 1900000000 kB\n")
    (root / "etc" / "munge").mkdir(parents=True)
    (root / "etc" / "munge" / "munge.key").write_bytes(b"k" * 32)
    # sysfs.build writes bus/pci under root: the program reads /sys/bus/pci
    (root / "sys" / "bus").mkdir(parents=True, exist_ok=True)
    for entry in (root / "bus").iterdir():
        entry.rename(root / "sys" / "bus" / entry.name)
    return health_program.Node(str(root), Runner(p5_answers() if answers is None else answers))


def p5_config(tmp_path, **settings):
    expected = {
        "instance_type": "p5.48xlarge",
        "record": hardware.expected("p5.48xlarge"),
        "efa_count": 32,
        "efa_rule": "the most p5.48xlarge takes (EC2's MaximumEfaInterfaces)",
        "nvswitch": True,
        "driver_version": "580.126.20",
    }
    settings = {
        "mounts": ["/fsx"],
        "disk": [{"path": "/", "min_free_gib": 10}],
        "memory_min_available_pct": 5,
        **settings,
    }
    path = tmp_path / "health.json"
    path.write_text(json.dumps({"expected": expected, "settings": settings}))
    return path


def run(tmp_path, node, *args, config=None):
    config = config or p5_config(tmp_path)
    state = tmp_path / "state"
    code = health_program.main(
        ["--config", str(config), "--state-dir", str(state), "--node-name", "ml-c1", *args], node=node
    )
    return code, json.loads((state / "last.json").read_text()) if (state / "last.json").exists() else None


def statuses(result):
    return {c["name"]: c["status"] for c in result["checks"]}


def test_a_healthy_p5_passes_the_quick_tier(tmp_path, capsys):
    code, result = run(tmp_path, p5_node(tmp_path))
    assert code == 0 and result["outcome"] == "healthy", result
    assert statuses(result) == {
        "GPU count": "pass",
        "nvidia-smi": "pass",
        "persistence mode": "pass",
        "ECC and row remapping": "pass",
        "Xid": "pass",
        "fabric manager": "pass",
        "NVLink": "pass",
        "EFA devices": "pass",
        "EFA ports": "pass",
        "Neuron devices": "not judged",
        "neuron-ls": "not judged",
        "munge": "pass",
        "filesystems": "pass",
        "disk space": "pass",
        "memory": "pass",
    }
    out, err = capsys.readouterr()
    assert json.loads(out)["outcome"] == "healthy" and "ml-c1: healthy (quick" in err


@pytest.mark.parametrize(
    ("change", "check", "detail"),
    [
        (
            {QUERY: (0, "0, NVIDIA H100 80GB HBM3, 570.1, 00000000:53:00.0\n")},
            "nvidia-smi",
            "1 GPUs answer, driver 570.1",
        ),
        ({ECC: (0, "0, 0, No, Yes\n1, 0, No, No\n")}, "ECC and row remapping", "GPU 0: row remapping failed"),
        ({ECC: (0, "0, 3, Yes, No\n")}, "ECC and row remapping", "GPU 0: a row remap waits for a GPU reset"),
        ({PERSISTENCE: (0, "0, Enabled\n1, Disabled\n")}, "persistence mode", "off on GPU 1"),
        ({("systemctl", "is-active", "nvidia-fabricmanager"): (3, "failed\n")}, "fabric manager", "is failed"),
    ],
)
def test_each_bad_reading_fails_its_check(tmp_path, change, check, detail):
    code, result = run(tmp_path, p5_node(tmp_path, {**p5_answers(), **change}))
    failed = {c["name"]: c for c in result["checks"] if c["status"] == "fail"}
    assert list(failed) == [check] and detail in failed[check]["detail"]
    monitor_only = failed[check]["severity"] == "monitor"
    assert code == (0 if monitor_only else 1)


def test_xid_takes_the_worst_xids_severity(tmp_path):
    log = (READINGS / "kernel-log-xid.txt").read_text()
    code, result = run(tmp_path, p5_node(tmp_path, {**p5_answers(), JOURNAL: (0, log)}))
    assert code == 1
    check = next(c for c in result["checks"] if c["name"] == "Xid")
    assert (check["status"], check["severity"]) == ("fail", "reboot") and "Xid 79 on 0000:64:00" in check["detail"]
    only_app = log.splitlines()[0] + "\n"
    _, result = run(tmp_path, p5_node(tmp_path / "app", {**p5_answers(), JOURNAL: (0, only_app)}))
    assert next(c for c in result["checks"] if c["name"] == "Xid")["status"] == "pass"


def test_the_node_itself_fails_its_checks(tmp_path):
    node = p5_node(tmp_path, ports=31, port_state="1: DOWN", mounts=())
    code, result = run(tmp_path, node)
    checks = {c["name"]: c for c in result["checks"]}
    assert code == 1
    assert checks["EFA ports"]["status"] == "fail" and "rdmap0s0 1: DOWN" in checks["EFA ports"]["detail"]
    assert checks["filesystems"]["detail"] == "not mounted: /fsx"


def test_a_check_that_hangs_is_killed_and_drains_nothing(tmp_path):
    answers = {**p5_answers(), ECC: subprocess.TimeoutExpired("nvidia-smi", 10)}
    code, result = run(tmp_path, p5_node(tmp_path, answers))
    check = next(c for c in result["checks"] if c["name"] == "ECC and row remapping")
    assert (check["status"], check["detail"]) == ("could not check", "nvidia-smi timed out after 10 s (killed)")
    assert code == 2 and result["outcome"] == "could not check"


def test_a_required_check_that_could_not_run_makes_the_node_unhealthy(tmp_path):
    answers = {**p5_answers(), ECC: subprocess.TimeoutExpired("nvidia-smi", 10)}
    config = p5_config(tmp_path, required=["ECC and row remapping"])
    code, result = run(tmp_path, p5_node(tmp_path, answers), config=config)
    assert code == 1 and result["outcome"] == "unhealthy"


def test_missing_tools_are_could_not_check(tmp_path):
    code, result = run(tmp_path, p5_node(tmp_path, {}))
    assert statuses(result)["nvidia-smi"] == "could not check" and code == 2
    assert statuses(result)["GPU count"] == "pass"  # the bus is read without any tool


def test_the_tier_budget_stops_the_rest(tmp_path):
    ticks = iter(range(0, 1000, 20))
    node = p5_node(tmp_path)
    config = p5_config(tmp_path, budget_s={"quick": 50})
    state = tmp_path / "state"
    health_program.main(["--config", str(config), "--state-dir", str(state)], node=node, clock=lambda: next(ticks))
    result = json.loads((state / "last.json").read_text())
    assert "the budget of 50 s ran out" in [c["detail"] for c in result["checks"]][-1]


def test_one_check_by_name_and_the_list(tmp_path, capsys):
    code, result = run(tmp_path, p5_node(tmp_path), "--check", "GPU count")
    assert code == 0 and [c["name"] for c in result["checks"]] == ["GPU count"]
    assert health_program.main(["--list"]) == 0
    assert "DCGM diagnostics level 3" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "says"),
    [(["--check", "GPU cont"], "no check named 'GPU cont'"), (["--config", "/nonexistent.json"], "cannot read")],
)
def test_bad_input_is_refused_before_anything_runs(tmp_path, capsys, args, says):
    node = p5_node(tmp_path)
    code = health_program.main(
        ["--config", str(p5_config(tmp_path)), "--state-dir", str(tmp_path / "s"), *args], node=node
    )
    assert code == health_program.BAD_INPUT and says in capsys.readouterr().err
    assert node.runner.calls == [] and not (tmp_path / "s").exists()


def test_an_unknown_tier_is_refused():
    with pytest.raises(SystemExit):
        health_program.parser().parse_args(["--tier", "deeper"])
    with pytest.raises(ValueError, match="no tier 'deeper'"):
        health_program.select("deeper")


def test_a_cpu_node_runs_only_what_applies(tmp_path):
    root = sysfs.build("cpu", tmp_path / "root")
    (root / "sys").mkdir()
    (root / "bus").rename(root / "sys" / "bus")
    config = tmp_path / "health.json"
    config.write_text(json.dumps({"expected": {"instance_type": None, "record": None}, "settings": {}}))
    code, result = run(tmp_path, health_program.Node(str(root), Runner({})), config=config)
    assert code == 0 and {c["status"] for c in result["checks"]} == {"not judged"}


def test_state_and_history_are_kept_and_bounded(tmp_path):
    node = p5_node(tmp_path)
    for _ in range(3):
        run(tmp_path, node)
    history = (tmp_path / "state" / "history.jsonl").read_text().splitlines()
    assert len(history) == 3 and json.loads(history[-1])["outcome"] == "healthy"


def slurm_answers(line):
    return {("scontrol", "-o", "show", "node"): (0, (SLURM / line).read_text())}


ONE_GPU = (0, "0, NVIDIA H100 80GB HBM3, 580.126.20, 00000000:53:00.0\n")
REASON = "ml_cluster: nvidia-smi: 1 GPUs answer, driver 580.126.20; 8 expected, driver 580.126.20"


def test_slurm_mode_asks_for_the_reboot_the_failed_check_calls_for(tmp_path):
    reboot = ("scontrol", "reboot", "ASAP", "nextstate=RESUME", f"reason={REASON}", "ml-c1")
    answers = {**p5_answers(), **slurm_answers("idle.txt"), QUERY: ONE_GPU, reboot: (0, "")}
    node = p5_node(tmp_path, answers)
    code, result = run(tmp_path, node, "--slurm")
    assert code == 1 and result["slurm"]["action"] == "reboot" and result["slurm"]["done"] is True
    assert node.runner.calls[-1] == reboot


def test_slurm_mode_drains_and_resumes_what_it_owns(tmp_path):
    drain = ("scontrol", "update", "NodeName=ml-c1", "State=DRAIN", "Reason=ml_cluster: EFA ports: rdmap0s0 1: DOWN")
    answers = {**p5_answers(), **slurm_answers("idle.txt"), drain: (0, "")}
    node = p5_node(tmp_path, answers, port_state="1: DOWN", ports=1)
    _, result = run(tmp_path, node, "--slurm", "--check", "EFA ports")
    assert result["slurm"]["argv"] == list(drain) and result["slurm"]["done"] is True
    resume = ("scontrol", "update", "NodeName=ml-c1", "State=RESUME")
    healthy = p5_node(tmp_path / "again", {**p5_answers(), **slurm_answers("drained-by-us.txt"), resume: (0, "")})
    code, result = run(tmp_path, healthy, "--slurm", "--check", "GPU count")
    assert code == 0 and result["slurm"]["action"] == "resume" and healthy.runner.calls[-1] == resume


def test_a_reboot_slurm_refuses_becomes_a_drain(tmp_path):
    # Slurm without a RebootProgram answers "RebootProgram isn't defined" (the local cluster's, recorded)
    reboot = ("scontrol", "reboot", "ASAP", "nextstate=RESUME", f"reason={REASON}", "ml-c1")
    drain = ("scontrol", "update", "NodeName=ml-c1", "State=DRAIN", f"Reason={REASON}")
    refused = (1, "scontrol: error: RebootProgram isn't defined\n")
    answers = {**p5_answers(), **slurm_answers("idle.txt"), QUERY: ONE_GPU, reboot: refused, drain: (0, "")}
    node = p5_node(tmp_path, answers)
    _, result = run(tmp_path, node, "--slurm")
    assert result["slurm"]["action"] == "drain" and result["slurm"]["done"] is True
    assert "RebootProgram isn't defined" in result["slurm"]["error"] and node.runner.calls[-1] == drain


def test_a_failed_scontrol_is_reported_not_hidden(tmp_path):
    node = p5_node(tmp_path, {**p5_answers(), **slurm_answers("idle.txt"), QUERY: ONE_GPU})
    _, result = run(tmp_path, node, "--slurm")
    assert result["slurm"]["done"] is False and "scontrol is not installed" in result["slurm"]["error"]


def test_prolog_mode_never_calls_slurm(tmp_path):
    answers = {**p5_answers(), ECC: (0, "0, 0, No, Yes\n")}
    node = p5_node(tmp_path, answers)
    code, _ = run(tmp_path, node, "--prolog")
    assert code == 1 and not any(call[0] == "scontrol" for call in node.runner.calls)


def test_a_trn2_node_is_judged_by_its_bus_and_neuron_ls(tmp_path):
    root = sysfs.build("trn2.48xlarge", tmp_path / "root")
    (root / "sys").mkdir()
    (root / "bus").rename(root / "sys" / "bus")
    (root / "dev").mkdir()
    for i in range(16):
        (root / "dev" / f"neuron{i}").write_text("")
    record = hardware.expected("trn2.48xlarge")
    expected = {"instance_type": "trn2.48xlarge", "record": record, "efa_count": 16, "efa_rule": "max"}
    config = tmp_path / "health.json"
    config.write_text(json.dumps({"expected": expected, "settings": {}}))
    neuron_ls = ("/opt/aws/neuron/bin/neuron-ls", "--json-output")
    answers = {neuron_ls: (0, (READINGS / "neuron-ls-trn2.48xlarge.json").read_text())}
    code, result = run(tmp_path, health_program.Node(str(root), Runner(answers)), "--check", "neuron-ls", config=config)
    assert code == 0 and result["checks"][0]["detail"] == "16 devices of [4] NeuronCores, 16 on the PCI bus"
    answers = {neuron_ls: (0, (READINGS / "neuron-ls-truncated.json").read_text())}
    code, result = run(tmp_path, health_program.Node(str(root), Runner(answers)), "--check", "neuron-ls", config=config)
    assert code == 2 and "could not read the output" in result["checks"][0]["detail"]
    code, result = run(tmp_path, health_program.Node(str(root), Runner({})), "--check", "Neuron devices", config=config)
    assert code == 0 and result["checks"][0]["status"] == "pass"


def test_prolog_mode_exits_zero_for_a_check_that_could_not_run(tmp_path):
    # a prolog's non-zero exit drains the node: a missing tool must not
    hung = {**p5_answers(), ECC: subprocess.TimeoutExpired("nvidia-smi", 10)}
    code, result = run(tmp_path, p5_node(tmp_path, hung))
    assert (code, result["outcome"]) == (2, "could not check")
    code, result = run(
        tmp_path,
        p5_node(tmp_path / "b", {**p5_answers(), ECC: subprocess.TimeoutExpired("nvidia-smi", 10)}),
        "--prolog",
    )
    assert (code, result["outcome"]) == (0, "could not check")
    assert not (tmp_path / "state" / "prolog.json").exists()


def test_a_failed_prolog_leaves_a_record_that_a_pass_removes(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    run(tmp_path, p5_node(tmp_path, {**p5_answers(), ECC: (0, "0, 0, No, Yes\n")}), "--prolog")
    record = json.loads((tmp_path / "state" / "prolog.json").read_text())
    assert record["job"] == "42" and record["reason"].startswith("ml_cluster: ECC and row remapping: ")
    run(tmp_path, p5_node(tmp_path / "b"), "--prolog")
    assert not (tmp_path / "state" / "prolog.json").exists()


def prolog_error_answers(tmp_path, when):
    """scontrol's line for ml-c1 drained by Slurm for a failed prolog, dated `when` seconds after the
    prolog record the test writes."""
    line = (SLURM / "prolog-error.txt").read_text()
    stamp = re.search(r"Reason=Prolog error \[\w+@(\S+)\]", line).group(1)
    reason_time = time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S"))
    state = tmp_path / "state"
    state.mkdir(parents=True, exist_ok=True)
    (state / "prolog.json").write_text(json.dumps({"time": reason_time - when, "job": "7", "reason": "ml_cluster: x"}))
    return {("scontrol", "-o", "show", "node"): (0, line)}


def test_slurms_prolog_error_after_our_prolog_is_taken_over_and_resumed(tmp_path):
    resume = ("scontrol", "update", "NodeName=ml-c1", "State=RESUME")
    node = p5_node(tmp_path, {**p5_answers(), **prolog_error_answers(tmp_path, 2), resume: (0, "")})
    code, result = run(tmp_path, node, "--slurm")
    assert code == 0 and result["slurm"]["adopted"] and node.runner.calls[-1] == resume
    assert "Prolog error followed our prolog" in result["slurm"]["why"]
    assert not (tmp_path / "state" / "prolog.json").exists()


def test_slurms_prolog_error_gets_our_reason_while_the_check_fails(tmp_path):
    reason = "ml_cluster: ECC and row remapping: GPU 0: row remapping failed"
    drain = ("scontrol", "update", "NodeName=ml-c1", "State=DRAIN", f"Reason={reason}")
    answers = {**p5_answers(), **prolog_error_answers(tmp_path, 2), ECC: (0, "0, 0, No, Yes\n"), drain: (0, "")}
    node = p5_node(tmp_path, answers)
    code, result = run(tmp_path, node, "--slurm")
    assert code == 1 and result["slurm"]["action"] == "drain", result["slurm"]
    assert node.runner.calls[-1] == drain


def test_a_prolog_error_that_is_not_ours_is_left_alone(tmp_path):
    # our prolog failed an hour before: this Prolog error is another prolog's
    node = p5_node(tmp_path, {**p5_answers(), **prolog_error_answers(tmp_path, 3600)})
    code, result = run(tmp_path, node, "--slurm")
    assert code == 0 and result["slurm"]["action"] == "none" and "drained by someone else" in result["slurm"]["why"]
    # no record at all: the same
    node = p5_node(tmp_path / "b", {**p5_answers(), **prolog_error_answers(tmp_path / "b", 1)})
    (tmp_path / "b" / "state" / "prolog.json").unlink()
    code, result = run(tmp_path / "b", node, "--slurm")
    assert result["slurm"]["action"] == "none" and "drained by someone else" in result["slurm"]["why"]


def munge_node(tmp_path, made, decoded):
    answers = {**p5_answers(), ("munge", "-n"): made}
    if decoded is not None:
        answers[("unmunge",)] = decoded
    return p5_node(tmp_path, answers)


def test_munge_fails_where_munged_is_down_or_the_clock_is_skewed(tmp_path):
    down = (6, (READINGS / "munge-no-munged.txt").read_text())
    _, result = run(tmp_path, munge_node(tmp_path, down, None), "--check", "munge")
    assert result["checks"][0]["status"] == "fail" and "Did you start munged?" in result["checks"][0]["detail"]
    expired = (15, (READINGS / "unmunge-expired.txt").read_text())
    _, result = run(tmp_path, munge_node(tmp_path / "b", (0, "MUNGE:x:\n"), expired), "--check", "munge")
    assert result["checks"][0]["status"] == "fail"
    assert result["checks"][0]["detail"] == "unmunge: Expired credential (15)"
    assert result["checks"][0]["severity"] == "reboot"


def test_munge_applies_only_where_there_is_a_munge_key(tmp_path):
    node = p5_node(tmp_path)
    (tmp_path / "root" / "etc" / "munge" / "munge.key").unlink()
    _, result = run(tmp_path, node, "--check", "munge")
    assert result["checks"][0]["status"] == "not judged" and "munge key" in result["checks"][0]["detail"]


def test_the_real_runner_kills_what_a_hanging_command_started(tmp_path):
    # a wrapper whose child would outlive a plain subprocess.run timeout
    pidfile = tmp_path / "child.pid"
    script = tmp_path / "hang.sh"
    script.write_text(f"#!/bin/sh\nsleep 600 &\necho $! > {pidfile}\nwait\n")
    script.chmod(0o755)
    node = health_program.Node()
    started = time.monotonic()
    with pytest.raises(health_program.CouldNotCheck, match="timed out after 1 s"):
        node.run([str(script)], 1)
    assert time.monotonic() - started < 5
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
    assert node.run(["cat"], 5, stdin="through stdin") == "through stdin"


def test_the_roles_options_are_checked_against_the_catalogue():
    assert health_problems(["munge", "EFA ports"], {"quick": 30}, "/etc/slurm/prolog.d") == []
    problems = health_problems(["EFA port"], {"quick": 0, "slow": 5}, "/etc/slurm/prolog.d", slurm=False)
    assert "no check named 'EFA port'; the checks: GPU count," in problems[0]
    assert problems[1] == "health_budget_s: no tier 'slow'; the tiers: quick, standard, deep."
    assert problems[2] == "health_budget_s.quick must be a positive number of seconds, not 0."
    assert "health_prolog_dir needs health_slurm: true" in problems[3]


SITE = {"name": "scratch writable", "tier": "deep", "command": ["/usr/local/bin/check-scratch"], "timeout": 30}


def site_check(**changes):
    return {**SITE, "severity": "isolate", **changes}


@pytest.mark.parametrize(
    ("answer", "status", "detail"),
    [
        ((0, "scratch ok\n"), "pass", "scratch ok"),
        ((1, "\n/scratch is read-only\nmore\n"), "fail", "/scratch is read-only"),
        ((3, "lfs: not found\n"), "could not check", "/usr/local/bin/check-scratch exited 3: lfs: not found"),
        (subprocess.TimeoutExpired("check-scratch", 30), "could not check", "timed out after 30 s (killed)"),
    ],
)
def test_a_sites_own_check_runs_in_its_tier_by_its_exit_code(tmp_path, answer, status, detail):
    config = p5_config(tmp_path, checks=[site_check()])
    node = p5_node(tmp_path, {**p5_answers(), ("/usr/local/bin/check-scratch",): answer})
    _, quick = run(tmp_path, node, config=config)
    assert "scratch writable" not in statuses(quick)  # a deep check: not in the quick tier
    _, result = run(tmp_path, node, "--check", "scratch writable", config=config)
    assert result["checks"][0]["status"] == status and detail in result["checks"][0]["detail"]


def test_bad_site_checks_are_refused_before_anything_runs(tmp_path, capsys):
    checks = [site_check(name="GPU count"), site_check(name="a: b", tier="weekly", command="rm", timeout=0)]
    problems = health_program.site_check_problems(checks)
    assert problems == [
        "check 'GPU count' is named like another check; names must be unique.",
        "check 'a: b' needs a name without ':' or ';' (the drain reason's separators).",
        "check 'a: b': tier must be one of quick, standard, deep, not 'weekly'.",
        "check 'a: b': command must be a list of arguments, the program first.",
        "check 'a: b': timeout must be a positive number of seconds, not 0.",
    ]
    node = p5_node(tmp_path)
    code, result = run(tmp_path, node, config=p5_config(tmp_path, checks=checks))
    assert code == health_program.BAD_INPUT and result is None and node.runner.calls == []
    assert "names must be unique" in capsys.readouterr().err
    assert health_problems([], {}, site_checks=[site_check(severity="page")])[0].startswith("health_checks: check")
    assert health_problems(["scratch writable"], {}, site_checks=[site_check()]) == []


def test_the_list_names_the_sites_checks_in_tier_order(tmp_path, capsys):
    config = p5_config(tmp_path, checks=[site_check(tier="standard")])
    assert health_program.main(["--config", str(config), "--list"]) == 0
    names = [re.match(r"\s*\w+  (.*) \(needs", line).group(1) for line in capsys.readouterr().out.splitlines()]
    assert names.index("memory") < names.index("scratch writable") < names.index("DCGM diagnostics level 3")


def test_each_tier_keeps_its_own_last_result(tmp_path):
    node = p5_node(tmp_path)
    run(tmp_path, node, "--tier", "deep", config=p5_config(tmp_path, checks=[site_check()]))
    run(tmp_path, node)
    state = tmp_path / "state"
    assert json.loads((state / "last-deep.json").read_text())["tier"] == "deep"
    assert json.loads((state / "last.json").read_text())["tier"] == "quick"


def test_the_quick_tier_never_resumes_a_node_the_deep_tier_drained(tmp_path):
    # drained-by-us.txt as the deep tier leaves it: the reason names the site's deep check
    line = (SLURM / "drained-by-us.txt").read_text()
    deep = line.replace("GPU count: 7 on the PCI bus, p5.48xlarge has 8", "scratch writable: /scratch is read-only")
    config = p5_config(tmp_path, checks=[site_check()])
    answers = {**p5_answers(), ("scontrol", "-o", "show", "node"): (0, deep)}
    code, result = run(tmp_path, p5_node(tmp_path, answers), "--slurm", config=config)
    assert code == 0 and result["slurm"]["action"] == "none"
    assert "stays drained: scratch writable did not run and pass here" in result["slurm"]["why"]
    resume = ("scontrol", "update", "NodeName=ml-c1", "State=RESUME")
    answers = {**answers, ("/usr/local/bin/check-scratch",): (0, "ok\n"), resume: (0, "")}
    node = p5_node(tmp_path / "deep", answers)
    code, result = run(tmp_path, node, "--slurm", "--tier", "deep", config=config)
    assert result["slurm"]["action"] == "resume" and node.runner.calls[-1] == resume


def set_counters(node, **values):
    """EFA hw_counters on every port of a fixture node, as the efa driver's sysfs shows them."""
    for port in Path(node.root).glob("sys/class/infiniband/*/ports/1"):
        counters = port / "hw_counters"
        counters.mkdir(exist_ok=True)
        for name in (*health_program.EFA_ERROR_COUNTERS, "tx_pkts", "lifespan"):
            (counters / name).write_text(f"{values.get(name, 0)}\n")


def test_efa_error_counters_that_rise_between_runs_are_reported_and_drain_nothing(tmp_path):
    node = p5_node(tmp_path, ports=2)
    set_counters(node, tx_pkts=100)
    _, first = run(tmp_path, node, "--check", "EFA error counters")
    assert (
        first["checks"][0]["status"] == "not judged" and "first reading of 2 EFA ports" in first["checks"][0]["detail"]
    )
    set_counters(node, tx_pkts=900, lifespan=5)  # traffic is not an error
    _, quiet = run(tmp_path, node, "--check", "EFA error counters")
    assert quiet["checks"][0]["status"] == "pass"
    set_counters(node, rx_drops=3, unresponsive_remote_events=1)
    code, risen = run(tmp_path, node, "--check", "EFA error counters")
    check = risen["checks"][0]
    assert check["status"] == "fail" and check["severity"] == "monitor" and code == 0 and risen["outcome"] == "healthy"
    assert check["detail"].startswith("rdmap0s0/1 rx_drops +3; rdmap0s0/1 unresponsive_remote_events +1; rdmap1s0/1")
    set_counters(node)  # a reboot resets them: the new reading is the base
    _, reset = run(tmp_path, node, "--check", "EFA error counters")
    assert reset["checks"][0]["status"] == "pass"


def test_efa_error_counters_run_in_the_standard_tier_only(tmp_path):
    node = p5_node(tmp_path, ports=1)
    set_counters(node)
    _, quick = run(tmp_path, node)
    assert "EFA error counters" not in statuses(quick)
    _, standard = run(tmp_path, node, "--tier", "standard")
    assert statuses(standard)["EFA error counters"] == "not judged"


def test_slurms_commands_come_from_the_configured_directory(tmp_path):
    # ParallelCluster's Slurm is under /opt/slurm/bin, off the bare PATH slurmd gives HealthCheckProgram
    drain = ("/opt/slurm/bin/scontrol", "update", "NodeName=ml-c1", "State=DRAIN", f"Reason={REASON}")
    reboot = ("/opt/slurm/bin/scontrol", "reboot", "ASAP", "nextstate=RESUME", f"reason={REASON}", "ml-c1")
    show = ("/opt/slurm/bin/scontrol", "-o", "show", "node")
    answers = {
        **p5_answers(),
        QUERY: ONE_GPU,
        show: (0, (SLURM / "idle.txt").read_text()),
        reboot: (1, "no"),
        drain: (0, ""),
    }
    node = p5_node(tmp_path, answers)
    _, result = run(tmp_path, node, "--slurm", config=p5_config(tmp_path, slurm_bin_dir="/opt/slurm/bin"))
    assert result["slurm"]["action"] == "drain" and node.runner.calls[-3:] == [show, reboot, drain]


def test_a_direct_run_goes_only_where_we_drained_the_node_and_holds_it(tmp_path):
    deep_reason = "ml_cluster: DCGM diagnostics level 3: Memory: Fail"
    mine = (
        (SLURM / "drained-by-us.txt")
        .read_text()
        .replace("GPU count: 7 on the PCI bus, p5.48xlarge has 8", deep_reason[12:])
    )
    for fixture in ("idle.txt", "drained-by-a-person.txt", "draining.txt"):
        node = p5_node(tmp_path / fixture, {**p5_answers(), **slurm_answers(fixture)})
        code, result = run(tmp_path / fixture, node, "--slurm", "--if-drained", "--tier", "deep")
        assert code == 0 and result is None and node.runner.calls == [("scontrol", "-o", "show", "node")]
    # while a direct run holds the node, the quick tier every interval resumes nothing, reboots nothing
    state = tmp_path / "state"
    holder = health_program.hold(str(state), exclusive=True)
    resume = ("scontrol", "update", "NodeName=ml-c1", "State=RESUME")
    quick_reason = (SLURM / "drained-by-us.txt").read_text()
    answers = {**p5_answers(), ("scontrol", "-o", "show", "node"): (0, quick_reason), resume: (0, "")}
    _, result = run(tmp_path, p5_node(tmp_path / "quick", answers), "--slurm", "--check", "GPU count")
    assert result["slurm"]["action"] == "none" and "held" in result["slurm"]["why"]
    drain = ("scontrol", "update", "NodeName=ml-c1", "State=DRAIN", f"Reason={REASON}")
    rebooting = p5_node(
        tmp_path / "reboot", {**p5_answers(), **slurm_answers("idle.txt"), QUERY: ONE_GPU, drain: (0, "")}
    )
    _, result = run(tmp_path, rebooting, "--slurm", "--check", "nvidia-smi")
    assert result["slurm"]["action"] == "drain" and rebooting.runner.calls[-1] == drain  # not scontrol reboot
    holder.close()
    node = p5_node(
        tmp_path / "direct", {**p5_answers(), ("scontrol", "-o", "show", "node"): (0, mine), resume: (0, "")}
    )
    answers = node.runner.answers
    passing = (READINGS / "nvvs-3.1.0-json-pass.txt").read_text()
    answers[("dcgmi", "diag", "-r", "2", "-j")] = (0, passing)
    answers[("dcgmi", "diag", "-r", "3", "-j")] = (0, passing)
    code, result = run(tmp_path, node, "--slurm", "--if-drained", "--tier", "deep")
    assert result["slurm"]["action"] == "resume"
    assert health_program.hold(str(state), exclusive=False) is not None  # released with the run


def test_if_drained_needs_slurm_mode(tmp_path, capsys):
    assert run(tmp_path, p5_node(tmp_path), "--if-drained")[0] == health_program.BAD_INPUT
    assert "--if-drained goes with --slurm" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("reading", "detail"),
    [
        ("nvidia-smi-nvlink-status-h100-pcie-2gpu-inactive.txt", "GPU 0: link 4, 5, 10, 11, 16, 17 inactive"),
        ("nvidia-smi-nvlink-status-b200-all-inactive.txt", "GPU 2: all links inactive"),
    ],
)
def test_inactive_nvlinks_fail_naming_gpu_and_link(tmp_path, reading, detail):
    node = p5_node(tmp_path, {**p5_answers(), NVLINK: (0, (READINGS / reading).read_text())})
    _, result = run(tmp_path, node, "--check", "NVLink")
    check = result["checks"][0]
    assert check["status"] == "fail" and detail in check["detail"] and check["severity"] == "reset"
    assert "GPUs report NVLink, p5.48xlarge has 8" in check["detail"]


def test_nvlink_output_that_is_not_nvidia_smis_is_could_not_check(tmp_path):
    node = p5_node(
        tmp_path, {**p5_answers(), NVLINK: (0, "Failed to initialize NVML: Driver/library version mismatch\n")}
    )
    _, result = run(tmp_path, node, "--check", "NVLink")
    assert result["checks"][0]["status"] == "could not check"


DCGM_FAIL = READINGS / "dcgmi-diag-r1-j-4.2.3-gb10-persistence-fail.json"


def test_dcgm_failures_are_read_from_its_json_whatever_its_exit_status(tmp_path):
    # dcgmi exits 226 (DCGM_ST_NVVS_ERROR) when a test fails; the recorded failure is DCGM's CONFIG
    # severity (persistence mode off), which only reports
    node = p5_node(tmp_path, {**p5_answers(), ("dcgmi", "diag", "-r", "2", "-j"): (226, DCGM_FAIL.read_text())})
    code, result = run(tmp_path, node, "--check", "DCGM diagnostics level 2")
    check = result["checks"][0]
    assert check["status"] == "fail" and check["severity"] == "monitor" and code == 0
    assert check["detail"].startswith("software GPU 0: Persistence Mode: Persistence mode for GPU 0 is disabled.")
    # the same failure at DCGM's ISOLATE severity (2) drains
    isolate = DCGM_FAIL.read_text().replace('"error_severity" : 5', '"error_severity" : 2')
    node = p5_node(tmp_path / "isolate", {**p5_answers(), ("dcgmi", "diag", "-r", "2", "-j"): (226, isolate)})
    code, result = run(tmp_path, node, "--check", "DCGM diagnostics level 2")
    assert result["checks"][0]["severity"] == "isolate" and code == 1


def test_dcgm_that_printed_no_json_is_could_not_check(tmp_path):
    answer = (255, "Error: unable to establish a connection to the specified host: localhost\n")
    node = p5_node(tmp_path, {**p5_answers(), ("dcgmi", "diag", "-r", "2", "-j"): answer})
    _, result = run(tmp_path, node, "--check", "DCGM diagnostics level 2")
    assert (
        result["checks"][0]["status"] == "could not check"
        and "exited 255: Error: unable" in result["checks"][0]["detail"]
    )


def test_dcgm_that_ran_nothing_or_exited_non_zero_without_a_failure_is_not_a_pass(tmp_path):
    passing = (READINGS / "nvvs-3.1.0-json-pass.txt").read_text()
    for i, answer in enumerate(((226, passing), (0, '{"DCGM Diagnostic": {"test_categories": []}}'))):
        node = p5_node(tmp_path / str(i), {**p5_answers(), ("dcgmi", "diag", "-r", "2", "-j"): answer})
        _, result = run(tmp_path / str(i), node, "--check", "DCGM diagnostics level 2")
        assert result["checks"][0]["status"] == "could not check", answer[0]


# EFA loopback: the real processes, with fi_info and fi_pingpong stand-ins that keep fi_pingpong's
# control socket (-B on the server, -P on the client) and print its recorded table.
FAKE_PINGPONG = """#!/usr/bin/env python3
import os, socket, sys, time
args, mode = sys.argv[1:], os.environ.get("FAKE_PINGPONG", "pass")
if "-d" not in args:  # libfabric would pick the first device: the check must name each
    sys.exit(print("no -d", file=sys.stderr) or 3)
with open(os.environ["FAKE_PINGPONG_LOG"], "a") as log:
    log.write(f"{args[args.index('-d') + 1]} shm={os.environ.get('FI_EFA_ENABLE_SHM_TRANSFER')} {args}\\n")
table = open(os.environ["FAKE_PINGPONG_TABLE"]).read()
if "-B" in args:
    if mode == "server fails":
        sys.exit(print("fi_getinfo(): util/pingpong.c:1151, ret=-61 (No data available)", file=sys.stderr) or 1)
    server = socket.socket(socket.AF_INET6 if mode == "v6" else socket.AF_INET)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("", int(args[args.index("-B") + 1])))
    server.listen(1)
    conn, _ = server.accept()
    conn.recv(16)
    print(table, end="")
    if mode == "server errors":
        sys.exit(print("[error] util/pingpong.c:1026: ack timed out", file=sys.stderr) or 1)
    sys.exit(0)
if mode == "hang":
    time.sleep(30)
client = socket.create_connection(("localhost", int(args[args.index("-P") + 1])))
client.sendall(b"x")
if mode == "client fails":
    sys.exit(print("[error] util/pingpong.c:1026: ack timed out", file=sys.stderr) or 1)
print(open(os.environ["FAKE_PINGPONG_UNACKED"]).read() if mode == "unacknowledged" else table, end="")
"""


@pytest.fixture
def efa_bin(tmp_path, monkeypatch):
    bin_dir = tmp_path / "efa-bin"
    bin_dir.mkdir()
    (bin_dir / "fi_info").write_text(f"#!/bin/sh\ncat {READINGS / 'fi_info-p4d.24xlarge.txt'}\n")
    (bin_dir / "fi_pingpong").write_text(FAKE_PINGPONG)
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("FAKE_PINGPONG_LOG", str(tmp_path / "pingpong.log"))
    monkeypatch.setenv("FAKE_PINGPONG_TABLE", str(READINGS / "fi_pingpong-efa-libfabric-1.18.0.txt"))
    monkeypatch.setenv("FAKE_PINGPONG_UNACKED", str(READINGS / "fi_pingpong-unacknowledged.txt"))
    return bin_dir


def loopback(efa_bin, timeout=60):
    settings = {"efa_bin_dir": str(efa_bin)}
    return health_program.check_efa_loopback(health_program.Node("/"), {}, settings, timeout)


def test_efa_loopback_pings_each_libfabric_domain_through_the_device(efa_bin, tmp_path):
    status, detail = loopback(efa_bin)
    assert status == "pass" and detail == "4 EFA domains loop back (largest transfer 2186 MB/s or more)"
    log = (tmp_path / "pingpong.log").read_text().splitlines()
    # a server and a client per domain, by libfabric's domain name, shared memory off, data checked
    assert [line.split()[0] for line in log] == [
        d for d in ("rdmap144s27-rdm", "rdmap160s27-rdm", "rdmap16s27-rdm", "rdmap32s27-rdm") for _ in "sc"
    ]
    assert all("shm=0" in line and "'-c'" in line and "'rdm'" in line for line in log)


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        (
            "server fails",
            "4 of 4 EFA domains failed: rdmap144s27-rdm: the server side exited 1: fi_getinfo(): "
            "util/pingpong.c:1151, ret=-61 (No data available)",
        ),
        ("client fails", "4 of 4 EFA domains failed: rdmap144s27-rdm: exited 1: [error] util/pingpong.c:1026: ack"),
        ("unacknowledged", "4 of 4 EFA domains failed: rdmap144s27-rdm: [error] util/pingpong.c:1026: ack timed out"),
        ("server errors", "4 of 4 EFA domains failed: rdmap144s27-rdm: the server side exited 1: [error] util/"),
    ],
)
def test_a_failed_efa_loopback_names_the_domain_and_fi_pingpongs_error(efa_bin, monkeypatch, mode, detail):
    monkeypatch.setenv("FAKE_PINGPONG", mode)
    status, text = loopback(efa_bin)
    assert status == "fail" and text.startswith(detail), text


def test_a_hanging_efa_loopback_is_killed_and_could_not_check(efa_bin, monkeypatch):
    monkeypatch.setenv("FAKE_PINGPONG", "hang")
    monkeypatch.setattr(health_program, "PINGPONG_CLIENT_S", 1)
    started = time.monotonic()
    with pytest.raises(health_program.CouldNotCheck, match="fi_pingpong timed out after 1 s"):
        loopback(efa_bin)
    assert time.monotonic() - started < 10


def test_efa_loopback_without_fi_pingpong_could_not_check(efa_bin):
    (efa_bin / "fi_pingpong").unlink()
    with pytest.raises(health_program.CouldNotCheck, match="fi_pingpong"):
        loopback(efa_bin)


def test_efa_loopback_without_a_libfabric_efa_device_fails_and_without_fi_info_could_not_check(efa_bin):
    (efa_bin / "fi_info").write_text("#!/bin/sh\necho 'fi_getinfo: -61 (No data available)' >&2\nexit 1\n")
    assert loopback(efa_bin)[0] == "fail"
    (efa_bin / "fi_info").unlink()
    with pytest.raises(health_program.CouldNotCheck, match="fi_info is not installed"):
        loopback(efa_bin)


def test_the_port_check_reads_proc_net_tcp(tmp_path):
    (tmp_path / "proc" / "net").mkdir(parents=True)
    node = health_program.Node(str(tmp_path))
    assert node.listening(47592) is None  # nothing to read: the caller waits instead
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (tmp_path / "proc" / "net" / "tcp").write_text(
        header + "   0: 00000000:B9E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
        "   1: 0100007F:1F90 0100007F:B9E8 01 00000000:00000000 00:00000000 00000000     0        0 2\n"
    )
    assert node.listening(47592) is True and node.listening(8080) is False  # 8080 is connected, not listening


# The one-node collective: all_reduce_perf over the node's GPUs, judged as the benchmarks judge.
def collective_argv(gpus=8, size=1 << 30):
    return (
        "/opt/nccl-tests/build/all_reduce_perf",
        "-b",
        "32M",
        "-e",
        str(size),
        "-f",
        "2",
        "-g",
        str(gpus),
        "-c",
        "1",
        "-w",
        "5",
        "-n",
        "20",
    )


def one_node_run(peak_busbw, **options):
    text, _ = nccl.render(
        ranks=8, hosts=("ip-10-1-0-1",), peak_busbw=peak_busbw, min_bytes=32 << 20, max_bytes=1 << 30, **options
    )
    return text


def p4d_expected():
    return {"instance_type": "p4d.24xlarge", "record": hardware.expected("p4d.24xlarge")}


def collective(answer, expected=None, settings=None):
    node = health_program.Node("/", Runner({collective_argv(): answer}))
    return health_program.check_local_collective(node, expected or p4d_expected(), settings or {}, 600)


def test_the_one_node_collective_passes_at_the_instance_types_figure():
    status, detail = collective((0, one_node_run(245.0)))
    assert status == "pass", detail
    assert detail.startswith("8 GPUs, busbw 230.6 GB/s at 1 GiB; 230.59 GB/s vs expected 230.8 GB/s (floor 184.6")


def test_a_slow_or_wrong_one_node_collective_fails():
    status, detail = collective((0, one_node_run(150.0)))
    assert status == "fail" and detail.startswith("busbw against expected: 141.18 GB/s vs expected 230.8"), detail
    status, detail = collective((0, one_node_run(245.0, wrong=3)))
    assert status == "fail" and "data correct: #wrong total 6, out of bounds 0" in detail
    failure = "ip-10-1-0-1: Test NCCL failure common.cu:1005 'unhandled cuda error'\n"
    status, detail = collective((1, one_node_run(245.0, truncate_after=2) + failure))
    assert status == "fail" and "finished: ip-10-1-0-1: Test NCCL failure" in detail


def test_a_one_node_collective_without_a_figure_is_judged_on_finishing_and_data_only():
    expected = {"instance_type": "p5.48xlarge", "record": hardware.expected("p5.48xlarge")}
    status, detail = collective((0, one_node_run(480.0)), expected)
    assert status == "pass" and "no expected figure for all_reduce on 1 x p5.48xlarge" in detail
    # a site's own figure (health_busbw_expected) judges it
    figure = {
        "instance_type": "p5.48xlarge",
        "nodes": 1,
        "collective": "all_reduce",
        "message_size": 1 << 30,
        "busbw": 600,
        "source": "site",
    }
    status, detail = collective((0, one_node_run(480.0)), expected, {"busbw_expected": [figure]})
    assert status == "fail" and "vs expected 600 GB/s" in detail


def test_a_one_node_collective_that_cannot_start_could_not_check():
    missing = health_program.Node("/", Runner({}))
    with pytest.raises(health_program.CouldNotCheck, match="all_reduce_perf is not installed"):
        health_program.check_local_collective(missing, p4d_expected(), {}, 600)
    broken = "all_reduce_perf: error while loading shared libraries: libnccl.so.2: cannot open shared object file\n"
    with pytest.raises(health_program.CouldNotCheck, match="exited 127: all_reduce_perf: error while loading"):
        collective((127, broken))


def test_one_node_figures_that_cannot_be_measured_are_refused_before_anything_runs(tmp_path):
    good = {"instance_type": "p5.48xlarge", "nodes": 1, "message_size": 1 << 30, "busbw": 600, "source": "site"}
    assert health_busbw_problems([good]) == []
    problems = health_busbw_problems([{**good, "nodes": 2, "message_size": 3 << 20, "busbw": "fast"}])
    assert problems == [
        "health_busbw_expected: entry 0: the one-node collective is all_reduce on nodes: 1.",
        "health_busbw_expected: entry 0: busbw must be a positive number of GB/s, not 'fast'.",
        "health_busbw_expected: entry 0: message_size must be a power of two of 32 MiB or more, not 3145728.",
    ]
    config = p5_config(tmp_path, busbw_expected=[{**good, "instance_type": ""}])
    node = p5_node(tmp_path)
    code, result = run(tmp_path, node, "--tier", "standard", config=config)
    assert code == health_program.BAD_INPUT and result is None and node.runner.calls == []


def test_a_check_that_a_reboot_did_not_cure_drains_the_node_instead_of_rebooting_it_again(tmp_path):
    reboot = ("scontrol", "reboot", "ASAP", "nextstate=RESUME", f"reason={REASON}", "ml-c1")
    drain = ("scontrol", "update", "NodeName=ml-c1", "State=DRAIN", f"Reason={REASON}")
    # after the reboot Slurm resumed the node (nextstate=RESUME) and the check fails again
    answers = {**p5_answers(), **slurm_answers("idle.txt"), QUERY: ONE_GPU, reboot: (0, ""), drain: (0, "")}
    config, state = p5_config(tmp_path), tmp_path / "state"

    def run_at(hours):
        node = p5_node(tmp_path / f"at{hours}", answers)
        argv = ["--config", str(config), "--state-dir", str(state), "--node-name", "ml-c1", "--slurm"]
        health_program.main(argv, node=node, now=lambda: 1_800_000_000 + hours * 3600)
        return json.loads((state / "last.json").read_text())["slurm"], node.runner.calls[-1]

    first, command = run_at(0)
    assert first["action"] == "reboot" and command == reboot
    again, command = run_at(3)
    assert again["action"] == "drain" and command == drain, again
    assert again["why"].endswith("; not rebooted again: a reboot for nvidia-smi was asked 3.0 h ago")
    # past the window (24 h unless reboot_window_h says otherwise) a reboot is asked for again
    later, command = run_at(30)
    assert later["action"] == "reboot" and command == reboot
    assert [r["checks"] for r in json.loads((state / "reboots.json").read_text())] == [["nvidia-smi"]]
