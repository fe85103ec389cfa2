"""The node facts module on fixture sysfs trees, and its IMDSv2 client against a local stand-in."""

import http.server
import threading
import typing

import pytest
from ansible_collections.awsome.ml_cluster.plugins.modules import node_facts

from tests.fixtures import sysfs


def facts_for(tmp_path, shape, instance_type=None):
    root = sysfs.build(shape, tmp_path / shape)
    return node_facts.node_facts(node_facts.pci_devices(str(root)), instance_type)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        (
            "p4d.24xlarge",
            {
                "gpu_count": 8,
                "gpu_model": "A100",
                "gpu_architecture": "ampere",
                "nvswitch_count": 6,
                "nvswitch": True,
                "efa_count": 4,
            },
        ),
        (
            "p5.48xlarge",
            {
                "gpu_count": 8,
                "gpu_model": "H100",
                "gpu_architecture": "hopper",
                "nvswitch_count": 4,
                "nvswitch": True,
                "efa_count": 32,
            },
        ),
        (
            "g5.48xlarge",
            {
                "gpu_count": 8,
                "gpu_model": "A10G",
                "gpu_architecture": "ampere",
                "nvswitch_count": 0,
                "nvswitch": False,
                "efa_count": 1,
            },
        ),
        (
            "g6e.48xlarge",
            {"gpu_count": 8, "gpu_model": "L40S", "gpu_architecture": "ada", "nvswitch": False, "efa_count": 4},
        ),
        (
            "trn1.32xlarge",
            {
                "gpu_count": 0,
                "gpu_model": None,
                "neuron_count": 16,
                "neuron_model": "Trainium",
                "efa_count": 8,
                "source": "pci",
            },
        ),
        ("cpu", {"gpu_count": 0, "nvswitch": False, "efa_count": 0, "neuron_count": 0, "source": "none"}),
    ],
)
def test_pci_scan_without_instance_type(tmp_path, shape, expected):
    facts = facts_for(tmp_path, shape)
    assert {key: facts[key] for key in expected} == expected


def test_p6_b200_nvswitches_come_from_the_instance_table(tmp_path):
    # Gen-4 NVSwitches are invisible on PCI: without the instance type the node looks switchless.
    assert facts_for(tmp_path, "p6-b200.48xlarge")["nvswitch"] is False
    facts = facts_for(tmp_path / "typed", "p6-b200.48xlarge", "p6-b200.48xlarge")
    assert facts["gpu_architecture"] == "blackwell"
    assert facts["nvswitch_count"] == 0
    assert facts["nvswitch"] is True
    assert facts["nvlink_subnet_manager"] is True
    assert facts["source"] == "pci"


def test_image_build_on_a_cpu_instance_takes_the_target_shape(tmp_path):
    facts = facts_for(tmp_path, "cpu", "p5.48xlarge")
    assert facts["source"] == "instance_type"
    assert (facts["gpu_count"], facts["gpu_architecture"], facts["nvswitch"]) == (8, "hopper", True)
    assert facts["gpus"] == []


def test_unknown_nvidia_gpu_is_reported_and_counted(tmp_path):
    # A GPU the collection has no PCI id for is still a GPU: counted, its model left to the type.
    facts = facts_for(tmp_path, "unknown-gpu")
    assert facts["unknown_nvidia_devices"] == ["0x9999"]
    assert (facts["gpu_count"], facts["gpu_model"], facts["pci"]["gpus"]) == (1, None, 1)
    typed = facts_for(tmp_path / "typed", "unknown-gpu", "g7e.2xlarge")
    assert (typed["gpu_model"], typed["gpu_architecture"]) == ("RTX PRO Server 6000", "blackwell")


def test_unknown_amazon_devices_are_reported_by_id(tmp_path):
    facts = facts_for(tmp_path, "unknown-amazon")
    assert facts["unknown_amazon_devices"] == ["0xefa9", "0x7964"]
    assert (facts["efa_count"], facts["neuron_count"]) == (0, 0)


def test_gpu_models_carry_ec2s_name_and_the_boards(tmp_path):
    gpu = facts_for(tmp_path, "p5.48xlarge")["gpus"][0]
    assert (gpu["model"], gpu["pci_name"], gpu["architecture"]) == ("H100", "H100-SXM5-80GB", "hopper")


@pytest.mark.parametrize(
    ("shape", "nvswitch"),
    [("p5.48xlarge", True), ("p5.4xlarge", False), ("g6e.12xlarge", False), ("g5.xlarge", False)],
)
def test_nvswitch_follows_the_size(tmp_path, shape, nvswitch):
    assert facts_for(tmp_path, "cpu", shape)["nvswitch"] is nvswitch


def test_expected_efa_rules(tmp_path):
    devices = node_facts.pci_devices(str(sysfs.build("g6e.48xlarge", tmp_path)))

    def rule(**kw):
        expected = node_facts.node_facts(devices, "g6e.48xlarge", **kw)["expected"]
        return expected["efa_count"], expected["efa_rule"]

    assert rule() == (4, "the most g6e.48xlarge takes (EC2's MaximumEfaInterfaces)")
    assert rule(efa_attached=2) == (2, "the EFA interfaces attached (instance metadata)")
    assert rule(efa_attached=2, efa_override=1) == (1, "the inventory's expected EFA count")
    assert node_facts.node_facts(devices, None)["expected"] == {
        "record": None,
        "efa_count": None,
        "efa_rule": "no instance type known",
    }


def test_missing_sysfs_is_an_empty_bus(tmp_path):
    assert node_facts.pci_devices(str(tmp_path / "nothing")) == []


MACS = {"0e:00:00:00:00:01": "interface", "0e:00:00:00:00:02": "efa", "0e:00:00:00:00:03": "efa-only"}


class FakeImds(http.server.BaseHTTPRequestHandler):
    """IMDSv2 as EC2 answers it: a PUT for a token, then GETs that must carry it."""

    paths: typing.ClassVar[dict] = {"/latest/meta-data/instance-type": "p5.48xlarge"}

    def do_PUT(self):
        ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        self._reply(200 if ok else 400, b"token-123")

    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != "token-123":
            self._reply(401, b"")
        elif self.path in self.paths:
            self._reply(200, self.paths[self.path].encode())
        else:
            self._reply(404, b"")

    def _reply(self, code, body):
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def imds_url():
    server = http.server.HTTPServer(("127.0.0.1", 0), FakeImds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_imds_v2_instance_type(imds_url):
    assert node_facts.imds_instance_type(imds_url, 1.0) == "p5.48xlarge"


def test_imds_counts_the_efa_interfaces_attached(imds_url, monkeypatch):
    base, original = "/latest/meta-data/network/interfaces/macs/", dict(FakeImds.paths)
    paths = {base: "".join(f"{mac}/\n" for mac in MACS)} | {f"{base}{m}/interface-type": t for m, t in MACS.items()}
    monkeypatch.setattr(FakeImds, "paths", {**original, **paths})
    assert node_facts.Imds(imds_url, 1.0).efa_attached() == 2
    # an IMDS without interface-type cannot tell: no guess
    monkeypatch.setattr(FakeImds, "paths", {**original, base: paths[base]})
    assert node_facts.Imds(imds_url, 1.0).efa_attached() is None


def test_no_imds_is_none_quickly():
    # a closed port: refused at once, no exception escapes
    assert node_facts.imds_instance_type("http://127.0.0.1:9", 0.5) is None


@pytest.mark.parametrize("marker", ["run/systemd/container", ".dockerenv", "run/.containerenv"])
def test_container_markers(tmp_path, marker):
    assert node_facts.in_container(str(tmp_path)) is False
    (tmp_path / marker).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / marker).write_text("docker\n")
    assert node_facts.in_container(str(tmp_path)) is True


@pytest.mark.parametrize("shape", [s for s in sysfs.SHAPES if "." in s])
def test_every_fixture_node_shows_what_its_instance_type_has(tmp_path, shape):
    # The fixtures are typed from the reference, the table comes from EC2's data: they must agree.
    facts = facts_for(tmp_path, shape, shape)
    record = facts["expected"]["record"]
    assert (facts["pci"]["gpus"], facts["pci"]["efa"], facts["pci"]["neuron"]) == (
        record["gpu_count"],
        record["efa_count"],
        record["neuron_device_count"],
    )
    assert facts["gpu_model"] == record["gpu_model"] and facts["neuron_model"] == record["neuron_model"]
