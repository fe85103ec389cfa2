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


def driver_vars(version, flavour="open", *, family="Debian", imex_nodes=(), **node):
    """The driver role's vars on an 8-GPU node with NVSwitches; node= overrides its ml_node facts."""
    ml_node = {"nvswitch": True, "nvlink_subnet_manager": False, "imex": False, "source": "pci", "gpu_count": 8}
    return role_vars(
        "nvidia_driver/vars/main.yml",
        f"nvidia_driver/vars/{family}.yml",
        "nvidia_driver/defaults/main.yml",
        versions_nvidia_driver={"version": version, "flavour": flavour},
        versions_nvidia_module_flavour=flavour,
        nvidia_driver_imex_nodes=list(imex_nodes),
        ansible_facts={
            "ml_node": {**ml_node, "container": False, **node},
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


@pytest.mark.parametrize(
    ("version", "flavour", "packages"),
    [
        (
            "580.126.20",
            "open",
            [
                "kmod-nvidia-open-dkms",
                "nvidia-driver-cuda",
                "nvidia-persistenced",
                "nvidia-fabricmanager",
                "libnvidia-nscq",
            ],
        ),
        (
            "595.71.05",
            "proprietary",
            [
                "kmod-nvidia-latest-dkms",
                "nvidia-driver-cuda",
                "nvidia-persistenced",
                "nvidia-fabricmanager",
                "libnvidia-nscq",
            ],
        ),
        # before 580: fabric manager's RPM was nvidia-fabric-manager, NSCQ carried the branch
        (
            "570.172.08",
            "open",
            [
                "kmod-nvidia-open-dkms",
                "nvidia-driver-cuda",
                "nvidia-persistenced",
                "nvidia-fabric-manager",
                "libnvidia-nscq-570",
            ],
        ),
    ],
)
def test_driver_rpm_names_per_branch(version, flavour, packages):
    templar = driver_vars(version, flavour, family="RedHat")
    assert render(templar, "_nvidia_driver_packages") == packages


def test_driver_rpms_on_an_nvlink5_imex_node_and_the_kernel_headers_by_provide():
    templar = driver_vars("580.126.20", family="RedHat", nvlink_subnet_manager=True, imex=True)
    assert render(templar, "_nvidia_driver_packages")[-3:] == ["nvlink5-580", "libnvsdm", "nvidia-imex"]
    # whatever the kernel's package is called (kernel6.12-devel on Amazon Linux 2023), its provide names it
    templar = driver_vars("580.126.20", family="RedHat", container=False)
    kernels = [{"path": "/boot/vmlinuz-6.12.40-63.114.amzn2023.x86_64"}]
    templar.available_variables = {
        **templar.available_variables,
        "_nvidia_driver_kernels_before": {"files": kernels},
        "ansible_facts": {**templar.available_variables["ansible_facts"], "kernel": "6.12.40-63.114.amzn2023.x86_64"},
    }
    assert render(templar, "_nvidia_driver_headers") == ["kernel-devel-uname-r = 6.12.40-63.114.amzn2023.x86_64"]


def test_driver_rpms_for_dnf_locked_lock_the_exact_dependencies_without_installing_them():
    rpms = render(driver_vars("580.126.20", family="RedHat"), "_nvidia_driver_rpms")
    assert {"name": "nvidia-driver-cuda", "version": "580.126.20"} in rpms
    assert {"name": "nvidia-fabricmanager", "version": "580.126.20"} in rpms
    assert {"name": "nvidia-driver-cuda-libs", "version": "580.126.20", "install": False} in rpms
    assert {"name": "nvidia-kmod-common", "version": "580.126.20", "install": False} in rpms
    assert len(rpms) == 7


@pytest.mark.parametrize(
    ("flavour", "replaced"), [("open", ["kmod-nvidia-latest-dkms"]), ("proprietary", ["kmod-nvidia-open-dkms"])]
)
def test_driver_rpms_replace_the_other_flavours_kernel_modules(flavour, replaced):
    assert render(driver_vars("580.126.20", flavour, family="RedHat"), "_nvidia_driver_rpm_replaced") == replaced


def test_no_fabric_manager_without_nvswitches():
    templar = driver_vars("580.126.20", nvswitch=False)
    assert templar.template(trust_as_template("{{ _nvidia_driver_packages }}")) == ["nvidia-open"]


def test_nvlink5_adds_the_subnet_manager_meta_and_the_umad_module():
    templar = driver_vars("580.126.20", nvlink_subnet_manager=True)
    assert templar.template(trust_as_template("{{ _nvidia_driver_packages }}")) == [
        "nvidia-open",
        "nvidia-fabricmanager",
        "libnvidia-nscq",
        "nvlink5-580",
        "libnvsdm",
    ]
    assert templar.template(trust_as_template("{{ _nvidia_driver_load_modules }}")) == [
        "nvidia",
        "nvidia_uvm",
        "ib_umad",
    ]


@pytest.mark.parametrize(
    ("version", "imex_package"), [("580.126.20", "nvidia-imex"), ("570.172.08", "nvidia-imex-570")]
)
def test_imex_at_the_drivers_version_runs_only_with_its_domain(version, imex_package):
    bare = driver_vars(version, nvswitch=False, imex=True)
    assert render(bare, "_nvidia_driver_packages") == ["nvidia-open", imex_package]
    assert render(bare, "_nvidia_driver_imex_running") is False
    domain = driver_vars(version, nvswitch=False, imex=True, imex_nodes=["10.0.0.1", "10.0.0.2"])
    assert render(domain, "_nvidia_driver_imex_running") is True
    assert render(driver_vars(version, imex_nodes=["10.0.0.1"]), "_nvidia_driver_imex_running") is False


def kernel_vars(running, installed, dkms_lines=()):
    vmlinuz = [{"path": f"/boot/vmlinuz-{kernel}"} for kernel in installed]
    return role_vars(
        "nvidia_driver/vars/main.yml",
        "nvidia_driver/vars/Debian.yml",
        ansible_facts={"kernel": running},
        _nvidia_driver_kernels_before={"files": vmlinuz},
        _nvidia_driver_dkms={"stdout_lines": list(dkms_lines)},
    )


@pytest.mark.parametrize(
    ("running", "installed", "kernels"),
    [
        ("6.1.0-50-amd64", ["6.1.0-50-amd64"], ["6.1.0-50-amd64"]),
        # an update installed, not booted: it boots next (and 57 sorts after 9 as a version, not as text)
        ("6.1.0-50-amd64", ["6.1.0-9-amd64", "6.1.0-57-amd64", "6.1.0-50-amd64"], ["6.1.0-50-amd64", "6.1.0-57-amd64"]),
        # running the newest: older kernels left installed get nothing
        ("6.8.0-1021-aws", ["6.8.0-1019-aws", "6.8.0-1021-aws"], ["6.8.0-1021-aws"]),
    ],
)
def test_the_driver_is_built_for_the_running_and_the_newest_kernel(running, installed, kernels):
    templar = kernel_vars(running, installed)
    assert templar.template(trust_as_template("{{ _nvidia_driver_kernels }}")) == kernels
    assert templar.template(trust_as_template("{{ _nvidia_driver_headers }}")) == [
        f"linux-headers-{k}" for k in kernels
    ]


def test_a_newer_kernels_missing_headers_release_the_build_tools_hold():
    templar = role_vars(
        "nvidia_driver/vars/main.yml",
        "nvidia_driver/vars/Debian.yml",
        ansible_facts={"kernel": "6.1.0-50-amd64"},
        _nvidia_driver_kernels_before={
            "files": [{"path": "/boot/vmlinuz-6.1.0-50-amd64"}, {"path": "/boot/vmlinuz-6.1.0-57-amd64"}]
        },
        _nvidia_driver_kernel_dev={
            "stdout_lines": [
                "linux-headers-6.1.0-50-amd64 6.1.176-1 hi ",
                "linux-kbuild-6.1 6.1.176-1 hi ",
                "linux-compiler-gcc-12-x86 6.1.176-1 hi ",
            ]
        },
    )
    missing = templar.template(trust_as_template("{{ _nvidia_driver_headers_missing }}"))
    assert missing == ["linux-headers-6.1.0-57-amd64"]
    tools = templar.template(trust_as_template("{{ _nvidia_driver_build_tools }}"))
    assert tools == ["linux-kbuild-6.1", "linux-compiler-gcc-12-x86"]


def test_dkms_status_lines_name_the_kernels_the_driver_is_installed_for():
    lines = [
        "nvidia/580.126.20, 6.1.0-50-amd64, x86_64: installed",
        "nvidia/580.126.20, 6.1.0-57-amd64, x86_64: built",
        "nvidia/580.126.20: added",
    ]
    templar = kernel_vars("6.1.0-50-amd64", ["6.1.0-50-amd64"], lines)
    assert templar.template(trust_as_template("{{ _nvidia_driver_dkms_built }}")) == ["6.1.0-50-amd64"]


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


@pytest.mark.parametrize(
    ("index", "trusted_host"),
    [
        ("http://172.17.0.1:8089/download.pytorch.org/whl/cpu", "172.17.0.1"),
        ("https://download.pytorch.org/whl/cpu", None),
    ],
)
def test_locked_venv_takes_every_file_by_hash_and_trusts_only_a_plain_http_mirror(index, trusted_host):
    templar = role_vars("versions/vars/main.yml", versions_venv_index=index, versions_venv_path="/opt/venv")
    args = render(templar, "_versions_venv_pip_args").split()
    assert args[args.index("--index-url") + 1] == index
    assert {"--require-hashes", "--no-deps", "--only-binary=:all:"} <= set(args)
    assert (args[args.index("--trusted-host") + 1] if "--trusted-host" in args else None) == trusted_host
    assert render(templar, "_versions_venv_lock_file") == "/opt/venv/ml_cluster-requirements.txt"


def render(templar, expression):
    return templar.template(trust_as_template("{{ " + expression + " }}"))


def efa_vars(os_facts, gpus=8, efa=32, container=False, **options):
    node = {**os_facts, "ml_node": {"gpu_count": gpus, "efa_count": efa, "container": container}}
    return role_vars(
        "versions/defaults/main.yml", "efa/defaults/main.yml", "efa/vars/main.yml", ansible_facts=node, **options
    )


def test_efa_flags_on_a_p5_node_with_its_devices():
    templar = efa_vars(facts("Ubuntu", "22.04", "Debian"))
    assert render(templar, "_efa_flags") == ["--yes", "--skip-limit-conf", "--enable-gdr"]
    assert render(templar, "_efa_ptrace | bool") is True  # Ubuntu restricts ptrace


def test_efa_flags_in_a_container_and_on_a_cpu_builder():
    templar = efa_vars(facts("Debian", "12", "Debian"), gpus=0, efa=0, container=True, efa_mpi="openmpi5")
    assert render(templar, "_efa_flags") == [
        "--yes",
        "--skip-kmod",
        "--skip-limit-conf",
        "--mpi=openmpi5",
        "--no-verify",
    ]
    assert render(templar, "_efa_ptrace | bool") is False  # Debian's default is 0 already
    in_a_p5_container = efa_vars(facts("Debian", "12", "Debian"), container=True)
    assert render(in_a_p5_container, "_efa_flags")[-1] == "--no-verify"  # no kernel module to drive the devices


def test_efa_minimal_installs_no_mpi():
    templar = efa_vars(facts("Amazon", "2023", "RedHat"), gpus=0, efa=1, efa_minimal=True, efa_mpi="openmpi4")
    assert render(templar, "_efa_flags") == ["--yes", "--skip-limit-conf", "--minimal"]


def test_efa_urls_derive_from_the_mirror_base():
    templar = efa_vars(facts("Debian", "12", "Debian"), versions_mirror_base="http://172.17.0.1:8089/")
    assert render(templar, "_efa_base_url ~ '/' ~ _efa_tarball") == (
        "http://172.17.0.1:8089/efa-installer.amazonaws.com/aws-efa-installer-1.42.0.tar.gz"
    )
    public = efa_vars(facts("Debian", "12", "Debian"))
    assert render(public, "_efa_base_url ~ '/' ~ versions_efa.key.file") == (
        "https://efa-installer.amazonaws.com/aws-efa-installer.key"
    )


@pytest.mark.parametrize(
    ("plugin", "os_facts", "libdir", "library"),
    [
        ("1.15.0", facts("Debian", "12", "Debian"), "/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu", "libnccl-net-ofi.so"),
        (
            "1.15.0",
            facts("Ubuntu", "24.04", "Debian", "aarch64"),
            "/opt/amazon/ofi-nccl/lib/aarch64-linux-gnu",
            "libnccl-net-ofi.so",
        ),
        ("1.17.1", facts("Ubuntu", "22.04", "Debian"), "/opt/amazon/ofi-nccl/lib", "libnccl-net-ofi.so"),
        ("1.13.2", facts("Debian", "12", "Debian"), "/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu", "libnccl-net.so"),
        ("1.18.0", facts("Amazon", "2023", "RedHat"), "/opt/amazon/ofi-nccl/lib64", "libnccl-net-ofi.so"),
    ],
)
def test_the_bundled_plugin_is_looked_for_where_its_release_puts_it(plugin, os_facts, libdir, library):
    bundles = {"libfabric": "x", "aws_ofi_nccl": plugin}
    efa = {"version": "1.42.0", "path": "p", "sha256": {}, "key": {}, "bundles": bundles}
    templar = role_vars(
        "versions/defaults/main.yml",
        "versions/vars/main.yml",
        "aws_ofi_nccl/defaults/main.yml",
        "aws_ofi_nccl/vars/main.yml",
        ansible_facts=os_facts,
        versions_efa=efa,
    )
    assert render(templar, "_aws_ofi_nccl_libdir") == libdir
    assert render(templar, "_aws_ofi_nccl_library") == library
    assert render(templar, "_aws_ofi_nccl_ld_conf") == "/etc/ld.so.conf.d/100_ofinccl.conf"
    assert render(templar, "_aws_ofi_nccl_env") == {}


def test_a_source_plugin_has_its_own_prefix_registration_and_env():
    source = {
        "install": "source",
        "version": "1.21.1",
        "sha512": "f" * 128,
        "path": "github.com/aws/aws-ofi-nccl/releases/download",
    }
    templar = role_vars(
        "versions/defaults/main.yml",
        "versions/vars/main.yml",
        "aws_ofi_nccl/defaults/main.yml",
        "aws_ofi_nccl/vars/main.yml",
        ansible_facts=facts("Ubuntu", "22.04", "Debian"),
        versions_aws_ofi_nccl=source,
        aws_ofi_nccl_environment={"NCCL_SOCKET_IFNAME": "^lo,docker"},
    )
    assert render(templar, "_aws_ofi_nccl_libdir") == "/opt/aws-ofi-nccl/lib"
    assert render(templar, "_aws_ofi_nccl_ld_conf") == "/etc/ld.so.conf.d/000_aws-ofi-nccl.conf"
    assert render(templar, "_aws_ofi_nccl_env") == {
        "NCCL_SOCKET_IFNAME": "^lo,docker",
        "NCCL_NET_PLUGIN": "/opt/aws-ofi-nccl/lib/libnccl-net-ofi.so",
    }
    assert render(templar, "_aws_ofi_nccl_url") == (
        "https://github.com/aws/aws-ofi-nccl/releases/download/v1.21.1/aws-ofi-nccl-1.21.1.tar.gz"
    )


def test_nccl_package_specs_pin_the_cuda_build():
    templar = role_vars(
        "versions/defaults/main.yml", "nccl/defaults/main.yml", "nccl/vars/main.yml", "nccl/vars/Debian.yml"
    )
    assert render(templar, "_nccl_specs") == ["libnccl2=2.27.7-1+cuda12.9", "libnccl-dev=2.27.7-1+cuda12.9"]


def test_nccl_tests_make_arguments():
    templar = role_vars(
        "versions/defaults/main.yml",
        "nccl_tests/defaults/main.yml",
        "nccl_tests/vars/main.yml",
        nccl_tests_nvcc_gencode="-gencode=arch=compute_90,code=sm_90",
    )
    assert render(templar, "_nccl_tests_make_args") == [
        "CUDA_HOME=/usr/local/cuda",
        "NCCL_HOME=/usr",
        "BUILDDIR=/opt/nccl-tests/build",
        "MPI=1",
        "MPI_HOME=/opt/amazon/openmpi",
        "NVCC_GENCODE=-gencode=arch=compute_90,code=sm_90",
    ]
    assert render(templar, "_nccl_tests_url") == (
        "https://github.com/NVIDIA/nccl-tests/archive/refs/tags/v2.17.6.tar.gz"
    )


@pytest.mark.parametrize(
    ("os_facts", "release", "source_or_baseurl", "packages"),
    [
        (
            facts("Ubuntu", "22.04", "Debian"),
            "jammy",
            "deb [signed-by=/usr/share/keyrings/fsx-ubuntu-public-key.gpg] "
            "https://fsx-lustre-client-repo.s3.amazonaws.com/ubuntu jammy main",
            ["lustre-client-modules-6.1.0-28-cloud-amd64"],
        ),
        (
            facts("Ubuntu", "24.04", "Debian"),
            "noble",
            "deb [signed-by=/usr/share/keyrings/fsx-ubuntu-public-key.gpg] "
            "https://fsx-lustre-client-repo.s3.amazonaws.com/ubuntu noble main",
            ["lustre-client-modules-6.1.0-28-cloud-amd64"],
        ),
        (
            facts("RedHat", "9.4", "RedHat"),
            "",
            "https://fsx-lustre-client-repo.s3.amazonaws.com/el/9/$basearch",
            ["kmod-lustre-client", "lustre-client"],
        ),
        (facts("Amazon", "2023", "RedHat"), "", None, ["lustre-client"]),
    ],
)
def test_lustre_client_repositories_and_packages(os_facts, release, source_or_baseurl, packages):
    family = os_facts["os_family"]
    templar = role_vars(
        "versions/defaults/main.yml",
        "lustre_client/defaults/main.yml",
        "lustre_client/vars/main.yml",
        f"lustre_client/vars/{family}.yml",
        ansible_facts={**os_facts, "distribution_release": release, "ml_node": {"container": False}},
    )
    assert render(templar, "_lustre_client_packages") == packages
    # the version set's key of this family (not dict.keys, which `.keys` would name)
    key_file = "fsx-ubuntu-public-key.asc" if family == "Debian" else "fsx-rpm-public-key.asc"
    assert render(templar, "_lustre_client_key") == {"file": key_file, "fingerprint": ""}
    if family == "Debian":
        assert render(templar, "_lustre_client_source") == source_or_baseurl
    elif source_or_baseurl:
        assert render(templar, "_lustre_client_baseurl") == source_or_baseurl
    else:
        assert render(templar, "_lustre_client_repo_key_needed | bool") is False  # AL2023 ships the client
    assert render(templar, "_lustre_client_os in _lustre_client_supported") is True


@pytest.mark.parametrize(("container", "dkms"), [(False, True), (True, False)])
def test_gdrcopy_builds_its_kernel_module_only_on_a_kernel(container, dkms):
    templar = role_vars(
        "versions/defaults/main.yml",
        "gdrcopy/defaults/main.yml",
        "gdrcopy/vars/main.yml",
        "gdrcopy/vars/Debian.yml",
        ansible_facts={**facts("Debian", "12", "Debian"), "ml_node": {"container": container, "gpu_count": 8}},
    )
    packages = render(templar, "_gdrcopy_packages")
    assert ("dkms" in packages) is dkms
    assert ("linux-headers-6.1.0-28-cloud-amd64" in packages) is dkms
    assert [name for name in packages if name.startswith("linux-headers-")] == (
        ["linux-headers-6.1.0-28-cloud-amd64"] if dkms else []
    )
    assert render(templar, "_gdrcopy_load | bool") is dkms
    assert render(templar, "_gdrcopy_nvidia_src_dir") == "/usr/src/nvidia-580.126.20/nvidia"
    assert render(templar, "_gdrcopy_url") == "https://github.com/NVIDIA/gdrcopy/archive/refs/tags/v2.5.1.tar.gz"
    assert render(templar, "_gdrcopy_targets") == ["lib", "lib_install", "exes", "exes_install"]


def test_gdrcopy_builds_for_the_newest_installed_kernel_too_and_reads_which_have_it():
    templar = role_vars(
        "versions/defaults/main.yml",
        "gdrcopy/defaults/main.yml",
        "gdrcopy/vars/main.yml",
        "gdrcopy/vars/Debian.yml",
        ansible_facts={**facts("Debian", "12", "Debian"), "ml_node": {"container": False, "gpu_count": 8}},
        _gdrcopy_boot={
            "files": [{"path": "/boot/vmlinuz-6.1.0-28-cloud-amd64"}, {"path": "/boot/vmlinuz-6.1.0-31-cloud-amd64"}]
        },
        _gdrcopy_dkms={"stdout_lines": ["gdrdrv/2.5.1, 6.1.0-28-cloud-amd64, x86_64: installed"]},
        _gdrcopy_dkms_install={
            "results": [
                {"item": "6.1.0-31-cloud-amd64", "rc": 10, "stdout": "", "stderr": "Bad return status"},
                {"item": "6.1.0-28-cloud-amd64", "skipped": True},
            ]
        },
    )
    assert render(templar, "_gdrcopy_kernels") == ["6.1.0-28-cloud-amd64", "6.1.0-31-cloud-amd64"]
    assert [name for name in render(templar, "_gdrcopy_packages") if name.startswith("linux-headers-")] == [
        "linux-headers-6.1.0-28-cloud-amd64",
        "linux-headers-6.1.0-31-cloud-amd64",
    ]
    assert render(templar, "_gdrcopy_dkms_built") == ["6.1.0-28-cloud-amd64"]
    assert [result["item"] for result in render(templar, "_gdrcopy_dkms_failed")] == ["6.1.0-31-cloud-amd64"]


def enroot_vars(arch="x86_64", **options):
    return role_vars(
        "versions/defaults/main.yml",
        "enroot/defaults/main.yml",
        "enroot/vars/main.yml",
        "enroot/vars/Debian.yml",
        ansible_facts=facts("Ubuntu", "24.04", "Debian", arch),
        **options,
    )


def test_enroot_downloads_the_release_files_by_debian_architecture():
    templar = enroot_vars(versions_mirror_base="http://172.17.0.1:8089/")
    assert render(templar, "_enroot_files") == ["enroot_4.2.1-1_amd64.deb", "enroot+caps_4.2.1-1_amd64.deb"]
    assert render(templar, "_enroot_url ~ '/' ~ (_enroot_files[1] | urlencode)") == (
        "http://172.17.0.1:8089/github.com/NVIDIA/enroot/releases/download/v4.2.1/enroot%2Bcaps_4.2.1-1_amd64.deb"
    )
    assert render(templar, "_enroot_unpinned") == []
    # the version set pins no arm64 file yet: the preflight names the one this node would fetch
    arm = enroot_vars("aarch64", enroot_caps=False)
    assert render(arm, "_enroot_unpinned") == ["enroot_4.2.1-1_arm64.deb"]


def test_enroot_settings_give_each_user_own_paths_and_take_overrides():
    settings = render(enroot_vars(enroot_settings={"ENROOT_ROOTFS_WRITABLE": "no"}), "_enroot_settings")
    assert settings["ENROOT_RUNTIME_PATH"] == "/run/enroot/runtime/user-$(id -u)"
    assert settings["ENROOT_CACHE_PATH"] == "/fsx/enroot/cache/user-$(id -u)"
    assert settings["ENROOT_ROOTFS_WRITABLE"] == "no"
    local = render(enroot_vars(enroot_shared_root="", enroot_local_root="/opt/dlami/nvme/enroot"), "_enroot_settings")
    assert local["ENROOT_CACHE_PATH"] == "/var/enroot/cache/user-$(id -u)"
    assert local["ENROOT_DATA_PATH"] == "/opt/dlami/nvme/enroot/data/user-$(id -u)"
    bad = enroot_vars(enroot_settings={"ENROOT_DATA_PATH": "/x", "DATA": "/y"}, enroot_hooks=["../evil.sh"])
    assert render(bad, "_enroot_bad_settings") == ["DATA"]
    assert render(bad, "_enroot_bad_hooks") == ["../evil.sh"]


def neuron_vars(**options):
    node = {
        **facts("Ubuntu", "22.04", "Debian"),
        "distribution_release": "jammy",
        "python": {"version": {"major": 3, "minor": 10}},
        "ml_node": {"container": False, "neuron_count": 16},
    }
    return role_vars(
        "versions/defaults/main.yml",
        "neuron/defaults/main.yml",
        "neuron/vars/main.yml",
        "neuron/vars/Debian.yml",
        ansible_facts=node,
        **options,
    )


def test_neuron_pins_each_package_at_its_release_with_its_build_suffix():
    templar = neuron_vars()
    assert render(templar, "_neuron_specs") == [
        "aws-neuronx-dkms=2.30.2.0*",
        "aws-neuronx-runtime-lib=2.34.10.0*",
        "aws-neuronx-collectives=2.34.10.0*",
        "aws-neuronx-tools=2.32.28.0*",
    ]
    assert render(neuron_vars(neuron_oci_hook=True), "_neuron_specs")[-1] == "aws-neuronx-oci-hook=2.18.25.0*"
    assert render(templar, "_neuron_headers") == ["linux-headers-6.1.0-28-cloud-amd64"]
    assert render(templar, "_neuron_load | bool") is True
    assert render(templar, "_neuron_bad_versions") == []
    assert render(templar, "_neuron_repository_url") == "https://apt.repos.neuron.amazonaws.com"


def test_neuron_headers_and_builds_for_the_newest_installed_kernel_too():
    templar = neuron_vars(
        _neuron_boot={
            "files": [{"path": "/boot/vmlinuz-6.1.0-31-cloud-amd64"}, {"path": "/boot/vmlinuz-6.1.0-28-cloud-amd64"}]
        },
        _neuron_dkms={"stdout_lines": ["aws-neuronx/2.30.2.0, 6.1.0-28-cloud-amd64, x86_64: installed"]},
    )
    assert render(templar, "_neuron_headers") == [
        "linux-headers-6.1.0-28-cloud-amd64",
        "linux-headers-6.1.0-31-cloud-amd64",
    ]
    assert render(templar, "_neuron_kernels | reject('in', _neuron_dkms_built) | list") == ["6.1.0-31-cloud-amd64"]
    assert render(neuron_vars(_neuron_in_container=True), "_neuron_headers") == []


def test_neuron_refuses_loose_versions_and_incomplete_locks():
    versions = yaml.safe_load((ROOT / "roles" / "versions" / "defaults" / "main.yml").read_text())["versions_neuron"]
    loose = {**versions, "packages": {**versions["packages"], "aws-neuronx-tools": "2.32"}}
    assert render(neuron_vars(versions_neuron=loose), "_neuron_bad_versions") == ["aws-neuronx-tools"]
    # the version set records no lock yet: both Python packages are unpinned
    assert render(neuron_vars(), "_neuron_unlocked") == ["neuronx-cc==2.27.5334.0", "torch-neuronx==2.9.0.2.15.32035"]
    hashed = " --hash=sha256:" + "0" * 64
    partly = {
        **versions,
        "locks": {"cp310-x86_64": ["neuronx-cc==2.27.5334.0" + hashed, "torch-neuronx==2.9.0" + hashed]},
    }
    assert render(neuron_vars(versions_neuron=partly), "_neuron_unlocked") == ["torch-neuronx==2.9.0.2.15.32035"]


def image_vars(components, family="Debian", os_facts=None):
    return role_vars(
        "versions/defaults/main.yml",
        "versions/vars/main.yml",
        "image/defaults/main.yml",
        "image/vars/main.yml",
        f"image/vars/{family}.yml",
        ansible_facts={
            **(os_facts or facts("Ubuntu", "22.04", "Debian")),
            "ml_node": {"container": True, "gpu_architecture": None},
        },
        image_components=components,
        versions_nvidia_module_flavour="open",
    )


def test_a_neuron_image_checks_each_sdk_package_but_the_optional_oci_hook():
    expected = render(image_vars(["efa", "neuron", "enroot"]), "_image_expected")
    assert expected == [
        {"package": "aws-neuronx-dkms", "version": "2.30.2.0"},
        {"package": "aws-neuronx-runtime-lib", "version": "2.34.10.0"},
        {"package": "aws-neuronx-collectives", "version": "2.34.10.0"},
        {"package": "aws-neuronx-tools", "version": "2.32.28.0"},
    ]
    assert render(image_vars([]), "_image_expected") == []


GPU_COMPONENTS = ["nvidia_driver", "nvidia_container_toolkit", "dcgm", "nccl"]


def test_a_gpu_image_checks_each_family_by_its_own_package_names_and_versions():
    debian = render(image_vars(GPU_COMPONENTS), "_image_expected")
    assert debian == [
        {"package": "nvidia-open", "version": "580.126.20-"},
        {"package": "nvidia-container-toolkit", "version": "1.20.0-1"},
        {"package": "datacenter-gpu-manager-4-core", "version": "1:4.5.3-1"},  # dpkg shows the epoch
        {"package": "libnccl2", "version": "2.27.7-1+cuda12.9"},
    ]
    redhat = render(image_vars(GPU_COMPONENTS, "RedHat", facts("Amazon", "2023", "RedHat")), "_image_expected")
    assert redhat == [
        {"package": "nvidia-driver-cuda", "version": "580.126.20-"},
        {"package": "nvidia-container-toolkit", "version": "1.20.0-1"},
        {"package": "datacenter-gpu-manager-4-core", "version": "4.5.3-1"},  # rpm's version-release has none
        {"package": "libnccl", "version": "2.27.7-1+cuda12.9"},
    ]


def dcgm_vars(**extra):
    return role_vars(
        "versions/defaults/main.yml",
        "dcgm/defaults/main.yml",
        "dcgm/vars/main.yml",
        ansible_facts={"ml_node": {"source": "pci", "gpu_count": 8}},
        **extra,
    )


def test_the_dcgm_exporter_image_follows_the_dcgm_version_and_is_named_by_digest():
    digest = "sha256:" + "ab" * 32
    exporter = {"version": "4.8.2", "repository": "nvidia/k8s/dcgm-exporter", "variant": "distroless", "digest": digest}
    templar = dcgm_vars(versions_dcgm={"version": "4.6.0", "package_version": "1:4.6.0-1", "exporter": exporter})
    assert (
        render(templar, "_dcgm_exporter_image") == f"nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.2-distroless@{digest}"
    )
    mirrored = dcgm_vars(dcgm_exporter_registry="123456789012.dkr.ecr.us-east-1.amazonaws.com/nvcr")
    assert render(mirrored, "_dcgm_exporter_tag") == (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/nvcr/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless"
    )
    assert render(dcgm_vars(), "_dcgm_exporter.digest") == ""  # none recorded: the role refuses the exporter
