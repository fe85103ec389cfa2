"""Verify the network stack's real effects on the p5-like node (testinfra, via molecule)."""

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


def test_ptrace_is_left_to_debian(host):
    # Debian's kernel defaults to ptrace_scope 0; only Ubuntu's restricts it
    assert not host.file("/etc/sysctl.d/10-ptrace.conf").exists


def test_libfabric_is_installed_and_on_the_loader_path(host):
    assert host.file("/opt/amazon/efa/bin/fi_info").is_file
    assert "libfabric.so.1 " in host.check_output("ldconfig -p")


def test_nccl_is_the_pinned_build_and_held(host):
    assert version(host, "libnccl2") == NCCL
    assert version(host, "libnccl-dev") == NCCL
    assert {"libnccl2", "libnccl-dev"} <= set(host.check_output("apt-mark showhold").split())
    # the repository holds newer builds: the pin, not the newest, decided
    assert "2.28.9-1+cuda12.9" in host.check_output("apt-cache madison libnccl2")


def test_nccl_and_the_plugin_are_found_through_the_loader_not_a_preload(host):
    cache = host.check_output("ldconfig -p")
    assert "libnccl.so.2 " in cache
    assert "libnccl-net-ofi.so (libc6,x86-64) => /opt/amazon/ofi-nccl/lib/x86_64-linux-gnu/libnccl-net-ofi.so" in cache
    preload = host.file("/etc/ld.so.preload")
    assert not preload.exists or "nccl" not in preload.content_string
    registered = host.file("/etc/ld.so.conf.d/100_ofinccl.conf").content_string
    assert registered == "/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu\n"


def test_no_nccl_environment_is_forced(host):
    assert not host.file("/etc/ml_cluster/env.d/aws-ofi-nccl.sh").exists


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
