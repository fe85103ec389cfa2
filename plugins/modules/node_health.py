#!/usr/bin/python
"""Reads a node's accelerator, network and software state and judges it against its instance type
and the version set."""

from __future__ import annotations

DOCUMENTATION = r"""
module: node_health
short_description: Health checks of an ML training node against its instance type and the version set
description:
  - Reads what the node runs (nvidia-smi's GPU rows and its banner's driver and CUDA versions, the
    fabric manager's state, C(fi_info -p efa) and its RDM domains, the NCCL net plugin, Neuron device
    nodes and C(neuron-ls --json-output), the image manifest, the torch of the PyTorch virtualenv, and DCGM
    diagnostics at a chosen level) and judges it against the node's PCI devices, its instance type's
    expectations (C(ml_node.expected)) and the declared version set.
  - An instance type the table does not hold is not judged, with that reason; output a tool printed
    cut short or garbled is reported as could not read, never guessed at.
  - Each check is pass, fail, or not judged where it does not apply (no GPU, no EFA, no manifest) or
    nothing is known to compare with. Changes nothing; never fails by itself (the caller decides).
version_added: 0.1.0
author: awsome.ml_cluster maintainers
options:
  node:
    description: The node's C(ml_node) facts from M(awsome.ml_cluster.node_facts).
    type: dict
    required: true
  declared:
    description: The declared version set (C(versions_set)).
    type: dict
    default: {}
  manifest_path:
    description: The image manifest the image role writes.
    type: path
    default: /etc/ml_cluster/manifest.json
  pytorch_venv:
    description: The PyTorch virtualenv whose torch is compared with the declared one.
    type: path
    default: /opt/ml_cluster/pytorch
  dcgm_level:
    description: Run C(dcgmi diag -r <level>) on GPU nodes (1 quick, 2 medium, 3 long); 0 skips it.
    type: int
    default: 0
  plugin_dirs:
    description: Where the NCCL net plugin (libnccl-net*.so) may live besides the loader's cache.
    type: list
    elements: path
    default: [/opt/amazon/ofi-nccl/lib, /opt/amazon/ofi-nccl/lib64, /opt/aws-ofi-nccl/lib]
"""

EXAMPLES = r"""
- name: Judge the node
  awsome.ml_cluster.node_health:
    node: "{{ ansible_facts.ml_node }}"
    declared: "{{ versions_set }}"
    dcgm_level: 1
  register: health
"""

RETURN = r"""
checks:
  description: Every check, C({name, status, detail}); status is pass, fail or not judged.
  returned: always
  type: list
  elements: dict
observed:
  description: What was read (nvidia-smi rows, service state, plugin path, manifest, torch version, ...).
  returned: always
  type: dict
"""

import glob
import json
import os
import re
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.awsome.ml_cluster.plugins.module_utils import health, node_readings

# The EFA installer's record of what it installed.
EFA_RECORD = "/opt/amazon/efa_installed_packages"
# Where the EFA installer (and a source build) put the NCCL net plugin.
PLUGIN_DIRS = ["/opt/amazon/ofi-nccl/lib", "/opt/amazon/ofi-nccl/lib64", "/opt/aws-ofi-nccl/lib"]


def run(module, argv):
    """(rc, stdout, stderr), or None where the program is not installed."""
    if not shutil.which(argv[0]) and not os.path.isfile(argv[0]):
        return None
    return module.run_command(argv)


def reading(module, observed, key, argv, parse):
    """observed[key] = parse(stdout), else observed[key + '_error'] says why it could not be read."""
    out = run(module, argv)
    if out is None:
        observed[f"{key}_error"] = f"{argv[0]} is not installed"
    elif out[0] != 0:
        observed[f"{key}_error"] = f"exit {out[0]}: {(out[2] or out[1]).strip()[:300]}"
    else:
        try:
            observed[key] = parse(out[1])
        except node_readings.Unreadable as error:
            observed[f"{key}_error"] = f"could not read its output: {error}"


def nvidia(module, observed):
    query = ["nvidia-smi", "--query-gpu=index,name,driver_version,pci.bus_id", "--format=csv,noheader"]
    reading(module, observed, "nvidia_smi", query, node_readings.parse_nvidia_smi)
    reading(module, observed, "nvidia_smi_header", ["nvidia-smi"], node_readings.parse_nvidia_smi_header)
    state = run(module, ["systemctl", "is-active", "nvidia-fabricmanager"])
    observed["fabric_manager"] = state[1].strip() if state else "not installed"


def network(module, observed, plugin_dirs):
    fi = run(module, ["fi_info", "-p", "efa", "-t", "FI_EP_RDM"])
    if fi is None:
        fi = run(module, ["/opt/amazon/efa/bin/fi_info", "-p", "efa", "-t", "FI_EP_RDM"])
    observed["fi_info_rc"] = fi[0] if fi else None
    if fi and fi[0] != 0:
        observed["fi_info_error"] = (fi[2] or fi[1]).strip()[:300]
    elif fi:
        try:
            observed["fi_info_domains"] = node_readings.parse_fi_info(fi[1])
        except node_readings.Unreadable as error:
            observed["fi_info_read_error"] = str(error)
    found = [p for d in plugin_dirs for p in sorted(glob.glob(os.path.join(d, "libnccl-net*.so*")))]
    cache = run(module, ["ldconfig", "-p"])
    if not found and cache and cache[0] == 0:
        found = [line.split("=>")[-1].strip() for line in cache[1].splitlines() if "libnccl-net" in line]
    observed["nccl_net_plugin"] = found[0] if found else None


def package_version(module, deb, rpm=None, rpm_format="%{VERSION}-%{RELEASE}"):
    """A package's version from dpkg, else rpm; None where it is not installed."""
    query = run(module, ["dpkg-query", "-W", "-f=${Version}", deb])
    if query is None:
        query = run(module, ["rpm", "-q", "--qf", rpm_format, rpm or deb])
    return (query[1].strip() or None) if query and query[0] == 0 else None


def upstream(version):
    """The release a package carries, without its packaging revision (4.2.1-1 -> 4.2.1)."""
    return version.rsplit("-", 1)[0] if version and "-" in version else version


def installed(module, observed):
    """The EFA installer's release (its own record); NCCL's, Enroot's and the Neuron driver's packages.
    Packages are asked, not the tools: running enroot would create its directories."""
    try:
        with open(EFA_RECORD, encoding="utf-8") as f:
            match = re.search(r"^# EFA installer version: (\S+)", f.read(), re.M)
        observed["efa_installer"] = match.group(1) if match else None
    except OSError:
        observed["efa_installer"] = None
    observed["nccl"] = package_version(module, "libnccl2", "libnccl")
    observed["enroot"] = upstream(package_version(module, "enroot", rpm_format="%{VERSION}"))
    observed["neuron_driver"] = package_version(module, "aws-neuronx-dkms", rpm_format="%{VERSION}")


def neuron(module, observed):
    neuron_ls = shutil.which("neuron-ls") or "/opt/aws/neuron/bin/neuron-ls"
    reading(module, observed, "neuron_ls", [neuron_ls, "--json-output"], node_readings.parse_neuron_ls)


def software(module, observed, params):
    try:
        with open(params["manifest_path"], encoding="utf-8") as f:
            observed["manifest"] = json.load(f)
    except (OSError, ValueError):
        observed["manifest"] = None
    python = os.path.join(params["pytorch_venv"], "bin", "python")
    torch = run(module, [python, "-c", "import torch; print(torch.__version__)"]) if os.path.exists(python) else None
    observed["torch"] = torch[1].strip() if torch and torch[0] == 0 else None


def dcgm(module, observed, level):
    if not level:
        return
    out = run(module, ["dcgmi", "diag", "-r", str(level)])
    if out is not None:
        observed["dcgm_rc"] = out[0]
        observed["dcgm_summary"] = " ".join(line.strip() for line in out[1].splitlines() if "Fail" in line)[:300]


def main():
    module = AnsibleModule(
        argument_spec={
            "node": {"type": "dict", "required": True},
            "declared": {"type": "dict", "default": {}},
            "manifest_path": {"type": "path", "default": "/etc/ml_cluster/manifest.json"},
            "pytorch_venv": {"type": "path", "default": "/opt/ml_cluster/pytorch"},
            "dcgm_level": {"type": "int", "default": 0, "choices": [0, 1, 2, 3, 4]},
            "plugin_dirs": {
                "type": "list",
                "elements": "path",
                "default": ["/opt/amazon/ofi-nccl/lib", "/opt/amazon/ofi-nccl/lib64", "/opt/aws-ofi-nccl/lib"],
            },
        },
        supports_check_mode=True,
    )
    p, observed = module.params, {}
    node = p["node"]
    if node.get("pci", {}).get("gpus"):
        nvidia(module, observed)
    if node.get("pci", {}).get("efa"):
        network(module, observed, p["plugin_dirs"])
    observed["neuron_devices"] = len(glob.glob("/dev/neuron[0-9]*"))
    if node.get("pci", {}).get("neuron"):
        neuron(module, observed)
    software(module, observed, p)
    installed(module, observed)
    dcgm(module, observed, p["dcgm_level"] if node.get("pci", {}).get("gpus") else 0)
    checks = health.node_checks(node, observed, p["declared"], p["dcgm_level"])
    module.exit_json(changed=False, checks=checks, observed=observed)


if __name__ == "__main__":
    main()
