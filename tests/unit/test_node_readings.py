"""The parsers of nvidia-smi, fi_info and neuron-ls (plugins/module_utils/node_readings.py) on
outputs in the tools' formats for several instance sizes (tests/fixtures/readings/README.md), and on
truncated and garbled ones: those are "could not read", never a guess."""

import json
from pathlib import Path

import pytest
from ansible_collections.awsome.ml_cluster.plugins.module_utils import node_readings
from ansible_collections.awsome.ml_cluster.plugins.module_utils.node_readings import Unreadable

READINGS = Path(__file__).resolve().parents[1] / "fixtures" / "readings"


def reading(name):
    return (READINGS / name).read_text()


@pytest.mark.parametrize(
    ("instance_type", "count", "name"),
    [("g5.xlarge", 1, "NVIDIA A10G"), ("g6e.12xlarge", 4, "NVIDIA L40S"), ("p5.48xlarge", 8, "NVIDIA H100 80GB HBM3")],
)
def test_nvidia_smi_rows_and_banner(instance_type, count, name):
    rows = node_readings.parse_nvidia_smi(reading(f"nvidia-smi-query-{instance_type}.csv"))
    assert [r["index"] for r in rows] == list(range(count))
    assert {r["name"] for r in rows} == {name} and {r["driver_version"] for r in rows} == {"580.126.20"}
    header = node_readings.parse_nvidia_smi_header(reading(f"nvidia-smi-{instance_type}.txt"))
    assert header == {"driver_version": "580.126.20", "cuda_version": "13.0"}


def test_r610_banner_names_kmd_and_cuda_umd_versions():
    header = node_readings.parse_nvidia_smi_header(reading("nvidia-smi-g5.xlarge-610.txt"))
    assert header == {"driver_version": "610.57.04", "cuda_version": "13.3"}


def test_an_older_driver_reports_its_own_cuda():
    header = node_readings.parse_nvidia_smi_header(reading("nvidia-smi-g5.xlarge-535.txt"))
    assert header == {"driver_version": "535.288.01", "cuda_version": "12.2"}


def test_no_devices_is_an_answer_of_none():
    assert node_readings.parse_nvidia_smi("No devices were found\n") == []


@pytest.mark.parametrize(
    ("parse", "name", "says"),
    [
        (node_readings.parse_nvidia_smi, "nvidia-smi-query-truncated.csv", "not a nvidia-smi GPU row"),
        (node_readings.parse_nvidia_smi, "nvidia-smi-query-garbled.csv", "Unable to determine"),
        (node_readings.parse_nvidia_smi_header, "nvidia-smi-truncated.txt", "no 'Driver Version"),
        (node_readings.parse_fi_info, "fi_info-truncated.txt", "no complete efa entry"),
        (node_readings.parse_fi_info, "fi_info-garbled.txt", "not a fi_info line"),
        (node_readings.parse_neuron_ls, "neuron-ls-truncated.json", "does not parse"),
        (node_readings.parse_neuron_ls, "neuron-ls-garbled.json", "device entry without"),
    ],
)
def test_cut_short_or_garbled_outputs_are_unreadable(parse, name, says):
    with pytest.raises(Unreadable, match=says):
        parse(reading(name))


def test_empty_outputs_are_unreadable():
    for parse in (node_readings.parse_nvidia_smi, node_readings.parse_fi_info, node_readings.parse_neuron_ls):
        with pytest.raises(Unreadable):
            parse("")


@pytest.mark.parametrize(
    ("name", "domains"),
    [
        ("fi_info-g6e.12xlarge.txt", ["rdmap0s31-rdm"]),
        ("fi_info-p4d.24xlarge.txt", ["rdmap144s27-rdm", "rdmap160s27-rdm", "rdmap16s27-rdm", "rdmap32s27-rdm"]),
        # without -t FI_EP_RDM fi_info lists each device's datagram endpoint too: one device, one RDM domain
        ("fi_info-all-p4d.24xlarge.txt", ["rdmap144s27-rdm", "rdmap160s27-rdm", "rdmap16s27-rdm", "rdmap32s27-rdm"]),
        # libfabric 2 lists each RDM domain twice (fabrics efa-direct and efa), and the datagram one
        ("fi_info-libfabric2-all-2devices.txt", ["rdmap79s0-rdm", "rdmap80s0-rdm"]),
    ],
)
def test_fi_info_counts_one_rdm_domain_per_efa_device(name, domains):
    assert node_readings.parse_fi_info(reading(name)) == domains


@pytest.mark.parametrize(
    ("instance_type", "devices", "cores", "memory"),
    [
        ("trn1.2xlarge", 1, [2], [32 << 30]),
        ("trn1.32xlarge", 16, [2], [32 << 30]),
        ("trn2.48xlarge", 16, [4], [96 << 30]),
    ],
)
def test_neuron_ls_devices_cores_and_memory(instance_type, devices, cores, memory):
    result = node_readings.parse_neuron_ls(reading(f"neuron-ls-{instance_type}.json"))
    assert (result["devices"], result["cores_per_device"], result["memory_bytes"]) == (devices, cores, memory)
    assert sorted(result["connected"]) == list(range(devices))


def test_neuron_ls_one_device_has_no_links():
    assert node_readings.parse_neuron_ls(reading("neuron-ls-trn1.2xlarge.json"))["connected"] == {0: []}


def test_neuron_ls_torus_links():
    result = node_readings.parse_neuron_ls(reading("neuron-ls-trn1.32xlarge.json"))
    assert all(len(links) == 4 for links in result["connected"].values())
    assert all(d in result["connected"][peer] for d, links in result["connected"].items() for peer in links)


def test_nvlink_status_reads_every_link_of_every_gpu():
    gpus = node_readings.parse_nvlink_status((READINGS / "nvidia-smi-nvlink-status-a100-sxm4-8gpu.txt").read_text())
    assert [g["index"] for g in gpus] == list(range(8)) and gpus[0]["name"] == "NVIDIA A100-SXM4-80GB"
    assert all(len(g["links"]) == 12 and set(g["links"].values()) == {"25 GB/s"} for g in gpus)


def test_nvlink_status_reads_inactive_links_and_gpus_without_any():
    bridged = node_readings.parse_nvlink_status(
        (READINGS / "nvidia-smi-nvlink-status-h100-pcie-2gpu-inactive.txt").read_text()
    )
    assert [n for n, speed in bridged[1]["links"].items() if speed is None] == [4, 5, 10, 11, 16, 17]
    (b200,) = node_readings.parse_nvlink_status(
        (READINGS / "nvidia-smi-nvlink-status-b200-all-inactive.txt").read_text()
    )
    assert b200 == {"index": 2, "name": "NVIDIA B200", "links": {}, "all_inactive": True}
    assert node_readings.parse_nvlink_status("") == []  # no NVLink hardware (an A10): nothing printed


def test_nvlink_status_that_is_not_nvidia_smis_is_unreadable():
    with pytest.raises(node_readings.Unreadable, match="not a line of nvidia-smi nvlink --status"):
        node_readings.parse_nvlink_status("GPU 0: NVIDIA H100\n         Link 0: 26.562 GB/s\n  Link 1: ERR!\n")


def test_dcgm_4s_json_names_each_failed_test_gpu_and_severity():
    found = node_readings.parse_dcgmi_diag((READINGS / "dcgmi-diag-r1-j-4.2.3-gb10-persistence-fail.json").read_text())
    assert found["version"] == "4.2.3" and found["results"] == 1
    (failed,) = found["failed"]
    assert failed == {**failed, "category": "Deployment", "test": "software", "gpu": 0, "error_id": 29}
    assert failed["severity"] == "monitor"  # DCGM_ERROR_CONFIG: a setting, not the hardware


def test_dcgm_3s_layout_with_a_leading_line_and_null_entries_reads_as_passed():
    found = node_readings.parse_dcgmi_diag((READINGS / "nvvs-3.1.0-json-pass.txt").read_text())
    assert found["version"] == "3.1.0" and found["failed"] == [] and found["results"] > 8


def test_dcgm_output_without_its_document_is_unreadable_and_a_runtime_error_says_why():
    with pytest.raises(node_readings.Unreadable):
        node_readings.parse_dcgmi_diag("Error: unable to establish a connection to the specified host\n")
    with pytest.raises(node_readings.Unreadable):
        node_readings.parse_dcgmi_diag('{"DCGM Diagnostic" : {"test_categories" : [')
    # the shape dcgmi's HelperJsonBuildOutput gives when the diagnostic could not start (DCGM 4 source)
    with pytest.raises(ValueError, match="could not run the diagnostic: No GPUs"):
        node_readings.parse_dcgmi_diag('{"DCGM Diagnostic": {"version": "4.2.3", "runtime_error": "No GPUs"}}')


def test_a_dcgm_4_failure_held_only_in_a_tests_summary_is_read():
    # the recorded document with its result's warnings moved to the test's summary, where DCGM 4 puts
    # an error tied to no GPU (HelperJsonAddTestSummary)
    doc = json.loads((READINGS / "dcgmi-diag-r1-j-4.2.3-gb10-persistence-fail.json").read_text())
    test = doc["DCGM Diagnostic"]["test_categories"][0]["tests"][0]
    test["test_summary"]["warnings"] = test["results"][0].pop("warnings")
    test["results"][0]["status"] = "Pass"
    (failed,) = node_readings.parse_dcgmi_diag(json.dumps(doc))["failed"]
    assert failed["test"] == "software" and failed["gpu"] is None and failed["error_id"] == 29


def test_fi_pingpong_rows_are_read_with_their_acknowledgements():
    # recorded: libfabric 1.18.0 over EFA (ComputeCanada/puppet-magic_castle PR 331)
    found = node_readings.parse_fi_pingpong((READINGS / "fi_pingpong-efa-libfabric-1.18.0.txt").read_text())
    assert [r["size"] for r in found["rows"]] == ["64", "256", "1k", "4k", "64k", "1m"]
    assert all(r["acknowledged"] for r in found["rows"]) and found["errors"] == []
    assert found["rows"][-1]["mb_per_s"] == 2185.67 and found["rows"][0]["usec_per_xfer"] == 2049.70


def test_fi_pingpong_errors_and_unacknowledged_transfers_are_read():
    missing = node_readings.parse_fi_pingpong((READINGS / "fi_pingpong-no-efa-domain.txt").read_text())
    assert missing == {"rows": [], "errors": ["fi_getinfo(): util/pingpong.c:1151, ret=-61 (No data available)"]}
    cut = node_readings.parse_fi_pingpong((READINGS / "fi_pingpong-unacknowledged.txt").read_text())
    assert [r["acknowledged"] for r in cut["rows"]] == [True, True, False]
    assert cut["errors"] == ["[error] util/pingpong.c:1026: ack timed out"]


def test_output_that_is_not_fi_pingpongs_is_unreadable():
    with pytest.raises(node_readings.Unreadable, match="no fi_pingpong table"):
        node_readings.parse_fi_pingpong("Segmentation fault\n")
