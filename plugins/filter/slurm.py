"""slurm_topology_problems: what is wrong with the slurm role's slurm_topology, as sentences a person
can act on; the role refuses to go on while the list is not empty, before anything changes.
slurm_unregistered: the compute nodes that have not registered with the controller in a usable state,
from `sinfo --noheader --Node --format '%N %t %E'`.
"""

from __future__ import annotations

import re

# sinfo's compact states of a node that is not usable: down, failing, unknown, invalid (23.02+),
# future, not responding (*), drained or draining.
UNUSABLE = re.compile(r"^(down|fail|unk|inval|futr|drain|drng)|[*]$")
# The collection's own drains (the health program's "ml_cluster:", a rolling change's "ml_cluster
# rolling:") leave a registered node: a converge during a rolling change, or of a node the health
# program keeps out, is not held up by them. A person's drain and Slurm's own ("Low RealMemory",
# shown as drain before 23.02) are.
OWN_DRAIN = re.compile(r"^ml_cluster[: ]")


def slurm_unregistered(sinfo_lines, compute_nodes, checked=None):
    """'node: why' for each compute node sinfo does not list, and for each of checked (all compute
    nodes when None) in a state a job cannot use; [] once every one has registered."""
    rows = {}
    for line in sinfo_lines:
        name, state, reason = ([*line.split(None, 2), "", ""])[:3]
        rows.setdefault(name, (state, reason.strip()))
    problems = [f"{n}: not listed by sinfo" for n in compute_nodes if n not in rows]
    problems += [f"{n}: listed by sinfo, not a compute node of the inventory" for n in rows if n not in compute_nodes]
    for name in compute_nodes if checked is None else checked:
        state, reason = rows.get(name, ("", ""))
        own_drain = state.startswith(("drain", "drng")) and OWN_DRAIN.match(reason)
        if state and UNUSABLE.search(state) and not own_drain:
            problems.append(f"{name}: {state} ({reason or 'no reason'})")
    return problems


def slurm_topology_problems(topology, compute_nodes):
    problems, names = [], [e.get("switch") for e in topology if isinstance(e, dict)]
    for i, entry in enumerate(topology, 1):
        if not isinstance(entry, dict) or not entry.get("switch"):
            problems.append(f"slurm_topology entry {i} needs a switch name.")
            continue
        switch = entry["switch"]
        if ("nodes" in entry) == ("switches" in entry):
            problems.append(
                f"slurm_topology: switch {switch} needs either nodes (a leaf) or switches, not both or neither."
            )
        if "nodes" in entry and not entry["nodes"]:
            problems.append(f"slurm_topology: leaf switch {switch} has no nodes.")
        strangers = [n for n in entry.get("nodes") or [] if n not in compute_nodes]
        if strangers:
            problems.append(
                f"slurm_topology: switch {switch} names nodes that are not compute nodes: {', '.join(strangers)}."
            )
        undefined = [s for s in entry.get("switches") or [] if s not in names]
        if undefined:
            problems.append(
                f"slurm_topology: switch {switch} names switches that are not defined: {', '.join(undefined)}."
            )
    placed = {n for e in topology if isinstance(e, dict) for n in e.get("nodes") or []}
    unplaced = [n for n in compute_nodes if n not in placed]
    if topology and unplaced:
        # topology/tree gives a node under no switch no multi-node job
        problems.append(f"slurm_topology leaves compute nodes under no switch: {', '.join(unplaced)}.")
    twice = sorted({n for n in names if n and names.count(n) > 1})
    if twice:
        problems.append(f"slurm_topology names a switch twice: {', '.join(twice)}.")
    return problems


class FilterModule:
    def filters(self):
        return {"slurm_topology_problems": slurm_topology_problems, "slurm_unregistered": slurm_unregistered}
