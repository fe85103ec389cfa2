"""Rolling changes on a running Slurm cluster (playbooks/rolling.yml, docs/rolling.md): what would
change on a node, whether to drain it for that, and what a run did.

Pure functions over what node_health observes, the version set, and slurm_nodes.parse_node() records.
The rules:
- A node is drained only for a change that disturbs running work: a component the version set
  declares at another version than the node has installed (the driver, EFA, NCCL, Enroot, the Neuron
  driver, PyTorch). A node with nothing to change is not drained.
- The drain reason has an owner of its own, "ml_cluster rolling:", so that the health program (whose
  reasons start "ml_cluster:") takes it for someone else's and never resumes a node mid-change, and a
  rolling run resumes only nodes whose reason it wrote.
- A node drained by someone else (a person, the health program), down, rebooting or powered down is
  left alone, with the reason said.
"""

from __future__ import annotations

import json

from ansible_collections.awsome.ml_cluster.plugins.module_utils import health_sweep, slurm_nodes

OWNER = "ml_cluster rolling:"


def _release(value):
    return value.split("+")[0] if value else value


def _driver(observed):
    drivers = sorted({r.get("driver_version") for r in observed.get("nvidia_smi") or []})
    return drivers[0] if len(drivers) == 1 else (",".join(drivers) or None)


def _nccl(declared):
    nccl = declared.get("nccl") or {}
    return f"{nccl['version']}+cuda{nccl['cuda']}" if nccl.get("version") and nccl.get("cuda") else None


# name -> (what the node has, what the version set declares, whether a kernel module comes with it)
COMPONENTS = {
    "NVIDIA driver": (_driver, lambda d: (d.get("nvidia_driver") or {}).get("version"), True),
    "EFA installer": (lambda o: o.get("efa_installer"), lambda d: (d.get("efa") or {}).get("version"), True),
    "NCCL": (lambda o: o.get("nccl"), _nccl, False),
    "Enroot": (lambda o: o.get("enroot"), lambda d: (d.get("enroot") or {}).get("version"), False),
    "Neuron driver": (
        lambda o: o.get("neuron_driver"),
        lambda d: ((d.get("neuron") or {}).get("packages") or {}).get("aws-neuronx-dkms"),
        True,
    ),
    "PyTorch": (lambda o: _release(o.get("torch")), lambda d: (d.get("pytorch") or {}).get("version"), False),
}


def changes(observed, declared):
    """[{component, installed, declared, kernel}] for each component the node has at another version
    than the version set declares. A component the node does not have is not a change of a running
    node (site.yml installs it); one the version set does not declare is not judged."""
    found = []
    for name, (have, want, kernel) in COMPONENTS.items():
        installed, wanted = have(observed), want(declared)
        if installed and wanted and installed != wanted:
            found.append({"component": name, "installed": installed, "declared": wanted, "kernel": kernel})
    return found


def ours(node):
    return bool(node["reason"]) and node["reason"].startswith(OWNER)


def _clean(text):
    """Text a Slurm reason can hold: one line, no quote, no "Word=" that would end scontrol's Reason."""
    return " ".join(text.split()).replace('"', "'").replace("=", ":")


def reason_for(found, what="change"):
    """The drain reason: the owner, then each change (installed -> declared), within Slurm's limit."""
    text = "; ".join(f"{c['component']} {c['installed']} -> {c['declared']}" for c in found)
    return _clean(f"{OWNER} {what} {text}")[: slurm_nodes.REASON_LIMIT]


def plan(node, found):
    """{action: change | finish | skip | left alone, why, reason}: change drains and changes the node;
    finish checks and resumes a node an earlier run drained and did not return (it failed, or was
    stopped); skip leaves a node with nothing to change in service, untouched."""
    why = health_sweep.unavailable(node)
    if not why and slurm_nodes.drained(node) and not ours(node):
        # a person's drain, or the health program's: its owner returns it, not this run
        why = f"drained by someone else ({node['reason'] or 'no reason'})"
    if why:
        return {"action": "left alone", "why": why, "reason": None}
    if found:
        return {"action": "change", "why": reason_for(found)[len(OWNER) + 1 :], "reason": reason_for(found)}
    if ours(node):
        return {"action": "finish", "why": f"an earlier run left it drained ({node['reason']})", "reason": None}
    return {"action": "skip", "why": "nothing to change", "reason": None}


def failures(checks, health_rc, health_stdout):
    """(what keeps the node drained, what is only reported) after the change: failed validation
    checks; the health program's failed checks that act (exit 1); its checks that could not run
    (exit 2) are reported. A run that printed no result, or exited otherwise, keeps the node drained:
    a node is never resumed unchecked."""
    failed = [f"{c['name']}: {c['detail']}" for c in checks if c.get("status") == "fail"]
    if health_rc is None:
        return failed, ["health: not run (rolling_health_program is empty)"]
    result = _last_json(health_stdout)
    if health_rc not in (0, 1, 2) or not isinstance(result, dict):
        return [*failed, f"health: ml-health printed no result (exit {health_rc})"], []
    acting = [c for c in result.get("checks", []) if c.get("status") == "fail" and c.get("severity") != "monitor"]
    unchecked = [c["name"] for c in result.get("checks", []) if c.get("status") == "could not check"]
    failed += [f"health: {c['name']}: {c['detail']}" for c in acting]
    if health_rc == 1 and not acting:
        failed.append("health: unhealthy")
    return failed, [f"health: could not check {', '.join(unchecked)}"] if unchecked else []


def _last_json(text):
    lines = [line for line in (text or "").splitlines() if line.strip()]
    try:
        return json.loads(lines[-1]) if lines else None
    except ValueError:
        return None


def summary(records, expected=()):
    """The run's report from each node's record ({host, node, action, why, wave, seconds, ...});
    expected: the hosts whose turn has come, so that one that wrote no record (it became
    unreachable) is counted, and fails the run."""
    by_action = {}
    for r in records:
        by_action.setdefault(r["action"], []).append(r["node"])
    recorded = {r.get("host", r["node"]) for r in records}
    lost = sorted(set(expected) - recorded)
    waves = {}
    for r in records:
        wave = waves.setdefault(r["wave"], {"nodes": [], "seconds": 0.0})
        wave["nodes"].append(r["node"])
        wave["seconds"] = max(wave["seconds"], float(r.get("seconds") or 0))
    return {
        "passed": not by_action.get("failed") and not lost,
        "unreachable": lost,
        "changed": sorted(by_action.get("changed", [])),
        "finished": sorted(by_action.get("finished", [])),
        "skipped": sorted(by_action.get("skipped", [])),
        "left_alone": sorted(by_action.get("left alone", [])),
        "failed": sorted(by_action.get("failed", [])),
        "waves": [{"wave": k, "nodes": sorted(v["nodes"]), "seconds": v["seconds"]} for k, v in sorted(waves.items())],
        "nodes": {r["node"]: r for r in records},
    }


def failed_reason(found, failed):
    """The reason a node keeps when its checks fail after the change (or after an earlier run's)."""
    head = reason_for(found, "checks failed after") if found else f"{OWNER} checks failed"
    return _clean(f"{head}: {'; '.join(failed)}")[: slurm_nodes.REASON_LIMIT]
