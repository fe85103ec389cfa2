"""rpm_packages, rpm_specs and rpm_stale_locks: what dnf_locked installs, and which locks must go before a version
changes (roles/versions/tasks/dnf_locked.yml)."""

import pytest
from ansible_collections.awsome.ml_cluster.plugins.filter.rpm import package_list, specs, stale_locks

DRIVER = [
    {"name": "nvidia-driver-cuda", "version": "580.126.20"},
    {"name": "nvidia-fabricmanager", "version": "580.126.20"},
    {"name": "nvidia-driver-cuda-libs", "version": "580.126.20", "install": False},
]
NCCL = [{"name": "libnccl", "version": "2.27.7-1+cuda12.9"}, {"name": "libnccl-devel", "version": "2.27.7-1+cuda12.9"}]


def test_specs_are_name_version_and_leave_out_the_names_only_locked():
    assert specs(DRIVER) == ["nvidia-driver-cuda-580.126.20", "nvidia-fabricmanager-580.126.20"]
    assert specs(NCCL) == ["libnccl-2.27.7-1+cuda12.9", "libnccl-devel-2.27.7-1+cuda12.9"]


def test_nothing_is_stale_on_a_node_at_the_wanted_versions_or_without_the_packages():
    lines = [
        "nvidia-driver-cuda 3:580.126.20-1.amzn2023",
        "nvidia-fabricmanager 0:580.126.20-1",
        "package nvidia-driver-cuda-libs is not installed",
    ]
    assert stale_locks(lines, DRIVER) == []
    assert stale_locks([], DRIVER) == []


def test_the_locks_of_another_version_are_the_plugins_exact_entries():
    lines = [
        "nvidia-driver-cuda 3:590.48.01-1.amzn2023",
        "nvidia-driver-cuda-libs 3:590.48.01-1.amzn2023",
        "nvidia-fabricmanager 0:580.126.20-1",
    ]
    assert stale_locks(lines, DRIVER) == [
        "nvidia-driver-cuda-3:590.48.01-1.amzn2023.*",
        "nvidia-driver-cuda-libs-3:590.48.01-1.amzn2023.*",
    ]


def test_a_version_release_pin_compares_the_release_too():
    lines = ["libnccl 0:2.27.7-1+cuda12.9", "libnccl-devel 0:2.27.7-1+cuda13.0"]  # same version, other CUDA
    assert stale_locks(lines, NCCL) == ["libnccl-devel-0:2.27.7-1+cuda13.0.*"]


def test_a_longer_version_with_the_wanted_prefix_is_another_version():
    assert stale_locks(["nvidia-driver-cuda 3:580.126.200-1"], DRIVER) == ["nvidia-driver-cuda-3:580.126.200-1.*"]


def test_names_outside_the_packages_are_ignored():
    assert stale_locks(["kernel 0:6.1.0-1.amzn2023"], DRIVER) == []


def test_an_epoch_version_release_pin_compares_all_three():
    dcgm = [{"name": "datacenter-gpu-manager-4-core", "version": "1:4.5.3-1"}]
    assert stale_locks(["datacenter-gpu-manager-4-core 1:4.5.3-1"], dcgm) == []
    newer = ["datacenter-gpu-manager-4-core 1:4.6.0-1"]
    assert stale_locks(newer, dcgm) == ["datacenter-gpu-manager-4-core-1:4.6.0-1.*"]


def test_a_downloaded_file_is_installed_only_where_rpm_does_not_show_its_version():
    enroot = [
        {"name": "enroot", "version": "4.2.1-1.el8", "file": "/var/cache/e/enroot-4.2.1-1.el8.x86_64.rpm"},
        {"name": "enroot+caps", "version": "4.2.1-1.el8", "file": "/var/cache/e/enroot+caps-4.2.1-1.el8.x86_64.rpm"},
    ]
    assert specs(enroot) == [p["file"] for p in enroot]
    upgraded_halfway = ["enroot 0:4.2.1-1.el8", "enroot+caps 0:4.1.0-1.el8"]
    assert specs(enroot, upgraded_halfway) == ["enroot-4.2.1-1.el8", enroot[1]["file"]]


def test_a_globbed_version_takes_any_build_hash_of_its_release_only():
    neuron = [{"name": "aws-neuronx-runtime-lib", "version": "2.34.10.0*"}]
    assert stale_locks(["aws-neuronx-runtime-lib 0:2.34.10.0_3dcef56f0-1"], neuron) == []
    newer = ["aws-neuronx-runtime-lib 0:2.35.1.0_9f8e7d6c5-1"]
    assert stale_locks(newer, neuron) == ["aws-neuronx-runtime-lib-0:2.35.1.0_9f8e7d6c5-1.*"]
    assert specs(neuron) == ["aws-neuronx-runtime-lib-2.34.10.0*"]


def test_packages_take_one_version_for_all_names_or_one_per_name():
    assert package_list(["libnccl", "libnccl-devel"], "2.27.7-1+cuda12.9") == NCCL
    assert package_list(["cuda-toolkit-12-8", "cuda-toolkit-13-0"], ["12.8.1", "13.0.2"]) == [
        {"name": "cuda-toolkit-12-8", "version": "12.8.1"},
        {"name": "cuda-toolkit-13-0", "version": "13.0.2"},
    ]


def test_packages_only_locked_and_packages_from_files():
    assert package_list(["nvidia-driver-cuda-libs"], "580.126.20", install=False) == DRIVER[2:]
    assert package_list(["enroot"], "4.1.2-1.el8", files=["/var/cache/enroot-4.1.2-1.el8.x86_64.rpm"]) == [
        {"name": "enroot", "version": "4.1.2-1.el8", "file": "/var/cache/enroot-4.1.2-1.el8.x86_64.rpm"}
    ]


def test_packages_refuse_versions_or_files_that_do_not_pair_with_the_names():
    with pytest.raises(ValueError, match="2 names for 1 versions"):
        package_list(["cuda-toolkit-12-8", "cuda-toolkit-13-0"], ["12.8.1"])
    with pytest.raises(ValueError, match="and 2 files"):
        package_list(["enroot"], "4.1.2-1.el8", files=["a.rpm", "b.rpm"])


def test_the_locks_of_a_replaced_package_go_whatever_its_version():
    lines = ["kmod-nvidia-latest-dkms 3:590.48.01-1.amzn2023", "nvidia-driver-cuda 3:590.48.01-1.amzn2023"]
    open_flavour = [{"name": "kmod-nvidia-open-dkms", "version": "580.126.20"}, *DRIVER]
    assert stale_locks(lines, open_flavour, ["kmod-nvidia-latest-dkms"]) == [
        "kmod-nvidia-latest-dkms-3:590.48.01-1.amzn2023.*",
        "nvidia-driver-cuda-3:590.48.01-1.amzn2023.*",
    ]
    assert (
        stale_locks(["package kmod-nvidia-latest-dkms is not installed"], open_flavour, ["kmod-nvidia-latest-dkms"])
        == []
    )
