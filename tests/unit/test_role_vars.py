"""The roles' vars render to NVIDIA's real names and URLs for every OS and architecture they support
(reference/nvidia.md §2, §3.1, §5, §6), with the version set's defaults."""

from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[2]


def trusted(value):
    """YAML data with every string marked as a template, as Ansible marks role files."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value


def role_vars(*files, **extra):
    variables = {}
    for name in files:
        variables.update(yaml.safe_load((ROOT / "roles" / name).read_text()) or {})
    variables.update(extra)
    return Templar(loader=DataLoader(), variables=trusted(variables))


def facts(distribution, version, family, arch="x86_64"):
    return {
        "distribution": distribution,
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0],
        "os_family": family,
        "architecture": arch,
        "kernel": "6.1.0-28-cloud-amd64",
    }


BASE = "https://developer.download.nvidia.com/compute/cuda/repos"


@pytest.mark.parametrize(
    ("os_facts", "url", "key_file", "fingerprint"),
    [
        (
            facts("Ubuntu", "22.04", "Debian"),
            f"{BASE}/ubuntu2204/x86_64",
            "3bf863cc.pub",
            "EB693B3035CD5710E231E123A4B469963BF863CC",
        ),
        (
            facts("Ubuntu", "24.04", "Debian", "aarch64"),
            f"{BASE}/ubuntu2404/sbsa",
            "3bf863cc.pub",
            "EB693B3035CD5710E231E123A4B469963BF863CC",
        ),
        (
            facts("Debian", "12.8", "Debian"),
            f"{BASE}/debian12/x86_64",
            "3bf863cc.pub",
            "EB693B3035CD5710E231E123A4B469963BF863CC",
        ),
        (
            facts("Amazon", "2023", "RedHat"),
            f"{BASE}/amzn2023/x86_64",
            "D42D0685.pub",
            "610C7B14E068A878070DA4E99CD0A493D42D0685",
        ),
        (
            facts("Amazon", "2023", "RedHat", "aarch64"),
            f"{BASE}/amzn2023/sbsa",
            "D42D0685.pub",
            "610C7B14E068A878070DA4E99CD0A493D42D0685",
        ),
        (
            facts("RedHat", "9.5", "RedHat"),
            f"{BASE}/rhel9/x86_64",
            "D42D0685.pub",
            "610C7B14E068A878070DA4E99CD0A493D42D0685",
        ),
    ],
    ids=["ubuntu2204", "ubuntu2404-sbsa", "debian12", "amzn2023", "amzn2023-sbsa", "rhel9"],
)
def test_cuda_repository_urls_and_keys(os_facts, url, key_file, fingerprint):
    templar = role_vars("versions/defaults/main.yml", "cuda_repository/vars/main.yml", ansible_facts=os_facts)
    assert templar.template(trust_as_template("{{ cuda_repository_url }}")) == url
    key = templar.template(trust_as_template("{{ _cuda_repository_key }}"))
    assert (key["file"], key["fingerprint"]) == (key_file, fingerprint)


def test_mirror_base_replaces_the_scheme_and_host_prefix():
    templar = role_vars(
        "versions/defaults/main.yml",
        "cuda_repository/vars/main.yml",
        ansible_facts=facts("Debian", "12", "Debian"),
        versions_mirror_base="http://mirror.internal:8080/",
    )
    assert templar.template(trust_as_template("{{ cuda_repository_url }}")) == (
        "http://mirror.internal:8080/developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64"
    )


def driver_vars(version, flavour="open", nvswitch=True):
    return role_vars(
        "nvidia_driver/vars/main.yml",
        "nvidia_driver/vars/Debian.yml",
        versions_nvidia_driver={"version": version, "flavour": flavour},
        versions_nvidia_module_flavour=flavour,
        ansible_facts={
            "ml_node": {"nvswitch": nvswitch, "source": "pci", "gpu_count": 8, "container": False},
            "kernel": "6.1.0-28-cloud-amd64",
        },
    )


@pytest.mark.parametrize(
    ("version", "flavour", "packages"),
    [
        ("580.126.20", "open", ["nvidia-open", "nvidia-fabricmanager", "libnvidia-nscq"]),
        ("580.126.20", "proprietary", ["cuda-drivers", "nvidia-fabricmanager", "libnvidia-nscq"]),
        ("595.71.05", "open", ["nvidia-open", "nvidia-fabricmanager", "libnvidia-nscq"]),
        # before 580 fabric manager and NSCQ carried the branch in their names
        ("570.172.08", "open", ["nvidia-open", "nvidia-fabricmanager-570", "libnvidia-nscq-570"]),
    ],
)
def test_driver_package_names_per_branch(version, flavour, packages):
    templar = driver_vars(version, flavour)
    assert templar.template(trust_as_template("{{ _nvidia_driver_packages }}")) == packages
    assert templar.template(trust_as_template("{{ _nvidia_driver_pinning_package }}")) == (
        f"nvidia-driver-pinning-{version}"
    )


def test_no_fabric_manager_without_nvswitches():
    templar = driver_vars("580.126.20", nvswitch=False)
    assert templar.template(trust_as_template("{{ _nvidia_driver_packages }}")) == ["nvidia-open"]


def test_cuda_toolkit_package_specs():
    templar = role_vars("versions/defaults/main.yml", "cuda_toolkit/vars/main.yml")
    assert templar.template(trust_as_template("{{ _cuda_toolkit_specs }}")) == [
        "cuda-toolkit-12-8=12.8.1-1",
        "cuda-toolkit-13-0=13.0.2-1",
    ]
    assert templar.template(trust_as_template("{{ _cuda_toolkit_compat }}")) == ["cuda-compat-12-8", "cuda-compat-13-0"]


@pytest.mark.parametrize(
    ("gpus", "cuda_default", "variant", "build"),
    [
        (0, "12.8", "cpu", "cpu-cp311-x86_64"),
        (8, "12.8", "cu126", "cu126-cp311-x86_64"),  # torch 2.13 has no cu128 build
        (8, "13.0", "cu130", "cu130-cp311-x86_64"),
        (8, "11.8", "no-cuda-11-build", "no-cuda-11-build-cp311-x86_64"),
    ],
)
def test_pytorch_build_follows_the_gpus_and_the_default_cuda(gpus, cuda_default, variant, build):
    node = {
        **facts("Debian", "12", "Debian"),
        "python": {"version": {"major": 3, "minor": 11}},
        "ml_node": {"gpu_count": gpus},
    }
    templar = role_vars(
        "versions/defaults/main.yml",
        "pytorch/defaults/main.yml",
        "pytorch/vars/main.yml",
        ansible_facts=node,
        versions_cuda_default=cuda_default,
    )
    assert templar.template(trust_as_template("{{ _pytorch_variant }}")) == variant
    assert templar.template(trust_as_template("{{ _pytorch_build }}")) == build
    lock = templar.template(trust_as_template("{{ _pytorch_lock }}"))
    assert bool(lock) == (variant == "cpu")  # only the CPU build is locked so far


def test_pytorch_index_derives_from_the_mirror_base():
    node = {
        **facts("Debian", "12", "Debian"),
        "python": {"version": {"major": 3, "minor": 11}},
        "ml_node": {"gpu_count": 0},
    }
    templar = role_vars(
        "versions/defaults/main.yml",
        "pytorch/defaults/main.yml",
        "pytorch/vars/main.yml",
        ansible_facts=node,
        versions_mirror_base="http://172.17.0.1:8089/",
    )
    args = templar.template(trust_as_template("{{ _pytorch_pip_args }}"))
    assert "--index-url http://172.17.0.1:8089/download.pytorch.org/whl/cpu" in args
    assert "--trusted-host 172.17.0.1" in args and "--require-hashes" in args
    public = role_vars(
        "versions/defaults/main.yml", "pytorch/defaults/main.yml", "pytorch/vars/main.yml", ansible_facts=node
    )
    assert "--trusted-host" not in public.template(trust_as_template("{{ _pytorch_pip_args }}"))
