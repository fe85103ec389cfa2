"""health_problems, health_busbw_problems: what is wrong with the health role's options, as sentences a
person can act on;
health_sweep_verdict: what a health sweep found, from the results its tasks registered.

The health role refuses to go on while this list is not empty, before any task changes a host. The
check names come from the program's own catalogue, so a name the program would not know is refused
here rather than silently never required.
"""

from __future__ import annotations

import base64
import json

from ansible_collections.awsome.ml_cluster.plugins.module_utils import health_program, health_sweep


def health_problems(required_checks, budgets, prolog_dir="", slurm=True, site_checks=()):
    site_checks = list(site_checks or [])
    problems = [f"health_checks: {p}" for p in health_program.site_check_problems(site_checks)]
    names = [c["name"] for c in health_program.CATALOGUE]
    names += [c["name"] for c in site_checks if isinstance(c, dict) and c.get("name")]
    problems += [
        f"health_required_checks: no check named {name!r}; the checks: {', '.join(names)}."
        for name in required_checks
        if name not in names
    ]
    problems += [
        f"health_budget_s: no tier {tier!r}; the tiers: {', '.join(health_program.TIERS)}."
        for tier in budgets
        if tier not in health_program.TIERS
    ]
    problems += [
        f"health_budget_s.{tier} must be a positive number of seconds, not {seconds!r}."
        for tier, seconds in budgets.items()
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0
    ]
    if prolog_dir and not slurm:
        problems.append("health_prolog_dir needs health_slurm: true (the prolog is one of the Slurm launchers).")
    return problems


def health_busbw_problems(entries):
    """What is wrong with health_busbw_expected, the one-node collective's figures."""
    return [f"health_busbw_expected: {p}" for p in health_program.busbw_problems(list(entries or []))]


def health_sweep_verdict(sweep, job_outputs, direct_outputs):
    """What a sweep found (health_sweep.verdict()), from the registered results: sweep (the
    health_sweep module's), job_outputs (slurp of each job's sweep-JOBID.json, looped over its jobs),
    direct_outputs (ml-health's stdout on each node checked directly, looped over its direct nodes)."""
    swept = dict(sweep["skipped"])
    results = {}
    for job, read in zip(sweep["jobs"], job_outputs.get("results", []), strict=True):
        swept[job["node"]] = None
        results[job["node"]] = _json(base64.b64decode(read["content"]).decode()) if read.get("content") else None
    for name, ran in zip(sweep["direct"], direct_outputs.get("results", []), strict=True):
        swept[name] = None
        results[name] = _json(ran.get("stdout", ""))
    return health_sweep.verdict(swept, results)


def _json(text):
    """The program's one JSON line, or None where it printed none (a job cancelled or killed)."""
    try:
        return json.loads(text.strip().splitlines()[-1]) if text.strip() else None
    except ValueError:
        return None


class FilterModule:
    def filters(self):
        return {
            "health_problems": health_problems,
            "health_busbw_problems": health_busbw_problems,
            "health_sweep_verdict": health_sweep_verdict,
        }
