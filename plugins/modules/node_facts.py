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
    instance for a GPU instance type), the instance type's record fills in (hardware.expected(), which
    joins EC2's DescribeInstanceTypes data with the collection's per-model table).
  - The instance type comes from I(instance_type) where given (an image build's target), else from
    the instance metadata, else from I(fallback_instance_type) (the inventory).
  - The expected EFA count is I(expected_efa_count) where set, else the number of EFA interfaces the
    instance metadata lists as attached, else the instance type's maximum; C(expected.efa_rule) says
    which rule gave it.
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
  fallback_instance_type:
    description:
      - The instance type to assume where I(instance_type) is not given and the instance metadata does
        not answer (set per node group in the inventory).
    type: str
  expected_efa_count:
    description:
      - How many EFA devices the node should show, for clusters that attach fewer than the instance
        type takes on purpose; overrides the attached count and the type's maximum.
    type: int
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
  description: C(ml_node) with gpus, gpu_count, gpu_model (EC2's name, e.g. H100), gpu_architecture,
    gpu_module_flavour (the kernel-module flavour that auto picks, open or proprietary),
    nvswitch_count, nvswitch, nvlink_subnet_manager, imex, efa_count, neuron_count, neuron_model,
    instance_type, instance_type_source (given, instance metadata or inventory), instance_family,
    source (pci, instance_type or none), unknown_nvidia_devices and unknown_amazon_devices (device ids
    the collection does not know), pci (the counts of GPUs, NVSwitches, EFA and Neuron devices the bus
    itself shows), expected (the instance type's record or none, the expected EFA count and the rule
    that chose it), and container (true inside a container, where no kernel module can be loaded).
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible_collections.awsome.ml_cluster.plugins.module_utils import hardware
from ansible_collections.awsome.ml_cluster.plugins.module_utils.pci import pci_devices, scan

# Files container runtimes leave (docker, podman) and the one systemd writes from $container.
CONTAINER_MARKERS = (".dockerenv", "run/.containerenv", "run/systemd/container")


def in_container(root):
    return any(os.path.exists(os.path.join(root, marker)) for marker in CONTAINER_MARKERS)


class Imds:
    """IMDSv2: a token first, then GETs that carry it; every answer None where there is no IMDS."""

    def __init__(self, base_url, timeout):
        self.base_url, self.timeout, self.token = base_url, timeout, None
        try:
            self.token = self._open("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        except Exception:  # no IMDS (refused, timeout, 404) is a normal answer here
            self.token = None

    def _open(self, method, path, headers):
        reply = open_url(self.base_url + path, method=method, timeout=self.timeout, use_proxy=False, headers=headers)
        return reply.read().decode().strip()

    def get(self, path):
        if not self.token:
            return None
        try:
            return self._open("GET", f"/latest/meta-data/{path}", {"X-aws-ec2-metadata-token": self.token}) or None
        except Exception:  # a path this instance does not have is a 404, an answer of "none"
            return None

    def efa_attached(self):
        """How many of the attached network interfaces are EFA ('efa' or 'efa-only'), None without IMDS."""
        macs = self.get("network/interfaces/macs/")
        if macs is None:
            return None
        kinds = [self.get(f"network/interfaces/macs/{mac.strip('/')}/interface-type") for mac in macs.split()]
        if any(kind is None for kind in kinds):
            return None  # an older IMDS without interface-type cannot tell
        return sum(kind in ("efa", "efa-only") for kind in kinds)


def imds_instance_type(base_url, timeout):
    """The instance type from IMDSv2, or None where there is no IMDS."""
    return Imds(base_url, timeout).get("instance-type")


def efa_expectation(record, attached, override):
    """(expected EFA devices, the rule that gave it)."""
    if override is not None:
        return override, "the inventory's expected EFA count"
    if attached is not None:
        return attached, "the EFA interfaces attached (instance metadata)"
    if record is not None:
        return record["efa_count"], f"the most {record['instance_type']} takes (EC2's MaximumEfaInterfaces)"
    return None, "no instance type known"


def _gpu_summary(found, shape):
    """(source, model, architecture, count): the bus where it shows GPUs, else the instance type."""
    gpus, count = found["gpus"], len(found["gpus"]) + found["unknown_gpu_count"]
    if count:
        model = gpus[0]["model"] if gpus else shape.get("gpu_model")
        arch = gpus[0]["architecture"] if gpus else shape.get("gpu_architecture")
        return "pci", model, arch, count
    if shape.get("gpu_count"):
        return "instance_type", shape["gpu_model"], shape["gpu_architecture"], shape["gpu_count"]
    return ("pci" if found["neuron_count"] else "none"), None, None, 0


def node_facts(devices, instance_type, instance_type_source=None, efa_attached=None, efa_override=None):
    """Merges the PCI scan with the expectations of the instance type into the ml_node facts."""
    found = scan(devices)
    shape = hardware.expected(instance_type)  # the record, or None for a type the table lacks
    efa_expected, efa_rule = efa_expectation(shape, efa_attached, efa_override)
    shape = shape or {}
    source, model, arch, count = _gpu_summary(found, shape)
    gpus = found["gpus"]
    return {
        **found,
        "gpu_count": count,
        "gpu_model": model,
        "gpu_architecture": arch,
        "gpu_architectures": sorted({gpu["architecture"] for gpu in gpus}) or ([arch] if arch else []),
        # the kernel-module flavour a driver flavour of auto picks for this generation
        "gpu_module_flavour": hardware.module_flavour(arch),
        "nvswitch": found["nvswitch_count"] > 0 or bool(shape.get("nvswitch")),
        "nvlink_subnet_manager": bool(shape.get("nvlink_subnet_manager")),
        "imex": bool(shape.get("imex")) or any(hardware.GPU_MODELS[g["model"]]["imex"] for g in gpus),
        "efa_count": found["efa_count"] or ((efa_expected or 0) if source == "instance_type" else 0),
        "neuron_model": found["neuron_model"] or shape.get("neuron_model"),
        "instance_type": instance_type,
        "instance_type_source": instance_type_source if instance_type else None,
        "instance_family": hardware.instance_family(instance_type),
        "source": source,
        # What the bus itself shows, before the instance table fills gaps: what validation compares.
        "pci": {
            "gpus": count if source == "pci" else 0,
            "nvswitches": found["nvswitch_count"],
            "efa": found["efa_count"],
            "neuron": found["neuron_count"],
        },
        # What the node should have: the instance type's record (None where the table lacks it), and
        # the EFA count with the rule that chose it.
        "expected": {"record": shape or None, "efa_count": efa_expected, "efa_rule": efa_rule},
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
            "fallback_instance_type": {"type": "str"},
            "expected_efa_count": {"type": "int"},
        },
        supports_check_mode=True,
    )
    params = module.params
    imds = Imds(params["imds_url"], params["imds_timeout"]) if params["imds"] else None
    instance_type, origin = params["instance_type"], "given"
    if not instance_type and imds:
        instance_type, origin = imds.get("instance-type"), "instance metadata"
    if not instance_type:
        instance_type, origin = params["fallback_instance_type"] or None, "inventory"
    facts = node_facts(
        pci_devices(params["sysfs_root"]),
        instance_type,
        instance_type_source=origin,
        # An image build names its target type: what this builder has attached says nothing of it.
        efa_attached=imds.efa_attached() if imds and origin == "instance metadata" else None,
        efa_override=params["expected_efa_count"],
    )
    facts["container"] = in_container(params["root"])
    module.exit_json(changed=False, ansible_facts={"ml_node": facts})


if __name__ == "__main__":
    main()
