"""Shared pytest options and fixtures for the collection's tests.

`pytest .` runs everything; `pytest -s --keep-artifacts=t` keeps the containers and images the
integration tests make, for debugging (molecule is then told not to destroy its instances).
"""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TESTBED = ROOT / "tests" / "testbed"


def pytest_addoption(parser):
    parser.addoption(
        "--keep-artifacts",
        default="f",
        choices=["t", "f", "true", "false"],
        help="t: keep containers, images and build outputs after the tests, for debugging",
    )


@pytest.fixture(scope="session")
def keep_artifacts(request):
    return request.config.getoption("--keep-artifacts") in ("t", "true")


@pytest.fixture(scope="session")
def venv_bin():
    return ROOT / ".venv" / "bin"


def wheel_sha256(cache, project, wheel):
    """The sha256 of a stand-in wheel on the mirror's Neuron index (what a lock pins)."""
    path = Path(cache) / "mirror" / "pip.repos.neuron.amazonaws.com" / project / wheel
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def testbed():
    """Brings the test bed up (idempotent, cached) and returns the environment tests run with."""
    subprocess.run([str(TESTBED / "bootstrap.sh"), "host", "image", "mirror"], check=True)
    cache = os.environ.get("AWSOME_CACHE", "/var/cache/awsome-ml-cluster")
    env = dict(os.environ)
    # the stand-ins' own checksums, for scenarios that pin them (molecule/network)
    standins = yaml.safe_load((Path(cache) / "mirror-versions.yml").read_text())
    env.update(
        AWSOME_EFA_SHA256=standins["versions_efa"]["sha256"][standins["versions_efa"]["version"]],
        AWSOME_NCCL_TESTS_SHA256=standins["versions_nccl_tests"]["sha256"],
        AWSOME_GDRCOPY_SHA256=standins["versions_gdrcopy"]["sha256"],
        AWSOME_OFI_SHA512=standins["versions_aws_ofi_nccl"]["sha512"],
        AWSOME_ENROOT_RPM_SHA256=standins["versions_enroot"]["sha256"]["enroot-4.2.1-1.el8.x86_64.rpm"],
        AWSOME_ENROOT_CAPS_RPM_SHA256=standins["versions_enroot"]["sha256"]["enroot+caps-4.2.1-1.el8.x86_64.rpm"],
        AWSOME_NEURONX_CC_SHA256=wheel_sha256(cache, "neuronx-cc", "neuronx_cc-2.27.5334.0-py3-none-any.whl"),
        AWSOME_TORCH_NEURONX_SHA256=wheel_sha256(
            cache, "torch-neuronx", "torch_neuronx-2.9.0.2.15.32035-py3-none-any.whl"
        ),
        AWSOME_TAMPERED_EFA_SHA256=hashlib.sha256(
            (
                Path(cache)
                / "mirror"
                / "testbed"
                / "tampered"
                / "efa-installer.amazonaws.com"
                / "aws-efa-installer-1.42.0.tar.gz"
            ).read_bytes()
        ).hexdigest(),
    )
    env.update(
        AWSOME_CACHE=cache,
        AWSOME_MIRROR_URL=(Path(cache) / "mirror.url").read_text().strip(),
        AWSOME_MIRROR_KEY_FPR=(Path(cache) / "mirror" / "testbed" / "keys" / "mirror.fpr").read_text().strip(),
        ANSIBLE_GALAXY_SERVER="http://127.0.0.1:9/",
        PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
    )
    return env
