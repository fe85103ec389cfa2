"""Which versions go together: NVIDIA's CUDA minimum-driver table and version arithmetic.

Source: CUDA Toolkit release notes, Table 3 (13.2 U2 edition), as ../shared/reference/nvidia.md
section 6 gives it. 13.3.0's driver comes from a runfile name (third-party): marked so.
"""

from __future__ import annotations

# CUDA toolkit version -> the oldest driver that runs it without cuda-compat
CUDA_MIN_DRIVER = {
    "11.8.0": "520.61.05",
    "12.0.0": "525.60.13",
    "12.0.1": "525.85.12",
    "12.1.0": "530.30.02",
    "12.1.1": "530.30.02",
    "12.2.0": "535.54.03",
    "12.2.1": "535.86.09",
    "12.2.2": "535.104.05",
    "12.3.0": "545.23.06",
    "12.3.1": "545.23.08",
    "12.4.0": "550.54.14",
    "12.4.1": "550.54.15",
    "12.5.0": "555.42.02",
    "12.5.1": "555.42.06",
    "12.6.0": "560.28.03",
    "12.6.1": "560.35.03",
    "12.6.2": "560.35.03",
    "12.6.3": "560.35.05",
    "12.8.0": "570.26",
    "12.8.1": "570.124.06",
    "12.9.0": "575.51.03",
    "12.9.1": "575.57.08",
    "13.0.0": "580.65.06",
    "13.0.1": "580.82.07",
    "13.0.2": "580.95.05",
    "13.1.0": "590.44.01",
    "13.1.1": "590.48.01",
    "13.2.0": "595.45.04",
    "13.2.1": "595.58.03",
    "13.2.2": "595.71.05",
    "13.3.0": "610.43.02",  # third-party source: the runfile's name
}


def parse(version):
    """'580.126.20' -> (580, 126, 20); tolerates a packaging suffix ('12.8.1-1')."""
    return tuple(int(part) for part in str(version).split("-", 1)[0].split("."))


def branch(driver_version):
    """The driver branch: 580 for 580.126.20."""
    return parse(driver_version)[0]


def major_minor(cuda_version):
    """'12.8.1' -> '12.8'."""
    major, minor = parse(cuda_version)[:2]
    return f"{major}.{minor}"


# The network stack's matrix (../shared/reference/network.md sections 1.2, 2.1 and 8).
# EFA installer -> the aws-ofi-nccl it bundles, for the releases whose changelog row names it (rows
# that carry a value over from an earlier release, or come from a secondary source, are left out).
EFA_BUNDLED_OFI = {
    "1.38.0": "1.13.2",
    "1.39.0": "1.14.1",
    "1.40.0": "1.14.2",
    "1.42.0": "1.15.0",
    "1.43.0": "1.16.1",
    "1.43.2": "1.16.3",
    "1.44.0": "1.17.1",
    "1.45.0": "1.17.2",
    "1.47.0": "1.18.0",
    "1.50.0": "1.21.1",
    "1.51.0": "1.22.0",
}
EFA_FIRST_WITH_OFI = "1.38.0"
# Every aws-ofi-nccl release supports NCCL back to 2.17.1 (its release notes).
OFI_OLDEST_NCCL = "2.17.1"
# What H100/H200 nodes (p5) need of the stack: NVLink SHARP and the p5 fixes (EFA cheatsheet).
HOPPER_FLOOR = {"EFA installer": "1.29.0", "NCCL": "2.18.5", "aws-ofi-nccl": "1.7.3"}
# P6-B200 support arrived in aws-ofi-nccl 1.15.0 (release notes).
BLACKWELL_FLOOR = {"aws-ofi-nccl": "1.15.0"}


def older(version, than):
    """True when version sorts before than, numerically ('2.9' < '2.18')."""
    return parse(version) < parse(than)
