#!/usr/bin/env python3
"""Stand-in for an nccl-tests binary (<collective>_perf, by the name it is called by), for clusters of
containers that have no GPU: it takes the real flags (-b -e -f -g -c -n ...), prints the real text
format (tests/fixtures/nccl.py, copied next to it), only on rank 0 as nccl-tests does under MPI, and
reports a busbw that rises to STANDIN_PEAK_BUSBW (GB/s) at the largest sizes. It measures nothing:
it exists so that the playbooks' nccl-tests path (detection, the batch script's launch, parsing,
judging against the expected table) runs for real. Never installed outside tests.
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nccl

SUFFIXES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def size(text):
    text = text.upper()
    return int(text[:-1]) * SUFFIXES[text[-1]] if text[-1] in SUFFIXES else int(text)


def main():
    p = argparse.ArgumentParser()
    for flag in ("-b", "-e"):
        p.add_argument(flag, type=size)
    for flag in ("-f", "-g", "-c", "-n", "-w", "-t"):
        p.add_argument(flag, type=int, default=1)
    args, _ = p.parse_known_args()
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("SLURM_PROCID", "0")))
    if rank != 0:
        return
    hosts = ["localhost"]
    if os.environ.get("SLURM_JOB_NODELIST"):
        listed = subprocess.run(
            ["scontrol", "show", "hostnames", os.environ["SLURM_JOB_NODELIST"]],
            capture_output=True,
            text=True,
            check=True,
        )
        hosts = listed.stdout.split()
    ranks = max(int(os.environ.get("SLURM_NTASKS", len(hosts))), 2)  # busbw has no meaning for one rank
    collective = os.path.basename(sys.argv[0]).removesuffix("_perf")
    text, _ = nccl.render(
        collective=collective,
        ranks=ranks,
        hosts=tuple(hosts),
        min_bytes=args.b,
        max_bytes=args.e,
        peak_busbw=float(os.environ.get("STANDIN_PEAK_BUSBW", "480")),
        check=args.c != 0,
    )
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
