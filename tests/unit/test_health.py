"""Node health checks (plugins/module_utils/health.py) on fixture nodes, healthy and broken."""

import pytest
from ansible_collections.awsome.ml_cluster.plugins.module_utils import health
from ansible_collections.awsome.ml_cluster.plugins.modules import node_facts, node_health

from tests.fixtures import sysfs

DECLARED = {
    "nvidia_driver": {"version": "580.126.20"},
    "pytorch": {"version": "2.13.0"},
    "cuda_default": "12.8",
    "efa": {"version": "1.42.0"},
    "nccl": {"version": "2.27.7-1", "cuda": "12.9"},
    "enroot": {"version": "4.2.1"},
    "neuron": {"sdk": "2.32.0", "aws-neuronx-dkms": "2.30.2.0"},
}


def node(tmp_path, shape, instance_type):
    sysfs.build(shape, tmp_path)
    return node_facts.node_facts(node_facts.pci_devices(str(tmp_path)), instance_type)


def smi(count, model="NVIDIA H100 80GB HBM3", driver="580.126.20"):
    return "\n".join(f"{i}, {model}, {driver}, 00000000:{0x53 + i:02X}:00.0" for i in range(count))


def healthy_p5():
    return {
        "nvidia_smi": health.parse_nvidia_smi(smi(8)),
        "fabric_manager": "active",
        "fi_info_rc": 0,
        "nccl_net_plugin": "/opt/amazon/ofi-nccl/lib/libnccl-net-ofi.so",
        "neuron_devices": 0,
        "manifest": {"components": {"nvidia_driver": {"version": "580.126.20"}, "cuda_default": "12.8"}},
        "torch": "2.13.0+cu128",
        "efa_installer": "1.42.0",
        "nccl": "2.27.7-1+cuda12.9",
        "enroot": "4.2.1",
    }


def statuses(checks):
    return {c["name"]: c["status"] for c in checks}


def test_healthy_p5_passes_everything_that_applies(tmp_path):
    checks = health.node_checks(node(tmp_path, "p5.48xlarge", "p5.48xlarge"), healthy_p5(), DECLARED)
    assert statuses(checks) == {
        "GPU count": "pass",
        "GPU model": "pass",
        "NVIDIA driver": "pass",
        "fabric manager": "pass",
        "EFA devices": "pass",
        "libfabric EFA provider": "pass",
        "NCCL net plugin": "pass",
        "Neuron devices": "not judged",
        "image manifest": "pass",
        "PyTorch": "pass",
        "EFA installer": "pass",
        "NCCL": "pass",
        "Enroot": "pass",
        "Neuron driver": "not judged",
        "DCGM diagnostics": "not judged",
    }


@pytest.mark.parametrize(
    ("change", "failed", "detail"),
    [
        ({"nvidia_smi": health.parse_nvidia_smi(smi(7))}, "NVIDIA driver", "lists 7 of 8 GPUs"),
        ({"nvidia_smi": health.parse_nvidia_smi(smi(8, driver="570.1"))}, "NVIDIA driver", "declared 580.126.20"),
        ({"nvidia_smi": None, "nvidia_smi_error": "NVIDIA-SMI has failed"}, "NVIDIA driver", "NVIDIA-SMI has failed"),
        ({"fabric_manager": "failed"}, "fabric manager", "is failed"),
        ({"fi_info_rc": 61, "fi_info_error": "fi_getinfo: -61"}, "libfabric EFA provider", "-61"),
        ({"nccl_net_plugin": None}, "NCCL net plugin", "no libnccl-net"),
        ({"torch": "2.12.0+cu128"}, "PyTorch", "torch 2.12.0+cu128, declared 2.13.0"),
        (
            {"manifest": {"components": {"nvidia_driver": {"version": "570.1"}}}},
            "image manifest",
            "nvidia_driver 570.1 (declared 580.126.20)",
        ),
        ({"dcgm_rc": 226, "dcgm_summary": "Fail - PCIe"}, "DCGM diagnostics", "exit 226"),
        ({"efa_installer": "1.41.0"}, "EFA installer", "1.41.0 installed, declared 1.42.0"),
        ({"nccl": "2.28.9-1+cuda12.9"}, "NCCL", "2.28.9-1+cuda12.9 installed, declared 2.27.7-1+cuda12.9"),
        ({"enroot": "4.1.2"}, "Enroot", "4.1.2 installed, declared 4.2.1"),
        ({"neuron_driver": "2.29.0.0"}, "Neuron driver", "2.29.0.0 installed, declared 2.30.2.0"),
    ],
)
def test_each_broken_reading_fails_its_check_alone(tmp_path, change, failed, detail):
    checks = health.node_checks(
        node(tmp_path, "p5.48xlarge", "p5.48xlarge"),
        {**healthy_p5(), **change},
        DECLARED,
        dcgm_level=1 if "dcgm_rc" in change else 0,
    )
    bad = [c for c in checks if c["status"] == "fail"]
    assert [c["name"] for c in bad] == [failed]
    assert detail in bad[0]["detail"]


def test_a_p5_that_lost_a_gpu_from_the_bus_fails_the_count(tmp_path):
    facts = node(tmp_path, "g6e.48xlarge", "p5.48xlarge")  # 8 L40S where 8 H100 belong, 4 EFA of 32
    failed = {c["name"] for c in health.node_checks(facts, healthy_p5(), DECLARED) if c["status"] == "fail"}
    assert {"GPU model", "EFA devices"} <= failed


def test_g5_has_no_fabric_manager_to_judge(tmp_path):
    observed = {
        **healthy_p5(),
        "nvidia_smi": health.parse_nvidia_smi(smi(8, model="NVIDIA A10G")),
        "fabric_manager": "inactive",
    }
    result = statuses(health.node_checks(node(tmp_path, "g5.48xlarge", "g5.48xlarge"), observed, DECLARED))
    assert result["fabric manager"] == "not judged" and result["GPU model"] == "pass"


def test_trn1_needs_its_neuron_device_nodes(tmp_path):
    facts = node(tmp_path, "trn1.32xlarge", "trn1.32xlarge")
    base = {"fi_info_rc": 0, "manifest": None, "torch": None}
    assert statuses(health.node_checks(facts, {**base, "neuron_devices": 16}, DECLARED))["Neuron devices"] == "pass"
    assert statuses(health.node_checks(facts, {**base, "neuron_devices": 0}, DECLARED))["Neuron devices"] == "fail"


def test_cpu_node_of_unknown_type_is_not_judged_rather_than_passed(tmp_path):
    checks = health.node_checks(node(tmp_path, "cpu", None), {"manifest": None, "torch": "2.13.0+cpu"}, DECLARED)
    result = statuses(checks)
    assert result["PyTorch"] == "pass"
    assert {k for k, v in result.items() if v != "not judged"} == {"PyTorch"}


def test_gpus_without_dcgm_fail_when_diagnostics_are_asked_for(tmp_path):
    checks = health.node_checks(node(tmp_path, "p5.48xlarge", "p5.48xlarge"), healthy_p5(), DECLARED, dcgm_level=2)
    assert statuses(checks)["DCGM diagnostics"] == "fail"


def test_nvidia_smi_rows():
    rows = health.parse_nvidia_smi("0, NVIDIA H100 80GB HBM3, 580.126.20, 00000000:53:00.0\nNo devices were found\n")
    assert rows == [
        {"index": 0, "name": "NVIDIA H100 80GB HBM3", "driver_version": "580.126.20", "bus_id": "00000000:53:00.0"}
    ]


def test_components_not_installed_are_not_judged(tmp_path):
    checks = health.node_checks(node(tmp_path, "cpu", "c6i.2xlarge"), {"neuron_devices": 0}, DECLARED)
    by_name = {c["name"]: c for c in checks}
    assert by_name["EFA installer"]["status"] == "not judged"
    assert by_name["NCCL"]["detail"] == "not installed"
    assert by_name["Enroot"]["status"] == "not judged"
    assert by_name["Neuron driver"]["detail"] == "not installed"


class FakeModule:
    """Answers run_command from a table of argv -> (rc, stdout, stderr), as a node with dpkg would."""

    def __init__(self, answers):
        self.answers = answers

    def run_command(self, argv):
        return self.answers.get(tuple(argv), (1, "", f"dpkg-query: no packages found matching {argv[-1]}"))


def test_installed_reads_package_releases_without_running_the_tools(monkeypatch):
    monkeypatch.setattr(node_health.shutil, "which", lambda name: "/usr/bin/" + name if name == "dpkg-query" else None)
    monkeypatch.setattr(node_health, "EFA_RECORD", "/nonexistent/efa_installed_packages")
    module = FakeModule(
        {
            ("dpkg-query", "-W", "-f=${Version}", "libnccl2"): (0, "2.27.7-1+cuda12.9", ""),
            ("dpkg-query", "-W", "-f=${Version}", "enroot"): (0, "4.2.1-1", ""),
        }
    )
    observed = {}
    node_health.installed(module, observed)
    assert observed == {"efa_installer": None, "nccl": "2.27.7-1+cuda12.9", "enroot": "4.2.1", "neuron_driver": None}
