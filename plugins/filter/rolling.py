"""Filters of playbooks/rolling.yml (role rolling): thin wrappers of plugins/module_utils/rolling.py
over what the tasks registered (node_health's observed, `scontrol -o show node NAME`'s line)."""

from __future__ import annotations

from ansible_collections.awsome.ml_cluster.plugins.module_utils import rolling, slurm_nodes


def rolling_changes(observed, declared):
    """The components the node has at another version than the version set declares."""
    return rolling.changes(observed or {}, declared or {})


def rolling_plan(scontrol_line, changes):
    """What to do with the node: {action, why, reason} (rolling.plan)."""
    return rolling.plan(slurm_nodes.parse_node(scontrol_line), changes)


def rolling_runs_jobs(scontrol_line):
    """Whether the node still runs jobs (a drain lets them finish)."""
    return slurm_nodes.runs_jobs(slurm_nodes.parse_node(scontrol_line))


def rolling_ours(scontrol_line):
    """Whether the node's drain reason is a rolling run's."""
    return rolling.ours(slurm_nodes.parse_node(scontrol_line))


def rolling_failures(checks, health_rc, health_stdout=""):
    """{failures, notes} after the change (rolling.failures)."""
    failed, notes = rolling.failures(checks or [], health_rc, health_stdout or "")
    return {"failures": failed, "notes": notes}


def rolling_failed_reason(changes, failures):
    return rolling.failed_reason(changes or [], failures or [])


def rolling_summary(records, expected=()):
    return rolling.summary(records, expected or ())


class FilterModule:
    def filters(self):
        return {
            "rolling_changes": rolling_changes,
            "rolling_plan": rolling_plan,
            "rolling_runs_jobs": rolling_runs_jobs,
            "rolling_ours": rolling_ours,
            "rolling_failures": rolling_failures,
            "rolling_failed_reason": rolling_failed_reason,
            "rolling_summary": rolling_summary,
        }
