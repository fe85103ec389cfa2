"""The kernels a DKMS module is built for (plugins/filter/kernels.py)."""

import pytest
from ansible_collections.awsome.ml_cluster.plugins.filter.kernels import boot_kernels, dkms_installed


def vmlinuz(*kernels):
    return [{"path": f"/boot/vmlinuz-{kernel}"} for kernel in kernels]


@pytest.mark.parametrize(
    ("running", "installed", "kernels"),
    [
        ("6.1.0-50-amd64", ["6.1.0-50-amd64"], ["6.1.0-50-amd64"]),
        # an update installed, not booted: it boots next (57 sorts after 9 as a version, not as text)
        ("6.1.0-50-amd64", ["6.1.0-9-amd64", "6.1.0-57-amd64", "6.1.0-50-amd64"], ["6.1.0-50-amd64", "6.1.0-57-amd64"]),
        # running the newest: older kernels left installed get nothing
        ("6.8.0-1021-aws", ["6.8.0-1019-aws", "6.8.0-1021-aws"], ["6.8.0-1021-aws"]),
        # a container, or a /boot without kernels: only the running one
        ("6.1.0-50-amd64", [], ["6.1.0-50-amd64"]),
    ],
)
def test_the_running_and_the_newest_kernel(running, installed, kernels):
    assert boot_kernels(vmlinuz(*installed), running) == kernels


def test_plain_paths_and_other_files_under_boot():
    files = ["/boot/vmlinuz-6.1.0-57-amd64", "/boot/config-6.2.0-1-amd64", "/boot/vmlinuz"]
    assert boot_kernels(files, "6.1.0-50-amd64") == ["6.1.0-50-amd64", "6.1.0-57-amd64"]


def test_dkms_3_and_dkms_2_status_lines():
    lines = [
        "nvidia/580.126.20, 6.1.0-50-amd64, x86_64: installed",
        "nvidia/580.126.20, 6.1.0-57-amd64, x86_64: built",
        "nvidia/580.126.20: added",
        "gdrdrv, 2.5.1, 5.15.0-1066-aws, x86_64: installed",
        "nvidia/580.126.20, 6.1.0-58-amd64, x86_64: installed (WARNING! Diff between built and installed module!)",
    ]
    assert dkms_installed(lines) == ["6.1.0-50-amd64", "5.15.0-1066-aws", "6.1.0-58-amd64"]


def test_no_status_no_kernels():
    assert dkms_installed([]) == []
