"""The main job on the local default (tests/testbed/demo.sh, `make demo`): a three-node Slurm cluster
of containers converged twice (the second converge changes nothing), the test cases staged, the FSDP
benchmark run through real Slurm on both compute nodes with torchrun on the CPU, and the collective
sweep; then the reports' figures are checked for presence and plausibility, and bad input and a
failing job are refused with messages that name the problem."""

import json
import math
from pathlib import Path

import pytest

from tests.helpers import run

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ["-i", str(ROOT / "inventories" / "local")]


@pytest.fixture(scope="module")
def demo(testbed, tmp_path_factory, keep_artifacts):
    reports = tmp_path_factory.mktemp("reports")
    # A cluster from an earlier run would hide what a first converge does: start from new nodes.
    run([str(ROOT / "tests" / "testbed" / "cluster.sh"), "down"], env=testbed)
    # The cluster stays up for the refusal tests below, and is removed after them.
    env = dict(testbed, AWSOME_DEMO_KEEP="1", AWSOME_REPORT_DIR=str(reports))
    try:
        result = run([str(ROOT / "tests" / "testbed" / "demo.sh")], env=env, cwd=ROOT)
        fsdp_md, nccl_md = result.stdout.split()[-2:]
        yield {
            "env": env,
            "reports": reports,
            "fsdp": Path(fsdp_md).with_suffix(".json"),
            "nccl": Path(nccl_md).with_suffix(".json"),
        }
    finally:
        if not keep_artifacts:
            run([str(ROOT / "tests" / "testbed" / "cluster.sh"), "down"], env=testbed)


def playbook(demo, name, *extra):
    return run(
        [
            "ansible-playbook",
            *INVENTORY,
            "-e",
            f"benchmark_report_dir={demo['reports']}",
            str(ROOT / "playbooks" / name),
            *extra,
        ],
        env=demo["env"],
        cwd=ROOT,
        check=False,
    )


@pytest.mark.integration
def test_fsdp_ran_through_slurm_on_both_compute_nodes(demo):
    report = json.loads(demo["fsdp"].read_text())
    result = report["result"]
    assert report["passed"], report["checks"]
    assert result["nodes"] == ["ml-c1", "ml-c2"] and result["world_size"] == 2 and result["backend"] == "gloo"
    assert result["timed_steps"] == [4, 8] and len(result["losses"]) == 8
    # Two containers sharing two cores: hundreds to a few thousand tokens/s for the 8M model.
    assert 50 < result["tokens_per_s"] < 100_000
    assert result["tflops_per_accelerator"] == pytest.approx(
        result["model"]["flops_per_token"] * result["tokens_per_s"] / 2 / 1e12
    )
    assert abs(result["losses"][0] - math.log(result["model"]["vocab"])) < 1.0
    assert len({r["digest"] for r in result["ranks"]}) == 2
    assert report["versions"]["ml-c1"]["torch"].startswith("2.13.0") and report["versions"]["ml-c2"]["slurm"]
    assert (demo["fsdp"].parent / "fsdp.png").read_bytes()[:4] == b"\x89PNG"
    assert "**PASSED**" in demo["fsdp"].with_suffix(".md").read_text()


@pytest.mark.integration
def test_collective_sweep_is_judged_at_one_size(demo):
    report = json.loads(demo["nccl"].read_text())
    assert report["passed"], report["checks"]
    runs = {r["collective"]: r for r in report["runs"]}
    assert sorted(runs) == ["all_gather", "all_reduce", "alltoall", "reduce_scatter"]
    for r in runs.values():
        assert r["judged_size"] == 16 << 20 and 0 < r["busbw"] < 100
        assert len(r["run"]["devices"]) == 2
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["all_reduce: data correct"] == "pass"
    assert statuses["all_reduce: busbw against expected"] == "not judged"  # no figure for containers


@pytest.mark.integration
def test_bad_option_is_refused_before_any_job(demo):
    result = playbook(demo, "benchmark_nccl.yml", "-e", "benchmark_nccl_mode=fastest")
    assert result.returncode != 0
    assert "benchmark_nccl_mode" in result.stdout and "fastest" in result.stdout
    assert "Submit nccl" not in result.stdout


@pytest.mark.integration
def test_failed_job_fails_the_play_with_its_output(demo):
    result = playbook(demo, "benchmark_fsdp.yml", "-e", '{"benchmark_fsdp_args": ["--warmup-steps", "9"]}')
    assert result.returncode != 0
    assert "ended FAILED" in result.stdout and "must be below --steps" in result.stdout
