"""Verify the node basics (the common role, the base of every stack) on the converged nodes (testinfra)."""

import pytest

# What the role's defaults promise; a key missing or a value changed is a regression.
EXPECTED_SYSCTL = {
    "net.core.default_qdisc": "fq",
    "net.ipv4.tcp_congestion_control": "bbr",
    "net.core.rmem_max": "67108864",
    "net.ipv4.tcp_rmem": "4096 87380 67108864",
    "net.ipv4.neigh.default.gc_thresh3": "16384",
    "vm.max_map_count": "1048576",
    "kernel.numa_balancing": "0",
    "kernel.yama.ptrace_scope": "0",
}


def read_sysctl_file(host, path):
    settings = {}
    for line in host.file(path).content_string.splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            settings[name.strip()] = value.strip()
    return settings


def test_sysctl_file_holds_the_settings(host):
    settings = read_sysctl_file(host, "/etc/sysctl.d/90-ml-cluster.conf")
    for name, value in EXPECTED_SYSCTL.items():
        assert settings.get(name) == value, name
    # hugepages default to 0, which leaves vm.nr_hugepages out
    assert "vm.nr_hugepages" not in settings


@pytest.mark.parametrize("who", ["*", "root"])
def test_pam_limits(host, who):
    lines = [
        line.split()
        for line in host.file("/etc/security/limits.d/90-ml-cluster.conf").content_string.splitlines()
        if line and not line.startswith("#")
    ]
    mine = {(kind, item): value for domain, kind, item, value in lines if domain == who}
    assert mine == {
        ("soft", "memlock"): "unlimited",
        ("hard", "memlock"): "unlimited",
        ("soft", "nofile"): "1048576",
        ("hard", "nofile"): "1048576",
    }


def test_systemd_took_the_limits_for_services(host):
    # The re-executed manager reports the defaults it gives every service (slurmd, its jobs).
    # The effective rlimits cannot be checked here: this host lacks CAP_SYS_RESOURCE, so no
    # container may raise its hard limits (8 MiB memlock, 20000 files); the VM tier checks them.
    out = host.check_output("systemctl show -p DefaultLimitMEMLOCK -p DefaultLimitNOFILE")
    assert sorted(out.splitlines()) == ["DefaultLimitMEMLOCK=infinity", "DefaultLimitNOFILE=1048576"]


@pytest.mark.parametrize("package", ["chrony", "numactl", "hwloc-nox", "pciutils", "ethtool", "jq", "nvme-cli"])
def test_base_packages(host, package):
    assert host.package(package).is_installed


def test_time_sync(host):
    sources = host.file("/etc/chrony/sources.d/ml-cluster.sources").content_string
    assert "server 169.254.169.123 prefer iburst" in sources
    assert "sourcedir /etc/chrony/sources.d" in host.file("/etc/chrony/chrony.conf").content_string
    assert host.service("chrony").is_enabled


def test_profile_loader_sources_fragments(host):
    host.run_expect([0], "echo 'export ML_CLUSTER_PROBE=loaded' > /etc/ml_cluster/env.d/99-probe.sh")
    try:
        assert host.check_output("bash -lc 'echo $ML_CLUSTER_PROBE'") == "loaded"
    finally:
        host.run_expect([0], "rm -f /etc/ml_cluster/env.d/99-probe.sh")
