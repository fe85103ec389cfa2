"""Verify the GPU stack's real effects on the RedHat-family p5-like node (testinfra, via molecule).

prepare.yml left the node with driver 590.48.01 and its proprietary kernel modules, locked; the converge
moved it to the version set's 580.126.20 with the open modules through those locks."""

DRIVER = "580.126.20"
DRIVER_RPMS = [
    "kmod-nvidia-open-dkms",
    "nvidia-driver-cuda",
    "nvidia-driver-cuda-libs",
    "nvidia-kmod-common",
    "nvidia-persistenced",
]
FABRIC_RPMS = ["nvidia-fabricmanager", "libnvidia-nscq"]
# every RPM the stack installs, at the version set's epoch:version-release (roles/versions defaults)
PINNED = {
    **{name: f"3:{DRIVER}-1.amzn2023" for name in DRIVER_RPMS},
    **{name: f"0:{DRIVER}-1" for name in FABRIC_RPMS},
    "cuda-toolkit-12-8": "0:12.8.1-1",
    "cuda-toolkit-13-0": "0:13.0.2-1",
    "nvidia-container-toolkit": "0:1.20.0-1",
    "nvidia-container-toolkit-base": "0:1.20.0-1",
    "libnvidia-container-tools": "0:1.20.0-1",
    "libnvidia-container1": "0:1.20.0-1",
    "datacenter-gpu-manager-4-core": "1:4.5.3-1",
    "datacenter-gpu-manager-4-cuda13": "1:4.5.3-1",  # R580 reports CUDA 13
    "libnccl": "0:2.27.7-1+cuda12.9",
    "libnccl-devel": "0:2.27.7-1+cuda12.9",
    "enroot": "0:4.2.1-1.el8",
    "enroot+caps": "0:4.2.1-1.el8",
}


def installed(host):
    """name -> epoch:version-release of every installed package."""
    out = host.check_output("rpm -qa --queryformat '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n'")
    return dict(line.split(" ", 1) for line in out.splitlines())


def locks(host):
    listing = host.file("/etc/dnf/plugins/versionlock.list").content_string
    return {line for line in listing.splitlines() if line and not line.startswith("#")}


def test_repository_checks_signatures_with_the_pinned_key_only(host):
    repo = host.file("/etc/yum.repos.d/cuda-amzn2023.repo").content_string
    assert "[cuda-amzn2023-x86_64]" in repo
    assert "/developer.download.nvidia.com/compute/cuda/repos/amzn2023/x86_64\n" in repo
    assert "gpgcheck = 1" in repo
    assert "module_hotfixes = 1" in repo
    assert "/amzn2023/x86_64/D42D0685.pub" in repo
    # the mirror's key alone, imported after its fingerprint matched the pin, and every package signed by it
    key_ids = host.check_output("rpm -q --queryformat '%{VERSION}\\n' gpg-pubkey").split()
    assert len(key_ids) == 1
    for package in DRIVER_RPMS + FABRIC_RPMS:
        signature = host.check_output(f"rpm -q --queryformat '%{{RSAHEADER:pgpsig}} %{{DSAHEADER:pgpsig}}' {package}")
        assert "Key ID " in signature, f"{package} is not signed"
        assert signature.split("Key ID ")[-1].strip().endswith(key_ids[0]), signature


def test_every_package_is_exactly_the_pinned_version_although_newer_ones_exist(host):
    have = installed(host)
    assert {name: have.get(name) for name in PINNED} == PINNED
    assert "kmod-nvidia-latest-dkms" not in have  # the open flavour on an H100: prepare's proprietary one erased
    assert "datacenter-gpu-manager-4-cuda12" not in have
    assert not [name for name in have if name.startswith("cuda-compat")]  # kept off hosts


def test_the_newer_branch_is_offered_and_locked_out(host):
    # versionlock applies to commands that resolve a transaction (not to list or repoquery)
    newer = "dnf install --assumeno nvidia-driver-cuda-590.48.01"
    offered = host.run(f"{newer} --disableplugin=versionlock")
    assert "nvidia-driver-cuda" in offered.stdout and "Operation aborted" in offered.stdout + offered.stderr
    blocked = host.run(newer)
    assert blocked.rc != 0
    assert "Unable to find a match: nvidia-driver-cuda-590.48.01" in blocked.stdout + blocked.stderr


def test_locks_name_the_installed_versions_and_no_other(host):
    assert locks(host) == {f"{name}-{evr}.*" for name, evr in PINNED.items()}


def test_cuda_default_and_nccl_are_found(host):
    assert host.check_output("readlink -f /usr/local/cuda") == "/usr/local/cuda-12.8"
    assert host.check_output("readlink -f /usr/local/cuda-12") == "/usr/local/cuda-12.8"
    assert "libnccl.so.2 (libc6,x86-64) => /usr/lib64/libnccl.so.2" in host.check_output("ldconfig -p")


def test_services_are_enabled_and_nouveau_blacklisted(host):
    assert host.service("nvidia-fabricmanager").is_enabled  # NVSwitches in the p5 fixture
    assert host.service("nvidia-persistenced").is_enabled
    assert host.service("nvidia-dcgm").is_enabled
    assert "blacklist nouveau" in host.file("/etc/modprobe.d/blacklist-nouveau.conf").content_string


def test_enroot_runs_with_the_roles_settings(host):
    assert host.check_output("enroot version") == "4.2.1"
    assert host.file("/etc/enroot/enroot.conf.d/50-awsome-ml-cluster.conf").exists
    # enroot+caps's scriptlet gave the helper its capability, as the package does
    assert "cap_sys_admin" in host.check_output("getcap /usr/bin/enroot-mksquashovlfs")


def test_the_efa_installer_put_its_rpms_and_the_plugin_where_the_loader_finds_them(host):
    record = host.file("/opt/amazon/efa_installed_packages").content_string
    assert "# EFA installer version: 1.42.0" in record
    assert "libnccl-ofi-1.15.0-1.amzn2023.x86_64" in record
    assert "efa-2.15.3" not in record  # --skip-kmod in a container
    have = installed(host)
    assert have.get("libfabric-aws") == "0:2.1.0amzn3.0-1.amzn2023"
    assert host.file("/etc/ld.so.conf.d/100_ofinccl.conf").content_string.strip() == "/opt/amazon/ofi-nccl/lib64"
    loader = host.check_output("ldconfig -p")
    assert "libnccl-net-ofi.so (libc6,x86-64) => /opt/amazon/ofi-nccl/lib64/libnccl-net-ofi.so" in loader
    assert "libfabric.so.1 (libc6,x86-64) => /opt/amazon/efa/lib64/libfabric.so.1" in loader


def test_nccl_tests_built_against_the_packages_cuda_nccl_and_the_installers_open_mpi(host):
    build = host.file("/opt/nccl-tests/build/.standin-build").content_string
    assert "CUDA_HOME=/usr/local/cuda\n" in build
    assert "MPI=1\n" in build and "MPI_HOME=/opt/amazon/openmpi\n" in build
    assert host.file("/opt/nccl-tests/build/all_reduce_perf").exists


def test_gdrcopy_library_is_built_and_found_by_the_loader(host):
    assert "libgdrapi.so.2" in host.check_output("ldconfig -p")


def test_lustre_client_comes_from_amazon_linux_and_the_mount_is_in_fstab(host):
    # AL2023's own repository: no AWS FSx repository, no key of its own
    assert "lustre-client" in installed(host)
    assert not host.file("/etc/yum.repos.d/aws-fsx.repo").exists
    assert host.check_output("lfs --version") == "lfs 2.15.6"
    fstab = host.file("/etc/fstab").content_string
    assert (
        "fs-0123456789abcdef0.fsx.us-east-1.amazonaws.com@tcp:/abcdefgh /fsx lustre "
        "relatime,flock,_netdev,x-systemd.automount,x-systemd.requires=network.service 0 0"
    ) in fstab
    assert not host.mount_point("/fsx").exists


def test_the_node_basics_on_the_redhat_family(host):
    # the common role's RedHat path: dnf's names, Amazon Linux's chrony layout, the same limits
    assert "net.ipv4.tcp_congestion_control = bbr" in host.file("/etc/sysctl.d/90-ml-cluster.conf").content_string
    limits = host.file("/etc/security/limits.d/90-ml-cluster.conf").content_string.splitlines()
    assert ["*", "hard", "memlock", "unlimited"] in [line.split() for line in limits]
    for name in ("numactl", "hwloc", "pciutils", "ethtool", "nvme-cli", "chrony"):
        assert host.run(f"rpm -q --whatprovides {name}").rc == 0, name
    assert "server 169.254.169.123 prefer iburst" in host.file("/etc/chrony.d/ml-cluster.sources").content_string
    assert "sourcedir /etc/chrony.d" in host.file("/etc/chrony.conf").content_string.splitlines()
    assert host.service("chronyd").is_enabled
    assert host.check_output("systemctl show -p DefaultLimitNOFILE") == "DefaultLimitNOFILE=1048576"
