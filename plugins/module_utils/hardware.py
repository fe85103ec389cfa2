"""What the collection knows of accelerator hardware that EC2's own data does not say, and the one
place that joins it with EC2's per-instance-type records (instance_types.py, generated).

Hand-kept here, keyed by EC2's GPU or Neuron model name, never by instance family: PCI device ids,
GPU architecture, NVSwitch and how it is reached, IMEX, the peak dense TFLOP/s for MFU; and, by exact
instance type, the expected bus bandwidth of the collectives (it depends on the network).
Sources: ../shared/reference/nvidia.md sections 9 to 11; neuron_containers.md section 1.4; pci.ids
and the Linux efa driver's PCI table (efa_main.c) for the EFA device ids; docs/hardware.md.
"""

from __future__ import annotations

from ansible_collections.awsome.ml_cluster.plugins.module_utils.instance_types import INSTANCE_TYPES

NVIDIA = "0x10de"
AMAZON = "0x1d0f"

# sysfs `class` values: 3D controller (p-series) and VGA (some g-series); NVSwitch is a bridge (0x0680).
GPU_CLASSES = ("0x0302", "0x0300")
NVSWITCH_CLASS = "0x0680"
NVSWITCHES = {"0x1af1": "NVSwitch gen 2", "0x22a3": "NVSwitch gen 3"}

# An HGX board: 8 SXM GPUs behind NVSwitches. A smaller size of the same family (p5.4xlarge: 1 H100)
# is a slice of one and has no switch to manage.
BOARD_GPUS = 8


def _gpu(architecture, pci_ids, peak, nvswitch=None, imex=False):
    """nvswitch: how an HGX board of this GPU reaches its switches: 'pci' (gen 2/3 switches on the host
    bus, fabric manager alone) or 'nvlsm' (gen 4, behind the NVLink subnet manager); None: no switch."""
    return {
        "architecture": architecture,
        "pci_ids": pci_ids,
        "peak_dense_tflops": peak,
        "nvswitch": nvswitch,
        "imex": imex,
    }


# EC2's GpuInfo name -> what EC2 does not say. PCI ids map to the board's own name.
# Peaks: dense (no sparsity) BF16 tensor TFLOP/s per GPU, FP16 where a GPU has no BF16 (nvidia.md
# section 11: NVIDIA datasheets as torchtitan cites them; A10G from a third party, T4g assumed equal
# to T4, B300 unconfirmed). None: not known, MFU is then not judged.
GPU_MODELS = {
    "V100": _gpu("volta", {"0x1db1": "V100-SXM2-16GB", "0x1db5": "V100-SXM2-32GB"}, 125.0),
    "T4": _gpu("turing", {"0x1eb8": "T4"}, 65.0),
    "T4g": _gpu("turing", {"0x1eb4": "T4G"}, 65.0),
    "A10G": _gpu("ampere", {"0x2237": "A10G"}, 70.0),
    "A100": _gpu("ampere", {"0x20b0": "A100-SXM4-40GB", "0x20b2": "A100-SXM4-80GB"}, 312.0, nvswitch="pci"),
    "L4": _gpu("ada", {"0x27b8": "L4"}, 121.0),
    "L40S": _gpu("ada", {"0x26b9": "L40S"}, 362.0),
    "H100": _gpu("hopper", {"0x2330": "H100-SXM5-80GB"}, 989.0, nvswitch="pci"),
    "H200": _gpu("hopper", {"0x2335": "H200-SXM-141GB"}, 989.0, nvswitch="pci"),
    "B200": _gpu("blackwell", {"0x2901": "B200", "0x2909": "B200"}, 2250.0, nvswitch="nvlsm"),
    "B300": _gpu("blackwell", {"0x3182": "B300-SXM6-AC"}, 2250.0, nvswitch="nvlsm"),
    # NVLink across nodes (UltraServers): IMEX; their switches are in the rack, not the host.
    "GB200": _gpu("blackwell", {"0x2941": "GB200"}, 2500.0, imex=True),
    "GB300": _gpu("blackwell", {"0x31c2": "GB300", "0x31c3": "GB300"}, None, imex=True),
    # g7 and g7e: EC2 names them; their PCI ids are not in the reference yet, so the bus reports them
    # by id and the model check is not judged.
    "RTX PRO 4500": _gpu("blackwell", {}, None),
    "RTX PRO Server 6000": _gpu("blackwell", {}, None),
}

# PCI device id -> (EC2 model, the board's name, architecture)
GPUS = {
    device: (model, name, spec["architecture"])
    for model, spec in GPU_MODELS.items()
    for device, name in spec["pci_ids"].items()
}

# EC2's NeuronInfo name -> its PCI device ids, as the Neuron driver's neuron_device.h defines them
# (2.30.2.0 adds Trainium3's 0x7564 and 0x7565, which pci.ids lists too, and drops Inferentia's, which
# 2.24 still had).
NEURON_MODELS = {
    "Inferentia": {"pci_ids": ("0x7064", "0x7065", "0x7066", "0x7067")},
    "Trainium": {"pci_ids": ("0x7164",)},
    "Inferentia2": {"pci_ids": ("0x7264",)},
    "Trainium2": {"pci_ids": ("0x7364",)},
    "Trainium3": {"pci_ids": ("0x7564", "0x7565")},
}
NEURON_DEVICES = {device: model for model, spec in NEURON_MODELS.items() for device in spec["pci_ids"]}

# EFA device ids (vendor 0x1d0f): pci.ids (2026.08.22) lists efa0 to efa4; the Linux and amzn-drivers
# efa drivers' tables hold efa0 to efa3, and efa4 was posted for them in 2026-07 (merge unconfirmed).
EFA_DEVICES = ("0xefa0", "0xefa1", "0xefa2", "0xefa3", "0xefa4")
# ENA, EBS NVMe and instance-store NVMe: Amazon devices that are neither EFA nor Neuron (pci.ids lists
# ec20, 8061 and cd01; the others are the ena and nvme drivers' ids, unconfirmed here).
OTHER_AMAZON_DEVICES = ("0x0ec2", "0x1ec2", "0xec20", "0xec21", "0x0061", "0x8061", "0xcd00", "0xcd01")

# Oldest to newest. Proprietary-only generations end at driver branch 580; open modules are required
# from Blackwell (and Grace) on.
ARCHITECTURES = ("maxwell", "pascal", "volta", "turing", "ampere", "ada", "hopper", "blackwell")
PROPRIETARY_ONLY = ("maxwell", "pascal", "volta")
OPEN_REQUIRED = ("blackwell",)
LAST_BRANCH = {"maxwell": 580, "pascal": 580, "volta": 580}
LAST_CUDA_MAJOR = {"maxwell": 12, "pascal": 12, "volta": 12}
MIN_CUDA = {"blackwell": (12, 8)}

GIB = 1 << 30
# Expected nccl-tests busbw (GB/s, out-of-place) at one large message size, by exact instance type,
# node count and collective: what benchmark_nccl judges a run against (benchmark_nccl_expected_extra
# adds the user's own, which override these). Sources: ../shared/reference/network.md section 7
# (public measurements; two-node figures overstate larger jobs, since tree/NVLS algorithms exceed NIC
# line rate at two nodes).
BUSBW = (
    {
        "instance_type": "p5.48xlarge",
        "nodes": 2,
        "collective": "all_reduce",
        "message_size": 16 * GIB,
        "busbw": 487,
        "source": "aws-samples/awsome-distributed-training micro-benchmarks/nccl-tests README (Slurm, 2 x p5)",
    },
    {
        "instance_type": "p4de.24xlarge",
        "nodes": 2,
        "collective": "all_reduce",
        "message_size": 2 * GIB,
        "busbw": 78.3,
        "source": "aws-samples/awsome-distributed-training micro-benchmarks/nccl-tests README (2 x p4de)",
    },
    {
        "instance_type": "p4d.24xlarge",
        "nodes": 1,
        "collective": "all_reduce",
        "message_size": 1 * GIB,
        "busbw": 230.8,
        "source": "NVIDIA/nccl issue 527 (user measurement, NCCL 2.9.9)",
    },
)


def expected(instance_type):
    """Everything the collection expects of an instance type: EC2's record joined with the hand-kept
    model data; None for a type the table does not hold (callers report it "not judged")."""
    record = INSTANCE_TYPES.get(instance_type or "")
    if record is None:
        return None
    gpu = GPU_MODELS.get(record["gpu_model"] or "", {})
    switch = gpu.get("nvswitch") if record["gpu_count"] >= BOARD_GPUS else None
    neuron = NEURON_MODELS.get(record["neuron_model"] or "", {})
    return {
        **record,
        "instance_type": instance_type,
        "gpu_known": bool(gpu) or not record["gpu_model"],
        "gpu_architecture": gpu.get("architecture"),
        "gpu_pci_ids": sorted(gpu.get("pci_ids", {})),
        "gpu_fractional": record["gpu_partition"] is not None and record["gpu_partition"] < 1,
        "nvswitch": switch is not None,
        "nvswitch_on_pci": switch == "pci",
        "nvlink_subnet_manager": switch == "nvlsm",
        "imex": bool(gpu.get("imex")),
        "peak_dense_tflops": gpu.get("peak_dense_tflops"),
        "neuron_pci_ids": sorted(neuron.get("pci_ids", ())),
        "busbw": [entry for entry in BUSBW if entry["instance_type"] == instance_type],
    }


def instance_family(instance_type):
    """p5.48xlarge -> p5; p6-b200.48xlarge -> p6-b200; None or '' -> None."""
    return instance_type.split(".", 1)[0] if instance_type else None


def module_flavour(architecture, wanted="auto"):
    """The kernel-module flavour for a GPU generation: 'open' or 'proprietary'.

    auto picks open wherever it is supported; an explicit choice is returned as asked (the preflight
    refuses an impossible one).
    """
    if wanted != "auto":
        return wanted
    return "proprietary" if architecture in PROPRIETARY_ONLY else "open"


def peak_dense_tflops(device_name):
    """The peak for a device as torch or nvidia-smi names it ("NVIDIA H100 80GB HBM3"), else None.

    Longer keys are tried first so that "GB200" is not read as "B200" and "L40S" not as "L4".
    """
    if not device_name:
        return None
    words = device_name.upper().replace("-", " ").split()
    for model in sorted(GPU_MODELS, key=len, reverse=True):
        if model.upper() in words and GPU_MODELS[model]["peak_dense_tflops"]:
            return 756.0 if model == "H100" and "PCIE" in words else GPU_MODELS[model]["peak_dense_tflops"]
    return None
