"""Finding the slow or broken node among many by group testing: which nodes run a collective
together in each round, and what the results say. Pure functions over plain data; the playbook runs
each round's groups through Slurm, all at once, and hands the measured bus bandwidths back.

Rounds:
1. Every node in a disjoint group (pairs by default; the last group of an odd count is a triple), in
   the order given, so that a topology-sorted list pairs neighbours.
2. Each node of a failed group is re-paired with a node that passed; the good nodes left over keep
   running pairs of their own, so the fabric carries round 1's load (a node that is slow only under
   load still shows). A failed group larger than a pair is bisected. Where no good node is left,
   nodes in doubt are paired among themselves in pairs not yet tried.

Reading the results: every node of a passing group is good. A failed group whose other members are
all good (now, or by a later round) blames its one remaining member; a blamed node that failed at
least twice is named bad, so one noisy run names no one. When the search ends with nodes still in
doubt, the smallest set of them that explains every failed group is reported as likely, if it is the
only such set: reported, never drained. Two nodes alone cannot be told apart: their failed pair is
reported unresolved.

One bad node among N >= 4 is named in 2 rounds at any even N and in at most 3 at any N; among 3 it
is likely after 3 rounds and named by the 4th; many bad nodes take more rounds, bounded by
max_rounds. A group passes when its busbw is at least (1 - tolerance) x
the expected figure (the instance type's, or a measured baseline), else x the median of round 1 (the
cluster's own pairs are the best baseline where no figure is known).
"""

from __future__ import annotations

import itertools
import statistics

GOOD, BAD, SUSPECT, UNTESTED = "good", "bad", "suspect", "untested"
# The most nodes in doubt the final inference searches over (its cost grows as 2^n).
MAX_INFERENCE_NODES = 16


def new_search(nodes, *, expected=None, tolerance=0.2, group_size=2, max_rounds=None):
    """The search's state: every node untested. Fewer than two nodes, a node twice, or options out of
    range are refused. max_rounds defaults to what bisecting one group of group_size takes, plus two
    rounds of pairs and one for pairs among nodes in doubt."""
    nodes = list(nodes)
    if len(nodes) < 2:
        raise ValueError(f"finding a bad node needs at least two nodes; got {len(nodes)}")
    twice = sorted({n for n in nodes if nodes.count(n) > 1})
    if twice:
        raise ValueError(f"nodes listed twice: {', '.join(twice)}")
    if group_size < 2:
        raise ValueError(f"group_size must be at least 2; got {group_size}")
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be between 0 and 1; got {tolerance}")
    return {
        "nodes": nodes,
        "expected": expected,
        "tolerance": tolerance,
        "group_size": group_size,
        "max_rounds": max_rounds or 4 + (group_size - 1).bit_length(),
        "status": dict.fromkeys(nodes, UNTESTED),
        "failures": dict.fromkeys(nodes, 0),
        "failed_groups": [],  # every failed group, for blame now and after later rounds
        "tried": set(),  # frozensets of the groups run
        "pending": [],  # failed groups larger than a pair, to bisect
        "rounds": [],
    }


def chunks(nodes, size):
    """Disjoint groups of `size`; a last group too small to test joins the one before it."""
    groups = [list(nodes[i : i + size]) for i in range(0, len(nodes), size)]
    if len(groups) > 1 and len(groups[-1]) < 2:
        groups[-2].extend(groups.pop())
    return groups


def _with(search, status):
    return [n for n in search["nodes"] if search["status"][n] == status]


def plan(search):
    """The next round's groups (lists of node names), or [] when the search is over: nothing left in
    doubt, nothing left to try, or max_rounds run."""
    if len(search["rounds"]) >= search["max_rounds"]:
        return []
    if not search["rounds"]:
        return chunks(search["nodes"], search["group_size"])
    groups = _bisect(search["pending"])
    busy = {n for g in groups for n in g}
    partners = [n for n in _with(search, GOOD) if n not in busy]
    alone = []
    for node in (n for n in search["nodes"] if search["status"][n] in (SUSPECT, UNTESTED) and n not in busy):
        partner = next((p for p in partners if frozenset((node, p)) not in search["tried"]), None)
        if partner is None:
            alone.append(node)
        else:
            partners.remove(partner)
            groups.append([node, partner])
    groups += _untried_pairs(search, alone)
    if not groups:
        return []
    # The good nodes left over run too, so the fabric carries round 1's load.
    return groups + (chunks(partners, 2) if len(partners) >= 2 else [])


def _bisect(failed):
    """Both halves of every failed group larger than a pair; a half of one node is paired by plan()."""
    halves = ((group[: len(group) // 2], group[len(group) // 2 :]) for group in failed)
    return [list(half) for pair in halves for half in pair if len(half) >= 2]


def _untried_pairs(search, nodes):
    """Pairs of nodes in doubt not yet run together, those with the fewest failures first."""
    nodes = sorted(nodes, key=lambda n: search["failures"][n])
    pairs = []
    while nodes:
        node = nodes.pop(0)
        other = next((o for o in nodes if frozenset((node, o)) not in search["tried"]), None)
        if other is not None:
            nodes.remove(other)
            pairs.append([node, other])
    return pairs


def threshold(search):
    """The busbw a group must reach, or None when nothing is known to compare with."""
    expected = search["expected"]
    if expected is None:
        first = [v for v in search["rounds"][0]["results"] if v is not None] if search["rounds"] else []
        if len(first) < 2:
            return None
        expected = statistics.median(first)
    return expected * (1 - search["tolerance"])


def record(search, groups, results):
    """Takes a round's results (busbw per group, in the order of groups; None for a run that failed or
    never ended), updates every node's status and returns whether each group passed."""
    if len(groups) != len(results):
        raise ValueError(f"{len(groups)} groups but {len(results)} results")
    search["rounds"].append({"groups": [list(g) for g in groups], "results": list(results)})
    floor = threshold(search)
    passed = [busbw is not None and (floor is None or busbw >= floor) for busbw in results]
    search["pending"] = []
    for group, ok in zip(groups, passed, strict=True):
        search["tried"].add(frozenset(group))
        if ok:
            for node in group:
                if search["status"][node] != BAD:
                    search["status"][node] = GOOD
    for group, ok in zip(groups, passed, strict=True):
        if not ok:
            _failed(search, list(group))
    _blame(search)
    search["rounds"][-1].update(passed=passed, threshold=floor)
    return passed


def _failed(search, group):
    doubtful = [n for n in group if search["status"][n] != GOOD]
    for node in doubtful:
        search["failures"][node] += 1
        if search["status"][node] != BAD:
            search["status"][node] = SUSPECT
    if doubtful:  # a group of good nodes failing is noise or load, and tells nothing of anyone
        search["failed_groups"].append(group)
    if len(group) > 2 and len(doubtful) == len(group):
        search["pending"].append(group)


def _blame(search):
    """A failed group whose other members are all good blames its last one (now or after a later
    round cleared its partners); blamed and failed twice is bad."""
    status = search["status"]
    for group in search["failed_groups"]:
        doubtful = [n for n in group if status[n] != GOOD]
        if len(doubtful) == 1 and search["failures"][doubtful[0]] >= 2:
            status[doubtful[0]] = BAD


def likely(search):
    """The one smallest set of nodes in doubt that explains every failed group not already explained
    by a bad node, or [] where there is no single such set."""
    status = search["status"]
    doubtful = [n for n in search["nodes"] if status[n] in (SUSPECT, UNTESTED)]
    open_groups = [
        {n for n in g if status[n] in (SUSPECT, UNTESTED)}
        for g in search["failed_groups"]
        if not any(status[n] == BAD for n in g)
    ]
    if not open_groups or len(doubtful) > MAX_INFERENCE_NODES:
        return []
    for size in range(1, len(doubtful) + 1):
        hitting = [set(c) for c in itertools.combinations(doubtful, size) if all(g & set(c) for g in open_groups)]
        if hitting:
            return sorted(hitting[0], key=search["nodes"].index) if len(hitting) == 1 else []
    return []


def verdict(search):
    """What the search found: bad nodes (each failed beside good partners), unresolved ones and the
    likely culprits among them, the good ones, the rounds run, and whether any figure was there to
    judge against."""
    status = search["status"]
    return {
        "bad": [n for n in search["nodes"] if status[n] == BAD],
        "likely": likely(search),
        "unresolved": [n for n in search["nodes"] if status[n] in (SUSPECT, UNTESTED)],
        "good": [n for n in search["nodes"] if status[n] == GOOD],
        "rounds": len(search["rounds"]),
        "judged": any(r["threshold"] is not None for r in search["rounds"]),
    }


def run(search, measure):
    """The whole search with measure(groups) -> results (the unit tests' simulated clusters; the
    playbook drives plan and record itself, one Slurm round at a time)."""
    while groups := plan(search):
        record(search, groups, measure(groups))
    return verdict(search)


def topology_order(nodes, leaves):
    """nodes reordered so that nodes under one leaf switch (leaves: {switch: [nodes]}, Slurm's
    topology) stand together, switches in the order their first node was given; round 1 then pairs
    neighbours. Nodes under no known switch follow, in the order given."""
    switch_of = {node: switch for switch, under in leaves.items() for node in under}
    first = {}
    for i, node in enumerate(nodes):
        first.setdefault(switch_of.get(node), i)
    return sorted(nodes, key=lambda n: (switch_of.get(n) is None, first[switch_of.get(n)], nodes.index(n)))
