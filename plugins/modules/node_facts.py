#!/usr/bin/python
"""Gathers what an ML node has: GPUs, NVSwitches, EFA and Neuron devices, and its instance type."""

from __future__ import annotations

DOCUMENTATION = r"""
module: node_facts
short_description: Accelerator and instance facts of an ML node, without any vendor driver
description:
  - Reads PCI devices from sysfs (vendor, device and class IDs), so it works before the NVIDIA or
    Neuron driver is installed, in a container, and on fixture trees in tests.
  - Asks the instance metadata service (IMDSv2, a token first, short timeouts) for the instance type;
    a host without IMDS (a laptop, a container, CI) simply has none.
  - Where the PCI bus cannot tell (gen-4 NVSwitches behind bridges, IMEX, an image built on a CPU
    instance for a GPU instance type), the instance family table fills in.
  - Sets C(ansible_facts.ml_node).
version_added: 0.1.0
author: awsome.ml_cluster maintainers
options:
  sysfs_root:
    description: Where sysfs is mounted (a fixture tree in tests).
    type: path
    default: /sys
  instance_type:
    description:
      - The instance type to assume instead of asking IMDS, e.g. the target of an image build.
    type: str
  imds:
    description: Ask the instance metadata service when I(instance_type) is not given.
    type: bool
    default: true
  imds_url:
    description: Base URL of the instance metadata service.
    type: str
    default: http://169.254.169.254
  imds_timeout:
    description: Seconds to wait for each IMDS request.
    type: float
    default: 1.0
  root:
    description: The root of the filesystem where container markers are looked for.
    type: path
    default: /
"""

EXAMPLES = r"""
- name: Gather the node's accelerator facts
  awsome.ml_cluster.node_facts:

- name: Building an image on a CPU instance for p5
  awsome.ml_cluster.node_facts:
    instance_type: p5.48xlarge
"""

RETURN = r"""
ansible_facts:
  description: C(ml_node) with gpus, gpu_count, gpu_model, gpu_architecture, nvswitch_count, nvswitch,
    nvlink_subnet_manager, imex, efa_count, neuron_count, neuron_model, instance_type, instance_family,
    source (pci, instance_type or none), unknown_nvidia_devices, pci (the counts of GPUs, NVSwitches,
    EFA and Neuron devices the bus itself shows), and container (true inside a container, where no
    kernel module can be loaded).
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
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


def scan(devices):
    """Counts what the PCI bus shows."""
    found = {
        "gpus": [],
        "nvswitch_count": 0,
        "efa_count": 0,
        "neuron_count": 0,
        "neuron_model": None,
        "unknown_nvidia_devices": [],
    }
    for address, vendor, device, klass in devices:
        if vendor == hardware.NVIDIA and device in hardware.GPUS:
            model, arch = hardware.GPUS[device]
            found["gpus"].append({"address": address, "device_id": device, "model": model, "architecture": arch})
        elif vendor == hardware.NVIDIA and device in hardware.NVSWITCHES:
            found["nvswitch_count"] += 1
        elif vendor == hardware.NVIDIA and klass in (*hardware.GPU_CLASSES, hardware.NVSWITCH_CLASS):
            found["unknown_nvidia_devices"].append(device)
        elif vendor == hardware.AMAZON and device in hardware.EFA_DEVICES:
            found["efa_count"] += 1
        elif vendor == hardware.AMAZON and device in hardware.NEURON_DEVICES:
            found["neuron_count"] += 1
            found["neuron_model"] = hardware.NEURON_DEVICES[device]
    return found


# Files container runtimes leave (docker, podman) and the one systemd writes from $container.
CONTAINER_MARKERS = (".dockerenv", "run/.containerenv", "run/systemd/container")


def in_container(root):
    return any(os.path.exists(os.path.join(root, marker)) for marker in CONTAINER_MARKERS)


def imds_instance_type(base_url, timeout):
    """The instance type from IMDSv2, or None where there is no IMDS."""
    try:
        token = (
            open_url(
                f"{base_url}/latest/api/token",
                method="PUT",
                timeout=timeout,
                use_proxy=False,
                headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
            )
            .read()
            .decode()
        )
        reply = open_url(
            f"{base_url}/latest/meta-data/instance-type",
            timeout=timeout,
            use_proxy=False,
            headers={"X-aws-ec2-metadata-token": token},
        )
        return reply.read().decode().strip() or None
    except Exception:  # no IMDS (refused, timeout, 404) is a normal answer here
        return None


def node_facts(devices, instance_type):
    """Merges the PCI scan with the instance family table into the ml_node facts."""
    found = scan(devices)
    family = hardware.instance_family(instance_type)
    shape = hardware.INSTANCE_FAMILIES.get(family, {})
    gpus = found["gpus"]
    if gpus:
        source, model, arch, count = "pci", gpus[0]["model"], gpus[0]["architecture"], len(gpus)
    elif shape.get("gpu_count"):
        source, model, arch, count = "instance_type", shape["gpu_model"], shape["gpu_architecture"], shape["gpu_count"]
    else:
        source, model, arch, count = ("pci" if found["neuron_count"] else "none"), None, None, 0
    return {
        **found,
        "gpu_count": count,
        "gpu_model": model,
        "gpu_architecture": arch,
        "gpu_architectures": sorted({gpu["architecture"] for gpu in gpus}) or ([arch] if arch else []),
        "nvswitch": found["nvswitch_count"] > 0 or bool(shape.get("nvswitch")),
        "nvlink_subnet_manager": bool(shape.get("nvlink_subnet_manager")),
        "imex": bool(shape.get("imex")),
        "efa_count": found["efa_count"] or (shape.get("efa_count", 0) if source == "instance_type" else 0),
        "neuron_model": found["neuron_model"] or shape.get("neuron_model"),
        "instance_type": instance_type,
        "instance_family": family,
        "source": source,
        # What the bus itself shows, before the instance table fills gaps: what validation compares.
        "pci": {
            "gpus": len(gpus),
            "nvswitches": found["nvswitch_count"],
            "efa": found["efa_count"],
            "neuron": found["neuron_count"],
        },
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "sysfs_root": {"type": "path", "default": "/sys"},
            "instance_type": {"type": "str"},
            "imds": {"type": "bool", "default": True},
            "imds_url": {"type": "str", "default": "http://169.254.169.254"},
            "imds_timeout": {"type": "float", "default": 1.0},
            "root": {"type": "path", "default": "/"},
        },
        supports_check_mode=True,
    )
    params = module.params
    instance_type = params["instance_type"]
    if not instance_type and params["imds"]:
        instance_type = imds_instance_type(params["imds_url"], params["imds_timeout"])
    facts = node_facts(pci_devices(params["sysfs_root"]), instance_type)
    facts["container"] = in_container(params["root"])
    module.exit_json(changed=False, ansible_facts={"ml_node": facts})


if __name__ == "__main__":
    main()
