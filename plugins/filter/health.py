"""health_problems: what is wrong with the health role's options, as sentences a person can act on.

The health role refuses to go on while this list is not empty, before any task changes a host. The
check names come from the program's own catalogue, so a name the program would not know is refused
here rather than silently never required.
"""

from __future__ import annotations

from ansible_collections.awsome.ml_cluster.plugins.module_utils import health_program


def health_problems(required_checks, budgets, prolog_dir="", slurm=True):
    names = [c["name"] for c in health_program.CATALOGUE]
    problems = [
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


class FilterModule:
    def filters(self):
        return {"health_problems": health_problems}
