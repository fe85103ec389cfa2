"""The real-kernel tier, in QEMU VMs (software emulation here, about 5 s per Ansible task).

The qemu Packer source builds the GPU flavour playbook's kernel-facing part (the driver's install and
configure halves, then the image role: manifest, in-build validation, hygiene) on the test bed's Debian
disk: DKMS builds the stand-in driver for the guest's own kernel, nouveau is blacklisted inside the
rebuilt initramfs, the kernel is held. The image is read as shipped (no machine-id, host keys or build
key), then booted with its own kernel and initramfs: new identity, the modules loaded at boot, the
manifest equal to the version set, the validation playbook passing, and a converge of the booted node
changing nothing. Then a release whose modules do not compile is refused with the compiler's error and
the working driver put back (and, with AWSOME_VM_REBOOT=1, loads again after a reboot). GDRCopy's gdrdrv
(AWSOME_VM_GDRCOPY=1) and AWS's Neuron driver (AWSOME_VM_NEURON=1) build with DKMS and load, opt-in."""

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import run, run_unless_crashed_twice

ROOT = Path(__file__).resolve().parents[2]
VM = str(ROOT / "tests" / "testbed" / "vm.sh")
PACKER = str(ROOT / "packer" / "run.sh")
# AWSOME_VM_NAME: another name (and overlay disk) for a run beside one that holds the default
NAME = os.environ.get("AWSOME_VM_NAME", "kernel-vm")
DRIVER = "580.126.20"
# GDRCopy's DKMS module adds about 7 minutes under emulation (1206 s for the tier with it, 763 s
# without, measured on 2 cores), past the tier's 15-minute CI budget: opt in with AWSOME_VM_GDRCOPY=1.
GDRCOPY = os.environ.get("AWSOME_VM_GDRCOPY") == "1"
# AWS's Neuron driver through DKMS: opt in with AWSOME_VM_NEURON=1.
NEURON = os.environ.get("AWSOME_VM_NEURON") == "1"
# The image's first boot shows the modules load at boot; a reboot after the put-back (about 2 minutes
# under emulation, 150 s in CI beside the containers) shows the same for the driver put back, and for
# the opt-in modules, which the image does not carry: AWSOME_VM_REBOOT=1, or with either opt-in.
REBOOT = os.environ.get("AWSOME_VM_REBOOT") == "1" or GDRCOPY or NEURON
# The GPU flavour's kernel-facing part; everything else in it is the container tiers' (molecule, the
# docker image build of the whole flavour in tests/integration/test_packer.py).
# (the repository the driver comes from is a dependency of its role, under the dependency's own tag)
IMAGE_TAGS = ",".join(
    (
        "cuda_repository_install",
        "nvidia_driver_install",
        "nvidia_driver_configure",
        "image_manifest",
        "image_validate",
        "image_hygiene",
    )
)
# Built "on a g5": the disk carries a g5.48xlarge's fixture PCI tree (tests/testbed/vm-image.sh).
FIXTURE = "versions_sysfs_root=/srv/fixture/sys"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def base(testbed):
    """The test bed's bootable disk (tests/testbed/vm-image.sh), cached by its recipe's hash."""
    return Path(run([VM, "image"], env=testbed).stdout.strip().splitlines()[-1])


def debugfs(disk, request):
    """Reads the ext4 file system of a raw disk without booting or mounting it (debugfs reports a missing
    file on stderr and still exits 0)."""
    return run(["debugfs", "-R", request, str(disk)])


@pytest.fixture(scope="module")
def image(testbed, base, tmp_path_factory, keep_artifacts):
    # AWSOME_VM_IMAGE: the output directory of an earlier build (kept by --keep-artifacts=t), for debugging
    # the tests after it without building again
    reuse = os.environ.get("AWSOME_VM_IMAGE")
    out = Path(reuse) if reuse else tmp_path_factory.mktemp("qemu")
    arguments = ["--tags", IMAGE_TAGS, "-e", FIXTURE, "-e", json.dumps({"image_components": ["nvidia_driver"]})]
    variables = {
        "mirror_base": testbed["AWSOME_MIRROR_URL"],
        "versions_file": f"{testbed['AWSOME_CACHE']}/mirror-versions.yml",
        "output_dir": str(out),
        "target_instance_type": "g5.48xlarge",
        "qemu_disk": str(base / "disk.qcow2"),
        "qemu_kernel": str(base / "vmlinuz"),
        "qemu_initrd": str(base / "initrd.img"),
        "qemu_ssh_key": str(base / "id_ed25519"),
        "qemu_accelerator": "kvm" if os.environ.get("AWSOME_VM_KVM") == "1" else "tcg",
        "ansible_arguments": json.dumps(arguments),
    }
    flags = [arg for name, value in variables.items() for arg in ("-var", f"{name}={value}")]
    if not reuse:
        # -force: a second try after a Packer crash finds the first one's output directory
        build = [PACKER, "build", "-force", "-only=ml.qemu.local", "-var-file=flavours/gpu.pkrvars.hcl", *flags]
        run_unless_crashed_twice(build, "PACKER CRASH", env=testbed)
    disk = out / "qemu-gpu" / "awsome-ml-gpu.qcow2"
    # The image as shipped, read from its file system: what it holds, and its own kernel and initramfs,
    # which the VM boots (a broken initramfs rebuild shows there, not under the test bed's).
    raw = out / "disk.raw"
    run(["qemu-img", "convert", "-O", "raw", str(disk), str(raw)])
    boot = debugfs(raw, "ls -p /boot").stdout
    kernel = next(n.split("vmlinuz-", 1)[1] for n in boot.replace("/", " ").split() if n.startswith("vmlinuz-"))
    for name in (f"vmlinuz-{kernel}", f"initrd.img-{kernel}"):
        debugfs(raw, f"dump /boot/{name} {out / name}")
    shipped = {
        "machine_id": debugfs(raw, "cat /etc/machine-id").stdout,
        "ssh": debugfs(raw, "ls -p /etc/ssh").stdout,
        "build_key": debugfs(raw, "stat /root/.ssh/authorized_keys").stderr,
    }
    raw.unlink()
    manifest = json.loads((out / "packer-manifest.json").read_text())
    yield {
        "disk": disk,
        "kernel": out / f"vmlinuz-{kernel}",
        "initrd": out / f"initrd.img-{kernel}",
        "shipped": shipped,
        "packer": manifest,
    }
    if not keep_artifacts and not reuse:
        disk.unlink()  # over a GB; pytest keeps its last three runs' temporary directories


@pytest.fixture(scope="module")
def vm(testbed, base, image, tmp_path_factory, keep_artifacts):
    port = free_port()
    env = dict(
        testbed,
        AWSOME_VM_DISK=str(image["disk"]),
        AWSOME_VM_KERNEL=str(image["kernel"]),
        AWSOME_VM_INITRD=str(image["initrd"]),
    )
    line = run([VM, "start", NAME, str(port)], env=env).stdout.strip().splitlines()[-1]
    inventory = tmp_path_factory.mktemp("vm") / "hosts"
    inventory.write_text(f"{line}\n")
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
        str(base / "id_ed25519"),
        "-p",
        str(port),
        "root@127.0.0.1",
    ]
    yield {"inventory": inventory, "ssh": ssh, "port": port}
    if not keep_artifacts:
        subprocess.run([VM, "stop", NAME], env=testbed, check=False)


def versions(testbed):
    """The version set the VM tier declares: the roles' defaults with the test bed's overrides."""
    declared = yaml.safe_load((ROOT / "roles" / "versions" / "defaults" / "main.yml").read_text())
    return declared | yaml.safe_load(Path(testbed["AWSOME_CACHE"], "mirror-versions.yml").read_text())


def playbook(testbed, vm, path, *extra, check=True):
    command = [
        str(ROOT / ".venv" / "bin" / "ansible-playbook"),
        "-i",
        str(vm["inventory"]),
        str(path),
        "-e",
        f"@{testbed['AWSOME_CACHE']}/mirror-versions.yml",
        "-e",
        f"versions_mirror_base={testbed['AWSOME_MIRROR_URL']}",
        *extra,
    ]
    env = dict(testbed, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_HOST_KEY_CHECKING="False")
    return run(command, env=env, cwd=ROOT, check=check)


def converge(testbed, vm, *extra, check=True):
    options = ["-e", FIXTURE, "-e", f"vm_gdrcopy={GDRCOPY}", "-e", f"vm_neuron={NEURON}"]
    return playbook(testbed, vm, ROOT / "tests" / "vm" / "converge.yml", *options, *extra, check=check)


@pytest.fixture(scope="module")
def live(testbed, vm):
    """The booted image converged as a live node (tests/vm/converge.yml): the driver, and the opt-ins."""
    return converge(testbed, vm)


def on_vm(vm, command):
    return run([*vm["ssh"], command]).stdout


@pytest.mark.integration
def test_the_image_ships_no_identity_of_its_build(image):
    shipped = image["shipped"]
    assert shipped["machine_id"].strip() == "", "each instance makes its own machine-id at first boot"
    assert "ssh_host_" not in shipped["ssh"], "the build's host keys are removed"
    assert "ml-cluster-ssh-host-keys" not in shipped["ssh"]
    assert "not found" in shipped["build_key"], "the build login's authorized_keys are removed"
    build = image["packer"]["builds"][-1]
    assert build["builder_type"] == "qemu" and build["custom_data"]["ml_cluster:nvidia_driver"] == DRIVER


@pytest.mark.integration
def test_the_booted_image_has_an_identity_of_its_own(base, vm):
    machine_id = on_vm(vm, "cat /etc/machine-id").strip()
    assert len(machine_id) == 32 and int(machine_id, 16)
    build_key = (base / "ssh_host_ed25519_key.pub").read_text().split()[1]
    booted_key = on_vm(vm, "cat /etc/ssh/ssh_host_ed25519_key.pub").split()[1]
    assert booted_key != build_key, "the host key is made at first boot, not the build's"
    assert on_vm(vm, "systemctl is-enabled ml-cluster-ssh-host-keys.service").strip() == "enabled"


@pytest.mark.integration
def test_the_manifest_is_the_version_set(testbed, vm):
    manifest = json.loads(on_vm(vm, "cat /etc/ml_cluster/manifest.json"))
    assert manifest["flavour"] == "gpu" and manifest["nvidia_module_flavour"] == "open"  # A10G: open
    assert manifest["kernel"] == on_vm(vm, "uname -r").strip()
    assert manifest["components"] == {"nvidia_driver": versions(testbed)["versions_nvidia_driver"]}


@pytest.mark.integration
def test_dkms_built_the_driver_for_the_guest_kernel(vm):
    kernel = on_vm(vm, "uname -r").strip()
    assert f"nvidia/{DRIVER}, {kernel}, x86_64: installed" in on_vm(vm, "dkms status -m nvidia")


@pytest.mark.integration
def test_modules_loaded_at_boot_with_the_open_flavour(vm):
    modules = on_vm(vm, "lsmod | cut -d' ' -f1").split()
    assert {"nvidia", "nvidia_uvm"} <= set(modules)
    assert on_vm(vm, "modinfo -F license nvidia").strip() == "Dual MIT/GPL"
    assert on_vm(vm, "modinfo -F version nvidia").strip() == DRIVER
    assert on_vm(vm, "systemctl is-active nvidia-persistenced").strip() == "active"


@pytest.mark.integration
def test_nouveau_blacklisted_inside_the_initramfs_the_image_booted(vm):
    listing = on_vm(vm, "lsinitramfs /boot/initrd.img-$(uname -r)")
    assert "etc/modprobe.d/blacklist-nouveau.conf" in listing


@pytest.mark.integration
def test_kernel_and_driver_held(vm):
    held = set(on_vm(vm, "apt-mark showhold").split())
    kernel = on_vm(vm, "uname -r").strip()
    assert {f"linux-image-{kernel}", f"linux-headers-{kernel}", "linux-image-amd64", "nvidia-open"} <= held


@pytest.mark.integration
def test_the_validation_playbook_passes_on_the_image(testbed, vm, tmp_path):
    # the node's own PCI bus (no GPU in this VM): the manifest against the version set is what it judges
    playbook(testbed, vm, ROOT / "playbooks" / "validate.yml", "-e", f"validate_report_dir={tmp_path}")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["passed"], summary
    checks = {c["name"]: c for c in summary["nodes"][NAME]["checks"]}
    assert checks["image manifest"]["status"] == "pass", checks["image manifest"]


@pytest.mark.integration
def test_a_node_booted_from_the_image_converges_with_no_change(testbed, vm, live):
    # the opt-in roles are not in the image: their first converge installs them, the next must not
    recap = (converge(testbed, vm) if GDRCOPY or NEURON else live).stdout.split("PLAY RECAP")[-1]
    assert NAME in recap and "changed=0" in recap and "failed=0" in recap


@pytest.mark.integration
@pytest.mark.skipif(
    not GDRCOPY, reason="about 7 minutes under emulation, past the VM tier's budget: AWSOME_VM_GDRCOPY=1"
)
def test_dkms_built_gdrdrv_against_the_driver_and_it_loads(vm, live):
    kernel = on_vm(vm, "uname -r").strip()
    assert f"gdrdrv/2.5.1, {kernel}, x86_64: installed" in on_vm(vm, "dkms status -m gdrdrv")
    assert f"NVIDIA_SRC_DIR=/usr/src/nvidia-{DRIVER}/nvidia" in on_vm(vm, "cat /usr/src/gdrdrv-2.5.1/dkms.conf")
    assert "gdrdrv" in on_vm(vm, "lsmod | cut -d' ' -f1").split()
    assert on_vm(vm, "modinfo -F version gdrdrv").strip() == "2.5.1"


@pytest.mark.integration
@pytest.mark.skipif(not NEURON, reason="minutes more under emulation, past the VM tier's budget: AWSOME_VM_NEURON=1")
def test_dkms_built_the_neuron_driver_and_it_loads(vm, live):
    kernel = on_vm(vm, "uname -r").strip()
    assert f"aws-neuronx/2.30.2.0, {kernel}, x86_64: installed" in on_vm(vm, "dkms status -m aws-neuronx")
    assert "neuron" in on_vm(vm, "lsmod | cut -d' ' -f1").split()
    assert on_vm(vm, "cat /etc/modules-load.d/neuron.conf").strip() == "neuron"


# Debian's kernel update as the mirror carries it (tests/testbed/standins/debian-kernel.sh).
SECURITY = "deb.debian.org/debian-security"


def kernel_update(testbed):
    """The packages of the mirror's bookworm-security suite, with their versions."""
    index = Path(testbed["AWSOME_CACHE"], "mirror", SECURITY, "dists/bookworm-security/main/binary-amd64/Packages")
    stanzas = index.read_text().split("\n\n")
    fields = [dict(line.split(": ", 1) for line in s.splitlines() if ": " in line) for s in stanzas]
    return {f["Package"]: f["Version"] for f in fields if "Package" in f}


def security_suite(testbed, parts, key):
    """Shell lines that make the VM's apt trust the mirror's bookworm-security suite: its key at `key`,
    its deb822 source in the directory `parts`."""
    armored = Path(testbed["AWSOME_CACHE"], "mirror", "testbed", "keys", "mirror.asc").read_text().strip()
    return f"""mkdir -p {parts} "$(dirname {key})"
cat >{key} <<'KEY'
{armored}
KEY
cat >{parts}/debian-security.sources <<'SOURCE'
Types: deb
URIs: {testbed["AWSOME_MIRROR_URL"]}{SECURITY}
Suites: bookworm-security
Components: main
Signed-By: {key}
SOURCE"""


@pytest.mark.integration
def test_a_kernel_upgrade_after_the_hold_changes_nothing(testbed, vm, live):
    # The node's own sources plus Debian's security suite, in an apt state of the test's own under /run:
    # the node's lists stay as the image shipped them for the tests after this one.
    update = kernel_update(testbed)
    wanted = " ".join(f"{name}={version}" for name, version in sorted(update.items()))
    apt = "apt-get -q -o Dir::Etc::SourceParts=/run/kernel-update/parts -o Dir::State::Lists=/run/kernel-update/lists"
    setup = (
        "set -e; rm -rf /run/kernel-update; mkdir -p /run/kernel-update/parts /run/kernel-update/lists/partial\n"
        "cp -a /etc/apt/sources.list.d/. /run/kernel-update/parts/\n"
        f"{security_suite(testbed, '/run/kernel-update/parts', '/run/kernel-update/debian-security.asc')}\n"
        f"{apt} update"
    )
    on_vm(vm, setup)
    state = "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n'; ls -l /boot /lib/modules"
    before = on_vm(vm, state)
    installed = on_vm(vm, "dpkg-query -W -f='${Version}' linux-image-amd64")
    # the control: without the hold, apt would take Debian's newer kernel (so this test can fail)
    unheld = on_vm(vm, f"{apt} -s install --allow-change-held-packages {wanted}")
    assert f"Inst linux-image-amd64 [{installed}] ({update['linux-image-amd64']} " in unheld, unheld
    # an upgrade as unattended-upgrades or an operator runs it keeps the kernel back
    upgrade = on_vm(vm, f"DEBIAN_FRONTEND=noninteractive {apt} -y dist-upgrade")
    assert "kept back:" in upgrade, upgrade
    kept = upgrade.split("kept back:", 1)[1].split("\n0 upgraded", 1)[0].split()
    assert {"linux-image-amd64", "linux-headers-amd64"} <= set(kept), upgrade
    # and asking for the kernel by name is refused
    asked = run([*vm["ssh"], f"DEBIAN_FRONTEND=noninteractive {apt} -y install linux-image-amd64"], check=False)
    assert asked.returncode != 0 and "Held packages were changed" in asked.stderr, asked.stderr
    assert on_vm(vm, state) == before, "nothing dpkg knows of, in /boot or in /lib/modules changed"


# The stand-in repository's release whose modules do not compile (tests/testbed/standins/cuda.sh).
BROKEN = "580.999.01"


@pytest.mark.integration
def test_a_driver_that_does_not_build_is_refused_and_the_working_one_put_back(testbed, vm, live):
    # after the converge of the booted image, before the reboot: the reboot shows the driver put back
    # loads at boot; only the driver's install half: its tags reach the tasks its dynamic includes bring
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
@pytest.mark.skipif(
    not REBOOT, reason="the image's boot loads the modules; AWSOME_VM_REBOOT=1 reboots after the put-back"
)
def test_modules_load_again_after_a_reboot(testbed, vm, live):
    reboot(vm)
    modules = on_vm(vm, "lsmod | cut -d' ' -f1").split()
    expected = {"nvidia", "nvidia_uvm"} | ({"gdrdrv"} if GDRCOPY else set()) | ({"neuron"} if NEURON else set())
    assert expected <= set(modules)
    assert on_vm(vm, "systemctl is-active nvidia-persistenced").strip() == "active"


@pytest.mark.integration
@pytest.mark.skipif(
    os.environ.get("AWSOME_VM_NEWER_KERNEL") != "1",
    reason="minutes under emulation (a kernel's initramfs, a DKMS build): AWSOME_VM_NEWER_KERNEL=1 runs it",
)
def test_the_driver_is_built_for_a_newer_kernel_installed_beside_the_running_one(testbed, vm, live):
    # Debian's kernel update installed as a new package (which no hold stops) and not booted yet: what
    # boots next must have the driver, so the converge installs its headers and DKMS builds for it.
    image = next(name for name in kernel_update(testbed) if re.fullmatch(r"linux-image-\d.*", name))
    newer, running = image.removeprefix("linux-image-"), on_vm(vm, "uname -r").strip()
    keyring = "/etc/apt/keyrings/testbed-debian-security.asc"
    install = f"DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends {image}"
    on_vm(vm, f"set -e\n{security_suite(testbed, '/etc/apt/sources.list.d', keyring)}\napt-get -q update\n{install}")
    converge(testbed, vm)
    status = on_vm(vm, "dkms status -m nvidia")
    assert f"nvidia/{DRIVER}, {newer}, x86_64: installed" in status, status
    assert f"nvidia/{DRIVER}, {running}, x86_64: installed" in status, status
    assert {image, f"linux-headers-{newer}"} <= set(on_vm(vm, "apt-mark showhold").split()), "held in turn"
    # The headers' install above ran DKMS's hook, which built every registered module for the newer
    # kernel. A module registered after that kernel's headers came (gdrdrv added, the Neuron driver
    # installed on a base with a pending kernel update) has no build for it: the roles must make one.
    modules = {"gdrdrv": "2.5.1"} if GDRCOPY else {}
    modules.update({"aws-neuronx": "2.30.2.0"} if NEURON else {})
    if modules:
        on_vm(
            vm,
            "set -e\n"
            + "\n".join(f"dkms remove -m {name} -v {version} -k {newer}" for name, version in modules.items()),
        )
        converge(testbed, vm)
    for name, version in modules.items():
        status = on_vm(vm, f"dkms status -m {name}")
        assert all(f"{name}/{version}, {kernel}, x86_64: installed" in status for kernel in (newer, running)), status
    again = converge(testbed, vm).stdout.split("PLAY RECAP")[-1]
    assert "changed=0" in again and "failed=0" in again, again


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
def test_upgrade_is_refused_until_a_reboot_is_allowed(testbed, vm, live):
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
