"""Parse the output of NVIDIA's nccl-tests (text from v2.13 on, older headers too, and the JSON that
`-J` writes since v2.17.3) into plain data. Pure functions; no Ansible, no I/O.

What real output looks like (../shared/reference/network.md section 6): rank 0 prints a header, a
table of rows (size count type redop root, then time algbw busbw #wrong for out-of-place and again
for in-place) and a footer. On a cluster the lines come through a launcher that may prefix them
(`[1,0]<stdout>:` from `mpirun --tag-output`, `0: ` from `srun -l`), NCCL's own log lines
(`host:pid:tid [0] NCCL INFO ...`) interleave with the table, numbers are padded to fixed widths or
switch to exponents when they overflow them, `#wrong` is `N/A` under `-c 0`, and a run cut short has
no footer. Several collectives may share one output file.
"""

from __future__ import annotations

import json
import math
import re

# Launcher prefixes: mpirun --tag-output / --output-filename style, srun -l, pdsh-like "host: ".
_PREFIXES = (
    re.compile(r"^\[\d+,\d+\]<(?:stdout|stderr)>:\s?"),
    re.compile(r"^\s*\d+:\s"),
)
_NCCL_LOG = re.compile(r"^\S+:\d+:\d+ \[\d+\] NCCL (?:INFO|WARN|TRACE|ERROR)")
_FAILURE = re.compile(r"Test (?:NCCL|CUDA) failure|Test failure|Test timeout|Test .* failed")
_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^(?:inf|nan|-nan)$", re.IGNORECASE)
_HEADER = re.compile(r"^#\s+size\s+count\s+type\b")
_NTHREAD = re.compile(r"^#\s*nThread\s+(\d+)\s+nGpus\s+(\d+)\s+minBytes\s+(\d+)\s+maxBytes\s+(\d+)")
_ITERS = re.compile(r"warmup iters:\s*(\d+)\s+iters:\s*(\d+)")
_VERSION = re.compile(r"^#\s*nccl-tests version\s+(\S+)")
_STARTING = re.compile(r"^#\s*Collective test starting:\s*(\S+)")
_DEVICE = re.compile(
    r"^#\s+Rank\s+(\d+)\s+Group\s+(\d+)\s+Pid\s+(\d+)\s+on\s+(\S+)\s+device\s+(\d+)\s+\[([^\]]*)\]\s+(.*)$"
)
_OOB = re.compile(r"^#\s*Out of bounds values\s*:\s*(\d+)\s*(OK|FAILED)?")
_AVG = re.compile(r"^#\s*Avg bus bandwidth\s*:\s*(\S+)\s*(OK|FAILED)?")

# Columns of a row when no header was seen (every collective since v2.13).
_DEFAULT_COLUMNS = [
    "size",
    "count",
    "type",
    "redop",
    "root",
    "time",
    "algbw",
    "busbw",
    "#wrong",
    "time",
    "algbw",
    "busbw",
    "#wrong",
]
_SIDE_COLUMNS = {
    "time": "time_us",
    "cputime": "time_us",
    "algbw": "algbw",
    "busbw": "busbw",
    "#wrong": "wrong",
    "error": "error",
}


def collective_name(binary):
    """all_reduce from all_reduce_perf, /opt/nccl-tests/build/all_reduce_perf or all_reduce_perf_mpi."""
    return binary.rsplit("/", 1)[-1].removesuffix("_mpi").removesuffix("_perf")


def strip_prefix(line):
    """The line as the program printed it, without what a launcher put in front."""
    for prefix in _PREFIXES:
        line = prefix.sub("", line, count=1)
    return line.rstrip("\r\n")


def number(token):
    """A float from a table cell: plain, exponent, inf or nan; None for N/A and anything else."""
    if _NUMBER.match(token):
        return float(token)
    return None


def empty_run(collective=None):
    return {
        "collective": collective,
        "version": None,
        "nthread": None,
        "ngpus": None,
        "min_bytes": None,
        "max_bytes": None,
        "warmup_iters": None,
        "iters": None,
        "devices": [],
        "rows": [],
        "out_of_bounds": None,
        "avg_busbw": None,
        "avg_busbw_status": None,
        "failures": [],
        "complete": False,
    }


def _columns(header_line):
    return header_line.lstrip("#").split()


def _row(tokens, columns):
    """One table row as a dict, or None when the tokens are not a row of this table."""
    fixed = columns[: columns.index("time") if "time" in columns else columns.index("cputime")]
    side_names = columns[len(fixed) :]
    if len(tokens) < len(fixed) + 3 or not tokens[0].isdigit():
        return None
    row = dict(zip(fixed, tokens[: len(fixed)], strict=False))
    try:
        row["size"] = int(row["size"])
        row["count"] = int(row["count"])
    except (KeyError, ValueError):
        return None
    if "root" in row:
        row["root"] = int(row["root"]) if re.match(r"^-?\d+$", row["root"]) else None
    sides, current, seen = [], {}, set()
    for name, token in zip(side_names, tokens[len(fixed) :], strict=False):
        key = _SIDE_COLUMNS.get(name)
        if key is None:
            continue
        if key in seen:  # the second time column starts the in-place half
            sides.append(current)
            current, seen = {}, set()
        seen.add(key)
        current[key] = number(token)
    sides.append(current)
    if sides[0].get("busbw") is None and sides[0].get("time_us") is None:
        return None
    row["out_of_place"] = sides[0]
    row["in_place"] = sides[1] if len(sides) > 1 else None
    return row


def _header_line(run, line):
    """Fills run from one of the '#' lines; returns False when the line is not one we know."""
    for pattern, apply in (
        (_VERSION, lambda m: run.update(version=m.group(1))),
        (_STARTING, lambda m: run.update(collective=collective_name(m.group(1)))),
        (
            _NTHREAD,
            lambda m: run.update(
                nthread=int(m.group(1)), ngpus=int(m.group(2)), min_bytes=int(m.group(3)), max_bytes=int(m.group(4))
            ),
        ),
        (
            _DEVICE,
            lambda m: run["devices"].append(
                {
                    "rank": int(m.group(1)),
                    "host": m.group(4),
                    "device": int(m.group(5)),
                    "pci": m.group(6),
                    "model": m.group(7).strip(),
                }
            ),
        ),
        (_OOB, lambda m: run.update(out_of_bounds=int(m.group(1)))),
        (_AVG, lambda m: run.update(avg_busbw=number(m.group(1)), avg_busbw_status=m.group(2), complete=True)),
    ):
        m = pattern.search(line)
        if m:
            apply(m)
            if pattern is _NTHREAD:
                iters = _ITERS.search(line)
                if iters:
                    run.update(warmup_iters=int(iters.group(1)), iters=int(iters.group(2)))
            return True
    return False


def _starts_new_run(run, line):
    """A header line opens a new run once the current one has rows, a footer or that same header."""
    if run is None:
        return True
    if run["rows"] or run["complete"]:
        return True
    return bool(
        (_VERSION.search(line) and run["version"])
        or (_STARTING.search(line) and run["collective"])
        or (_NTHREAD.search(line) and run["nthread"] is not None)
    )


def parse_text(text, collective=None):
    """Every run in a text output, in order. A run starts at its header (or at its first row)."""
    runs, columns = [], _DEFAULT_COLUMNS

    def current(new=False):
        if new or not runs:
            runs.append(empty_run())
        return runs[-1]

    for raw in text.splitlines():
        line = strip_prefix(raw)
        if not line.strip() or _NCCL_LOG.match(line):
            continue
        if _FAILURE.search(line):
            current()["failures"].append(line.strip())
        elif _HEADER.match(line):
            columns = _columns(line)
        elif line.lstrip().startswith("#"):
            opens = _VERSION.search(line) or _STARTING.search(line) or _NTHREAD.search(line)
            run = current(new=bool(opens) and _starts_new_run(runs[-1] if runs else None, line))
            _header_line(run, line)
        else:
            row = _row(line.split(), columns)
            if row is not None:
                current(new=not runs or runs[-1]["complete"])["rows"].append(row)
    for run in runs:
        run["collective"] = run["collective"] or collective
    return runs


def parse_json(data, collective=None):
    """A run from the JSON file of `-J` (nccl-tests v2.17.3 and newer)."""
    doc = json.loads(data) if isinstance(data, str) else data
    run = empty_run()
    config = doc.get("config", {})
    run.update(
        version=str(doc.get("version")) if doc.get("version") is not None else None,
        nthread=config.get("nthreads"),
        ngpus=config.get("ngpus"),
        min_bytes=config.get("minimum_bytes"),
        max_bytes=config.get("maximum_bytes"),
        warmup_iters=config.get("warmup_iters"),
        iters=config.get("iterations"),
        collective=collective or (collective_name(doc["args"][0]) if doc.get("args") else None),
    )
    for d in config.get("devices", doc.get("devices", [])):
        run["devices"].append(
            {
                "rank": d.get("rank"),
                "host": d.get("hostname"),
                "device": d.get("device"),
                "pci": d.get("device_hex"),
                "model": d.get("device_info"),
            }
        )
    for r in doc.get("results", []):
        row = {
            "size": int(r["size"]),
            "count": int(r["count"]),
            "type": r.get("type"),
            "redop": r.get("redop"),
            "root": int(r["root"]) if str(r.get("root", "")).strip().lstrip("-").isdigit() else None,
            "out_of_place": _json_side(r.get("out_of_place")),
            "in_place": _json_side(r.get("in_place")),
        }
        run["rows"].append(row)
    run["complete"] = "end_time" in doc
    return run


def _json_side(side):
    if side is None:
        return None
    return {
        "time_us": side.get("time", side.get("cpu_time")),
        "algbw": side.get("alg_bw"),
        "busbw": side.get("bus_bw"),
        "wrong": side.get("nwrong"),
    }


def parse(output, collective=None):
    """Text or JSON (str or already-decoded dict), whichever it is; always a list of runs."""
    if isinstance(output, dict):
        return [parse_json(output, collective)]
    stripped = output.lstrip()
    if stripped.startswith("{"):
        try:
            return [parse_json(stripped, collective)]
        except json.JSONDecodeError:
            pass  # a text output that happens to start with a brace
    return parse_text(output, collective)


def _sides(row):
    return [s for s in (row["out_of_place"], row["in_place"]) if s]


def wrong_elements(run):
    """Total of every #wrong cell (None cells, from -c 0, are not counted)."""
    return sum(
        int(s.get("wrong") or 0)
        for row in run["rows"]
        for s in _sides(row)
        if s.get("wrong") is not None and not math.isnan(s["wrong"])
    )


def row_at(run, size):
    """The row for exactly `size` bytes, or None when the sweep did not reach it."""
    return next((row for row in run["rows"] if row["size"] == size), None)


def peak_busbw(run):
    values = [s["busbw"] for row in run["rows"] for s in _sides(row) if s.get("busbw") is not None]
    return max(values) if values else None
