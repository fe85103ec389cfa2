"""The preflight refuses incompatible version sets with a sentence naming the conflict."""

import pytest
from ansible_collections.awsome.ml_cluster.plugins.filter.preflight import version_conflicts

HOPPER = {"gpu_model": "H100-SXM5-80GB", "gpu_architecture": "hopper"}
BLACKWELL = {"gpu_model": "B200", "gpu_architecture": "blackwell"}
VOLTA = {"gpu_model": "V100-SXM2-32GB", "gpu_architecture": "volta"}


def version_set(driver="580.126.20", cudas=("12.8.1", "13.0.2"), default="12.8", flavour="auto", fabric=None):
    return {
        "nvidia_driver": {"version": driver, "flavour": flavour},
        "cuda_toolkits": [{"version": v} for v in cudas],
        "cuda_default": default,
        "fabric_manager": fabric or driver,
    }


def test_the_shipped_kind_of_set_is_accepted():
    assert version_conflicts(version_set(), HOPPER) == []
    assert version_conflicts(version_set(), BLACKWELL) == []
    assert version_conflicts(version_set(), {}) == []


def test_cuda_newer_than_the_driver():
    problems = version_conflicts(version_set(driver="570.172.08", cudas=("12.8.1", "13.0.2")), HOPPER)
    assert problems == ["CUDA 13.0.2 needs driver 580.95.05 or newer; the driver is 570.172.08."]


def test_driver_versions_compare_numerically():
    # 580.95.05 < 580.126.20 although "95" > "126" as text
    assert version_conflicts(version_set(driver="580.95.05", cudas=("13.0.2",), default="13.0"), HOPPER) == []
    assert version_conflicts(version_set(driver="580.82.07", cudas=("13.0.2",), default="13.0"), HOPPER)


def test_unknown_cuda_version():
    problems = version_conflicts(version_set(cudas=("12.7.0",), default="12.7"), HOPPER)
    assert problems[0].startswith("CUDA 12.7.0 is not in NVIDIA's minimum-driver table")


def test_default_must_be_installed():
    assert version_conflicts(version_set(default="12.6"), HOPPER) == [
        "cuda_default 12.6 is not among the toolkits installed (12.8, 13.0)."
    ]


def test_fabric_manager_must_match_the_driver():
    assert version_conflicts(version_set(fabric="580.105.08"), HOPPER) == [
        "fabric manager 580.105.08 differs from the driver 580.126.20; they must be the same version."
    ]


def test_proprietary_modules_on_blackwell():
    assert version_conflicts(version_set(flavour="proprietary"), BLACKWELL) == [
        "B200 (blackwell) needs the open kernel modules; flavour is proprietary."
    ]


def test_open_modules_on_volta_and_its_limits():
    problems = version_conflicts(version_set(driver="595.71.05", flavour="open"), VOLTA)
    assert "V100-SXM2-32GB (volta) has no open kernel module support; use flavour proprietary." in problems
    assert "volta GPUs are supported up to driver branch 580; the driver is 595.71.05." in problems
    assert "CUDA 13.0.2 no longer builds for volta GPUs (last: CUDA 12)." in problems


def test_auto_flavour_on_volta_is_proprietary():
    assert version_conflicts(version_set(cudas=("12.8.1",)), VOLTA) == []


def test_blackwell_needs_cuda_12_8():
    problems = version_conflicts(version_set(cudas=("12.6.3", "12.8.1")), BLACKWELL)
    assert problems == ["CUDA 12.6.3 cannot target blackwell GPUs (needs 12.8 or newer)."]


@pytest.mark.parametrize("arch", ["turing", "ampere", "ada", "hopper"])
def test_open_is_the_default_from_turing(arch):
    node = {"gpu_model": "x", "gpu_architecture": arch}
    assert version_conflicts(version_set(flavour="open"), node) == []
    assert version_conflicts(version_set(flavour="proprietary"), node) == []


def test_a_branch_is_not_an_exact_version():
    assert version_conflicts(version_set(driver="580"), HOPPER) == [
        "driver version '580' is not an exact version such as 580.126.20."
    ]
    assert version_conflicts(version_set(cudas=("12.8",)), HOPPER) == [
        "CUDA version '12.8' is not major.minor.patch, such as 12.8.1."
    ]
