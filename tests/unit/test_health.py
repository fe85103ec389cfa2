"""Node health checks (plugins/module_utils/health.py) on fixture nodes, healthy and broken."""

from pathlib import Path

import pytest
from ansible_collections.awsome.ml_cluster.plugins.module_utils import hardware, health, node_readings
from ansible_collections.awsome.ml_cluster.plugins.modules import node_facts, node_health

from tests.fixtures import sysfs

DECLARED = {
    "nvidia_driver": {"version": "580.126.20"},
    "cuda_toolkits": [{"version": "12.8.1"}, {"version": "12.9.1"}],
    "pytorch": {"version": "2.13.0"},
    "cuda_default": "12.8",
    "efa": {"version": "1.42.0"},
    "nccl": {"version": "2.27.7-1", "cuda": "12.9"},
    "enroot": {"version": "4.2.1"},
    "neuron": {"sdk": "2.32.0", "aws-neuronx-dkms": "2.30.2.0"},
}


def node(tmp_path, shape, instance_type, **rules):
    sysfs.build(shape, tmp_path)
    return node_facts.node_facts(node_facts.pci_devices(str(tmp_path)), instance_type, **rules)


HEADER = {"driver_version": "580.126.20", "cuda_version": "13.0"}


def smi(count, model="NVIDIA H100 80GB HBM3", driver="580.126.20"):
    return "\n".join(f"{i}, {model}, {driver}, 00000000:{0x53 + i:02X}:00.0" for i in range(count))


def healthy_p5():
    return {
        "nvidia_smi": node_readings.parse_nvidia_smi(smi(8)),
        "nvidia_smi_header": HEADER,
        "fabric_manager": "active",
        "fi_info_rc": 0,
        "fi_info_domains": [f"rdmap{i}s0-rdm" for i in range(32)],
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
        "CUDA driver support": "pass",
        "fabric manager": "pass",
        "EFA devices": "pass",
        "libfabric EFA provider": "pass",
        "libfabric EFA devices": "pass",
        "NCCL net plugin": "pass",
        "Neuron devices": "pass",
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
        ({"nvidia_smi": node_readings.parse_nvidia_smi(smi(7))}, "NVIDIA driver", "lists 7 of 8 GPUs"),
        (
            {"nvidia_smi": node_readings.parse_nvidia_smi(smi(8, driver="570.1"))},
            "NVIDIA driver",
            "declared 580.126.20",
        ),
        ({"nvidia_smi": None, "nvidia_smi_error": "NVIDIA-SMI has failed"}, "NVIDIA driver", "NVIDIA-SMI has failed"),
        (
            {"nvidia_smi_header": {"driver_version": "535.288.01", "cuda_version": "12.2"}},
            "CUDA driver support",
            "supports CUDA 12.2; the newest toolkit is 12.9",
        ),
        ({"nvidia_smi_header": None, "nvidia_smi_header_error": "cut short"}, "CUDA driver support", "cut short"),
        ({"fi_info_domains": ["rdmap0s0-rdm"] * 31}, "libfabric EFA devices", "31 RDM domains, 32 EFA devices"),
        ({"fi_info_domains": None, "fi_info_read_error": "garbled"}, "libfabric EFA devices", "could not read"),
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


def test_the_wrong_hardware_for_the_type_fails_naming_both_numbers(tmp_path):
    facts = node(tmp_path, "g6e.48xlarge", "p5.48xlarge")  # 8 L40S where 8 H100 belong, 4 EFA of 32
    checks = {c["name"]: c for c in health.node_checks(facts, healthy_p5(), DECLARED)}
    assert checks["GPU model"]["status"] == "fail"
    assert checks["GPU model"]["detail"] == "L40S on the PCI bus, p5.48xlarge has H100"
    assert checks["EFA devices"]["status"] == "fail"
    assert checks["EFA devices"]["detail"] == (
        "4 on the PCI bus, 32 expected (the most p5.48xlarge takes (EC2's MaximumEfaInterfaces))"
    )


def small(instance_type, gpus, model):
    observed = {**healthy_p5(), "nvidia_smi": node_readings.parse_nvidia_smi(smi(gpus, model=model))}
    return observed


@pytest.mark.parametrize(
    ("shape", "gpus", "model", "efa"),
    [("g5.xlarge", 1, "NVIDIA A10G", 0), ("g6e.12xlarge", 4, "NVIDIA L40S", 1), ("p5.4xlarge", 1, "NVIDIA H100", 1)],
)
def test_healthy_small_sizes_pass_where_the_family_table_drained_them(tmp_path, shape, gpus, model, efa):
    observed = {**small(shape, gpus, model), "fi_info_domains": [f"rdmap{i}-rdm" for i in range(efa)]}
    checks = {c["name"]: c for c in health.node_checks(node(tmp_path, shape, shape), observed, DECLARED)}
    assert checks["GPU count"]["status"] == "pass", checks["GPU count"]
    assert checks["GPU count"]["detail"] == f"{gpus} on the PCI bus, {shape} has {gpus}"
    assert checks["EFA devices"]["status"] == "pass", checks["EFA devices"]
    assert checks["fabric manager"]["status"] == "not judged"  # a slice of an HGX board has no switch
    assert [c["name"] for c in checks.values() if c["status"] == "fail"] == []


def test_a_g5_2xlarge_that_lost_its_gpu_fails(tmp_path):
    facts = node(tmp_path, "cpu", "g5.2xlarge")
    checks = {c["name"]: c for c in health.node_checks(facts, {**healthy_p5(), "nvidia_smi": None}, DECLARED)}
    assert checks["GPU count"] == {
        "name": "GPU count",
        "status": "fail",
        "detail": "0 on the PCI bus, g5.2xlarge has 1",
    }


def test_efa_expectation_rules_are_named(tmp_path):
    # Attached interfaces (instance metadata) beat the type's maximum; the inventory beats both.
    attached = node(tmp_path / "a", "g6e.48xlarge", "g6e.48xlarge", efa_attached=4)
    override = node(tmp_path / "o", "g6e.48xlarge", "g6e.48xlarge", efa_attached=2, efa_override=4)
    fewer = node(tmp_path / "f", "g6e.48xlarge", "g6e.48xlarge", efa_attached=2)
    assert health.efa_count_check(attached)["detail"] == (
        "4 on the PCI bus, 4 expected (the EFA interfaces attached (instance metadata))"
    )
    assert (
        health.efa_count_check(override)["detail"]
        == "4 on the PCI bus, 4 expected (the inventory's expected EFA count)"
    )
    assert health.efa_count_check(fewer)["status"] == "fail"


def test_unknown_instance_types_are_not_judged_with_the_reason(tmp_path):
    checks = {
        c["name"]: c for c in health.node_checks(node(tmp_path, "p5.48xlarge", "p9.96xlarge"), healthy_p5(), DECLARED)
    }
    why = "p9.96xlarge is not in the instance type table (plugins/module_utils/instance_types.py)"
    for name in ("GPU count", "EFA devices"):
        assert checks[name]["status"] == "not judged" and why in checks[name]["detail"]
    untyped = {
        c["name"]: c for c in health.node_checks(node(tmp_path / "u", "p5.48xlarge", None), healthy_p5(), DECLARED)
    }
    assert "no instance type known" in untyped["GPU count"]["detail"]


def test_gpus_the_collection_does_not_know_are_reported_by_id_not_failed(tmp_path):
    facts = node(tmp_path, "unknown-gpu", "g7e.2xlarge")
    checks = {c["name"]: c for c in health.node_checks(facts, small("g7e.2xlarge", 1, "NVIDIA RTX PRO 6000"), DECLARED)}
    assert checks["GPU count"]["status"] == "pass"
    assert checks["GPU model"]["status"] == "not judged"
    assert "0x9999" in checks["GPU model"]["detail"] and "RTX PRO Server 6000" in checks["GPU model"]["detail"]


def test_fractional_and_non_nvidia_gpus_are_not_judged(tmp_path, monkeypatch):
    # Older EC2 data lists Habana's dl1 (8 Gaudi) as GPUs: the collection must not count NVIDIA's there.
    dl1 = {**hardware.INSTANCE_TYPES["p4d.24xlarge"], "gpu_manufacturer": "Habana", "gpu_model": "Gaudi HL-205"}
    monkeypatch.setitem(hardware.INSTANCE_TYPES, "dl1.24xlarge", dl1)
    g6f = {c["name"]: c for c in health.node_checks(node(tmp_path, "cpu", "g6f.large"), {}, DECLARED)}
    assert g6f["GPU count"]["status"] == "not judged" and "0.125 of a L4" in g6f["GPU count"]["detail"]
    gaudi = {c["name"]: c for c in health.node_checks(node(tmp_path / "d", "cpu", "dl1.24xlarge"), {}, DECLARED)}
    assert gaudi["GPU count"]["status"] == "not judged" and "Habana GPUs" in gaudi["GPU count"]["detail"]


def test_g5_has_no_fabric_manager_to_judge(tmp_path):
    observed = {
        **healthy_p5(),
        "nvidia_smi": node_readings.parse_nvidia_smi(smi(8, model="NVIDIA A10G")),
        "fabric_manager": "inactive",
    }
    observed["fi_info_domains"] = ["rdmap0s31-rdm"]
    result = statuses(health.node_checks(node(tmp_path, "g5.48xlarge", "g5.48xlarge"), observed, DECLARED))
    assert result["fabric manager"] == "not judged" and result["GPU model"] == "pass"


def neuron_ls(devices, cores):
    return {"devices": devices, "cores_per_device": [cores], "memory_bytes": [1], "connected": {}}


def test_trn1_needs_its_neuron_device_nodes(tmp_path):
    facts = node(tmp_path, "trn1.32xlarge", "trn1.32xlarge")
    base = {"fi_info_rc": 0, "manifest": None, "torch": None, "neuron_ls": neuron_ls(16, 2)}
    assert statuses(health.node_checks(facts, {**base, "neuron_devices": 16}, DECLARED))["Neuron devices"] == "pass"
    assert statuses(health.node_checks(facts, {**base, "neuron_devices": 0}, DECLARED))["Neuron devices"] == "fail"


@pytest.mark.parametrize(
    ("shape", "reading", "status"),
    [
        ("trn1.32xlarge", neuron_ls(16, 2), "pass"),
        ("trn1.32xlarge", neuron_ls(15, 2), "fail"),
        ("trn1.2xlarge", neuron_ls(1, 2), "pass"),
        ("trn2.48xlarge", neuron_ls(16, 4), "pass"),  # logical NeuronCore config 2: 4 of 8 cores shown
        ("trn2.48xlarge", neuron_ls(16, 8), "pass"),  # LNC=1
        ("trn2.3xlarge", neuron_ls(1, 3), "fail"),
        ("trn2.3xlarge", None, "fail"),
    ],
)
def test_neuron_ls_is_judged_against_the_bus_and_ec2(tmp_path, shape, reading, status):
    observed = {"neuron_ls": reading, "neuron_ls_error": "could not read its output: cut short", "neuron_devices": 1}
    assert statuses(health.node_checks(node(tmp_path, shape, shape), observed, DECLARED))["neuron-ls"] == status


def test_cpu_node_of_unknown_type_is_not_judged_rather_than_passed(tmp_path):
    checks = health.node_checks(node(tmp_path, "cpu", None), {"manifest": None, "torch": "2.13.0+cpu"}, DECLARED)
    result = statuses(checks)
    assert result["PyTorch"] == "pass"
    assert {k for k, v in result.items() if v != "not judged"} == {"PyTorch"}


def test_gpus_without_dcgm_fail_when_diagnostics_are_asked_for(tmp_path):
    checks = health.node_checks(node(tmp_path, "p5.48xlarge", "p5.48xlarge"), healthy_p5(), DECLARED, dcgm_level=2)
    assert statuses(checks)["DCGM diagnostics"] == "fail"


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


READINGS = Path(__file__).resolve().parents[1] / "fixtures" / "readings"


def test_the_module_reads_each_tool_and_says_when_it_could_not(monkeypatch):
    monkeypatch.setattr(node_health.shutil, "which", lambda name: "/usr/bin/" + name)
    query = ("nvidia-smi", "--query-gpu=index,name,driver_version,pci.bus_id", "--format=csv,noheader")
    module = FakeModule(
        {
            query: (0, (READINGS / "nvidia-smi-query-truncated.csv").read_text(), ""),
            ("nvidia-smi",): (0, (READINGS / "nvidia-smi-p5.48xlarge.txt").read_text(), ""),
            ("systemctl", "is-active", "nvidia-fabricmanager"): (0, "active\n", ""),
            ("fi_info", "-p", "efa", "-t", "FI_EP_RDM"): (0, (READINGS / "fi_info-p4d.24xlarge.txt").read_text(), ""),
            ("ldconfig", "-p"): (0, "", ""),
            ("/usr/bin/neuron-ls", "--json-output"): (0, (READINGS / "neuron-ls-truncated.json").read_text(), ""),
        }
    )
    observed = {}
    node_health.nvidia(module, observed)
    node_health.network(module, observed, [])
    node_health.neuron(module, observed)
    assert "nvidia_smi" not in observed and observed["nvidia_smi_error"].startswith("could not read its output")
    assert observed["nvidia_smi_header"] == {"driver_version": "580.126.20", "cuda_version": "13.0"}
    assert len(observed["fi_info_domains"]) == 4
    assert "neuron_ls" not in observed and "does not parse" in observed["neuron_ls_error"]
    driver = health.driver_check(observed, DECLARED, 8)
    assert driver["status"] == "fail" and "could not read its output" in driver["detail"]
    assert health.cuda_check(observed, DECLARED)["status"] == "pass"
