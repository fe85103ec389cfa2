"""The real-kernel tier: the nvidia_driver role's kernel path in a QEMU VM (software emulation here,
about 5 s per Ansible task). DKMS builds the stand-in driver for the guest's own kernel, the modules
load, nouveau is blacklisted inside the rebuilt initramfs, the kernel is held, a release whose modules
do not compile is refused with the compiler's error and the working driver put back, and after a reboot
the modules load again by themselves; GDRCopy's gdrdrv builds with DKMS against the driver's source and
loads, then and after the reboot (opt-in: AWSOME_VM_GDRCOPY=1); so does AWS's Neuron driver
(opt-in: AWSOME_VM_NEURON=1)."""

import json
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import run

ROOT = Path(__file__).resolve().parents[2]
VM = str(ROOT / "tests" / "testbed" / "vm.sh")
NAME = "kernel-vm"
DRIVER = "580.126.20"
# GDRCopy's DKMS module adds about 7 minutes under emulation (1206 s for the tier with it, 763 s
# without, measured on 2 cores), past the tier's 15-minute CI budget: opt in with AWSOME_VM_GDRCOPY=1.
GDRCOPY = os.environ.get("AWSOME_VM_GDRCOPY") == "1"
# AWS's Neuron driver through DKMS: opt in with AWSOME_VM_NEURON=1.
NEURON = os.environ.get("AWSOME_VM_NEURON") == "1"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def vm(testbed, tmp_path_factory, keep_artifacts):
    port = free_port()
    line = run([VM, "start", NAME, str(port)], env=testbed).stdout.strip().splitlines()[-1]
    inventory = tmp_path_factory.mktemp("vm") / "hosts"
    inventory.write_text(f"{line}\n")
    key = line.split("ansible_ssh_private_key_file=")[1]
    ssh = [
        "ssh",
        "-q",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=3",
        "-i",
        key,
        "-p",
        str(port),
        "root@127.0.0.1",
    ]
    # Every package the kernel path needs is in the disk image (vm-image.sh), so the guest reads only the
    # local mirror's repositories: apt then opens a few hundred packages instead of Debian's 63,000, about
    # 8 s less per apt task under emulation, and no refresh of Debian's lists (measured: 16.7 -> 8.9 s).
    run([*ssh, "rm -f /etc/apt/sources.list /var/lib/apt/lists/deb.debian.org_* /var/cache/apt/*.bin"])
    # The fixture hardware of a g5.48xlarge (PCI tree, no NVSwitch): one ssh call, where a play would
    # spend about 20 s per converge on it under emulation.
    sysfs = (ROOT / "tests" / "fixtures" / "sysfs.py").read_text()
    run([*ssh, f"test -d /srv/fixture/sys || python3 -c {shlex.quote(sysfs)} g5.48xlarge /srv/fixture/sys"])
    yield {"inventory": inventory, "ssh": ssh, "port": port}
    if not keep_artifacts:
        subprocess.run([VM, "stop", NAME], env=testbed, check=False)


def converge(testbed, vm, *extra, check=True):
    playbook = [
        str(ROOT / ".venv" / "bin" / "ansible-playbook"),
        "-i",
        str(vm["inventory"]),
        str(ROOT / "tests" / "vm" / "converge.yml"),
    ]
    variables = [
        "-e",
        f"@{testbed['AWSOME_CACHE']}/mirror-versions.yml",
        "-e",
        f"versions_mirror_base={testbed['AWSOME_MIRROR_URL']}",
        "-e",
        "versions_sysfs_root=/srv/fixture/sys",
        "-e",
        f"vm_gdrcopy={GDRCOPY}",
        "-e",
        f"vm_neuron={NEURON}",
    ]
    env = dict(testbed, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_HOST_KEY_CHECKING="False")
    return run([*playbook, *variables, *extra], env=env, cwd=ROOT, check=check)


@pytest.fixture(scope="module")
def converged(testbed, vm):
    return converge(testbed, vm)


def on_vm(vm, command):
    return run([*vm["ssh"], command]).stdout


@pytest.mark.integration
def test_dkms_built_the_driver_for_the_guest_kernel(vm, converged):
    kernel = on_vm(vm, "uname -r").strip()
    assert f"nvidia/{DRIVER}, {kernel}, x86_64: installed" in on_vm(vm, "dkms status -m nvidia")


@pytest.mark.integration
def test_modules_loaded_with_the_open_flavour(vm, converged):
    modules = on_vm(vm, "lsmod | cut -d' ' -f1").split()
    assert {"nvidia", "nvidia_uvm"} <= set(modules)
    assert on_vm(vm, "modinfo -F license nvidia").strip() == "Dual MIT/GPL"
    assert on_vm(vm, "modinfo -F version nvidia").strip() == DRIVER
    assert on_vm(vm, "systemctl is-active nvidia-persistenced").strip() == "active"


@pytest.mark.integration
@pytest.mark.skipif(
    not GDRCOPY, reason="about 7 minutes under emulation, past the VM tier's budget: AWSOME_VM_GDRCOPY=1"
)
def test_dkms_built_gdrdrv_against_the_driver_and_it_loads(vm, converged):
    kernel = on_vm(vm, "uname -r").strip()
    assert f"gdrdrv/2.5.1, {kernel}, x86_64: installed" in on_vm(vm, "dkms status -m gdrdrv")
    assert f"NVIDIA_SRC_DIR=/usr/src/nvidia-{DRIVER}/nvidia" in on_vm(vm, "cat /usr/src/gdrdrv-2.5.1/dkms.conf")
    assert "gdrdrv" in on_vm(vm, "lsmod | cut -d' ' -f1").split()
    assert on_vm(vm, "modinfo -F version gdrdrv").strip() == "2.5.1"


@pytest.mark.integration
@pytest.mark.skipif(not NEURON, reason="minutes more under emulation, past the VM tier's budget: AWSOME_VM_NEURON=1")
def test_dkms_built_the_neuron_driver_and_it_loads(vm, converged):
    kernel = on_vm(vm, "uname -r").strip()
    assert f"aws-neuronx/2.30.2.0, {kernel}, x86_64: installed" in on_vm(vm, "dkms status -m aws-neuronx")
    assert "neuron" in on_vm(vm, "lsmod | cut -d' ' -f1").split()
    assert on_vm(vm, "cat /etc/modules-load.d/neuron.conf").strip() == "neuron"


@pytest.mark.integration
def test_nouveau_blacklisted_inside_the_rebuilt_initramfs(vm, converged):
    listing = on_vm(vm, "lsinitramfs /boot/initrd.img-$(uname -r)")
    assert "etc/modprobe.d/blacklist-nouveau.conf" in listing


@pytest.mark.integration
def test_kernel_and_driver_held(vm, converged):
    held = set(on_vm(vm, "apt-mark showhold").split())
    kernel = on_vm(vm, "uname -r").strip()
    assert {f"linux-image-{kernel}", f"linux-headers-{kernel}", "linux-image-amd64", "nvidia-open"} <= held


@pytest.mark.integration
def test_second_converge_changes_nothing(testbed, vm, converged):
    recap = converge(testbed, vm).stdout
    assert f"{NAME}" in recap
    assert "changed=0" in recap.split("PLAY RECAP")[-1]


# The stand-in repository's release whose modules do not compile (tests/testbed/standins/cuda.sh).
BROKEN = "580.999.01"


@pytest.mark.integration
def test_a_driver_that_does_not_build_is_refused_and_the_working_one_put_back(testbed, vm, converged):
    # after the idempotence check, before the reboot: the reboot shows the driver put back loads at boot
    # only the driver's install half: its tags reach the tasks its dynamic includes bring (the DKMS check)
    refused = converge(
        testbed,
        vm,
        "--tags",
        "nvidia_driver_install",
        "-e",
        json.dumps({"versions_nvidia_driver": {"version": BROKEN, "flavour": "auto"}}),
        "-e",
        f"versions_fabric_manager={BROKEN}",
        check=False,
    )
    assert refused.returncode != 0
    assert f"Driver {BROKEN} could not be installed" in refused.stdout
    assert "NV_KERNEL_API_REMOVED_IN_THIS_KERNEL" in refused.stdout, "the compiler's error is in the message"
    assert f"Driver {DRIVER} was put back and held" in refused.stdout
    kernel = on_vm(vm, "uname -r").strip()
    status = on_vm(vm, "dkms status -m nvidia")
    assert f"nvidia/{DRIVER}, {kernel}, x86_64: installed" in status
    assert BROKEN not in status, "the failed release's DKMS tree went with its packages"
    assert on_vm(vm, "modinfo -F version nvidia").strip() == DRIVER  # what the next boot loads
    assert on_vm(vm, "cat /sys/module/nvidia/version").strip() == DRIVER  # and what runs now
    query = "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' 'nvidia-driver-pinning-*'"
    pins = dict(line.split()[:2] for line in on_vm(vm, query).splitlines() if len(line.split()) >= 2)
    assert pins[f"nvidia-driver-pinning-{DRIVER}"] == "hi"  # installed and held again
    assert pins.get(f"nvidia-driver-pinning-{BROKEN}", "un")[1] != "i", "the failed release's pin is out"
    assert {"nvidia-open", f"nvidia-driver-pinning-{DRIVER}"} <= set(on_vm(vm, "apt-mark showhold").split())


def boot_id(vm):
    result = subprocess.run(
        [*vm["ssh"], "cat /proc/sys/kernel/random/boot_id"], capture_output=True, text=True, timeout=60, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else None


def reboot(vm, timeout=300):
    """Reboots the VM and waits until it answers from a new boot (not the old sshd on its way down)."""
    before = boot_id(vm)
    # scheduled, so the SSH command returns before the network goes away
    subprocess.run(
        [*vm["ssh"], "systemd-run --on-active=2 systemctl reboot"], capture_output=True, timeout=60, check=False
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(5)
        now = boot_id(vm)
        if now and now != before:
            return
    pytest.fail(f"the VM did not come back from a reboot within {timeout} s")


@pytest.mark.integration
def test_modules_load_again_after_a_reboot(testbed, vm, converged):
    reboot(vm)
    modules = on_vm(vm, "lsmod | cut -d' ' -f1").split()
    expected = {"nvidia", "nvidia_uvm"} | ({"gdrdrv"} if GDRCOPY else set()) | ({"neuron"} if NEURON else set())
    assert expected <= set(modules)
    assert on_vm(vm, "systemctl is-active nvidia-persistenced").strip() == "active"


NEWER = [
    "-e",
    '{"versions_nvidia_driver": {"version": "590.48.01", "flavour": "auto"}}',
    "-e",
    "versions_fabric_manager=590.48.01",
]


@pytest.mark.integration
@pytest.mark.skipif(
    os.environ.get("AWSOME_VM_UPGRADE") != "1",
    reason="about 7 minutes under emulation, past the VM tier's 15-minute CI budget: AWSOME_VM_UPGRADE=1 runs it",
)
def test_upgrade_is_refused_until_a_reboot_is_allowed(testbed, vm, converged):
    # last in this module: it moves the VM to another driver
    refused = converge(testbed, vm, *NEWER, check=False)
    assert refused.returncode != 0
    assert "cannot be loaded without a reboot" in refused.stdout
    assert "driver 580.126.20 is still loaded" in refused.stdout
    assert on_vm(vm, "cat /sys/module/nvidia/version").strip() == DRIVER  # the working driver stays

    converge(testbed, vm, *NEWER, "-e", "nvidia_driver_reboot_allowed=true")
    assert on_vm(vm, "cat /sys/module/nvidia/version").strip() == "590.48.01"
    kernel = on_vm(vm, "uname -r").strip()
    status = on_vm(vm, "dkms status -m nvidia")
    assert f"nvidia/590.48.01, {kernel}, x86_64: installed" in status
    assert DRIVER not in status, "the old branch's DKMS tree went with its package"
