"""Filters over benchmark outputs, for playbooks that want the parsed data without a report."""

from __future__ import annotations

from ansible_collections.awsome.ml_cluster.plugins.module_utils import benchmarks, nccl_tests


def nccl_tests_parse(output, collective=None):
    """nccl-tests output (text or -J JSON) -> a list of runs (rows, devices, footer, failures)."""
    return nccl_tests.parse(output, collective)


def nccl_tests_judge(run, judging=None):
    """One parsed run -> its checks and the busbw judged at one large message size.

    judging: {table, instance_type, nodes, message_size, tolerance}, each optional.
    """
    return benchmarks.nccl_checks(run, judging)


def nccl_expected(table, instance_type, nodes, collective="all_reduce"):
    """The expected figure's entry ({busbw, message_size, source, ...}) for this instance type, node
    count and collective, the user's table overriding the collection's; {} where there is none."""
    return benchmarks.expected_figure(table, instance_type, nodes, collective) or {}


class FilterModule:
    def filters(self):
        return {
            "nccl_tests_parse": nccl_tests_parse,
            "nccl_tests_judge": nccl_tests_judge,
            "nccl_expected": nccl_expected,
        }
