"""Packer: every build validates offline, each flavour's tags are its components' versions, and the
docker build of the GPU flavour (and, opt-in, the Neuron flavour) produces an image whose manifest,
labels (the AMI tags' twin) and version set agree, with the hygiene applied."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import run, run_unless_crashed_twice

ROOT = Path(__file__).resolve().parents[2]
PACKER = str(ROOT / "packer" / "run.sh")
DEFAULTS = yaml.safe_load((ROOT / "roles" / "versions" / "defaults" / "main.yml").read_text())


@pytest.fixture(scope="module")
def qemu_flags(testbed):
    """The qemu source reads its disk's checksum file and its key: the test bed's (tests/testbed/vm-image.sh)."""
    disk = Path(run([str(ROOT / "tests" / "testbed" / "vm.sh"), "image"], env=testbed).stdout.split()[-1])
    files = {
        "qemu_disk": "disk.qcow2",
        "qemu_kernel": "vmlinuz",
        "qemu_initrd": "initrd.img",
        "qemu_ssh_key": "id_ed25519",
    }
    return [arg for name, file in files.items() for arg in ("-var", f"{name}={disk / file}")]


@pytest.mark.integration
@pytest.mark.parametrize("flavour", ["gpu", "neuron", "cpu"])
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_every_build_validates(testbed, qemu_flags, flavour, arch):
    run(
        [PACKER, "validate", f"-var-file=flavours/{flavour}.pkrvars.hcl", "-var", f"arch={arch}", *qemu_flags],
        env=testbed,
    )


# What every source's tags, the docker image's labels and the manifest's custom data add for the flavour
# (packer/sources.pkr.hcl, builds.pkr.hcl): Packer 1.6 cannot name it as a local of locals, so each says it.
FLAVOUR_TAGS = (
    'var.flavour == "gpu" ? merge(local.gpu_tags, local.ofi_tag) : var.flavour == "neuron" ? local.neuron_tags : {}'
)


def test_every_source_and_the_manifest_add_the_same_flavour_tags():
    text = "".join((ROOT / "packer" / name).read_text() for name in ("sources.pkr.hcl", "builds.pkr.hcl"))
    flavoured = [line for line in text.splitlines() if "var.flavour ==" in line]
    # five amazon-ebs sources, the docker labels and the manifest's custom data
    assert len(flavoured) == 7 and all(FLAVOUR_TAGS in line for line in flavoured), flavoured


def neuron_tags():
    return {
        "ml_cluster.collection": "awsome.ml_cluster",
        "ml_cluster.flavour": "neuron",
        "ml_cluster.neuron": DEFAULTS["versions_neuron"]["sdk"],
        "ml_cluster.efa": DEFAULTS["versions_efa"]["version"],
        "ml_cluster.enroot": DEFAULTS["versions_enroot"]["version"],
    }


@pytest.mark.integration
@pytest.mark.parametrize("flavour", ["gpu", "neuron", "cpu"])
def test_each_flavour_is_tagged_with_its_components_from_the_version_set(testbed, flavour):
    expression = f"jsonencode(merge(local.base_tags, {FLAVOUR_TAGS}))"
    console = subprocess.run(
        [PACKER, "console", f"-var-file=flavours/{flavour}.pkrvars.hcl"],
        input=expression,
        env=testbed,
        text=True,
        capture_output=True,
        check=True,
    )
    tags = {key.replace(":", "."): value for key, value in json.loads(console.stdout.strip().splitlines()[-1]).items()}
    expected = {"gpu": expected_labels(), "neuron": neuron_tags()}
    assert tags == expected.get(flavour, {"ml_cluster.collection": "awsome.ml_cluster", "ml_cluster.flavour": "cpu"})


def expected_labels():
    """The tags every GPU AMI carries, derived here from the version set independently of Packer."""
    return {
        "ml_cluster.collection": "awsome.ml_cluster",
        "ml_cluster.flavour": "gpu",
        "ml_cluster.nvidia_driver": DEFAULTS["versions_nvidia_driver"]["version"],
        "ml_cluster.fabric_manager": DEFAULTS["versions_fabric_manager"],
        "ml_cluster.cuda_toolkits": ",".join(t["version"] for t in DEFAULTS["versions_cuda_toolkits"]),
        "ml_cluster.cuda_default": DEFAULTS["versions_cuda_default"],
        "ml_cluster.nvidia_container_toolkit": DEFAULTS["versions_nvidia_container_toolkit"]["version"],
        "ml_cluster.dcgm": DEFAULTS["versions_dcgm"]["version"],
        "ml_cluster.efa": DEFAULTS["versions_efa"]["version"],
        "ml_cluster.aws_ofi_nccl": DEFAULTS["versions_efa"]["bundles"]["aws_ofi_nccl"],
        "ml_cluster.nccl": "{version}+cuda{cuda}".format(**DEFAULTS["versions_nccl"]),
        "ml_cluster.gdrcopy": DEFAULTS["versions_gdrcopy"]["version"],
        "ml_cluster.nccl_tests": DEFAULTS["versions_nccl_tests"]["version"],
        "ml_cluster.enroot": DEFAULTS["versions_enroot"]["version"],
    }


@pytest.fixture(scope="module")
def gpu_image(testbed, tmp_path_factory, keep_artifacts):
    out = tmp_path_factory.mktemp("packer")
    tag = "awsome-ml-gpu:test"
    run_unless_crashed_twice(
        [
            PACKER,
            "build",
            "-only=ml.docker.local",
            "-var-file=flavours/gpu.pkrvars.hcl",
            "-var",
            f"mirror_base={testbed['AWSOME_MIRROR_URL']}",
            "-var",
            f"versions_file={testbed['AWSOME_CACHE']}/mirror-versions.yml",
            "-var",
            f"output_dir={out}",
            "-var",
            "image_tag=test",
        ],
        "PACKER CRASH",
        env=testbed,
    )
    yield {"tag": tag, "packer_manifest": json.loads((out / "packer-manifest.json").read_text())}
    if not keep_artifacts:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def in_image(image, script):
    return run(["docker", "run", "--rm", image["tag"], "bash", "-c", script]).stdout


@pytest.mark.integration
def test_labels_are_the_version_set(gpu_image):
    labels = json.loads(run(["docker", "inspect", "-f", "{{json .Config.Labels}}", gpu_image["tag"]]).stdout)
    assert labels == expected_labels()
    build = gpu_image["packer_manifest"]["builds"][-1]
    assert {k.replace(":", "."): v for k, v in build["custom_data"].items()} == expected_labels()


@pytest.mark.integration
def test_manifest_holds_the_declared_versions(gpu_image):
    manifest = json.loads(in_image(gpu_image, "cat /etc/ml_cluster/manifest.json"))
    components = manifest["components"]
    assert manifest["flavour"] == "gpu"
    assert manifest["nvidia_module_flavour"] == "open"  # H100 target: open modules
    assert manifest["kernel"] is None  # a container has no kernel of its own
    assert components["nvidia_driver"] == DEFAULTS["versions_nvidia_driver"]
    assert components["cuda_toolkits"] == DEFAULTS["versions_cuda_toolkits"]
    assert components["dcgm"] == DEFAULTS["versions_dcgm"]
    assert components["nccl"] == DEFAULTS["versions_nccl"]
    assert components["efa"]["aws_ofi_nccl"] == components["aws_ofi_nccl"]["version"]
    assert components["nccl_tests"] == {"version": DEFAULTS["versions_nccl_tests"]["version"]}
    assert components["enroot"] == {"version": DEFAULTS["versions_enroot"]["version"]}
    # the manifest and the labels say the same
    labels = expected_labels()
    assert components["nvidia_driver"]["version"] == labels["ml_cluster.nvidia_driver"]
    assert ",".join(t["version"] for t in components["cuda_toolkits"]) == labels["ml_cluster.cuda_toolkits"]


@pytest.mark.integration
def test_installed_matches_declared(gpu_image):
    installed = in_image(
        gpu_image,
        "dpkg-query -W -f='${Package}=${Version}\\n' nvidia-open nvidia-fabricmanager "
        "cuda-toolkit-12-8 cuda-toolkit-13-0 nvidia-container-toolkit "
        "datacenter-gpu-manager-4-core libnccl2 libnccl-dev enroot enroot+caps",
    ).split()
    assert installed == [
        "cuda-toolkit-12-8=12.8.1-1",
        "cuda-toolkit-13-0=13.0.2-1",
        "datacenter-gpu-manager-4-core=1:4.5.3-1",
        "enroot={}-1".format(DEFAULTS["versions_enroot"]["version"]),
        "enroot+caps={}-1".format(DEFAULTS["versions_enroot"]["version"]),
        "libnccl-dev=2.27.7-1+cuda12.9",
        "libnccl2=2.27.7-1+cuda12.9",
        "nvidia-container-toolkit=1.20.0-1",
        "nvidia-fabricmanager=580.126.20-1",
        "nvidia-open=580.126.20-1",
    ]


@pytest.mark.integration
def test_hygiene(gpu_image):
    # openssh-server made host keys during the build; none may ship
    checks = [
        "dpkg-query -W -f='${Status}\\n' openssh-server",
        "ls /etc/ssh/ssh_host_* 2>&1",
        "wc -c < /etc/machine-id",
        "ls /var/lib/dbus/machine-id 2>&1",
        "ls /root/.bash_history 2>&1",
        "find /var/log -type f -size +0",
    ]
    lines = in_image(gpu_image, "; ".join(checks)).splitlines()
    assert lines[0] == "install ok installed"
    assert "No such file" in lines[1]
    assert lines[2] == "0"
    assert "No such file" in lines[3]
    assert "No such file" in lines[4]
    assert lines[5:] == [], f"logs with content: {lines[5:]}"


@pytest.mark.integration
@pytest.mark.skipif(
    os.environ.get("AWSOME_IMAGES_NEURON") != "1",
    reason="about 3 minutes more (157 s measured alone): AWSOME_IMAGES_NEURON=1 builds the Neuron flavour too",
)
def test_the_neuron_image_is_its_version_set(testbed, tmp_path, keep_artifacts):
    # The Neuron repository has jammy and noble packages only: the Debian test bed takes jammy's, as the
    # molecule neuron scenario does (the role refuses that unless told).
    tag = "awsome-ml-neuron:test"
    build = [
        PACKER,
        "build",
        "-only=ml.docker.local",
        "-var-file=flavours/neuron.pkrvars.hcl",
        "-var",
        f"mirror_base={testbed['AWSOME_MIRROR_URL']}",
        "-var",
        f"versions_file={testbed['AWSOME_CACHE']}/mirror-versions.yml",
        "-var",
        f"output_dir={tmp_path}",
        "-var",
        "image_tag=test",
        "-var",
        'ansible_arguments=["-e", "neuron_apt_codename=jammy"]',
    ]
    try:
        run_unless_crashed_twice(build, "PACKER CRASH", env=testbed)
        image = {"tag": tag}
        labels = json.loads(run(["docker", "inspect", "-f", "{{json .Config.Labels}}", tag]).stdout)
        assert labels == neuron_tags()
        manifest = json.loads(in_image(image, "cat /etc/ml_cluster/manifest.json"))
        neuron = DEFAULTS["versions_neuron"]
        assert manifest["flavour"] == "neuron"
        assert manifest["components"]["neuron"] == {"sdk": neuron["sdk"], **neuron["packages"], **neuron["python"]}
        assert set(manifest["components"]) == {"efa", "neuron", "enroot"}
        installed = in_image(image, "dpkg-query -W -f='${Package}=${Version}\\n' 'aws-neuronx-*'").split()
        names = sorted(name for name in neuron["packages"] if name != "aws-neuronx-oci-hook")
        assert [line.split("=")[0] for line in installed] == names
        for line in installed:
            name, version = line.split("=")
            assert version.startswith(neuron["packages"][name]), line
        script = "import importlib.metadata as m, sys; print(*(m.version(n) for n in sys.argv[1:]))"
        found = in_image(image, f"/opt/aws_neuronx_venv_pytorch/bin/python -c '{script}' {' '.join(neuron['python'])}")
        assert found.split() == list(neuron["python"].values())
    finally:
        if not keep_artifacts:
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
