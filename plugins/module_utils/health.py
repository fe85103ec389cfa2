"""Node health checks: what a node shows against what its instance type and the version set say it
should be. Pure functions over plain data (the node_health module gathers the observations), each
check as in benchmarks.check: pass, fail, or not judged where nothing applies or nothing is known.
"""

from __future__ import annotations

from ansible_collections.awsome.ml_cluster.plugins.module_utils import compat
from ansible_collections.awsome.ml_cluster.plugins.module_utils.benchmarks import check


def _record(node):
    """The instance type's expectations (hardware.expected(), as node_facts put them), or None."""
    return (node.get("expected") or {}).get("record")


def _not_judged_because(node):
    instance = node.get("instance_type")
    if not instance:
        return "no instance type known (none given, no instance metadata, none in the inventory)"
    return f"{instance} is not in the instance type table (plugins/module_utils/instance_types.py)"


def _gpu_expectation(node):
    """(GPUs the bus should show, None) or (None, why it is not judged)."""
    record = _record(node)
    if record is None:
        return None, _not_judged_because(node)
    instance = record["instance_type"]
    if record["gpu_count"] and record["gpu_manufacturer"] != "NVIDIA":
        return None, f"{instance} has {record['gpu_manufacturer']} GPUs; the collection judges NVIDIA's"
    if record["gpu_fractional"]:
        return None, f"{instance} has {record['gpu_partition']:g} of a {record['gpu_model']} (a vGPU slice)"
    return record["gpu_count"], None


def gpu_model_check(node, record):
    want = record["gpu_model"]
    known = sorted({g["model"] for g in node.get("gpus", [])})
    unknown = node.get("unknown_nvidia_devices", [])
    if unknown and not known:
        return check(
            "GPU model", None, f"PCI device {', '.join(unknown)} is not in the collection's table; EC2 says {want}"
        )
    return check(
        "GPU model",
        known == [want] and not unknown,
        f"{', '.join(known + unknown) or 'none'} on the PCI bus, {record['instance_type']} has {want}",
    )


def gpu_checks(node, observed, declared):
    found = node.get("pci", {}).get("gpus", 0)
    want, why = _gpu_expectation(node)
    if want is None:
        yield check("GPU count", None, f"{found} on the PCI bus; {why}")
    else:
        yield check("GPU count", found == want, f"{found} on the PCI bus, {_record(node)['instance_type']} has {want}")
        if want:
            yield gpu_model_check(node, _record(node))
    if not found:
        yield check("NVIDIA driver", None, "no NVIDIA GPU on this node")
        return
    yield driver_check(observed, declared, found)
    yield cuda_check(observed, declared)


def driver_check(observed, declared, found):
    rows = observed.get("nvidia_smi")
    want = (declared.get("nvidia_driver") or {}).get("version")
    if rows is None:
        return check(
            "NVIDIA driver", False, f"nvidia-smi did not answer: {observed.get('nvidia_smi_error', 'not found')}"
        )
    drivers = sorted({r["driver_version"] for r in rows})
    ok = len(rows) == found and (want is None or drivers == [want])
    detail = f"nvidia-smi lists {len(rows)} of {found} GPUs, driver {drivers}{', declared ' + want if want else ''}"
    return check("NVIDIA driver", ok, detail)


def cuda_check(observed, declared):
    """The newest CUDA the driver supports (nvidia-smi's banner) must cover every installed toolkit."""
    header = observed.get("nvidia_smi_header")
    if header is None:
        return check("CUDA driver support", False, f"nvidia-smi's banner: {observed.get('nvidia_smi_header_error')}")
    toolkits = [compat.major_minor(t["version"]) for t in declared.get("cuda_toolkits") or []]
    newest = max(toolkits, key=compat.parse, default=None)
    have = header["cuda_version"]
    if not have or not newest:
        return check(
            "CUDA driver support", None, f"driver CUDA {have or 'N/A'}, toolkits {toolkits or 'none declared'}"
        )
    return check(
        "CUDA driver support",
        compat.parse(have) >= compat.parse(newest),
        f"driver {header['driver_version']} supports CUDA {have}; the newest toolkit is {newest}",
    )


def fabric_checks(node, observed):
    if not node.get("nvswitch"):
        return [check("fabric manager", None, "no NVSwitch on this node")]
    state = observed.get("fabric_manager", "unknown")
    return [check("fabric manager", state == "active", f"nvidia-fabricmanager is {state}")]


def efa_count_check(node):
    efa = node.get("pci", {}).get("efa", 0)
    expected = node.get("expected") or {}
    want, rule = expected.get("efa_count"), expected.get("efa_rule", "no instance type known")
    if want is None:
        why = _not_judged_because(node) if rule == "no instance type known" else rule
        return check("EFA devices", None, f"{efa} on the PCI bus; {why}")
    return check("EFA devices", efa == want, f"{efa} on the PCI bus, {want} expected ({rule})")


def fi_info_checks(node, observed):
    efa = node.get("pci", {}).get("efa", 0)
    rc = observed.get("fi_info_rc")
    if rc != 0:
        detail = "not installed" if rc is None else observed.get("fi_info_error", f"exit {rc}")
        yield check("libfabric EFA provider", False, f"fi_info -p efa: {detail}")
        return
    yield check("libfabric EFA provider", True, "fi_info -p efa lists the provider")
    domains = observed.get("fi_info_domains")
    if domains is None:
        yield check("libfabric EFA devices", False, f"could not read fi_info: {observed.get('fi_info_read_error')}")
    else:
        yield check(
            "libfabric EFA devices",
            len(domains) == efa,
            f"{len(domains)} RDM domains, {efa} EFA devices on the PCI bus",
        )


def network_checks(node, observed):
    pci = node.get("pci", {})
    yield efa_count_check(node)
    if pci.get("efa", 0):
        yield from fi_info_checks(node, observed)
    if pci.get("efa", 0) and pci.get("gpus"):
        plugin = observed.get("nccl_net_plugin")
        yield check(
            "NCCL net plugin", bool(plugin), plugin or "no libnccl-net*.so on the loader path or in the plugin prefixes"
        )


def neuron_count_check(node, observed):
    record, pci = _record(node), node.get("pci", {}).get("neuron", 0)
    devices = observed.get("neuron_devices", 0)
    if record is None:
        if not pci:
            return check("Neuron devices", None, f"none on the PCI bus; {_not_judged_because(node)}")
        return check("Neuron devices", devices == pci, f"{pci} on the PCI bus, {devices} /dev/neuron* nodes")
    want = record["neuron_device_count"]
    return check(
        "Neuron devices",
        pci == want and devices == pci,
        f"{pci} on the PCI bus, {devices} /dev/neuron* nodes, {record['instance_type']} has {want}",
    )


def neuron_ls_check(node, observed):
    """neuron-ls must list every device the bus shows, each with the cores EC2 says it has (or that
    number grouped by the logical NeuronCore config, 2 on Trainium2 by default)."""
    reading, pci, record = observed.get("neuron_ls"), node.get("pci", {}).get("neuron", 0), _record(node)
    if reading is None:
        return check("neuron-ls", False, f"could not read neuron-ls: {observed.get('neuron_ls_error', 'not run')}")
    cores = reading["cores_per_device"]
    physical = record["neuron_cores_per_device"] if record else None
    allowed = {physical, physical // 2} if physical and record["neuron_core_version"] == 3 else {physical}
    cores_ok = physical is None or (len(cores) == 1 and cores[0] in allowed)
    return check(
        "neuron-ls",
        reading["devices"] == pci and cores_ok,
        f"{reading['devices']} devices of {cores} NeuronCores, {pci} on the PCI bus"
        + (f", EC2 says {physical} cores each" if physical else ""),
    )


def neuron_checks(node, observed):
    checks = [neuron_count_check(node, observed)]
    if node.get("pci", {}).get("neuron", 0):
        checks.append(neuron_ls_check(node, observed))
    return checks


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
