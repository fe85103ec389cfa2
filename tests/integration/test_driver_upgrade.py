"""A new driver in the version set gets through the role's own holds: the old branch's packages and
pin give way, the new ones are installed and held, and a further converge changes nothing. Runs in a
container (an image build on a CPU instance: no GPU, no kernel steps); the VM tier loads drivers."""

import subprocess
from pathlib import Path

import pytest

from tests.helpers import run

ROOT = Path(__file__).resolve().parents[2]
NODE = "awsome-upgrade-test"
PLAYBOOK = """
- name: Converge the NVIDIA driver
  hosts: all
  gather_facts: false
  roles:
    - role: awsome.ml_cluster.nvidia_driver
"""


@pytest.fixture
def node(testbed, keep_artifacts):
    subprocess.run(["docker", "rm", "-f", NODE], capture_output=True, check=False)
    run([str(ROOT / "tests" / "testbed" / "cluster.sh"), "node", NODE], env=testbed)
    yield NODE
    if not keep_artifacts:
        subprocess.run(["docker", "rm", "-f", NODE], capture_output=True, check=False)


def converge(testbed, tmp_path, *extra):
    playbook = tmp_path / "driver.yml"
    playbook.write_text(PLAYBOOK)
    return run(
        [
            str(ROOT / ".venv" / "bin" / "ansible-playbook"),
            "-i",
            f"{NODE},",
            "-c",
            "community.docker.docker",
            str(playbook),
            "-e",
            f"@{testbed['AWSOME_CACHE']}/mirror-versions.yml",
            "-e",
            f"versions_mirror_base={testbed['AWSOME_MIRROR_URL']}",
            *extra,
        ],
        env=dict(testbed, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")),
        cwd=ROOT,
    ).stdout


def packages(node):
    listing = run(
        [
            "docker",
            "exec",
            node,
            "dpkg-query",
            "-W",
            "-f=${db:Status-Abbrev}${Package}=${Version}\n",
            "nvidia-*",
            "libnvidia-*",
        ]
    ).stdout
    return {line[3:].strip() for line in listing.splitlines() if line[:2] in ("ii", "hi")}


@pytest.mark.integration
def test_upgrade_to_a_new_branch_through_the_holds(testbed, node, tmp_path):
    converge(testbed, tmp_path)
    assert "nvidia-open=580.126.20-1" in packages(node)

    newer = [
        "-e",
        '{"versions_nvidia_driver": {"version": "590.48.01", "flavour": "auto"}}',
        "-e",
        "versions_fabric_manager=590.48.01",
    ]
    converge(testbed, tmp_path, *newer)
    installed = packages(node)
    assert {
        "nvidia-open=590.48.01-1",
        "nvidia-driver-open=590.48.01-1",
        "nvidia-dkms-open=590.48.01-1",
        "nvidia-driver-pinning-590.48.01=590.48.01-1",
    } <= installed
    assert not [p for p in installed if "580" in p], f"the 580 branch is gone: {sorted(installed)}"
    held = set(run(["docker", "exec", node, "apt-mark", "showhold"]).stdout.split())
    assert {"nvidia-open", "nvidia-driver-pinning-590.48.01"} <= held

    recap = converge(testbed, tmp_path, *newer).split("PLAY RECAP")[-1]
    assert "changed=0" in recap
