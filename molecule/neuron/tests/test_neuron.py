"""Verify the Neuron stack's real effects (testinfra, via molecule) on the Debian trn1-like node: AWS's
packages at the declared versions from the signed repository, held; the driver registered with DKMS but
built for no kernel (a container has none of its own) and not loaded; the tools on PATH; the compiler
and the PyTorch plugin in the virtualenv at exactly the locked versions."""

import pytest

DECLARED = {
    "aws-neuronx-dkms": "2.30.2.0",
    "aws-neuronx-runtime-lib": "2.34.10.0",
    "aws-neuronx-collectives": "2.34.10.0",
    "aws-neuronx-tools": "2.32.28.0",
    "aws-neuronx-oci-hook": "2.18.25.0",
}
VENV = "/opt/aws_neuronx_venv_pytorch"


@pytest.fixture(autouse=True)
def _debian_node_only(host):
    if host.system_info.distribution != "debian":
        pytest.skip("the Debian node's checks (test_neuron_el.py checks the RedHat-family node)")


@pytest.mark.parametrize(("package", "declared"), DECLARED.items())
def test_each_package_is_at_the_declared_release_and_held(host, package, declared):
    status, version = host.check_output(f"dpkg-query -W -f='${{Status}}|${{Version}}' {package}").split("|")
    assert status == "hold ok installed"
    # the runtime's versions carry a build hash after the release (2.34.10.0-<hash>)
    assert version == declared or version.startswith(declared + "-")


def test_the_repository_is_signed_by_the_pinned_key_only(host):
    source = host.file("/etc/apt/sources.list.d/neuron.list").content_string
    assert "deb [signed-by=/etc/apt/keyrings/neuron.gpg] " in source
    assert source.rstrip().endswith("apt.repos.neuron.amazonaws.com jammy main")
    assert host.file("/etc/apt/keyrings/neuron.gpg").exists


def test_the_driver_is_registered_with_dkms_but_built_for_no_kernel(host):
    status = host.check_output("dkms status -m aws-neuronx")
    assert "aws-neuronx/2.30.2.0: added" in status
    assert not host.file("/etc/modules-load.d/neuron.conf").exists
    assert not host.package(f"linux-headers-{host.check_output('uname -r')}").is_installed


def test_the_tools_are_on_path_and_find_no_device_in_a_container(host):
    tool = host.run("bash -c '. /etc/ml_cluster/env.d/50-neuron.sh && command -v neuron-ls'")
    assert tool.stdout.strip() == "/opt/aws/neuron/bin/neuron-ls"
    assert host.run("/opt/aws/neuron/bin/neuron-ls").rc != 0


def test_the_virtualenv_has_exactly_the_locked_python_stack(host):
    frozen = set(host.check_output(f"{VENV}/bin/pip freeze --all --exclude pip --exclude setuptools").split())
    assert frozen == {"neuronx-cc==2.27.5334.0", "torch-neuronx==2.9.0.2.15.32035"}
    assert host.check_output(f"{VENV}/bin/neuronx-cc") == "NeuronX Compiler version 2.27.5334.0"
    imported = host.check_output(f"{VENV}/bin/python -c 'import torch_neuronx; print(torch_neuronx.__version__)'")
    assert imported == "2.9.0.2.15.32035"
