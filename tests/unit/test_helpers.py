"""The failure summary that the tests' run() puts into its assertion message."""

import subprocess

import pytest

from tests.helpers import explain, failure_lines, run_unless_crashed_twice

ANSIBLE = """\
\x1b[0;32m    ml.docker.local: TASK [awsome.ml_cluster.image : Clean the package caches] ***\x1b[0m
\x1b[0;32m    ml.docker.local: ok: [default]\x1b[0m
\x1b[0;31m    ml.docker.local: fatal: [default]: FAILED! => {"changed": false, "msg": "disk full"}\x1b[0m
\x1b[0;31m    ml.docker.local: PLAY RECAP *****\x1b[0m
==> ml.docker.local: Killing the container: 1234
Build 'ml.docker.local' errored: Error executing Ansible: Non-zero exit status: exit status 2
"""


def test_the_fatal_task_and_the_build_error_are_picked_without_colour():
    why = failure_lines(ANSIBLE)
    assert 'fatal: [default]: FAILED! => {"changed": false, "msg": "disk full"}' in why
    assert "Build 'ml.docker.local' errored: Error executing Ansible" in why
    assert "\x1b[" not in why
    assert "Clean the package caches" not in why


def test_a_line_picked_twice_is_shown_once():
    assert failure_lines("ERROR one\nERROR two\n").splitlines() == ["ERROR one", "ERROR two"]


def test_the_summary_keeps_the_end_when_it_is_too_long():
    why = failure_lines("".join(f"ERROR {n}\n" for n in range(1000)), limit=100)
    assert len(why) <= 100
    assert why.endswith("ERROR 999")


def test_a_clean_run_has_nothing_to_say():
    assert failure_lines("ok: [default]\nPLAY RECAP\n") == ""


def test_the_explanation_ends_with_how_each_stream_ended():
    result = subprocess.CompletedProcess([], 2, stdout="one\ntwo\nthree\n", stderr="panic: runtime error\n")
    why = explain(result, tail=2)
    assert why.splitlines() == [
        "panic: runtime error",
        "-- stdout ended:",
        "two",
        "three",
        "-- stderr ended:",
        "panic: runtime error",
    ]


CRASHES_ONCE = 'if [ -e "$0.ran" ]; then echo built; else touch "$0.ran"; echo "PACKER CRASH"; exit 2; fi'


def test_a_run_whose_tool_crashed_runs_once_more(tmp_path):
    script = tmp_path / "build.sh"
    script.write_text(CRASHES_ONCE)
    assert run_unless_crashed_twice(["bash", str(script)], "PACKER CRASH").stdout == "built\n"


def test_a_run_that_failed_without_a_crash_is_not_run_again(tmp_path):
    script = tmp_path / "build.sh"
    script.write_text(CRASHES_ONCE.replace("PACKER CRASH", "fatal: [default]: FAILED!"))
    with pytest.raises(AssertionError, match="exited 2"):
        run_unless_crashed_twice(["bash", str(script)], "PACKER CRASH")
    assert (tmp_path / "build.sh.ran").exists()  # it ran, and once: a second run would have passed


def test_a_second_crash_fails():
    with pytest.raises(AssertionError, match="exited 2"):
        run_unless_crashed_twice(["bash", "-c", "echo 'PACKER CRASH'; exit 2"], "PACKER CRASH")
