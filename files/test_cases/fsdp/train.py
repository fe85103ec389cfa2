"""FSDP2 training benchmark: a Llama-style decoder trained for a few steps on synthetic or local tokens.

Launched by torchrun (one process per accelerator, or per node on CPU):
    torchrun --nnodes=N --nproc-per-node=G --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 \
        train.py --model llama3.2-1.2b --steps 30 --output result.json

What it measures, and how (written into the result JSON so a report can say it):
- tokens/s: tokens actually trained (global batch x sequence length) over the timed steps only;
  the first --warmup-steps steps (compilation, allocator warm-up) are excluded.
- TFLOP/s per accelerator: flops_per_token (models.py: 6N + 12LHQT) x tokens/s / world size.
- MFU: that over the accelerator's dense BF16 peak, when --peak-tflops is given (the collection's
  report takes the peak from its own table otherwise).
Every rank reads its own shard of the data (sample i goes to rank i mod world size), at the model
config's sequence length unless --seq-len overrides it; the result records what each rank saw.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import mmap
import os
import resource
import socket
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.utils.checkpoint import checkpoint
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import MODELS, ModelConfig

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


# ---- model ------------------------------------------------------------------------------------


def rope_tables(head_dim, seq_len, theta, device):
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(seq_len, device=device, dtype=torch.float32), freqs)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = c.heads, c.kv_heads, c.head_dim
        self.wq = nn.Linear(c.dim, c.heads * c.head_dim, bias=False)
        self.wk = nn.Linear(c.dim, c.kv_heads * c.head_dim, bias=False)
        self.wv = nn.Linear(c.dim, c.kv_heads * c.head_dim, bias=False)
        self.wo = nn.Linear(c.heads * c.head_dim, c.dim, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        # Flash (or memory-efficient) kernels on GPUs; GQA without materialising repeated K/V.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.heads != self.kv_heads)
        return self.wo(y.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        self.w1 = nn.Linear(c.dim, c.ffn_dim, bias=False)
        self.w2 = nn.Linear(c.ffn_dim, c.dim, bias=False)
        self.w3 = nn.Linear(c.dim, c.ffn_dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        self.attention_norm = RMSNorm(c.dim, c.norm_eps)
        self.attention = Attention(c)
        self.ffn_norm = RMSNorm(c.dim, c.norm_eps)
        self.feed_forward = FeedForward(c)

    def forward(self, x, cos, sin):
        h = x + self.attention(self.attention_norm(x), cos, sin)
        return h + self.feed_forward(self.ffn_norm(h))


class Decoder(nn.Module):
    def __init__(self, c: ModelConfig, seq_len, activation_checkpointing=False):
        super().__init__()
        self.config, self.seq_len, self.activation_checkpointing = c, seq_len, activation_checkpointing
        self.tok_embeddings = nn.Embedding(c.vocab, c.dim)
        self.layers = nn.ModuleList(Block(c) for _ in range(c.layers))
        self.norm = RMSNorm(c.dim, c.norm_eps)
        self.output = nn.Linear(c.dim, c.vocab, bias=False)
        if c.tie_embeddings:
            self.output.weight = self.tok_embeddings.weight
        self.register_buffer("rope_cos", torch.empty(0), persistent=False)
        self.register_buffer("rope_sin", torch.empty(0), persistent=False)

    @torch.no_grad()
    def init_weights(self, device):
        """Runs after the model is materialised on its device (built on `meta`, so nothing is copied)."""
        std = 0.02
        # Residual projections scaled down with depth (GPT-2 / Llama practice) keep the initial loss
        # near ln(vocab), which the report checks.
        residual_std = std / math.sqrt(2 * self.config.layers)
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif name.endswith(("wo.weight", "w2.weight")):
                nn.init.trunc_normal_(p, std=residual_std)
            else:
                nn.init.trunc_normal_(p, std=std)
        cos, sin = rope_tables(self.config.head_dim, self.seq_len, self.config.rope_theta, device)
        self.rope_cos, self.rope_sin = cos, sin

    def forward(self, tokens):
        t = tokens.shape[1]
        cos, sin = self.rope_cos[:t], self.rope_sin[:t]
        h = self.tok_embeddings(tokens)
        for layer in self.layers:
            if self.activation_checkpointing and self.training:
                h = checkpoint(layer, h, cos, sin, use_reentrant=False)
            else:
                h = layer(h, cos, sin)
        return self.output(self.norm(h))


# ---- data -------------------------------------------------------------------------------------


class SyntheticTokens(Dataset):
    """Sample i is a fixed function of (seed, i): reproducible, and distinct per sample."""

    def __init__(self, vocab, seq_len, samples, seed=1234):
        self.vocab, self.seq_len, self.samples, self.seed = vocab, seq_len, samples, seed

    def __len__(self):
        return self.samples

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        s = torch.randint(0, self.vocab, (self.seq_len + 1,), generator=g)
        return s[:-1], s[1:]


class FileTokens(Dataset):
    """A flat file of little-endian token ids (uint16 or int32), cut into seq_len+1 windows."""

    def __init__(self, path, seq_len, dtype="uint16"):
        self.path, self.seq_len = path, seq_len
        self.dtype = {"uint16": torch.uint16, "int32": torch.int32}[dtype]
        self.itemsize = 2 if dtype == "uint16" else 4
        self.tokens = None
        self.count = os.path.getsize(path) // self.itemsize

    def __len__(self):
        return (self.count - 1) // self.seq_len

    def __getitem__(self, i):
        if self.tokens is None:  # mapped lazily, once per loader worker; read-only, never written
            with open(self.path, "rb") as f, warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self.tokens = torch.frombuffer(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), dtype=self.dtype)
        s = self.tokens[i * self.seq_len : (i + 1) * self.seq_len + 1].to(torch.int64)
        return s[:-1], s[1:]


def make_loader(args, config, seq_len, place):
    """place: (rank, world size, device) of this process."""
    rank, world, device = place
    samples = args.batch_size * world * args.steps
    if args.data:
        dataset = FileTokens(args.data, seq_len, args.data_dtype)
        if len(dataset) < samples:
            raise SystemExit(f"{args.data} holds {len(dataset)} samples of {seq_len} tokens; {samples} are needed")
    else:
        dataset = SyntheticTokens(config.vocab, seq_len, samples, seed=args.seed)
    # The rank and world size reach the sampler: rank r trains samples r, r + world, r + 2 world, ...
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=False, drop_last=True)
    workers = args.workers
    return DataLoader(
        dataset,
        batch_size=args.batch_size,
        sampler=sampler,
        drop_last=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
    )


# ---- training ---------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="tiny-8m", choices=sorted(MODELS))
    p.add_argument("--steps", type=int, default=20, help="optimizer steps in all, warm-up included")
    p.add_argument("--warmup-steps", type=int, default=3, help="first steps left out of the timing")
    p.add_argument("--batch-size", type=int, default=1, help="sequences per rank per step")
    p.add_argument("--seq-len", type=int, default=0, help="override the model config's sequence length")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="", help="bf16 on GPUs, fp32 on CPUs by default")
    p.add_argument("--compile", action="store_true", help="torch.compile each transformer block")
    p.add_argument("--activation-checkpointing", action="store_true")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--data", default="", help="file of token ids; synthetic tokens when empty")
    p.add_argument("--data-dtype", choices=("uint16", "int32"), default="uint16")
    p.add_argument("--workers", type=int, default=2, help="data loader worker processes per rank")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--peak-tflops", type=float, default=0.0, help="dense BF16 peak per accelerator, for MFU")
    p.add_argument("--output", default="", help="result JSON (rank 0 writes it)")
    args = p.parse_args(argv)
    if args.warmup_steps >= args.steps:
        p.error(f"--warmup-steps ({args.warmup_steps}) must be below --steps ({args.steps})")
    return args


def setup():
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend)
    return device, backend, dist.get_rank(), dist.get_world_size()


def build_model(config, seq_len, args, device, dtype):
    with torch.device("meta"):
        model = Decoder(config, seq_len, args.activation_checkpointing)
    mp = MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32)
    for block in model.layers:
        if args.compile:
            block.compile()
        fully_shard(block, mp_policy=mp)
    fully_shard(model, mp_policy=mp)
    model.to_empty(device=device)
    model.init_weights(device)
    return model


def peak_memory(device):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def train(args):
    device, backend, rank, world = setup()
    config = MODELS[args.model]
    seq_len = args.seq_len or config.seq_len
    dtype = DTYPES[args.dtype or ("bf16" if device.type == "cuda" else "fp32")]
    torch.manual_seed(args.seed)
    model = build_model(config, seq_len, args, device, dtype)
    fused = device.type == "cuda"
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=args.lr,
        betas=(0.9, 0.95),
        weight_decay=0.1,
        fused=fused or None,
        foreach=None if fused else True,
    )
    loader = make_loader(args, config, seq_len, (rank, world, device))

    losses, step_times, data_waits, first_batch = [], [], [], None
    batches = iter(loader)
    for step in range(args.steps):
        start = time.perf_counter()
        inputs, labels = next(batches)
        inputs, labels = inputs.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        waited = time.perf_counter() - start
        if step == 0:
            first_batch = {"shape": list(inputs.shape), "digest": digest(inputs)}
        logits = model(inputs)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(0, 1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        # The mean over ranks (SUM: gloo has no AVG); .item() waits for the device, so the step time
        # covers the whole step.
        loss_value = loss.detach()
        dist.all_reduce(loss_value, op=dist.ReduceOp.SUM)
        loss_value = loss_value.item() / world
        elapsed = time.perf_counter() - start
        losses.append(loss_value)
        step_times.append(elapsed)
        data_waits.append(waited)
        if rank == 0:
            tokens = args.batch_size * seq_len * world
            print(
                f"step {step + 1:>4} | loss {loss_value:8.4f} | {tokens / elapsed:12.1f} tokens/s | "
                f"data wait {waited * 1e3:7.2f} ms{' | warm-up' if step < args.warmup_steps else ''}",
                flush=True,
            )

    everyone = [None] * world
    dist.all_gather_object(
        everyone,
        {"rank": rank, "host": socket.gethostname(), **first_batch, "peak_memory_bytes": peak_memory(device)},
    )
    if rank == 0:
        run = {
            "config": config,
            "seq_len": seq_len,
            "dtype": dtype,
            "device": device,
            "backend": backend,
            "world": world,
            "losses": losses,
            "step_times": step_times,
            "data_waits": data_waits,
            "ranks": everyone,
        }
        result = summarise(args, run)
        text = json.dumps(result, indent=2)
        if args.output:
            Path(args.output).write_text(text + "\n")
        print(f"result: {text}" if not args.output else f"result written to {args.output}", flush=True)
        print(
            f"timed steps {args.warmup_steps + 1}-{args.steps}: {result['tokens_per_s']:.1f} tokens/s, "
            f"{result['tflops_per_accelerator']:.3f} TFLOP/s per accelerator"
            + (f", MFU {result['mfu']:.1%}" if result["mfu"] is not None else ""),
            flush=True,
        )
    dist.destroy_process_group()


def digest(inputs):
    """A short fingerprint of a batch's token ids, to show that ranks trained different data."""
    return hashlib.sha256(repr(inputs.cpu().flatten().tolist()).encode()).hexdigest()[:16]


def summarise(args, run):
    """The result JSON: what ran, what it measured, and how (run: what train() collected)."""
    config, seq_len, dtype, device, world = (run[k] for k in ("config", "seq_len", "dtype", "device", "world"))
    losses, step_times, data_waits, ranks = (run[k] for k in ("losses", "step_times", "data_waits", "ranks"))
    timed = slice(args.warmup_steps, args.steps)
    timed_seconds = sum(step_times[timed])
    tokens_per_step = args.batch_size * seq_len * world
    timed_tokens = tokens_per_step * (args.steps - args.warmup_steps)
    tokens_per_s = timed_tokens / timed_seconds
    flops_per_token = config.flops_per_token(seq_len)
    tflops = flops_per_token * tokens_per_s / world / 1e12
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {
        "benchmark": "fsdp",
        "model": config.as_dict() | {"flops_per_token": flops_per_token},
        "seq_len": seq_len,
        "batch_size_per_rank": args.batch_size,
        "global_batch_tokens": tokens_per_step,
        "world_size": world,
        "nodes": sorted({r["host"] for r in ranks}),
        "device": device.type,
        "device_name": name,
        "backend": run["backend"],
        "dtype": str(dtype).removeprefix("torch."),
        "compile": args.compile,
        "activation_checkpointing": args.activation_checkpointing,
        "torch_version": torch.__version__,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "timed_steps": [args.warmup_steps + 1, args.steps],
        "losses": losses,
        "step_seconds": step_times,
        "data_wait_seconds": data_waits,
        "tokens_per_s": tokens_per_s,
        "tokens_per_s_per_accelerator": tokens_per_s / world,
        "tflops_per_accelerator": tflops,
        "peak_tflops": args.peak_tflops or None,
        "mfu": tflops / args.peak_tflops if args.peak_tflops else None,
        "flops_formula": "6*N*tokens + 12*L*H*Q*T*tokens (N: matmul parameters, no input embedding)",
        "peak_memory_bytes": max(r["peak_memory_bytes"] for r in ranks),
        "ranks": [
            {key: r[key] for key in ("rank", "host", "shape", "digest")} for r in sorted(ranks, key=lambda r: r["rank"])
        ],
    }


if __name__ == "__main__":
    train(parse_args())
