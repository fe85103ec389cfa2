"""Verify the network stack's real effects (testinfra, via molecule) on the p5-like node, which uses the
plugin the EFA installer bundles, and the g6e-like node, which builds aws-ofi-nccl from source."""

import pytest

NCCL = "2.27.7-1+cuda12.9"
COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "alltoall", "broadcast", "reduce", "sendrecv")


def version(host, package):
    result = host.run(f"dpkg-query -W -f='${{Status}} ${{Version}}' {package}")
    return result.stdout.split()[-1] if " ok installed " in result.stdout else None


def test_the_declared_efa_installer_ran_and_recorded_itself(host):
    record = host.file("/opt/amazon/efa_installed_packages").content_string
    assert record.startswith("# EFA installer version: 1.42.0\n")
    installed = {line.split("_")[0] for line in record.splitlines() if not line.startswith("#")}
    assert {"libfabric-aws", "efa-profile", "openmpi40-aws", "openmpi50-aws", "libnccl-ofi"} <= installed


def test_the_installer_was_given_the_containers_flags(host):
    # --skip-kmod (a container), --skip-limit-conf (the role owns memlock): neither package is there
    assert version(host, "efa") is None
    assert version(host, "efa-config") is None
    assert not host.file("/etc/security/limits.d/01_efa.conf").exists


def test_the_work_directory_is_gone(host):
    assert not host.file("/var/tmp/awsome-efa").exists


def test_memlock_is_unlimited_for_every_login(host):
    limits = host.file("/etc/security/limits.d/91-efa.conf").content_string
    assert "*    soft    memlock    unlimited" in limits and "*    hard    memlock    unlimited" in limits


@pytest.fixture
def ubuntu(host):
    return host.system_info.distribution == "ubuntu"


def test_ptrace_is_opened_on_ubuntu_and_left_to_debian(host, ubuntu):
    # Debian's kernel defaults to ptrace_scope 0; Ubuntu's restricts it, and EFA's shared-memory path
    # needs it open (applied at boot: /proc/sys is read-only in a container)
    sysctl = host.file("/etc/sysctl.d/10-ptrace.conf")
    if ubuntu:
        assert "\nkernel.yama.ptrace_scope = 0\n" in sysctl.content_string
    else:
        assert not sysctl.exists


def test_libfabric_is_installed_and_on_the_loader_path(host):
    assert host.file("/opt/amazon/efa/bin/fi_info").is_file
    assert "libfabric.so.1 " in host.check_output("ldconfig -p")


def test_nccl_is_the_pinned_build_and_held(host):
    assert version(host, "libnccl2") == NCCL
    assert version(host, "libnccl-dev") == NCCL
    assert {"libnccl2", "libnccl-dev"} <= set(host.check_output("apt-mark showhold").split())
    # the repository holds newer builds: the pin, not the newest, decided
    assert "2.28.9-1+cuda12.9" in host.check_output("apt-cache madison libnccl2")


@pytest.fixture
def source_build(host):
    return host.backend.get_hostname() == "network-g6e"


BUNDLED = "/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu"
SOURCE = "/opt/aws-ofi-nccl/lib"


def test_nccl_and_the_plugin_are_found_through_the_loader_not_a_preload(host, source_build):
    cache = host.check_output("ldconfig -p")
    assert "libnccl.so.2 " in cache
    plugins = [line.split("=>")[1].strip() for line in cache.splitlines() if "libnccl-net-ofi.so " in line]
    # the source build is registered ahead of the installer's, so the loader finds it first
    assert plugins[0] == f"{SOURCE if source_build else BUNDLED}/libnccl-net-ofi.so"
    preload = host.file("/etc/ld.so.preload")
    assert not preload.exists or "nccl" not in preload.content_string
    assert host.file("/etc/ld.so.conf.d/100_ofinccl.conf").content_string == f"{BUNDLED}\n"
    if source_build:
        assert host.file("/etc/ld.so.conf.d/000_aws-ofi-nccl.conf").content_string == f"{SOURCE}\n"


def test_the_source_build_was_configured_against_the_stack(host, source_build):
    if not source_build:
        assert not host.file(SOURCE).exists
        return
    stamp = host.check_output("cat /usr/local/src/aws-ofi-nccl-1.21.1/.built-*")
    assert "--with-libfabric=/opt/amazon/efa --with-cuda=/usr/local/cuda --enable-platform-aws" in stamp
    assert host.file(f"{SOURCE}/libnccl-net.so").linked_to == f"{SOURCE}/libnccl-net-ofi.so"


def test_the_nccl_environment_is_only_what_is_needed(host, source_build):
    env = host.file("/etc/ml_cluster/env.d/aws-ofi-nccl.sh")
    if source_build:
        assert "export NCCL_NET_PLUGIN=/opt/aws-ofi-nccl/lib/libnccl-net-ofi.so" in env.content_string
    else:
        assert not env.exists


def test_nccl_tests_were_built_with_mpi_against_the_stack(host):
    build = host.file("/opt/nccl-tests/build/.standin-build").content_string
    assert "MPI=1\nMPI_HOME=/opt/amazon/openmpi\n" in build
    assert "CUDA_HOME=/usr/local/cuda\nNCCL_HOME=/usr\n" in build
    for collective in COLLECTIVES:
        assert host.file(f"/opt/nccl-tests/build/{collective}_perf").exists


def test_the_built_binaries_print_nccl_tests_output(host):
    out = host.check_output("/opt/nccl-tests/build/all_reduce_perf -b 1M -e 16M -f 2 -g 1")
    assert "# Collective test starting: all_reduce_perf" in out
    assert "# Avg bus bandwidth" in out


def test_gdrcopy_library_and_tests_are_installed_and_found(host):
    assert "libgdrapi.so.2 (libc6,x86-64) => /opt/gdrcopy/lib/libgdrapi.so.2" in host.check_output("ldconfig -p")
    assert host.file("/opt/gdrcopy/include/gdrapi.h").exists
    assert host.file("/opt/gdrcopy/bin/gdrcopy_sanity").is_file


def test_gdrcopy_kernel_module_is_left_to_real_kernels(host):
    # no DKMS in a container: the VM tier builds and loads gdrdrv
    assert not host.file("/usr/src/gdrdrv-2.5.1").exists
    assert not host.file("/etc/modules-load.d/gdrdrv.conf").exists


def test_lustre_client_modules_are_awss_for_the_running_kernel_on_ubuntu_only(host, ubuntu):
    kernel = host.check_output("uname -r")
    sources = host.file("/etc/apt/sources.list.d/fsxlustreclientrepo.list")
    if not ubuntu:
        assert not sources.exists
        assert version(host, f"lustre-client-modules-{kernel}") is None
        return
    assert sources.content_string.split("] ", 1)[0] == "deb [signed-by=/usr/share/keyrings/fsx-ubuntu-public-key.gpg"
    assert sources.content_string.rstrip().endswith("/fsx-lustre-client-repo.s3.amazonaws.com/ubuntu jammy main")
    assert version(host, f"lustre-client-modules-{kernel}") == "2.15.6-1fsx1"
    assert host.check_output("lfs --version") == "lfs 2.15.6"
    # the meta package that follows linux-aws is not taken: it would pull modules for other kernels
    assert version(host, "lustre-client-modules-aws") is None


def test_lustre_mount_is_in_fstab_but_not_mounted_in_a_container(host):
    fstab = host.file("/etc/fstab").content_string
    assert (
        "fs-0123456789abcdef0.fsx.us-east-1.amazonaws.com@tcp:/abcdefgh /fsx lustre "
        "relatime,flock,_netdev,x-systemd.automount,x-systemd.requires=network.service 0 0"
    ) in fstab
    assert host.file("/fsx").is_directory
    assert not host.mount_point("/fsx").exists
