"""What the collection knows of accelerator hardware: PCI IDs, GPU generations, AWS instance shapes.

Plain data and small pure functions, shared by the node facts module and the preflight filter.
Sources: ../shared/reference/nvidia.md sections 4, 9 and 10; neuron_containers.md section 1.4; the
Linux efa driver's PCI table (efa_main.c) for the EFA device IDs.
"""

from __future__ import annotations

NVIDIA = "0x10de"
AMAZON = "0x1d0f"

# sysfs `class` values: 3D controller (p-series) and VGA (some g-series); NVSwitch is a bridge (0x0680).
GPU_CLASSES = ("0x0302", "0x0300")
NVSWITCH_CLASS = "0x0680"

# device id -> (model, architecture)
GPUS = {
    "0x1db1": ("V100-SXM2-16GB", "volta"),
    "0x1db5": ("V100-SXM2-32GB", "volta"),
    "0x1eb8": ("T4", "turing"),
    "0x1eb4": ("T4G", "turing"),
    "0x2237": ("A10G", "ampere"),
    "0x20b0": ("A100-SXM4-40GB", "ampere"),
    "0x20b2": ("A100-SXM4-80GB", "ampere"),
    "0x27b8": ("L4", "ada"),
    "0x26b9": ("L40S", "ada"),
    "0x2330": ("H100-SXM5-80GB", "hopper"),
    "0x2335": ("H200-SXM-141GB", "hopper"),
    "0x2901": ("B200", "blackwell"),
    "0x2909": ("B200", "blackwell"),
    "0x2941": ("GB200", "blackwell"),
    "0x3182": ("B300", "blackwell"),
    "0x31c2": ("GB300", "blackwell"),
    "0x31c3": ("GB300", "blackwell"),
}
NVSWITCHES = {"0x1af1": "NVSwitch gen 2", "0x22a3": "NVSwitch gen 3"}
EFA_DEVICES = ("0xefa0", "0xefa1", "0xefa2", "0xefa3")
# device id -> Neuron device model
NEURON_DEVICES = {
    "0x7064": "inferentia",
    "0x7065": "inferentia",
    "0x7066": "inferentia",
    "0x7067": "inferentia",
    "0x7164": "trainium",
    "0x7264": "inferentia2",
    "0x7364": "trainium2",
}

# Oldest to newest. Proprietary-only generations end at driver branch 580; open modules are required
# from Blackwell (and Grace) on.
ARCHITECTURES = ("maxwell", "pascal", "volta", "turing", "ampere", "ada", "hopper", "blackwell")
PROPRIETARY_ONLY = ("maxwell", "pascal", "volta")
OPEN_REQUIRED = ("blackwell",)
LAST_BRANCH = {"maxwell": 580, "pascal": 580, "volta": 580}
LAST_CUDA_MAJOR = {"maxwell": 12, "pascal": 12, "volta": 12}
MIN_CUDA = {"blackwell": (12, 8)}


def _shape(gpu, arch, gpus, **hardware):
    shape = {"nvswitch": False, "nvlsm": False, "imex": False, "efa": 0, "neuron": None, "cpu": "x86_64"}
    shape.update(hardware)
    return {
        "gpu_model": gpu,
        "gpu_architecture": arch,
        "gpu_count": gpus,
        "nvswitch": shape["nvswitch"],
        "nvlink_subnet_manager": shape["nvlsm"],
        "imex": shape["imex"],
        "efa_count": shape["efa"],
        "neuron_model": shape["neuron"],
        "cpu_architecture": shape["cpu"],
    }


# Instance family -> the hardware of its largest size (what image builds target).
INSTANCE_FAMILIES = {
    "p3dn": _shape("V100-SXM2-32GB", "volta", 8, efa=1),
    "p4d": _shape("A100-SXM4-40GB", "ampere", 8, nvswitch=True, efa=4),
    "p4de": _shape("A100-SXM4-80GB", "ampere", 8, nvswitch=True, efa=4),
    "p5": _shape("H100-SXM5-80GB", "hopper", 8, nvswitch=True, efa=32),
    "p5e": _shape("H200-SXM-141GB", "hopper", 8, nvswitch=True, efa=32),
    "p5en": _shape("H200-SXM-141GB", "hopper", 8, nvswitch=True, efa=16),
    # Gen-4 NVSwitches are not host PCI devices: NVLink needs FM and the NVLink subnet manager.
    "p6-b200": _shape("B200", "blackwell", 8, nvswitch=True, nvlsm=True, efa=8),
    "p6-b300": _shape("B300", "blackwell", 8, nvswitch=True, nvlsm=True, efa=16),
    "p6e-gb200": _shape("GB200", "blackwell", 4, imex=True, efa=4, cpu="aarch64"),
    "g4dn": _shape("T4", "turing", 8, efa=1),
    "g5": _shape("A10G", "ampere", 8, efa=1),
    "g5g": _shape("T4G", "turing", 2, cpu="aarch64"),
    "g6": _shape("L4", "ada", 8, efa=1),
    "g6e": _shape("L40S", "ada", 8, efa=4),
    "trn1": _shape(None, None, 0, efa=8, neuron="trainium"),
    "trn1n": _shape(None, None, 0, efa=16, neuron="trainium"),
    "trn2": _shape(None, None, 0, efa=16, neuron="trainium2"),
    "inf2": _shape(None, None, 0, neuron="inferentia2"),
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


# Dense (no sparsity) BF16 tensor TFLOP/s per GPU, the MFU denominator; FP16 where a GPU has no BF16.
# Source: ../shared/reference/nvidia.md section 11 (NVIDIA datasheets as torchtitan cites them; A10G
# from a third party, T4G assumed equal to T4 and B300 unconfirmed there).
PEAK_DENSE_TFLOPS = {
    "V100": 125.0,
    "T4": 65.0,
    "A10G": 70.0,
    "A100": 312.0,
    "L4": 121.0,
    "L40S": 362.0,
    "H100": 989.0,  # SXM; the PCIe card is 756
    "H200": 989.0,
    "B200": 2250.0,
    "GB200": 2500.0,
    "B300": 2250.0,
}


def peak_dense_tflops(device_name):
    """The peak for a device as torch or nvidia-smi names it ("NVIDIA H100 80GB HBM3"), else None.

    Longer keys are tried first so that "GB200" is not read as "B200" and "L40S" not as "L4".
    """
    if not device_name:
        return None
    words = device_name.upper().replace("-", " ").split()
    for key in sorted(PEAK_DENSE_TFLOPS, key=len, reverse=True):
        if key in words:
            return 756.0 if key == "H100" and "PCIE" in words else PEAK_DENSE_TFLOPS[key]
    return None
