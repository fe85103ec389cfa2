"""The report of a bad-node search (find_bad_nodes.yml): JSON, Markdown and a plot of busbw per group
in each round and per node, from what the bad_node_search module returned."""

from __future__ import annotations

import json


def per_node(result):
    """{node: [busbw of every group it ran in]} (None for a run that failed), in the search's order."""
    seen = {}
    for rnd in result["rounds"]:
        for job in rnd["jobs"]:
            for node in job["nodes"]:
                seen.setdefault(node, []).append(job["busbw"])
    return seen


def _fmt(busbw):
    return "failed" if busbw is None else f"{busbw:.3g}"


def markdown(result, title, plot_file=None):
    v = result["verdict"]
    lines = [f"# {title}", ""]
    if v["bad"]:
        lines.append(f"**Bad: {', '.join(v['bad'])}** ({v['rounds']} rounds, {result['seconds']:.0f} s).")
    else:
        lines.append(f"**No node named bad** ({v['rounds']} rounds, {result['seconds']:.0f} s).")
    if v["likely"]:
        lines.append(f"Likely, not proven: {', '.join(v['likely'])}.")
    if v["unresolved"]:
        lines.append(f"Unresolved: {', '.join(v['unresolved'])}.")
    against = result.get("judged_against")
    lines += ["", f"Judged against: {_fmt(against) + ' GB/s' if against is not None else 'nothing (no figure)'}", ""]
    leaves = result.get("leaf_switches") or {}
    if leaves:
        under = "; ".join(f"{switch}: {', '.join(nodes)}" for switch, nodes in sorted(leaves.items()))
        lines += [f"Paired by Slurm's leaf switches ({under}).", ""]
    lines += ["## Rounds", "", "| round | nodes | job | busbw (GB/s) | pass mark | passed |"]
    lines.append("|---|---|---|---|---|---|")
    for number, rnd in enumerate(result["rounds"], 1):
        mark = "-" if rnd["threshold"] is None else f"{rnd['threshold']:.3g}"
        for job, ok in zip(rnd["jobs"], rnd["passed"], strict=True):
            row = f"| {number} | {', '.join(job['nodes'])} | {job['id']} ({job['state']}) | {_fmt(job['busbw'])}"
            lines.append(f"{row} | {mark} | {'yes' if ok else 'no'} |")
    # a node's best group: what it reaches beside a good partner (its median drags in a bad partner's)
    lines += ["", "## Per node", "", "| node | groups | best busbw | verdict |", "|---|---|---|---|"]
    status = {n: s for s in ("bad", "good", "unresolved") for n in v[s]}
    for node, values in per_node(result).items():
        ran = [x for x in values if x is not None]
        best = _fmt(max(ran)) if ran else "failed"
        lines.append(f"| {node} | {len(values)} | {best} | {status.get(node, '?')} |")
    if plot_file:
        lines += ["", f"![busbw]({plot_file})"]
    return "\n".join(lines) + "\n"


def plot(result, title, path):
    """Bars of busbw per group, round by round, and per node (its best group), bad nodes in red."""
    import matplotlib  # noqa: PLC0415 - only the report needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    bad = set(result["verdict"]["bad"])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    labels, values, colours = [], [], []
    for number, rnd in enumerate(result["rounds"], 1):
        for job, ok in zip(rnd["jobs"], rnd["passed"], strict=True):
            labels.append(f"r{number}: {'+'.join(job['nodes'])}")
            values.append(job["busbw"] or 0)
            colours.append("#3b75af" if ok else "#c0392b")
    ax.barh(labels, values, color=colours)
    ax.invert_yaxis()
    ax.set_xlabel("busbw (GB/s) per group; red: failed")
    nodes = per_node(result)
    best = [max([x for x in v if x is not None] or [0]) for v in nodes.values()]
    ax2.bar(list(nodes), best, color=["#c0392b" if n in bad else "#3b75af" for n in nodes])
    ax2.set_ylabel("best busbw of its groups (GB/s); red: bad")
    ax2.tick_params(axis="x", rotation=45)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def to_json(result, title):
    return json.dumps({"title": title, **result}, indent=2, sort_keys=True) + "\n"
