"""The driver role's package choices in a container (no kernel steps; the VM tier loads drivers).

A new driver in the version set gets through the role's own holds: the old branch's packages and
pin give way, the new ones are installed and held, and a further converge changes nothing. An NVLink 5
node (p6-b200) gets the NVLink subnet manager beside fabric manager, at the driver's version, and the
umad module at boot."""

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
            "nvlink5-*",
            "libnvsdm",
            "nvlsm",
            "libibumad3",
            "infiniband-diags",
        ],
        check=False,  # dpkg-query exits 1 when a name it was given is not installed
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


@pytest.mark.integration
def test_an_nvlink5_node_gets_the_subnet_manager_at_the_drivers_version(testbed, node, tmp_path):
    # a p6-b200's bus (B200 GPUs; its NVSwitches sit behind bridges, so the instance type tells)
    fixture = ROOT / "tests" / "fixtures" / "sysfs.py"
    run(["docker", "cp", str(fixture), f"{node}:/usr/local/lib/fixture-sysfs.py"])
    run(["docker", "exec", node, "python3", "/usr/local/lib/fixture-sysfs.py", "p6-b200.48xlarge", "/srv/fixture/sys"])
    shape = ["-e", "versions_sysfs_root=/srv/fixture/sys", "-e", "versions_target_instance_type=p6-b200.48xlarge"]
    converge(testbed, tmp_path, *shape)
    installed = packages(node)
    assert {
        "nvidia-fabricmanager=580.126.20-1",
        "nvlink5-580=580.126.20-1",
        "libnvsdm=580.126.20-1",
        "nvlsm=2025.10.4-1",
    } <= installed
    # Debian's own InfiniBand user-space, which the subnet manager needs
    assert any(p.startswith("libibumad3=") for p in installed) and any(
        p.startswith("infiniband-diags=") for p in installed
    )
    held = set(run(["docker", "exec", node, "apt-mark", "showhold"]).stdout.split())
    assert {"nvidia-fabricmanager", "nvlink5-580", "libnvsdm"} <= held
    modules = run(["docker", "exec", node, "cat", "/etc/modules-load.d/nvidia.conf"]).stdout.split()
    assert modules[-3:] == ["nvidia", "nvidia_uvm", "ib_umad"]
    enabled = run(["docker", "exec", node, "systemctl", "is-enabled", "nvidia-fabricmanager"]).stdout.strip()
    assert enabled == "enabled"
    recap = converge(testbed, tmp_path, *shape).split("PLAY RECAP")[-1]
    assert "changed=0" in recap
