#!/usr/bin/python
"""Runs a tier of the health program on each idle node as an exclusive job in a hidden maintenance
partition, and waits for the jobs (health_sweep.plan() says which nodes, docs/health.md)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: health_sweep
short_description: Run the health program's standard or deep tier as exclusive Slurm jobs on idle nodes
description:
  - Submits, for each idle node of I(nodes), one exclusive job to I(partition) that runs
    C(ml-health --tier TIER --slurm) there, so the program drains the node it finds unhealthy (with
    an C(ml_cluster) reason) as its HealthCheckProgram run would. A job never takes a node from a
    running job, since Slurm starts it only on a free node.
  - A node running jobs is left out (I(busy=skip)) or queued behind them (I(busy=queue)); a job still
    pending after I(wait) seconds is cancelled. A node the health program drained, its jobs done, is
    returned in C(direct) for the caller to check on the node itself (no job can run there).
  - Refuses, before any job, a partition Slurm does not have and a node not in it.
  - Runs on the node where jobs are submitted, as root (the partition is C(RootOnly)).
version_added: 0.1.0
author: awsome.ml_cluster maintainers
options:
  partition:
    description: The maintenance partition (the slurm role's C(slurm_maintenance_partition)).
    type: str
    required: true
  nodes:
    description: Slurm node names; empty sweeps every node of I(partition).
    type: list
    elements: str
    default: []
  tier:
    description: The health program's tier.
    type: str
    choices: [quick, standard, deep]
    default: deep
  time_limit:
    description: Seconds each job may run (its C(--time), rounded up to minutes); the tier's budget and a margin.
    type: int
    required: true
  busy:
    description: What to do with a node that runs jobs, C(skip) it or C(queue) its job behind them.
    type: str
    choices: [skip, queue]
    default: skip
  wait:
    description: Seconds a job may wait for its node before it is cancelled.
    type: int
    default: 600
  program:
    description: The health program on the nodes.
    type: path
    default: /usr/local/sbin/ml-health
  output_dir:
    description: Where each job writes its result on its node (C(sweep-JOBID.json), and C(.log) for the summary).
    type: path
    default: /var/lib/ml_cluster/health
  slurm_bin_dir:
    description: Where sbatch, scontrol and scancel are.
    type: path
    default: /usr/bin
"""

EXAMPLES = r"""
- name: Sweep the idle nodes with the deep tier
  awsome.ml_cluster.health_sweep:
    partition: maintenance
    time_limit: 7260
"""

RETURN = r"""
jobs:
  description:
    - One per submitted node, C({node, id, state, output, files}).
    - state is Slurm's last, or CANCELLED (waited too long for its node).
  type: list
  returned: always
direct:
  description: Nodes the health program drained whose jobs are done, to check on the node itself.
  type: list
  returned: always
skipped:
  description: Nodes left alone, and why.
  type: dict
  returned: always
"""

import math
import os
import re
import shlex
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.awsome.ml_cluster.plugins.module_utils import health_sweep, slurm_jobs, slurm_nodes

POLL_S = 2
CUTOFF_MARGIN_S = 120
# Seconds past the wait that Slurm's --deadline leaves a job, so that wait 0 still lets one start.
DEADLINE_MARGIN_S = 60


def partition_nodes(module, p):
    """The partition's node records; fails naming the partition where Slurm has none such."""
    rc, out, err = module.run_command([_bin(p, "scontrol"), "-o", "show", "partition", p["partition"]])
    if rc != 0 or "PartitionName=" not in out:
        module.fail_json(
            msg=f"Slurm has no partition {p['partition']!r} ({(err or out).strip()[:200]}): set"
            " slurm_maintenance_partition in the slurm role and health_sweep_partition to the same name"
        )
    lines = slurm_jobs.run_or_fail(module, [_bin(p, "scontrol"), "-o", "show", "node"]).splitlines()
    return [slurm_nodes.parse_node(line) for line in lines if p["partition"] in partitions_of(line)]


def partitions_of(line):
    """The partitions a `scontrol -o show node` line names."""
    found = re.search(r"(?:^|\s)Partitions=(\S+)", line)
    return found.group(1).split(",") if found else []


def submit(module, p, node):
    output = os.path.join(p["output_dir"], "sweep-%j")
    command = shlex.join([p["program"], "--tier", p["tier"], "--slurm"])
    argv = [_bin(p, "sbatch"), "--parsable", "--partition", p["partition"], "--exclusive", "--nodes", "1"]
    argv += ["--nodelist", node, "--job-name", f"ml-health-{p['tier']}", "--time", str(math.ceil(p["time_limit"] / 60))]
    # Slurm itself drops the job once it can no longer start within the wait, should this module die
    argv += [f"--deadline=now+{p['wait'] + DEADLINE_MARGIN_S + math.ceil(p['time_limit'] / 60) * 60}seconds"]
    argv += ["--output", f"{output}.json", "--error", f"{output}.log", "--wrap", command]
    job = slurm_jobs.run_or_fail(module, argv).strip().split(";")[0]
    files = [f"{output}.json".replace("%j", job), f"{output}.log".replace("%j", job)]
    return {"node": node, "id": job, "state": "PENDING", "output": files[0], "files": files}


def wait(module, p, jobs):
    """Until every job ended; one still pending after p["wait"] seconds is cancelled. A running one is
    left to its time limit: it holds nobody's node but its own."""
    deadline = time.monotonic() + p["wait"]
    # past the wait and the time limit nothing of ours should be left: a state that neither ends nor
    # pends (REQUEUE_HOLD, STOPPED) is cancelled then
    cutoff = deadline + math.ceil(p["time_limit"] / 60) * 60 + CUTOFF_MARGIN_S
    while True:
        for job in jobs:
            if not slurm_jobs.ended(job["state"]):
                job["state"] = slurm_jobs.job_state(module, _bin(p, "scontrol"), job["id"], job["state"])
        pending = [j for j in jobs if j["state"] == "PENDING"]
        if pending and time.monotonic() > deadline:
            module.run_command([_bin(p, "scancel"), *[j["id"] for j in pending]])
            for job in pending:
                job["state"] = "CANCELLED (waited too long for its node)"
        if all(slurm_jobs.ended(j["state"]) for j in jobs):
            return
        if time.monotonic() > cutoff:
            stuck = [j for j in jobs if not slurm_jobs.ended(j["state"])]
            module.run_command([_bin(p, "scancel"), *[j["id"] for j in stuck]])
            for job in stuck:
                job["state"] = f"CANCELLED (still {job['state']} past the wait and the time limit)"
            return
        time.sleep(POLL_S)


def _bin(p, name):
    return os.path.join(p["slurm_bin_dir"], name)


def main():
    module = AnsibleModule(
        argument_spec={
            "partition": {"type": "str", "required": True},
            "nodes": {"type": "list", "elements": "str", "default": []},
            "tier": {"type": "str", "choices": ["quick", "standard", "deep"], "default": "deep"},
            "time_limit": {"type": "int", "required": True},
            "busy": {"type": "str", "choices": list(health_sweep.BUSY), "default": "skip"},
            "wait": {"type": "int", "default": 600},
            "program": {"type": "path", "default": "/usr/local/sbin/ml-health"},
            "output_dir": {"type": "path", "default": "/var/lib/ml_cluster/health"},
            "slurm_bin_dir": {"type": "path", "default": "/usr/bin"},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["time_limit"] <= 0 or p["wait"] < 0:
        module.fail_json(msg=f"time_limit must be positive and wait not negative ({p['time_limit']}, {p['wait']})")
    try:
        chosen = health_sweep.plan(partition_nodes(module, p), p["nodes"], p["busy"])
    except ValueError as error:
        module.fail_json(msg=str(error))
    if module.check_mode:
        module.exit_json(changed=False, jobs=[], **{k: chosen[k] for k in ("direct", "skipped")}, would=chosen)
    started, jobs = time.monotonic(), []
    try:
        for node in chosen["submit"]:
            jobs.append(submit(module, p, node))  # one by one: a failed sbatch leaves the others cancellable
        wait(module, p, jobs)
    finally:
        # interrupted (a failed sbatch, a signal): no job of ours is left to take a node later
        pending = [j["id"] for j in jobs if j["state"] == "PENDING"]
        if pending:
            module.run_command([_bin(p, "scancel"), *pending])
    module.exit_json(
        changed=bool(jobs),
        jobs=jobs,
        direct=chosen["direct"],
        skipped=chosen["skipped"],
        seconds=round(time.monotonic() - started, 1),
    )


if __name__ == "__main__":
    main()
