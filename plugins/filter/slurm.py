"""slurm_topology_problems: what is wrong with the slurm role's slurm_topology, as sentences a person
can act on; the role refuses to go on while the list is not empty, before anything changes."""

from __future__ import annotations


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
        return {"slurm_topology_problems": slurm_topology_problems}
