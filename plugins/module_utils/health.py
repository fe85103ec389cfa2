"""Node health checks: what a node shows against what its instance type and the version set say it
should be. Pure functions over plain data (the node_health module gathers the observations), each
check as in benchmarks.check: pass, fail, or not judged where nothing applies or nothing is known.
"""

from __future__ import annotations

from ansible_collections.awsome.ml_cluster.plugins.module_utils import hardware
from ansible_collections.awsome.ml_cluster.plugins.module_utils.benchmarks import check


def parse_nvidia_smi(text):
    """Rows of `nvidia-smi --query-gpu=index,name,driver_version,pci.bus_id --format=csv,noheader`."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) >= 4 and cells[0].isdigit():
            rows.append({"index": int(cells[0]), "name": cells[1], "driver_version": cells[2], "bus_id": cells[3]})
    return rows


def _shape(node):
    return hardware.INSTANCE_FAMILIES.get(node.get("instance_family") or "")


def gpu_checks(node, observed, declared):
    shape, pci = _shape(node), node.get("pci", {})
    found = pci.get("gpus", 0)
    instance = node.get("instance_type") or "unknown instance type"
    if shape:
        want = shape["gpu_count"]
        yield check("GPU count", found == want, f"{found} on the PCI bus, {instance} has {want}")
        if want:
            models = sorted({g["model"] for g in node.get("gpus", [])})
            yield check(
                "GPU model", models == [shape["gpu_model"]], f"{models or 'none'}, expected {shape['gpu_model']}"
            )
    else:
        yield check("GPU count", None, f"{found} on the PCI bus; {instance}: nothing to compare with")
    if not found:
        yield check("NVIDIA driver", None, "no NVIDIA GPU on this node")
        return
    rows = observed.get("nvidia_smi")
    want_driver = (declared.get("nvidia_driver") or {}).get("version")
    if rows is None:
        yield check(
            "NVIDIA driver", False, f"nvidia-smi did not answer: {observed.get('nvidia_smi_error', 'not found')}"
        )
        return
    drivers = sorted({r["driver_version"] for r in rows})
    ok = len(rows) == found and (want_driver is None or drivers == [want_driver])
    yield check(
        "NVIDIA driver",
        ok,
        f"nvidia-smi lists {len(rows)} of {found} GPUs, driver {drivers}"
        f"{', declared ' + want_driver if want_driver else ''}",
    )


def fabric_checks(node, observed):
    if not node.get("nvswitch"):
        return [check("fabric manager", None, "no NVSwitch on this node")]
    state = observed.get("fabric_manager", "unknown")
    return [check("fabric manager", state == "active", f"nvidia-fabricmanager is {state}")]


def network_checks(node, observed):
    shape, pci = _shape(node), node.get("pci", {})
    efa = pci.get("efa", 0)
    want = shape["efa_count"] if shape else None
    if want:
        yield check("EFA devices", efa == want, f"{efa} on the PCI bus, {node.get('instance_type')} has {want}")
    else:
        yield check("EFA devices", None, f"{efa} on the PCI bus; none expected or nothing to compare with")
    if efa:
        rc = observed.get("fi_info_rc")
        yield check(
            "libfabric EFA provider",
            rc == 0,
            "fi_info -p efa lists the provider"
            if rc == 0
            else f"fi_info -p efa: {observed.get('fi_info_error', 'not found')}",
        )
    if efa and pci.get("gpus"):
        plugin = observed.get("nccl_net_plugin")
        yield check(
            "NCCL net plugin", bool(plugin), plugin or "no libnccl-net*.so on the loader path or in the plugin prefixes"
        )


def neuron_checks(node, observed):
    shape, pci = _shape(node), node.get("pci", {})
    want = bool(shape and shape.get("neuron_model")) or pci.get("neuron", 0) > 0
    if not want:
        return [check("Neuron devices", None, "no Neuron device expected or found")]
    devices = observed.get("neuron_devices", 0)
    return [
        check(
            "Neuron devices",
            pci.get("neuron", 0) > 0 and devices == pci.get("neuron", 0),
            f"{pci.get('neuron', 0)} on the PCI bus, {devices} /dev/neuron* nodes",
        )
    ]


def _manifest_version(value):
    if isinstance(value, dict):
        return value.get("version")
    if isinstance(value, list):
        return ",".join(str(v.get("version", v)) if isinstance(v, dict) else str(v) for v in value)
    return str(value)


def version_checks(observed, declared):
    manifest = observed.get("manifest")
    if manifest is None:
        yield check("image manifest", None, "no image manifest (not built from this collection's images)")
    else:
        components = manifest.get("components", {})
        wrong = [
            f"{name} {_manifest_version(value)} (declared {_manifest_version(declared[name])})"
            for name, value in sorted(components.items())
            if name in declared and _manifest_version(value) != _manifest_version(declared[name])
        ]
        yield check("image manifest", not wrong, "; ".join(wrong) or f"{len(components)} components as declared")
    torch = observed.get("torch")
    want = (declared.get("pytorch") or {}).get("version")
    if torch and want:
        yield check("PyTorch", torch.split("+")[0] == want, f"the virtualenv imports torch {torch}, declared {want}")
    else:
        yield check("PyTorch", None, "no PyTorch virtualenv on this node" if not torch else "no declared version")


def _nccl_package(nccl):
    return f"{nccl['version']}+cuda{nccl['cuda']}" if nccl else None


def installed_checks(observed, declared):
    """What is installed against the version set, where the component is installed at all."""
    wanted = {
        "EFA installer": ("efa_installer", (declared.get("efa") or {}).get("version")),
        "NCCL": ("nccl", _nccl_package(declared.get("nccl"))),
        "Enroot": ("enroot", (declared.get("enroot") or {}).get("version")),
        "Neuron driver": ("neuron_driver", (declared.get("neuron") or {}).get("aws-neuronx-dkms")),
    }
    for name, (key, want) in wanted.items():
        have = observed.get(key)
        if have and want:
            yield check(name, have == want, f"{have} installed, declared {want}")
        else:
            yield check(name, None, "not installed" if not have else f"{have} installed, none declared")


def dcgm_checks(node, observed, level):
    if not level:
        return [check("DCGM diagnostics", None, "not asked for (validate_dcgm_level 0)")]
    if not node.get("pci", {}).get("gpus"):
        return [check("DCGM diagnostics", None, "no NVIDIA GPU on this node")]
    rc = observed.get("dcgm_rc")
    if rc is None:
        return [check("DCGM diagnostics", False, "dcgmi is not installed")]
    return [
        check(
            "DCGM diagnostics", rc == 0, f"dcgmi diag -r {level}: exit {rc} {observed.get('dcgm_summary', '')}".strip()
        )
    ]


def node_checks(node, observed, declared, dcgm_level=0):
    """Every check for one node: node (ml_node facts), observed (node_health's readings), declared
    (the version set, versions_set)."""
    return [
        *gpu_checks(node, observed, declared),
        *fabric_checks(node, observed),
        *network_checks(node, observed),
        *neuron_checks(node, observed),
        *version_checks(observed, declared),
        *installed_checks(observed, declared),
        *dcgm_checks(node, observed, dcgm_level),
    ]
