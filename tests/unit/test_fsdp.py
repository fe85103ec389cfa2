"""The FSDP test case (files/test_cases/fsdp): model sizes, the data path, the FLOP count, and a real
two-rank FSDP2 run on the CPU (gloo) judged by the report's checks."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.awsome.ml_cluster.plugins.module_utils import benchmarks, report

ROOT = Path(__file__).resolve().parents[2]
FSDP = ROOT / "files" / "test_cases" / "fsdp"
sys.path.insert(0, str(FSDP))

import models  # noqa: E402


def size_in_name(name):
    number, unit = re.search(r"(\d+(?:\.\d+)?)([mb])$", name).groups()
    return float(number) * (1e6 if unit == "m" else 1e9)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_parameter_count_matches_the_name(name):
    config = models.MODELS[name]
    assert config.param_count() == pytest.approx(size_in_name(name), rel=0.05)


def test_flops_per_token_is_the_stated_formula():
    c = models.MODELS["llama3.1-8b"]
    n = (
        c.layers * (4 * c.dim * c.dim - 2 * c.dim * c.dim + 2 * c.dim * c.kv_heads * c.head_dim + 3 * c.dim * c.ffn_dim)
        + c.vocab * c.dim
    )
    assert c.matmul_params() == n
    assert c.flops_per_token() == 6 * n + 12 * c.layers * c.heads * c.head_dim * c.seq_len
    # Tying the output to the embedding does not remove the output projection's FLOPs.
    tied = models.MODELS["llama3.2-1.2b"]
    assert tied.matmul_params() > tied.param_count() - tied.vocab * tied.dim - 1


def test_each_rank_gets_its_own_samples_at_the_configured_length():
    torch = pytest.importorskip("torch")
    import train  # noqa: PLC0415

    config = models.MODELS["tiny-8m"]
    args = train.parse_args(["--steps", "3", "--warmup-steps", "1", "--batch-size", "2", "--workers", "0"])
    batches = {}
    for rank in (0, 1):
        loader = train.make_loader(args, config, config.seq_len, (rank, 2, torch.device("cpu")))
        batches[rank] = [inputs for inputs, _ in loader]
        assert list(loader.sampler)[:3] == [rank, rank + 2, rank + 4]
    assert all(b.shape == (2, config.seq_len) for b in batches[0] + batches[1])
    assert not torch.equal(batches[0][0], batches[1][0])
    override = train.parse_args(["--seq-len", "64", "--workers", "0"])
    [first, *_] = train.make_loader(override, config, 64, (0, 2, torch.device("cpu")))
    assert first[0].shape[1] == 64


def test_labels_are_the_inputs_shifted_by_one():
    pytest.importorskip("torch")
    import train  # noqa: PLC0415

    inputs, labels = train.SyntheticTokens(vocab=100, seq_len=16, samples=4)[2]
    assert inputs[1:].tolist() == labels[:-1].tolist()


def test_file_tokens_are_windows_of_the_file(tmp_path):
    torch = pytest.importorskip("torch")
    import train  # noqa: PLC0415

    path = tmp_path / "tokens.bin"
    path.write_bytes(torch.arange(100, dtype=torch.int32).numpy().tobytes())
    data = train.FileTokens(str(path), seq_len=10, dtype="int32")
    assert len(data) == 9
    inputs, labels = data[3]
    assert inputs.tolist() == list(range(30, 40)) and labels.tolist() == list(range(31, 41))


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("fsdp") / "result.json"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(FSDP / "train.py"),
        "--steps",
        "5",
        "--warmup-steps",
        "2",
        "--batch-size",
        "2",
        "--output",
        str(out),
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def test_two_ranks_train_with_fsdp2_on_the_cpu(two_rank_run):
    result, stdout = two_rank_run
    assert result["world_size"] == 2 and result["backend"] == "gloo"
    assert result["seq_len"] == models.MODELS["tiny-8m"].seq_len
    assert result["timed_steps"] == [3, 5] and len(result["losses"]) == 5
    timed_seconds = sum(result["step_seconds"][2:])
    assert result["tokens_per_s"] == pytest.approx(3 * 2 * 2 * 256 / timed_seconds)
    assert "timed steps 3-5" in stdout
    checks = benchmarks.fsdp_checks(result)["checks"]
    assert not benchmarks.failed(checks), checks
    assert {c["name"]: c["status"] for c in checks}["MFU"] == benchmarks.NOT_JUDGED  # no peak for a CPU


def test_report_of_a_real_run(two_rank_run, tmp_path):
    result, _ = two_rank_run
    rep = report.build_fsdp(result, title="FSDP on CPU", versions={"c1": {"torch": "2.13.0"}})
    text = report.markdown(rep, "fsdp.png")
    assert "**PASSED**" in text and "tokens/s (global)" in text and "| torch | 2.13.0 |" in text
    report.plot(rep, tmp_path / "fsdp.png")
    assert (tmp_path / "fsdp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mfu_uses_the_peak_of_the_device():
    result = {
        "tflops_per_accelerator": 450.0,
        "device_name": "NVIDIA H100 80GB HBM3",
        "losses": [math.log(8192)] * 4,
        "steps": 4,
        "warmup_steps": 1,
        "model": {"vocab": 8192},
        "world_size": 1,
        "seq_len": 8,
        "ranks": [{"digest": "a", "shape": [1, 8]}],
        "tokens_per_s": 1.0,
        "timed_steps": [2, 4],
    }
    verdict = benchmarks.fsdp_checks(result, min_mfu=0.45)
    assert verdict["peak_tflops"] == 989.0 and verdict["mfu"] == pytest.approx(0.455, abs=0.001)
    assert {c["name"]: c["status"] for c in verdict["checks"]}["MFU"] == benchmarks.PASS
    low = benchmarks.fsdp_checks(dict(result, tflops_per_accelerator=300.0), min_mfu=0.45)
    assert [c["name"] for c in benchmarks.failed(low["checks"])] == ["MFU"]


def test_ranks_reading_the_same_data_fail():
    result = {
        "tflops_per_accelerator": 0.1,
        "device_name": "cpu",
        "losses": [9.0] * 3,
        "steps": 3,
        "warmup_steps": 1,
        "model": {"vocab": 8192},
        "world_size": 2,
        "seq_len": 8,
        "tokens_per_s": 1.0,
        "timed_steps": [2, 3],
        "ranks": [{"digest": "same", "shape": [1, 8]}, {"digest": "same", "shape": [1, 4096]}],
    }
    failed = [c["name"] for c in benchmarks.failed(benchmarks.fsdp_checks(result)["checks"])]
    assert failed == ["ranks read their own data", "sequence length as configured"]
