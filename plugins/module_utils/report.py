"""Benchmark reports a person reads: markdown with the checks, the figures that matter, the nodes'
component versions, and PNG plots (busbw against message size; throughput and loss per step).

`build_nccl` and `build_fsdp` turn raw outputs into one report dict (what the JSON file holds);
`markdown` renders it; `plot` draws its figure with matplotlib (imported only there, so parsing and
judging need nothing beyond the standard library).
"""

from __future__ import annotations

import json

from ansible_collections.awsome.ml_cluster.plugins.module_utils import benchmarks, nccl_tests

MARK = {benchmarks.PASS: "pass", benchmarks.FAIL: "**FAIL**", benchmarks.NOT_JUDGED: "not judged"}


def build_nccl(outputs, *, title, judging=None, versions=None):
    """outputs: [{"name": ..., "output": text or JSON}], one per launched test binary;
    judging: {table, instance_type, nodes, message_size, tolerance} (benchmarks.nccl_checks)."""
    judging = judging or {}
    runs = []
    for out in outputs:
        parsed = nccl_tests.parse(out["output"], collective=out.get("collective"))
        if not parsed:  # the binary printed nothing of its own (it failed to start, or never ran)
            parsed = [nccl_tests.empty_run(out.get("collective"))]
            parsed[0]["failures"].append(f"{out.get('name')}: no nccl-tests output")
        for run in parsed:
            verdict = benchmarks.nccl_checks(run, judging)
            runs.append({"name": out.get("name"), "run": run, **verdict})
    checks = [dict(c, name=f"{r['collective']}: {c['name']}") for r in runs for c in r["checks"]]
    if not runs:
        checks.append(benchmarks.check("outputs", False, "no nccl-tests output to judge"))
    return _report(
        "nccl",
        title,
        checks,
        versions,
        instance_type=judging.get("instance_type"),
        nodes=judging.get("nodes") or 1,
        runs=runs,
    )


def build_fsdp(result, *, title, judging=None, versions=None):
    """judging: {peak_tflops, min_mfu, instance_type}, each optional."""
    judging = judging or {}
    verdict = benchmarks.fsdp_checks(
        result,
        peak_tflops=judging.get("peak_tflops"),
        min_mfu=judging.get("min_mfu"),
        instance_type=judging.get("instance_type"),
    )
    return _report(
        "fsdp",
        title,
        verdict["checks"],
        versions,
        instance_type=judging.get("instance_type"),
        nodes=len(result.get("nodes", [])),
        result=result,
        mfu=verdict["mfu"],
        peak_tflops=verdict["peak_tflops"],
    )


def _report(kind, title, checks, versions, **body):
    return {
        "kind": kind,
        "title": title,
        "passed": not benchmarks.failed(checks),
        "checks": checks,
        "versions": versions or {},
        **body,
    }


def _check_table(checks):
    lines = ["| check | result | detail |", "|---|---|---|"]
    lines += [f"| {c['name']} | {MARK[c['status']]} | {c['detail']} |" for c in checks]
    return lines


def _versions_table(versions):
    if not versions:
        return ["No component versions were collected."]
    components = sorted({k for v in versions.values() for k in v})
    nodes = sorted(versions)
    lines = ["| component | " + " | ".join(nodes) + " |", "|---" * (len(nodes) + 1) + "|"]
    lines += [f"| {c} | " + " | ".join(str(versions[n].get(c, "-")) for n in nodes) + " |" for c in components]
    return lines


def _nccl_body(report):
    lines = [
        "| collective | judged size | busbw (GB/s) | expected (GB/s) | peak busbw | footer avg (all sizes) |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        expected = r["expected"]["busbw"] if r["expected"] else "-"
        busbw = f"{r['busbw']:.2f}" if r["busbw"] is not None else "-"
        peak = f"{r['peak_busbw']:.2f}" if r["peak_busbw"] is not None else "-"
        lines.append(
            f"| {r['collective']} | {benchmarks.size_label(r['judged_size'])} | {busbw} | {expected} | "
            f"{peak} | {r['avg_busbw_footer'] if r['avg_busbw_footer'] is not None else '-'} |"
        )
    lines += [
        "",
        "busbw is judged at one large message size, never by the footer's average, which is dominated "
        "by the small sizes of the sweep.",
    ]
    return lines


def _fsdp_body(report):
    r = report["result"]
    m = r["model"]
    mfu = f"{report['mfu']:.1%}" if report["mfu"] is not None else "not known (no peak for this device)"
    return [
        "| figure | value |",
        "|---|---|",
        f"| model | {m['name']} ({m['params'] / 1e6:.1f} M parameters, {m['layers']} layers, dim {m['dim']}) |",
        f"| sequence length / batch per rank | {r['seq_len']} / {r['batch_size_per_rank']} |",
        f"| ranks / nodes | {r['world_size']} / {len(r['nodes'])} ({', '.join(r['nodes'])}) |",
        f"| device / backend / dtype | {r['device_name']} / {r['backend']} / {r['dtype']} |",
        f"| timed steps | {r['timed_steps'][0]}-{r['timed_steps'][1]} (first {r['warmup_steps']} are warm-up) |",
        f"| tokens/s (global) | {r['tokens_per_s']:.1f} |",
        f"| tokens/s per accelerator | {r['tokens_per_s_per_accelerator']:.1f} |",
        f"| TFLOP/s per accelerator | {r['tflops_per_accelerator']:.4f} |",
        f"| MFU | {mfu} |",
        f"| peak memory (largest rank) | {r['peak_memory_bytes'] / 2**30:.2f} GiB |",
        "",
        f"FLOPs: {r['flops_formula']}; {m['flops_per_token'] / 1e9:.3f} GFLOP per token.",
    ]


def markdown(report, plot_file=None):
    status = "PASSED" if report["passed"] else "FAILED"
    lines = [
        f"# {report['title']}",
        "",
        f"**{status}**: "
        f"{sum(c['status'] == benchmarks.PASS for c in report['checks'])} passed, "
        f"{len(benchmarks.failed(report['checks']))} failed, "
        f"{sum(c['status'] == benchmarks.NOT_JUDGED for c in report['checks'])} not judged.",
        "",
    ]
    lines += ["## Results", ""] + (_nccl_body(report) if report["kind"] == "nccl" else _fsdp_body(report))
    if plot_file:
        lines += ["", f"![plot]({plot_file})"]
    lines += ["", "## Checks", "", *_check_table(report["checks"])]
    lines += ["", "## Component versions", "", *_versions_table(report["versions"])]
    return "\n".join(lines) + "\n"


def plot(report, path):
    """Draws the report's figure into path (PNG)."""
    import matplotlib  # noqa: PLC0415 - only reports with a plot need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    if report["kind"] == "nccl":
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for r in report["runs"]:
            rows = [row for row in r["run"]["rows"] if row["out_of_place"].get("busbw") is not None]
            ax.plot(
                [row["size"] for row in rows],
                [row["out_of_place"]["busbw"] for row in rows],
                marker="o",
                markersize=3,
                label=r["collective"],
            )
            if r["expected"]:
                ax.axhline(float(r["expected"]["busbw"]), linestyle="--", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("message size (bytes)")
        ax.set_ylabel("busbw (GB/s, out-of-place)")
        ax.legend()
    else:
        r = report["result"]
        steps = list(range(1, len(r["step_seconds"]) + 1))
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        tokens = [r["global_batch_tokens"] / s for s in r["step_seconds"]]
        ax.bar(steps, tokens, color=["#bbbbbb" if s <= r["warmup_steps"] else "#3b75af" for s in steps])
        ax.set_xlabel("step (grey: warm-up, not timed)")
        ax.set_ylabel("tokens/s (global)")
        ax2.plot(steps, r["losses"], marker="o", markersize=3)
        ax2.set_xlabel("step")
        ax2.set_ylabel("loss")
    ax.set_title(report["title"])
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def to_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"
