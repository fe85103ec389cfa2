"""The PCI bus as sysfs shows it, and what is on it: GPUs, NVSwitches, EFA and Neuron devices by the
ids hardware.py keeps, and devices of NVIDIA or Amazon it does not know, by id. Shared by the
node_facts module and the node health program (which runs on nodes without Ansible)."""

from __future__ import annotations

import os

from ansible_collections.awsome.ml_cluster.plugins.module_utils import hardware


def read_id(path):
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip().lower()
    except OSError:
        return ""


def pci_devices(sysfs_root):
    """(address, vendor, device, class prefix) for every PCI device, sorted by address."""
    base = os.path.join(sysfs_root, "bus", "pci", "devices")
    if not os.path.isdir(base):
        return []
    devices = []
    for address in sorted(os.listdir(base)):
        path = os.path.join(base, address)
        devices.append((address, read_id(f"{path}/vendor"), read_id(f"{path}/device"), read_id(f"{path}/class")[:6]))
    return devices


def _nvidia(found, address, device, klass):
    if device in hardware.GPUS:
        model, name, arch = hardware.GPUS[device]
        found["gpus"].append(
            {"address": address, "device_id": device, "model": model, "pci_name": name, "architecture": arch}
        )
    elif device in hardware.NVSWITCHES:
        found["nvswitch_count"] += 1
    elif klass in (*hardware.GPU_CLASSES, hardware.NVSWITCH_CLASS):
        found["unknown_nvidia_devices"].append(device)
        found["unknown_gpu_count"] += klass in hardware.GPU_CLASSES


def _amazon(found, device):
    if device in hardware.EFA_DEVICES:
        found["efa_count"] += 1
    elif device in hardware.NEURON_DEVICES:
        found["neuron_count"] += 1
        found["neuron_model"] = hardware.NEURON_DEVICES[device]
    elif device not in hardware.OTHER_AMAZON_DEVICES:
        found["unknown_amazon_devices"].append(device)


def scan(devices):
    """Counts what the PCI bus shows; devices the collection does not know are listed by id."""
    found = {
        "gpus": [],
        "nvswitch_count": 0,
        "efa_count": 0,
        "neuron_count": 0,
        "neuron_model": None,
        "unknown_nvidia_devices": [],
        "unknown_gpu_count": 0,
        "unknown_amazon_devices": [],
    }
    for address, vendor, device, klass in devices:
        if vendor == hardware.NVIDIA:
            _nvidia(found, address, device, klass)
        elif vendor == hardware.AMAZON:
            _amazon(found, device)
    return found
