"""Parsers of what a node's own tools print: nvidia-smi (its rows, banner and NVLink status), fi_info
-p efa, fi_pingpong, neuron-ls --json-output, dcgmi diag -j.

Each returns what it read, or raises Unreadable when the output is truncated or garbled: the caller
reports "could not read", never a guess. Unit tests: tests/unit/test_node_readings.py, on recorded
outputs under tests/fixtures/readings/.
"""

from __future__ import annotations

import json
import re


class Unreadable(ValueError):
    """The output is not what the tool prints: cut short, garbled, or from another tool."""


def parse_nvidia_smi(text):
    """Rows of `nvidia-smi --query-gpu=index,name,driver_version,pci.bus_id --format=csv,noheader`.

    A row with other than four cells, or one whose index is not a number, makes the whole reading
    unreadable: a GPU row cut in half must not read as one GPU fewer."""
    if text.strip() == "No devices were found":
        return []
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 4 or not cells[0].isdigit() or not re.fullmatch(r"[0-9A-Fa-f:.]+", cells[3]):
            raise Unreadable(f"not a nvidia-smi GPU row: {line.strip()[:80]!r}")
        rows.append({"index": int(cells[0]), "name": cells[1], "driver_version": cells[2], "bus_id": cells[3]})
    if not rows:
        raise Unreadable("nvidia-smi printed nothing")
    return rows


# "Driver Version: 580.126.20  CUDA Version: 13.0"; from R610 "KMD Version: 610.57.04  CUDA UMD Version: 13.3".
HEADER = re.compile(
    r"(?:Driver|KMD) Version:\s*(?P<driver>[0-9][0-9.]*)\s+CUDA (?:UMD )?Version:\s*(?P<cuda>[0-9]+\.[0-9]+|N/A)"
)


def parse_nvidia_smi_header(text):
    """{driver_version, cuda_version} from plain `nvidia-smi`'s banner; cuda_version is the newest CUDA
    the driver supports (None where it says N/A). nvidia-smi has no query field for it."""
    match = HEADER.search(text)
    if not match:
        raise Unreadable("no 'Driver Version: ... CUDA Version: ...' line in nvidia-smi's banner")
    cuda = match["cuda"]
    return {"driver_version": match["driver"], "cuda_version": None if cuda == "N/A" else cuda}


def parse_fi_info(text):
    """The RDM domains of `fi_info -p efa -t FI_EP_RDM`: one per EFA device (rdmap<bus>s<slot>-rdm),
    each counted once (libfabric 2 lists every device's RDM domain twice: fabric efa-direct and efa).

    Entries are blocks of "key: value" lines, each starting at "provider:"."""
    entries, current = [], None
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.strip().partition(":")
        if not sep:
            raise Unreadable(f"not a fi_info line: {line.strip()[:80]!r}")
        if key == "provider":
            current = {"provider": value.strip()}
            entries.append(current)
        elif current is not None:
            current[key] = value.strip()
    rdm = [e for e in entries if e.get("provider") == "efa" and e.get("type", "FI_EP_RDM") == "FI_EP_RDM"]
    if not entries or any("domain" not in e for e in rdm):
        raise Unreadable("fi_info listed no complete efa entry")
    return sorted({e["domain"] for e in rdm})


# fi_pingpong's table (libfabric util/pingpong.c show_perf): sizes and counts as size_str and cnt_str
# print them (64, 1.2k, 20m), #ack "=N" when every transfer was acknowledged, "-N"/"+N" the difference
# otherwise; its errors as PP_PRINTERR prints them: "fi_getinfo(): util/pingpong.c:1151, ret=-61 (No
# data available)".
PINGPONG_HEADER = re.compile(r"bytes\s+#sent\s+#ack\s+total\s+time\s+MB/sec\s+usec/xfer\s+Mxfers/sec")
_AMOUNT = r"\d+(?:\.\d+)?[kmgb]?"
PINGPONG_ROW = re.compile(
    rf"(?P<size>{_AMOUNT})\s+(?P<sent>{_AMOUNT})\s+(?P<ack>[=+-]){_AMOUNT}\s+{_AMOUNT}\s+"
    r"(?P<time>\d+\.\d+)s\s+(?P<mb_per_s>\d+\.\d+)\s+(?P<usec>\d+\.\d+)\s+\d+\.\d+"
)
PINGPONG_ERROR = re.compile(r"\w+\(\): \S+:\d+\s*, ret=-?\d+ \(.*\)|\[error\] .*")


def parse_fi_pingpong(text):
    """One side of an fi_pingpong run: {rows: [{size, sent, acknowledged, mb_per_s, usec_per_xfer}],
    errors: [the error lines]}. Other lines (FI_LOG_LEVEL=warn's) are passed over; output with no table
    and no error line is unreadable."""
    found, table = {"rows": [], "errors": []}, False
    for raw in text.splitlines():
        line = raw.strip()
        if PINGPONG_HEADER.fullmatch(line):
            table = True
        elif PINGPONG_ERROR.fullmatch(line):
            found["errors"].append(line)
        elif table and (row := PINGPONG_ROW.fullmatch(line)):
            found["rows"].append(
                {
                    "size": row["size"],
                    "sent": row["sent"],
                    "acknowledged": row["ack"] == "=",
                    "mb_per_s": float(row["mb_per_s"]),
                    "usec_per_xfer": float(row["usec"]),
                }
            )
    if not table and not found["errors"]:
        raise Unreadable("no fi_pingpong table and no error line")
    return found


def _devices(data):
    """neuron-ls prints a list of devices; some releases wrap it in an object."""
    if isinstance(data, dict):
        for key in ("neuron_devices", "devices"):
            if isinstance(data.get(key), list):
                return data[key]
        raise Unreadable("neuron-ls JSON has no device list")
    if isinstance(data, list):
        return data
    raise Unreadable("neuron-ls JSON is neither a list nor an object")


def parse_neuron_ls(text):
    """{devices, cores_per_device, memory_bytes, connected} from `neuron-ls --json-output` (Neuron 2.x
    up to 2.33: a list, one object per device; nc_count is logical cores where the device groups them,
    connected_to null on a one-device instance)."""
    try:
        devices = _devices(json.loads(text))
    except json.JSONDecodeError as error:
        raise Unreadable(f"neuron-ls JSON does not parse: {error}") from error
    if not devices:
        raise Unreadable("neuron-ls listed no device")
    try:
        return {
            "devices": len(devices),
            "cores_per_device": sorted({int(d["nc_count"]) for d in devices}),
            "memory_bytes": sorted({int(d["memory_size"]) for d in devices}),
            "connected": {int(d["neuron_device"]): list(d.get("connected_to") or []) for d in devices},
        }
    except (KeyError, TypeError, ValueError) as error:
        raise Unreadable(f"neuron-ls device entry without {error}") from error


NVLINK_GPU = re.compile(r"GPU (?P<index>\d+): (?P<name>.*?)(?: \(UUID: [^)]*\))?$")
NVLINK_LINK = re.compile(r"Link (?P<link>\d+): (?P<state><inactive>|[0-9.]+ GB/s)$")
# NVML's line for a GPU whose links are all down (or that has none NVML can read), spelt "inActive"
# by some drivers and "inactive" by others
NVLINK_NONE = re.compile(r"NVML: Unable to retrieve NVLink information as all links are inactive", re.IGNORECASE)


def parse_nvlink_status(text):
    """GPUs of `nvidia-smi nvlink --status`: [{index, name, links: {link: "25 GB/s" | None (inactive)},
    all_inactive}]. Empty output (a GPU without NVLink prints nothing) is []; any other line makes the
    reading unreadable."""
    gpus = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        gpu, link = NVLINK_GPU.fullmatch(line), NVLINK_LINK.fullmatch(line)
        if gpu:
            gpus.append({"index": int(gpu["index"]), "name": gpu["name"], "links": {}, "all_inactive": False})
        elif link and gpus:
            gpus[-1]["links"][int(link["link"])] = None if link["state"] == "<inactive>" else link["state"]
        elif NVLINK_NONE.fullmatch(line) and gpus:
            gpus[-1]["all_inactive"] = True
        else:
            raise Unreadable(f"not a line of nvidia-smi nvlink --status: {line[:80]!r}")
    return gpus


# DCGM's error severities (dcgm_errors.h DCGM_ERROR_*) as the health program's actions: CONFIG (a
# setting such as persistence mode) and MONITOR drain nothing; NONE and UNKNOWN are taken as isolate.
DCGM_SEVERITY = {0: "isolate", 1: "monitor", 2: "isolate", 3: "isolate", 4: "isolate", 5: "monitor", 6: "reset"}


def parse_dcgmi_diag(text):
    """`dcgmi diag -r N -j`: {version, results (the count), skipped, failed: [{category, test, gpu,
    detail, error_id, severity}]}. Reads DCGM 4's layout ("DCGM Diagnostic", entity ids) and 3's
    ("DCGM GPU Diagnostic", gpu_id or gpu_ids, warnings as a string or objects); a warn prints as
    Fail. Unreadable where there is no such document; ValueError with dcgmi's words where it could
    not run the diagnostic (runtime_error)."""
    # from the first brace: a line such as NVVS's "WARNING: ..." may come first
    start = text.find("{")
    try:
        doc = json.JSONDecoder().raw_decode(text, start)[0] if start >= 0 else {}
    except ValueError as error:
        raise Unreadable(f"dcgmi's JSON does not parse: {error}") from error
    doc = doc if isinstance(doc, dict) else {}
    top = doc.get("DCGM Diagnostic") or doc.get("DCGM GPU Diagnostic")
    if not isinstance(top, dict):
        raise Unreadable("no 'DCGM Diagnostic' document in dcgmi's output")
    if top.get("runtime_error"):
        raise ValueError(f"dcgmi could not run the diagnostic: {top['runtime_error']}")
    found = {"version": (doc.get("metadata") or {}).get("version") or top.get("version"), "results": 0, "skipped": 0}
    found["failed"] = []
    for category in top.get("test_categories") or []:
        for test in (category or {}).get("tests") or []:
            before = len(found["failed"])
            for result in (test or {}).get("results") or []:
                _dcgm_result(found, category.get("category"), test.get("name"), result or {})
            summary = (test or {}).get("test_summary") or {}
            if len(found["failed"]) == before and str(summary.get("status", "")).lower() in ("fail", "warn"):
                # an error of the test tied to no GPU is in its summary only (DCGM 4)
                _dcgm_result(found, category.get("category"), test.get("name"), {**summary, "status": "fail"})
                found["results"] -= 1
    return found


def _dcgm_result(found, category, test, result):
    found["results"] += 1
    status = str(result.get("status", "")).lower()
    if status == "skip":
        found["skipped"] += 1
    if status not in ("fail", "warn"):
        return
    gpu = next((result[k] for k in ("entity_id", "gpu_id", "gpu_ids") if k in result), None)
    for warning in _dcgm_warnings(result):
        found["failed"].append({"category": category, "test": test, "gpu": gpu, **warning})


def _dcgm_warnings(result):
    """Each warning of a failed result as {detail, error_id, severity}; one without any where DCGM gave
    none. 3.0-3.2 give one string; 3.3.3-3.3.9 key some objects "warnings" instead of "warning"."""
    warnings = result.get("warnings")
    if isinstance(warnings, str):
        warnings = [{"warning": warnings, "error_id": result.get("error_id")}]
    out = []
    for item in warnings if isinstance(warnings, list) else []:
        w = item if isinstance(item, dict) else {"warning": str(item)}
        level = w.get("error_severity")
        out.append(
            {
                "detail": str(w.get("warning") or w.get("warnings") or "failed"),
                "error_id": w.get("error_id"),
                "severity": DCGM_SEVERITY.get(level, "isolate") if isinstance(level, int) else "isolate",
            }
        )
    return out or [{"detail": "failed", "error_id": None, "severity": "isolate"}]
