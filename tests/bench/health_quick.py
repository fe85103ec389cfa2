#!/usr/bin/env python3
"""Benchmark: the health program's quick tier on the local cluster's compute nodes (make demo KEEP=1
first): wall time of `ml-health --tier quick` through docker exec, and the time the program itself
reports, over several runs per node. Not a test: it prints a markdown table for docs/performance.md.

    .venv/bin/python tests/bench/health_quick.py [--runs 10] [--nodes ml-c1,ml-c2]
"""

import argparse
import json
import statistics
import subprocess
import time


def one_run(node):
    start = time.monotonic()
    argv = ["docker", "exec", node, "ml-health", "--tier", "quick"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    result = json.loads(done.stdout)
    return wall, result["seconds"], result["outcome"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--nodes", default="ml-c1,ml-c2")
    args = p.parse_args()
    print("| node | runs | outcome | wall, median (s) | wall, max (s) | checks' own, median (s) |")
    print("|---|---|---|---|---|---|")
    for node in args.nodes.split(","):
        runs = [one_run(node) for _ in range(args.runs)]
        walls, own = [r[0] for r in runs], [r[1] for r in runs]
        outcomes = ", ".join(sorted({r[2] for r in runs}))
        print(
            f"| {node} | {args.runs} | {outcomes} | {statistics.median(walls):.2f} | {max(walls):.2f} "
            f"| {statistics.median(own):.3f} |"
        )


if __name__ == "__main__":
    main()
