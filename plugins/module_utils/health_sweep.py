"""The health sweep: which nodes get a tier of the health program as an exclusive Slurm job, which are
checked on the node itself, which are left alone and why; then what the sweep found.

Pure functions over slurm_nodes.parse_node() records and the program's JSON results
(playbooks/health_sweep.yml, docs/health.md). The rules:
- An idle node gets an exclusive job in the maintenance partition, so the sweep never takes a node
  from a running job. A node running jobs is left out (busy "skip"), or its job waits in the queue for
  the node to be free (busy "queue").
- A node we drained (an ml_cluster: reason) whose jobs are done can run no job: the tier runs on the
  node itself, and a pass there resumes it. A node still draining is left until its jobs end.
- A node a person drained, a node down or rebooting, and a cloud node powered down (a job would
  launch an instance) are left alone.
"""

from __future__ import annotations

from ansible_collections.awsome.ml_cluster.plugins.module_utils import slurm_nodes

BUSY = ("skip", "queue")
# Flags of a cloud node without an instance (ParallelCluster's idle~), or one being made.
POWER = ("POWERED_DOWN", "POWERING_UP", "POWER_DOWN", "POWERING_DOWN")


def plan(nodes, asked=(), busy="skip"):
    """{submit: [names], direct: [names], skipped: {name: why}} for the asked nodes (all of nodes
    where none are asked). ValueError for a node Slurm does not know or a busy mode that does not
    exist, before anything runs."""
    if busy not in BUSY:
        raise ValueError(f"busy must be one of {', '.join(BUSY)}, not {busy!r}")
    by_name = {n["name"]: n for n in nodes}
    unknown = [name for name in asked if name not in by_name]
    if unknown:
        raise ValueError(f"not Slurm nodes of the partition: {', '.join(unknown)}")
    chosen = {"submit": [], "direct": [], "skipped": {}}
    for name in list(dict.fromkeys(asked)) or sorted(by_name):
        where, why = place(by_name[name], busy)
        if where == "skipped":
            chosen["skipped"][name] = why
        else:
            chosen[where].append(name)
    return chosen


def place(node, busy):
    """("submit" | "direct" | "skipped", why)."""
    why = left_alone(node)
    if why:
        return "skipped", why
    running = slurm_nodes.runs_jobs(node)
    if slurm_nodes.drained(node):
        return ("skipped", f"draining, its jobs still run ({node['reason']})") if running else ("direct", None)
    if running and busy == "skip":
        return "skipped", f"running jobs ({node['state'].lower()})"
    return "submit", None


def left_alone(node):
    """Why the sweep must not touch the node, or None."""
    why = unavailable(node)
    if not why and slurm_nodes.drained(node) and not slurm_nodes.ours(node):
        return f"drained by someone else ({node['reason'] or 'no reason'})"
    return why


def unavailable(node):
    """Why no one can act on the node now (rebooting, powered down, down), or None."""
    flags, state = node["flags"], node["state"]
    if any(f in slurm_nodes.REBOOTING for f in flags):
        return "rebooting: Slurm returns it"
    if any(f in POWER for f in flags):
        return "powered down (a cloud node): a job would launch an instance"
    if state in ("DOWN", "FUTURE", "UNKNOWN") or "NOT_RESPONDING" in flags:
        return f"{state.lower()}: no slurmd answers"
    return None


def verdict(swept, results):
    """What the sweep found. swept: {node: why it was not checked, or None}; results: {node: the
    program's JSON result, or None where none came back}."""
    found = {"healthy": [], "unhealthy": {}, "could_not_check": {}, "not_swept": {}, "actions": {}}
    for name, why in sorted(swept.items()):
        result = results.get(name)
        if why:
            found["not_swept"][name] = why
        elif result is None:
            found["could_not_check"][name] = "no result came back (the job was cancelled, or failed to start)"
        else:
            _judge(found, name, result)
    found["summary"] = summary(found)
    return found


def summary(found):
    """One line a node, for a person."""
    lines = [f"{name}: healthy" for name in found["healthy"]]
    lines += [f"{name}: unhealthy: {'; '.join(failed)}" for name, failed in found["unhealthy"].items()]
    lines += [f"{name}: could not check: {why}" for name, why in found["could_not_check"].items()]
    lines += [f"{name}: not swept: {why}" for name, why in found["not_swept"].items()]
    actions = {name: f" (Slurm: {action})" for name, action in found["actions"].items()}
    return sorted(line + actions.get(line.split(":")[0], "") for line in lines)


def _judge(found, name, result):
    if result["outcome"] == "not run":  # a direct run that found the node back in service, or busy
        found["not_swept"][name] = result["why"]
        return
    failed = [f"{c['name']}: {c['detail']}" for c in result["checks"] if c["status"] in ("fail", "could not check")]
    slurm = result.get("slurm") or {}
    if result["outcome"] == "unhealthy":
        found["unhealthy"][name] = failed
    elif result["outcome"] == "could not check":
        found["could_not_check"][name] = "; ".join(failed)
    elif " stays drained: " in slurm.get("why", ""):
        # this tier passed, but the node was drained for a check it does not hold (the deep one)
        found["could_not_check"][name] = slurm["why"]
    else:
        found["healthy"].append(name)
    action = (result.get("slurm") or {}).get("action")
    if action and action != "none":
        found["actions"][name] = action
