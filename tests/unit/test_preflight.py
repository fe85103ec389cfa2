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


def network_set(efa="1.42.0", sha="a" * 64, plugin="1.15.0", nccl="2.27.7-1", nccl_cuda="12.9", **gpu):
    """The GPU set above plus the network stack, as roles/versions/vars/main.yml builds it."""
    return version_set(**gpu) | {
        "efa": {"version": efa, "sha256": sha, "libfabric": "2.1.0amzn3.0", "aws_ofi_nccl": plugin},
        "aws_ofi_nccl": {"version": plugin, "install": "bundled"},
        "nccl": {"version": nccl, "cuda": nccl_cuda},
    }


def test_the_shipped_kind_of_network_set_is_accepted():
    assert version_conflicts(network_set(), HOPPER) == []
    assert version_conflicts(network_set(), BLACKWELL) == []


def test_an_efa_installer_without_a_checksum_is_refused():
    problems = version_conflicts(network_set(efa="1.51.0", sha="", plugin="1.22.0"), HOPPER)
    assert problems == [
        "EFA installer 1.51.0 has no sha256 in versions_efa.sha256: add the checksum AWS publishes for it "
        "(efa-verify.html); an installer that cannot be checked is never run."
    ]


def test_an_efa_version_must_be_exact():
    assert version_conflicts(network_set(efa="latest"), HOPPER) == [
        "EFA installer version 'latest' is not an exact version such as 1.42.0."
    ]


def test_the_bundled_plugin_must_be_the_releases():
    assert version_conflicts(network_set(efa="1.41.0", plugin="1.15.0"), HOPPER) == []  # row not in the changelog
    assert version_conflicts(network_set(efa="1.40.0", plugin="1.15.0"), HOPPER) == [
        "versions_efa.bundles names aws-ofi-nccl 1.15.0, but EFA installer 1.40.0 bundles 1.14.2 (EFA changelog)."
    ]


def test_installers_before_1_38_bundle_no_plugin():
    problems = version_conflicts(network_set(efa="1.36.0", plugin="1.13.2"), {})
    assert problems == [
        "EFA installer 1.36.0 bundles no aws-ofi-nccl (the first that does is 1.38.0): "
        "set versions_aws_ofi_nccl.install to source."
    ]
    source = network_set(efa="1.36.0") | {
        "aws_ofi_nccl": {"version": "1.21.1", "install": "source", "sha512": "f" * 128}
    }
    assert version_conflicts(source, {}) == []


def test_a_source_plugin_needs_an_exact_release_and_its_sha512():
    source = network_set() | {"aws_ofi_nccl": {"version": "1.21", "install": "source", "sha512": "abc"}}
    assert version_conflicts(source, {}) == [
        "aws-ofi-nccl version '1.21' is not an exact release such as 1.21.1.",
        "versions_aws_ofi_nccl.sha512 is not a sha512 (128 hex digits) of the source tarball.",
    ]
    odd = network_set() | {"aws_ofi_nccl": {"version": "1.21.1", "install": "pip"}}
    assert version_conflicts(odd, {}) == ["versions_aws_ofi_nccl.install is 'pip'; it is bundled or source."]


def test_nccl_must_be_an_exact_package_version():
    assert version_conflicts(network_set(nccl="2.27"), {}) == [
        "NCCL '2.27+cuda12.9' is not an exact package version such as 2.27.7-1+cuda12.9."
    ]


def test_nccl_built_for_another_cuda_major_than_the_default():
    problems = version_conflicts(network_set(nccl="2.28.9-1", nccl_cuda="13.0"), {})
    assert problems == [
        "NCCL 2.28.9-1 is built for CUDA 13.0, but /usr/local/cuda is CUDA 12.8: use a +cuda12.x build."
    ]


def test_nccl_built_for_a_cuda_the_driver_cannot_run():
    problems = version_conflicts(
        network_set(driver="570.172.08", cudas=("12.8.1",), nccl_cuda="12.9"), {"gpu_architecture": "ampere"}
    )
    assert problems == ["NCCL built for CUDA 12.9 needs driver 575.51.03 or newer; the driver is 570.172.08."]


def test_nccl_older_than_the_plugin_supports():
    problems = version_conflicts(network_set(nccl="2.16.5-1"), {})
    assert problems == ["NCCL 2.16.5-1 is older than 2.17.1, the oldest aws-ofi-nccl supports."]


def test_hopper_needs_a_recent_enough_stack():
    problems = version_conflicts(network_set(nccl="2.18.3-1"), HOPPER)
    assert problems == ["H100-SXM5-80GB nodes need NCCL 2.18.5 or newer; the version set has 2.18.3-1."]
    assert (
        version_conflicts(network_set(nccl="2.18.3-1"), VOLTA | {"gpu_model": "A100", "gpu_architecture": "ampere"})
        == []
    )


def test_blackwell_needs_plugin_1_15():
    problems = version_conflicts(network_set(efa="1.40.0", plugin="1.14.2"), BLACKWELL)
    assert problems == ["B200 nodes need aws-ofi-nccl 1.15.0 or newer; the version set has 1.14.2."]
