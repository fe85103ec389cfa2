"""The nccl-tests parser and the busbw judgement, on outputs in the real binaries' formats."""

import pytest
from ansible_collections.awsome.ml_cluster.plugins.module_utils import benchmarks, nccl_tests

from tests.fixtures import nccl

GIB = 1 << 30
P5_TABLE = [
    {
        "instance_type": "p5.48xlarge",
        "nodes": 2,
        "collective": "all_reduce",
        "message_size": 16 * GIB,
        "busbw": 487,
        "source": "ADT nccl-tests README",
    },
]


@pytest.mark.parametrize("collective", ["all_reduce", "all_gather", "reduce_scatter", "alltoall"])
@pytest.mark.parametrize("prefix", [None, "mpirun", "srun"])
def test_every_row_of_a_sweep_is_read_whatever_the_launcher(collective, prefix):
    text, body = nccl.render(collective=collective, prefix=prefix, nccl_logs=True)
    [run] = nccl_tests.parse(text)
    assert run["collective"] == collective
    assert run["version"] == "2.19.6"
    assert [r["size"] for r in run["rows"]] == [size for size, *_ in body]
    last = run["rows"][-1]
    assert last["out_of_place"]["busbw"] == pytest.approx(body[-1][3], rel=0.01)
    assert last["in_place"]["busbw"] == pytest.approx(body[-1][3] / 0.98, rel=0.01)
    assert run["complete"] and run["out_of_bounds"] == 0 and not run["failures"]
    assert len(run["devices"]) == 16 and run["devices"][8]["host"] == "ip-10-1-0-2"
    assert run["devices"][0]["model"] == "NVIDIA H100 80GB HBM3"
    assert (run["min_bytes"], run["max_bytes"], run["iters"]) == (8, 16 * GIB, 20)


def test_exponent_and_wide_numbers_are_read():
    # 16 GiB at ~480 GB/s takes ~7e4 us: still fixed; a slow link pushes time past 7 characters.
    text, body = nccl.render(peak_busbw=0.05, max_bytes=GIB)
    [run] = nccl_tests.parse(text)
    time_cell = nccl.float_str(body[-1][1], 7)
    assert "e+" in time_cell, "the fixture should exercise the exponent form"
    assert run["rows"][-1]["out_of_place"]["time_us"] == pytest.approx(body[-1][1], rel=0.06)


def test_na_in_wrong_column_means_not_validated():
    text, _ = nccl.render(check=False)
    [run] = nccl_tests.parse(text)
    assert all(r["out_of_place"]["wrong"] is None for r in run["rows"])
    verdict = benchmarks.nccl_checks(run)
    data = next(c for c in verdict["checks"] if c["name"] == "data correct")
    assert data["status"] == benchmarks.NOT_JUDGED


def test_wrong_elements_fail_the_data_check():
    text, _ = nccl.render(wrong=17)
    [run] = nccl_tests.parse(text)
    assert nccl_tests.wrong_elements(run) == 34  # out-of-place and in-place of the last row
    verdict = benchmarks.nccl_checks(run, {"table": P5_TABLE, "instance_type": "p5.48xlarge", "nodes": 2})
    assert [c["name"] for c in benchmarks.failed(verdict["checks"])] == ["data correct"]


def test_truncated_run_fails_as_unfinished():
    text, _ = nccl.render(truncate_after=10)
    [run] = nccl_tests.parse(text)
    assert len(run["rows"]) == 10 and not run["complete"]
    failed = {c["name"]: c["detail"] for c in benchmarks.failed(benchmarks.nccl_checks(run)["checks"])}
    assert "cut short" in failed["finished"]
    assert "the sweep stopped at" in failed["busbw at 1 GiB"]


def test_nccl_failure_lines_are_reported():
    [run] = nccl_tests.parse(nccl.NCCL_FAILURE)
    assert not run["rows"]
    assert any("Test NCCL failure common.cu:1279" in f for f in run["failures"])
    failed = [c["name"] for c in benchmarks.failed(benchmarks.nccl_checks(run)["checks"])]
    assert failed[:2] == ["finished", "rows"]


def test_several_collectives_in_one_output_are_separate_runs():
    a, _ = nccl.render(collective="all_reduce", peak_busbw=480)
    b, _ = nccl.render(collective="all_gather", peak_busbw=350)
    runs = nccl_tests.parse(a + b)
    assert [r["collective"] for r in runs] == ["all_reduce", "all_gather"]
    assert all(r["complete"] for r in runs)


def test_v2_13_header_without_version_or_start_lines():
    text, body = nccl.render(modern=False, collective="reduce_scatter")
    assert "Collective test" not in text and "nccl-tests version" not in text
    [run] = nccl_tests.parse(text, collective="reduce_scatter")
    assert run["collective"] == "reduce_scatter" and run["version"] is None and run["complete"]
    assert len(run["rows"]) == len(body)


def test_old_format_with_error_column():
    [run] = nccl_tests.parse(nccl.OLD_V211, collective="all_reduce")
    assert [r["size"] for r in run["rows"]] == [1048576, 268435456, 1073741824]
    assert run["rows"][-1]["out_of_place"]["busbw"] == 229.83
    assert run["rows"][-1]["out_of_place"]["error"] == 5e-07
    assert run["avg_busbw"] == 157.56


def test_json_output():
    [run] = nccl_tests.parse(nccl.render_json())
    assert run["collective"] == "all_reduce" and run["complete"]
    assert run["rows"][-1]["size"] == 16 * GIB and run["rows"][-1]["root"] == -1
    assert run["devices"][0]["model"] == "NVIDIA H100 80GB HBM3"


def test_busbw_is_judged_at_the_expected_size_not_the_footer_average():
    text, body = nccl.render(peak_busbw=480)
    [run] = nccl_tests.parse(text)
    verdict = benchmarks.nccl_checks(run, {"table": P5_TABLE, "instance_type": "p5.48xlarge", "nodes": 2})
    assert verdict["judged_size"] == 16 * GIB
    assert verdict["busbw"] == pytest.approx(body[-1][3], rel=0.01)
    assert verdict["avg_busbw_footer"] < verdict["busbw"] / 2  # the footer mixes in tiny sizes
    assert not benchmarks.failed(verdict["checks"])


def test_slow_cluster_fails_against_expected():
    text, _ = nccl.render(peak_busbw=300)
    [run] = nccl_tests.parse(text)
    verdict = benchmarks.nccl_checks(run, {"table": P5_TABLE, "instance_type": "p5.48xlarge", "nodes": 2})
    [failure] = benchmarks.failed(verdict["checks"])
    assert failure["name"] == "busbw against expected" and "expected 487 GB/s" in failure["detail"]


def test_no_expected_figure_is_not_judged_rather_than_passed():
    text, _ = nccl.render(peak_busbw=300)
    [run] = nccl_tests.parse(text)
    verdict = benchmarks.nccl_checks(run, {"table": P5_TABLE, "instance_type": "p4d.24xlarge", "nodes": 4})
    expected = next(c for c in verdict["checks"] if c["name"] == "busbw against expected")
    assert expected["status"] == benchmarks.NOT_JUDGED and "p4d.24xlarge" in expected["detail"]


def test_a_later_table_entry_overrides_an_earlier_one():
    override = [*P5_TABLE, dict(P5_TABLE[0], busbw=250, source="our own baseline")]
    assert benchmarks.expected_figure(override, "p5.48xlarge", 2, "all_reduce")["busbw"] == 250


def test_numbers():
    assert nccl_tests.number("1.2e+05") == 120000.0
    assert nccl_tests.number("N/A") is None
    assert nccl_tests.number("  12.50".strip()) == 12.5
    assert nccl_tests.number("abc") is None


def test_prefixes_are_stripped():
    assert nccl_tests.strip_prefix("[1,0]<stdout>:# nThread 1") == "# nThread 1"
    assert nccl_tests.strip_prefix("12: # nThread 1") == "# nThread 1"
    assert nccl_tests.strip_prefix("        8   2  float") == "        8   2  float"
