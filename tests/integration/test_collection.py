"""The collection as its users get it: built into a tarball, installed offline into an empty
collections path, and used by its FQCN from a playbook outside this repository."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import run

ROOT = Path(__file__).resolve().parents[2]

PLAYBOOK = """
- name: Use a role of the installed collection by its FQCN
  hosts: all
  gather_facts: false
  roles:
    - role: awsome.ml_cluster.common
      common_base_packages: false
"""


@pytest.fixture
def node(testbed, keep_artifacts):
    """A systemd container from the test bed's base image."""
    name = "awsome-collection-test"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    run([str(ROOT / "tests" / "testbed" / "cluster.sh"), "node", name], env=testbed)
    yield name
    if not keep_artifacts:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


@pytest.mark.integration
def test_build_install_and_use_by_fqcn(tmp_path, testbed, node):
    run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(ROOT)], env=testbed)
    tarball = tmp_path / "awsome-ml_cluster-0.1.0.tar.gz"
    assert tarball.is_file()

    collections = tmp_path / "collections"
    run(
        ["ansible-galaxy", "collection", "install", "--offline", "--force", "-p", str(collections), str(tarball)],
        env=testbed,
        cwd=tmp_path,
    )
    installed = collections / "ansible_collections" / "awsome" / "ml_cluster"
    manifest = json.loads((installed / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["name"] == "ml_cluster"
    assert not (installed / "tests").exists(), "the test bed must not ship in the collection"

    (tmp_path / "site.yml").write_text(PLAYBOOK)
    env = dict(testbed, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_ROLES_PATH=str(tmp_path / "none"))
    result = run(
        ["ansible-playbook", "-i", f"{node},", "-c", "community.docker.docker", "site.yml"], env=env, cwd=tmp_path
    )
    assert "failed=0" in result.stdout
    written = run(["docker", "exec", node, "cat", "/etc/sysctl.d/90-ml-cluster.conf"]).stdout
    assert "net.ipv4.tcp_congestion_control = bbr" in written
