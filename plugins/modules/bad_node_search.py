#!/usr/bin/python
"""Finds the slow or broken node among many: runs each round of bad_nodes.plan() as Slurm jobs, all
at once, reads each job's busbw and hands the results to bad_nodes.record()."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bad_node_search
short_description: Name the bad node among many by rounds of collectives run in groups through Slurm
description:
  - Round 1 runs a collective on disjoint pairs of I(nodes), every pair at once, one Slurm job each
    (C(--nodelist) the pair). Later rounds re-pair the nodes of failed pairs with nodes that passed,
    and bisect larger failing groups (the collection's C(bad_nodes) logic plans them, docs/bad_nodes.md).
  - A group passes when the busbw it reaches at I(message_size) is at least (1 - I(tolerance)) times
    I(expected), or, with no I(expected), times the median of round 1's groups.
  - Refuses, before any job is submitted, fewer than two nodes, a node listed twice, a node Slurm does
    not know, and a node that is drained or down (it could run nothing).
  - Runs on the node where jobs are submitted. A job still running after I(round_timeout) is
    cancelled and counts as a failed run.
version_added: 0.1.0
author: awsome.ml_cluster maintainers
options:
  nodes:
    description: Slurm node names, in topology order where it is known (neighbours are paired first).
    type: list
    elements: str
    required: true
  script:
    description: The batch script that runs the collective on its allocation (nccl-tests' text format).
    type: path
    required: true
  args:
    description: The script's arguments.
    type: list
    elements: str
    default: []
  sbatch_args:
    description: More sbatch options for every job (C(--export=...), C(--partition=...)).
    type: list
    elements: str
    default: []
  output_dir:
    description: Where the jobs write their output (a directory every node shares).
    type: path
    required: true
  collective:
    description: The collective whose busbw is judged.
    type: str
    default: all_reduce
  message_size:
    description: The message size (bytes) whose out-of-place busbw is judged.
    type: int
    required: true
  expected:
    description: The busbw (GB/s) a healthy group reaches; none judges against round 1's median.
    type: float
  tolerance:
    description: How far below the figure a group may fall and still pass (0.2 is 20 %).
    type: float
    default: 0.2
  max_rounds:
    description: Stop after this many rounds (default from the group size, see docs/bad_nodes.md).
    type: int
  round_timeout:
    description: Seconds a round's jobs may run before they are cancelled.
    type: int
    default: 900
  topology:
    description:
      - Order I(nodes) by Slurm's leaf switches (C(scontrol show topology), topology/tree) before round 1,
        so that pairs are neighbours; the given order within a switch, and where Slurm has no topology.
    type: bool
    default: true
  slurm_bin_dir:
    description: Where sbatch, scontrol and scancel are.
    type: path
    default: /usr/bin
"""

EXAMPLES = r"""
- name: Find the bad node
  awsome.ml_cluster.bad_node_search:
    nodes: [p5-1, p5-2, p5-3, p5-4]
    script: /fsx/test_cases/nccl-tests.sbatch
    args: [all_reduce, --, -b, 16G, -e, 16G, -g, "1"]
    output_dir: /fsx/results
    message_size: 17179869184
    expected: 487
"""

RETURN = r"""
verdict:
  description: bad (named), likely, unresolved and good nodes, the rounds run, whether anything was judged.
  type: dict
  returned: always
order:
  description: The nodes in the order round 1 paired them (by leaf switch where Slurm has a topology).
  type: list
  returned: always
leaf_switches:
  description: Slurm's leaf switches and their nodes, as read; empty without a topology.
  type: dict
  returned: always
rounds:
  description: Each round's groups, their jobs, busbw, whether each passed, and the pass mark.
  type: list
  returned: always
"""

import os
import statistics
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.awsome.ml_cluster.plugins.module_utils import bad_nodes, nccl_tests, slurm_jobs, slurm_nodes

POLL_S = 2


def node_states(module, scontrol):
    """{node name: State=...} for every node Slurm knows."""
    out = slurm_jobs.run_or_fail(module, [scontrol, "-o", "show", "node"])
    states = {}
    for line in out.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "NodeName" in fields:
            states[fields["NodeName"]] = fields.get("State", "")
    return states


def leaf_switches(module, p):
    """{leaf switch: [nodes]} from Slurm's topology; {} where it has none."""
    rc, out, _ = module.run_command([os.path.join(p["slurm_bin_dir"], "scontrol"), "show", "topology"])
    try:
        return slurm_nodes.leaf_switches(out) if rc == 0 else {}
    except ValueError:  # a hostlist form not read here: the given order, as without a topology
        return {}


def refusals(nodes, states):
    """Why these nodes cannot be searched, as sentences; [] when they can."""
    unknown = [n for n in nodes if n not in states]
    out = [n for n in nodes if n in states and any(s in states[n] for s in ("DRAIN", "DOWN", "FAIL"))]
    problems = []
    if unknown:
        problems.append(f"not Slurm nodes: {', '.join(unknown)} (Slurm knows {', '.join(sorted(states))})")
    if out:
        problems.append("drained or down, so they run no job: " + ", ".join(f"{n} ({states[n]})" for n in out))
    return problems


def busbw_of(text, collective, size):
    """The out-of-place busbw at size from a job's output; None where the run did not reach it, failed,
    or computed wrong results."""
    for run in nccl_tests.parse(text, collective):
        if run["collective"] != collective:
            continue
        row = nccl_tests.row_at(run, size)
        if row is None or run["failures"] or nccl_tests.wrong_elements(run):
            return None
        return row["out_of_place"]["busbw"]
    return None


def submit(module, p, tag, group):
    sbatch = os.path.join(p["slurm_bin_dir"], "sbatch")
    output = os.path.join(p["output_dir"], f"{tag}-%j.out")
    argv = [sbatch, "--parsable", "--job-name", "find-bad-nodes", "--nodes", str(len(group))]
    argv += ["--nodelist", ",".join(group), "--output", output, *p["sbatch_args"], p["script"], *p["args"]]
    job = slurm_jobs.run_or_fail(module, argv).strip().split(";")[0]
    return {"id": job, "output": output.replace("%j", job), "nodes": list(group)}


def wait(module, p, jobs):
    """Polls until every job ended or round_timeout passed; cancels what still runs."""
    scontrol = os.path.join(p["slurm_bin_dir"], "scontrol")
    deadline = time.monotonic() + p["round_timeout"]
    while True:
        for job in jobs:
            if not slurm_jobs.ended(job.setdefault("state", "PENDING")):
                job["state"] = slurm_jobs.job_state(module, scontrol, job["id"], job["state"])
        if all(slurm_jobs.ended(j["state"]) for j in jobs):
            return
        if time.monotonic() > deadline:
            late = [j["id"] for j in jobs if not slurm_jobs.ended(j["state"])]
            module.run_command([os.path.join(p["slurm_bin_dir"], "scancel"), *late])
            for job in jobs:
                if job["id"] in late:
                    job["state"] = "CANCELLED (round timeout)"
            return
        time.sleep(POLL_S)


def measure(module, p, number, groups):
    jobs = [submit(module, p, f"find-bad-nodes-r{number}-g{i}", g) for i, g in enumerate(groups, 1)]
    wait(module, p, jobs)
    for job in jobs:
        text = ""
        if os.path.exists(job["output"]):
            with open(job["output"], encoding="utf-8", errors="replace") as f:
                text = f.read()
        job["busbw"] = busbw_of(text, p["collective"], p["message_size"]) if job["state"] == "COMPLETED" else None
    return jobs


def main():
    module = AnsibleModule(
        argument_spec={
            "nodes": {"type": "list", "elements": "str", "required": True},
            "script": {"type": "path", "required": True},
            "args": {"type": "list", "elements": "str", "default": []},
            "sbatch_args": {"type": "list", "elements": "str", "default": []},
            "output_dir": {"type": "path", "required": True},
            "collective": {"type": "str", "default": "all_reduce"},
            "message_size": {"type": "int", "required": True},
            "expected": {"type": "float"},
            "tolerance": {"type": "float", "default": 0.2},
            "max_rounds": {"type": "int"},
            "round_timeout": {"type": "int", "default": 900},
            "slurm_bin_dir": {"type": "path", "default": "/usr/bin"},
            "topology": {"type": "bool", "default": True},
        },
    )
    p = module.params
    leaves = leaf_switches(module, p) if p["topology"] else {}
    order = bad_nodes.topology_order(p["nodes"], leaves) if leaves else p["nodes"]
    try:
        search = bad_nodes.new_search(
            order, expected=p["expected"], tolerance=p["tolerance"], max_rounds=p["max_rounds"]
        )
    except ValueError as error:
        module.fail_json(msg=str(error))
    problems = refusals(p["nodes"], node_states(module, os.path.join(p["slurm_bin_dir"], "scontrol")))
    if problems:
        module.fail_json(msg="cannot search these nodes: " + "; ".join(problems))
    rounds, started = [], time.monotonic()
    while groups := bad_nodes.plan(search):
        begun = time.monotonic()
        jobs = measure(module, p, len(rounds) + 1, groups)
        passed = bad_nodes.record(search, groups, [j["busbw"] for j in jobs])
        threshold = search["rounds"][-1]["threshold"]
        rounds.append({"jobs": jobs, "passed": passed, "threshold": threshold, "seconds": time.monotonic() - begun})
    verdict = bad_nodes.verdict(search)
    first = [j["busbw"] for j in rounds[0]["jobs"] if j["busbw"] is not None] if rounds else []
    module.exit_json(
        changed=True,
        verdict=verdict,
        rounds=rounds,
        seconds=round(time.monotonic() - started, 1),
        order=order,
        leaf_switches=leaves,
        judged_against=p["expected"] if p["expected"] is not None else (statistics.median(first) if first else None),
    )


if __name__ == "__main__":
    main()
