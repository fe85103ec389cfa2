"""Verify the GPU stack's real effects on the p5-like and the g5-like node (testinfra, via molecule)."""

import json

import pytest

DRIVER = "580.126.20"


@pytest.fixture
def shape(host):
    return host.backend.get_hostname().split("-", 1)[1]  # gpu-p5 -> p5


def version(host, package):
    result = host.run(f"dpkg-query -W -f='${{Status}} ${{Version}}' {package}")
    return result.stdout.split()[-1] if " ok installed " in result.stdout else None  # "hold ok installed" too


def held(host):
    return set(host.check_output("apt-mark showhold").split())


def test_repository_trusts_only_the_pinned_key(host):
    listing = host.file("/etc/apt/sources.list.d/cuda-debian12-x86_64.list").content_string
    assert "deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] http" in listing
    assert "/developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/ /" in listing
    keyring = host.file("/usr/share/keyrings/cuda-archive-keyring.gpg")
    assert keyring.is_file
    assert keyring.mode == 0o644
    assert "Pin: release l=NVIDIA CUDA" in host.file("/etc/apt/preferences.d/cuda-repository-pin-600").content_string


def test_driver_is_exactly_the_pinned_version_although_a_newer_branch_exists(host):
    assert version(host, "nvidia-open") == f"{DRIVER}-1"
    assert version(host, "nvidia-driver-580-open") == f"{DRIVER}-1"
    assert version(host, f"nvidia-driver-pinning-{DRIVER}") == f"{DRIVER}-1"
    assert version(host, "nvidia-driver-open") is None  # the 590 branch's name
    candidate = host.check_output("apt-cache policy nvidia-open")
    assert "590.48.01-1" in candidate  # the newer branch is offered, and was not taken


def test_open_modules_not_proprietary(host):
    assert version(host, "cuda-drivers") is None


def test_driver_packages_are_held(host):
    assert {"nvidia-open", f"nvidia-driver-pinning-{DRIVER}"} <= held(host)


def test_fabric_manager_only_with_nvswitches(host, shape):
    if shape == "p5":
        assert version(host, "nvidia-fabricmanager") == f"{DRIVER}-1"
        assert version(host, "libnvidia-nscq") == f"{DRIVER}-1"
        assert {"nvidia-fabricmanager", "libnvidia-nscq"} <= held(host)
        assert host.service("nvidia-fabricmanager").is_enabled
    else:
        assert version(host, "nvidia-fabricmanager") is None
        assert not host.file("/usr/lib/systemd/system/nvidia-fabricmanager.service").exists


def test_persistence_daemon_enabled(host):
    assert host.service("nvidia-persistenced").is_enabled


def test_nouveau_blacklisted(host):
    content = host.file("/etc/modprobe.d/blacklist-nouveau.conf").content_string
    assert "blacklist nouveau" in content
    assert "options nouveau modeset=0" in content


def test_toolkits_side_by_side_default_pinned(host):
    assert version(host, "cuda-toolkit-12-8") == "12.8.1-1"
    assert version(host, "cuda-toolkit-13-0") == "13.0.2-1"
    assert {"cuda-toolkit-12-8", "cuda-toolkit-13-0"} <= held(host)
    # 13.0 registered the higher priority; the version set's default wins
    assert host.file("/usr/local/cuda").linked_to == "/usr/local/cuda-12.8"
    assert host.file("/usr/local/cuda-12").linked_to == "/usr/local/cuda-12.8"
    assert version(host, "cuda-compat-12-8") is None


def test_login_shell_gets_the_default_toolkit(host):
    out = host.check_output("bash -lc 'nvcc --version; echo CUDA_HOME=$CUDA_HOME'")
    assert "release 12.8, V12.8.93" in out
    assert "CUDA_HOME=/usr/local/cuda" in out


CONTAINER_TOOLKIT = [
    "nvidia-container-toolkit",
    "nvidia-container-toolkit-base",
    "libnvidia-container-tools",
    "libnvidia-container1",
]


@pytest.mark.parametrize("package", CONTAINER_TOOLKIT)
def test_container_toolkit_pinned_and_held(host, package):
    assert version(host, package) == "1.20.0-1"  # 1.20.1-1 is offered too
    assert package in held(host)


def test_docker_gets_the_nvidia_runtime_and_keeps_its_settings(host, shape):
    config = host.file("/etc/docker/daemon.json")
    if shape == "g5":  # no docker on this node: nothing written
        assert not config.exists
        return
    daemon = json.loads(config.content_string)
    assert daemon["runtimes"]["nvidia"] == {"path": "nvidia-container-runtime", "args": []}
    assert daemon["log-driver"] == "journald"
    assert "default-runtime" not in daemon


def test_containerd_loads_the_nvidia_runtime(host, shape):
    if shape == "g5":
        assert not host.file("/etc/containerd/conf.d/99-nvidia.toml").exists
        return
    # containerd itself merges config.toml and its imports
    dump = host.check_output("containerd config dump")
    assert 'BinaryName = "/usr/bin/nvidia-container-runtime"' in dump
    assert "runtimes.nvidia" in dump


def test_dcgm_for_the_drivers_cuda_major(host):
    assert version(host, "datacenter-gpu-manager-4-core") == "1:4.5.3-1"
    assert version(host, "datacenter-gpu-manager-4-cuda13") == "1:4.5.3-1"
    assert version(host, "datacenter-gpu-manager-4-cuda12") is None
    assert {"datacenter-gpu-manager-4-core", "datacenter-gpu-manager-4-cuda13"} <= held(host)
    assert host.service("nvidia-dcgm").is_enabled


def test_modules_load_at_boot(host):
    lines = host.file("/etc/modules-load.d/nvidia.conf").content_string.splitlines()
    assert [line for line in lines if not line.startswith("#")] == ["nvidia", "nvidia_uvm"]


def test_the_dcgm_exporter_runs_its_image_by_digest_where_docker_is(host, shape):
    unit = host.file("/etc/systemd/system/dcgm-exporter.service")
    if shape != "p5":  # the g5-like node has no docker and keeps the default (no exporter)
        assert not unit.exists
        return
    text = unit.content_string
    image = (
        "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless"
        "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )
    assert f"--gpus all --cap-add SYS_ADMIN --publish 9400:9400 {image}" in text
    assert "Requires=docker.service" in text
    assert host.service("dcgm-exporter").is_enabled
    assert not host.service("dcgm-exporter").is_running  # no GPU in a container
