"""Verify the Neuron stack on the RedHat-family trn1-like node (testinfra, via molecule): AWS's RPMs
at the declared releases (whatever build hash follows) from the signed yum repository, locked although
a newer runtime is offered; the tools on PATH; the locked Python stack in the virtualenv."""

import pytest

DECLARED = {
    "aws-neuronx-dkms": "2.30.2.0-dkms",
    "aws-neuronx-runtime-lib": "2.34.10.0_3dcef56f0-1",
    "aws-neuronx-collectives": "2.34.10.0_8b1c2a6d3-1",
    "aws-neuronx-tools": "2.32.28.0_5e0f9a7c1-1",
    "aws-neuronx-oci-hook": "2.18.25.0_a4d7e2b90-1",
}
VENV = "/opt/aws_neuronx_venv_pytorch"


@pytest.fixture(autouse=True)
def _redhat_node_only(host):
    if host.system_info.distribution != "amzn":
        pytest.skip("the RedHat-family node's checks (test_neuron.py checks the Debian node)")


def test_each_package_is_at_the_declared_release_and_locked(host):
    listing = host.check_output("rpm -qa --queryformat '%{NAME} %{VERSION}-%{RELEASE}\\n' 'aws-neuronx-*'")
    assert dict(line.split() for line in listing.splitlines()) == DECLARED
    locks = host.file("/etc/dnf/plugins/versionlock.list").content_string
    assert {line for line in locks.splitlines() if line and not line.startswith("#")} == {
        f"{name}-0:{vr}.*" for name, vr in DECLARED.items()
    }
    newer = host.run("dnf install --assumeno aws-neuronx-runtime-lib-2.35.1.0_9f8e7d6c5-1")
    assert "Unable to find a match" in newer.stdout + newer.stderr  # offered, and locked out


def test_the_repository_checks_signatures_with_the_pinned_key(host):
    repo = host.file("/etc/yum.repos.d/neuron.repo").content_string
    assert "[neuron]" in repo and "name = Neuron YUM Repository" in repo
    assert "/yum.repos.neuron.amazonaws.com\n" in repo
    assert "gpgcheck = 1" in repo
    assert len(host.check_output("rpm -q gpg-pubkey").split()) == 1


def test_the_tools_are_on_path_and_the_virtualenv_has_the_locked_stack(host):
    tool = host.run("bash -c '. /etc/ml_cluster/env.d/50-neuron.sh && command -v neuron-ls'")
    assert tool.stdout.strip() == "/opt/aws/neuron/bin/neuron-ls"
    frozen = set(host.check_output(f"{VENV}/bin/pip freeze --all --exclude pip --exclude setuptools").split())
    assert frozen == {"neuronx-cc==2.27.5334.0", "torch-neuronx==2.9.0.2.15.32035"}
