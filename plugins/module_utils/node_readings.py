"""Parsers of what a node's own tools print: nvidia-smi, fi_info -p efa, neuron-ls --json-output.

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
