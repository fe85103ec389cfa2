"""Judge benchmark results: nccl-tests runs against expected bus bandwidth, FSDP runs against what a
sound training run looks like. Pure functions over plain data; each check is
{"name", "status": "pass" | "fail" | "not judged", "detail"}, and only "fail" fails a play.
"""

from __future__ import annotations

import math

from ansible_collections.awsome.ml_cluster.plugins.module_utils import hardware, nccl_tests

PASS, FAIL, NOT_JUDGED = "pass", "fail", "not judged"
GIB = 1 << 30


def check(name, ok, detail):
    """ok: True, False, or None when there is nothing to judge against."""
    return {"name": name, "status": NOT_JUDGED if ok is None else (PASS if ok else FAIL), "detail": detail}


def size_label(size):
    for unit, scale in (("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def expected_figure(table, instance_type, nodes, collective):
    """The entry for this instance type, node count and collective: the collection's own figures
    (hardware.BUSBW) and then table's, the last one listed winning, so a user's entries override."""
    found = None
    for entry in [*hardware.BUSBW, *(table or [])]:
        if (
            entry.get("instance_type") == instance_type
            and int(entry.get("nodes", 0)) == int(nodes or 0)
            and entry.get("collective", "all_reduce") == collective
        ):
            found = entry
    return found


def nccl_checks(run, judging=None):
    """Checks of one nccl-tests run. busbw is judged at one large message size (the expected entry's
    when there is one): never the footer's "Avg bus bandwidth", which averages every size of the sweep.

    judging: {table, instance_type, nodes, message_size, tolerance}, each optional.
    """
    judging = judging or {}
    table, instance_type, nodes = judging.get("table"), judging.get("instance_type"), judging.get("nodes") or 1
    message_size, tolerance = judging.get("message_size") or GIB, judging.get("tolerance", 0.1)
    collective = run.get("collective") or "unknown"
    entry = expected_figure(table, instance_type, nodes, collective)
    size = int(entry["message_size"]) if entry else int(message_size)
    checks = [
        check(
            "finished",
            run["complete"] and not run["failures"],
            "footer present, no failure lines"
            if run["complete"] and not run["failures"]
            else "; ".join(run["failures"]) or "no footer: the run was cut short",
        ),
        check("rows", bool(run["rows"]), f"{len(run['rows'])} message sizes measured"),
    ]
    validated = any(
        side and side.get("wrong") is not None for row in run["rows"] for side in (row["out_of_place"], row["in_place"])
    )
    wrong = nccl_tests.wrong_elements(run)
    oob = run["out_of_bounds"] or 0
    checks.append(
        check(
            "data correct",
            (wrong == 0 and oob == 0) if validated else None,
            f"#wrong total {wrong}, out of bounds {oob}" if validated else "not validated (-c 0)",
        )
    )
    row = nccl_tests.row_at(run, size)
    busbw = row["out_of_place"]["busbw"] if row else None
    largest = max((r["size"] for r in run["rows"]), default=0)
    checks.append(
        check(
            f"busbw at {size_label(size)}",
            busbw is not None and busbw > 0,
            f"{busbw:.2f} GB/s"
            if busbw is not None
            else f"the sweep stopped at {size_label(largest)}, below {size_label(size)}",
        )
    )
    if entry and busbw is not None:
        floor = float(entry["busbw"]) * (1 - tolerance)
        checks.append(
            check(
                "busbw against expected",
                busbw >= floor,
                f"{busbw:.2f} GB/s vs expected {entry['busbw']} GB/s (floor {floor:.1f}, "
                f"-{tolerance:.0%}); source: {entry.get('source', 'unstated')}",
            )
        )
    elif entry:
        checks.append(
            check(
                "busbw against expected",
                None,
                f"expected {entry['busbw']} GB/s at {size_label(size)}, which the sweep did not reach",
            )
        )
    else:
        checks.append(
            check(
                "busbw against expected",
                None,
                f"no expected figure for {collective} on {nodes} x {instance_type or 'unknown'}"
                " (add one with benchmark_nccl_expected_extra)",
            )
        )
    return {
        "collective": collective,
        "judged_size": size,
        "busbw": busbw,
        "expected": entry,
        "peak_busbw": nccl_tests.peak_busbw(run),
        "avg_busbw_footer": run["avg_busbw"],
        "checks": checks,
    }


def peak_for(result, instance_type=None, peak_tflops=None):
    """The MFU denominator per accelerator: the one asked for, the run's own, the instance type's GPU
    model's (hardware.GPU_MODELS), else the one the device's name implies."""
    record = hardware.expected(instance_type) or {}
    return (
        peak_tflops
        or result.get("peak_tflops")
        or record.get("peak_dense_tflops")
        or hardware.peak_dense_tflops(result.get("device_name"))
    )


def fsdp_checks(result, *, peak_tflops=None, min_mfu=None, max_initial_loss_gap=1.0, instance_type=None):
    """Checks of one FSDP run's result (files/test_cases/fsdp/train.py)."""
    losses = result.get("losses") or []
    vocab = result["model"]["vocab"]
    ln_vocab = math.log(vocab)
    ranks = result.get("ranks") or []
    digests = [r["digest"] for r in ranks]
    lengths = sorted({r["shape"][1] for r in ranks})
    peak = peak_for(result, instance_type, peak_tflops)
    mfu = result["tflops_per_accelerator"] / peak if peak else None
    timed = result["steps"] - result["warmup_steps"]
    first, last = result["timed_steps"]
    checks = [
        check("all steps ran", len(losses) == result["steps"], f"{len(losses)} of {result['steps']} steps"),
        check(
            "loss finite",
            bool(losses) and all(math.isfinite(x) for x in losses),
            f"first {losses[0]:.4f}, last {losses[-1]:.4f}" if losses else "no loss recorded",
        ),
        check(
            "initial loss near ln(vocab)",
            bool(losses) and abs(losses[0] - ln_vocab) <= max_initial_loss_gap,
            f"{losses[0]:.3f} vs ln({vocab}) = {ln_vocab:.3f}" if losses else "no loss recorded",
        ),
        check(
            "ranks read their own data",
            len(set(digests)) == len(digests) == result["world_size"],
            f"{len(set(digests))} distinct first batches over {result['world_size']} ranks",
        ),
        check(
            "sequence length as configured",
            lengths == [result["seq_len"]],
            f"batches of {lengths} tokens, configured {result['seq_len']}",
        ),
        check(
            "throughput measured",
            timed > 0 and result["tokens_per_s"] > 0,
            f"{result['tokens_per_s']:.1f} tokens/s over steps {first}-{last}",
        ),
    ]
    if mfu is None:
        checks.append(check("MFU", None, f"no dense BF16 peak known for {result.get('device_name')}"))
    elif min_mfu:
        checks.append(check("MFU", mfu >= min_mfu, f"{mfu:.1%} (minimum {min_mfu:.0%}, peak {peak:g} TFLOP/s)"))
    else:
        checks.append(check("MFU", None, f"{mfu:.1%} of {peak:g} TFLOP/s (no minimum set)"))
    return {"mfu": mfu, "peak_tflops": peak, "checks": checks}


def failed(checks):
    return [c for c in checks if c["status"] == FAIL]
