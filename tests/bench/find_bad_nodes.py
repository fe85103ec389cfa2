#!/usr/bin/env python3
"""Benchmark: playbooks/find_bad_nodes.yml on the local cluster grown to four compute nodes (make demo
KEEP=1 first), one of them with its egress capped by tc: the rounds, the wall time of the search and
of the whole play, and whom it named, over several runs. Not a test: it prints a markdown table for
docs/performance.md, and leaves the cluster as it found it (two compute nodes).

    .venv/bin/python tests/bench/find_bad_nodes.py [--runs 3] [--rate 100mbit] [--baseline 0.04]
"""

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("AWSOME_CACHE", "/var/cache/awsome-ml-cluster"))
CLUSTER = str(ROOT / "tests" / "testbed" / "cluster.sh")
SLOW = "ml-c4"


def sh(*argv, check=True):
    return subprocess.run(argv, capture_output=True, text=True, check=check, cwd=ROOT, env=ENV)


ENV = dict(
    os.environ,
    AWSOME_MIRROR_URL=(CACHE / "mirror.url").read_text().strip(),
    ANSIBLE_GALAXY_SERVER="http://127.0.0.1:9/",
    PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
)


def playbook(name, *extra, check=True):
    base = ["ansible-playbook", "-i", "inventories/local", "-e", f"@{CACHE}/mirror-versions.yml"]
    return sh(*base, str(ROOT / "playbooks" / name), *extra, check=check)


def one_run(inventory, reports, baseline):
    settings = {"benchmark_report_dir": str(reports)}
    if baseline is not None:
        settings["benchmark_bad_nodes_baseline"] = baseline
    start = time.monotonic()
    done = playbook("find_bad_nodes.yml", "-i", inventory, "-e", json.dumps(settings), check=False)
    wall = time.monotonic() - start
    report = re.search(r"report (\S+bad-nodes)\.md", done.stdout)
    if not report:
        raise SystemExit(f"find_bad_nodes.yml wrote no report:\n{done.stdout[-2000:]}")
    found = json.loads(Path(report.group(1)).with_suffix(".json").read_text())
    return wall, found


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--rate", default="100mbit")
    p.add_argument("--baseline", type=float, default=0.04, help="GB/s; 0 judges against round 1's median")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-bad-nodes-"))
    inventory = work / "four.yml"
    inventory.write_text('{"all": {"children": {"compute": {"hosts": {"ml-c3": null, "ml-c4": null}}}}}\n')
    sh(CLUSTER, "clone", "ml-c2", "ml-c3")
    sh(CLUSTER, "clone", "ml-c2", SLOW, "NET_ADMIN")
    try:
        playbook("site.yml", "-i", str(inventory), "--tags", "slurm_configure")
        sh(
            "docker",
            "exec",
            SLOW,
            "tc",
            "qdisc",
            "add",
            "dev",
            "eth0",
            "root",
            "tbf",
            "rate",
            args.rate,
            "burst",
            "32kbit",
            "latency",
            "400ms",
        )
        print("| run | nodes | capped | rounds | search (s) | play (s) | named | judged against (GB/s) |")
        print("|---|---|---|---|---|---|---|---|")
        for i in range(1, args.runs + 1):
            wall, found = one_run(str(inventory), work, args.baseline or None)
            verdict = found["verdict"]
            print(
                f"| {i} | 4 | {SLOW} at {args.rate} | {verdict['rounds']} | {found['seconds']:.1f} | {wall:.1f} "
                f"| {', '.join(verdict['bad']) or 'none'} | {found.get('judged_against')} |",
                flush=True,
            )
    finally:
        sh("docker", "rm", "-f", "ml-c3", SLOW, check=False)
        playbook("site.yml", "--tags", "slurm_configure", check=False)


if __name__ == "__main__":
    main()
