#!/usr/bin/env python3
"""Benchmark: rounds and collective runs the bad-node search (plugins/module_utils/bad_nodes.py)
needs on simulated clusters of N nodes with k bad ones, averaged over placements of the bad nodes.
Not a test: it prints a markdown table for docs/performance.md.

    .venv/bin/python tests/bench/bad_nodes_rounds.py [--trials 50]
"""

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
import conftest  # noqa: E402, F401  (makes the collection importable)
from ansible_collections.awsome.ml_cluster.plugins.module_utils import bad_nodes  # noqa: E402


def measure_for(bad, rng, noise):
    def measure(groups):
        return [(30.0 if bad & set(g) else 100.0) * (1 + rng.uniform(-noise, noise)) for g in groups]

    return measure


def trial(n, k, rng, noise):
    nodes = [f"n{i}" for i in range(n)]
    bad = set(rng.sample(nodes, k))
    search = bad_nodes.new_search(nodes, expected=100.0)
    result = bad_nodes.run(search, measure_for(bad, rng, noise))
    runs = sum(len(r["groups"]) for r in search["rounds"])
    named = set(result["bad"])
    return result["rounds"], runs, named == bad and not result["unresolved"], bool(named - bad)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--noise", type=float, default=0.1)
    args = parser.parse_args()
    rng = random.Random(2026)
    print("| nodes | bad | rounds (mean / max) | collective runs (mean) | all bad named | a good node named |")
    print("|---|---|---|---|---|---|")
    for n in (3, 4, 16, 17, 64, 256, 1024, 1025):
        for k in (1, 2, 4):
            if k >= n:
                continue
            results = [trial(n, k, rng, args.noise) for _ in range(args.trials)]
            rounds = [r[0] for r in results]
            runs = [r[1] for r in results]
            print(
                f"| {n} | {k} | {sum(rounds) / len(rounds):.2f} / {max(rounds)} | {sum(runs) / len(runs):.0f} "
                f"| {sum(r[2] for r in results)} of {len(results)} | {sum(r[3] for r in results)} |"
            )


if __name__ == "__main__":
    main()
