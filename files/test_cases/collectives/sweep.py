"""A collective bandwidth sweep with torch.distributed, printed in nccl-tests' text format.

For clusters where nccl-tests cannot run (CPU nodes: gloo; it also runs on NCCL where torch has it), so
the same parser, checks and report judge its output. It measures what nccl-tests measures, the same
way: algbw = bytes / time (GB = 1e9), busbw = algbw x the collective's factor (2(n-1)/n for
all_reduce, (n-1)/n for all_gather, reduce_scatter and alltoall), and counts wrong elements against
the known result of reducing rank-dependent inputs. It prints only out-of-place results; the in-place
half of nccl-tests' table is left out, as nccl-tests itself does for trace replays.

    torchrun --nnodes=2 --nproc-per-node=1 ... sweep.py --collectives all_reduce,all_gather -b 1K -e 64M
"""

from __future__ import annotations

import argparse
import os
import socket
import time

import torch
import torch.distributed as dist

FACTORS = {
    "all_reduce": lambda n: 2 * (n - 1) / n,
    "all_gather": lambda n: (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
    "alltoall": lambda n: (n - 1) / n,
}
SUFFIXES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def size_arg(text):
    text = text.strip().upper()
    return int(text[:-1]) * SUFFIXES[text[-1]] if text[-1] in SUFFIXES else int(text)


def make_op(name, nbytes, world, rank, device):
    """The collective as a closure over its buffers, and a check that returns the wrong-element count.

    Sizes follow nccl-tests: all_reduce and alltoall move `nbytes` per rank; all_gather and
    reduce_scatter take nbytes as the size of the whole gathered (or scattered) buffer.
    """
    count = max(nbytes // 4 // world * world, world)
    # Known results: reductions of (rank + 1) give 1 + ... + world everywhere; gathers and all-to-all
    # of a rank-valued buffer give rank r's value in block r.
    reduced = world * (world + 1) / 2

    def blocks():  # built only when checked: at the largest sizes it is as big as the buffer
        return torch.arange(world, device=device, dtype=torch.float32).repeat_interleave(count // world)

    if name == "all_reduce":
        buf = out = torch.empty(count, device=device)
        expected = reduced

        def run():
            buf.fill_(rank + 1)
            dist.all_reduce(buf)

    elif name == "all_gather":
        part = torch.full((count // world,), float(rank), device=device)
        out, expected = torch.empty(count, device=device), blocks

        def run():
            dist.all_gather_into_tensor(out, part)

    elif name == "reduce_scatter":
        inp = torch.empty(count, device=device)
        out, expected = torch.empty(count // world, device=device), reduced

        def run():
            inp.fill_(rank + 1)
            dist.reduce_scatter_tensor(out, inp)

    else:  # alltoall
        inp = torch.full((count,), float(rank), device=device)
        out, expected = torch.empty(count, device=device), blocks

        def run():
            dist.all_to_all_single(out, inp)

    def wrong():
        return int((out != (expected() if callable(expected) else expected)).sum())

    return count, run, wrong


def measure(name, nbytes, args, place):
    world, rank, device = place
    count, run, wrong = make_op(name, nbytes, world, rank, device)
    for _ in range(args.warmup):
        run()
    sync(device)
    dist.barrier()
    start = time.perf_counter()
    for _ in range(args.iters):
        run()
    sync(device)
    seconds = (time.perf_counter() - start) / args.iters
    errors = wrong()
    # As nccl-tests with MPI (-a 1): the time is averaged over ranks; errors are summed.
    stats = torch.tensor([seconds, float(errors)], dtype=torch.float64)
    dist.all_reduce(stats)
    seconds, errors = stats[0].item() / world, int(stats[1].item())
    size = count * 4
    algbw = size / seconds / 1e9
    return size, count, seconds * 1e6, algbw, algbw * FACTORS[name](world), errors


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def header(name, args, world, rank, device):
    lines = [
        "# nccl-tests format, from torch.distributed "
        f"({dist.get_backend()}, torch {torch.__version__}): files/test_cases/collectives/sweep.py",
        f"# Collective test starting: {name}_perf",
        f"# nThread 1 nGpus 1 minBytes {args.min_bytes} maxBytes {args.max_bytes} step: {args.factor}(factor) "
        f"warmup iters: {args.warmup} iters: {args.iters} agg iters: 1 validation: 1 graph: 0",
        "#",
        "# Using devices",
    ]
    devices = [None] * world
    dist.all_gather_object(devices, (rank, os.getpid(), socket.gethostname(), str(device)))
    lines += [
        f"#  Rank {r:2d} Group  0 Pid {pid:6d} on {host:>10} device  0 [{dev}] {dev}" for r, pid, host, dev in devices
    ]
    lines += [
        "#",
        "#       size         count      type   redop    root     time   algbw   busbw #wrong",
        "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)",
    ]
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--collectives", default="all_reduce,all_gather,reduce_scatter,alltoall")
    p.add_argument("-b", "--min-bytes", type=size_arg, default=1 << 10)
    p.add_argument("-e", "--max-bytes", type=size_arg, default=64 << 20)
    p.add_argument("-f", "--factor", type=int, default=2)
    p.add_argument("-n", "--iters", type=int, default=5)
    p.add_argument("-w", "--warmup", type=int, default=1)
    args = p.parse_args()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    world, rank = dist.get_world_size(), dist.get_rank()
    for name in args.collectives.split(","):
        lines = header(name, args, world, rank, device)
        total, rows = 0.0, 0
        size = args.min_bytes
        while size <= args.max_bytes:
            nbytes, count, time_us, algbw, busbw, errors = measure(name, size, args, (world, rank, device))
            redop = "sum" if name in ("all_reduce", "reduce_scatter") else "none"
            lines.append(
                f"{nbytes:12d}  {count:12d}  {'float':>8}  {redop:>6}  {-1:6d}  {time_us:7.1f}  "
                f"{algbw:6.3f}  {busbw:6.3f}  {errors:6d}"
            )
            total, rows = total + busbw, rows + 1
            size *= args.factor
        lines += [
            "# Out of bounds values : 0 OK",
            f"# Avg bus bandwidth    : {total / max(rows, 1):g} ",
            "#",
            f"# Collective test concluded: {name}_perf",
            "",
        ]
        if rank == 0:
            print("\n".join(lines), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
