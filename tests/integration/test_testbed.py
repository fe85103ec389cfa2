"""The test bed itself: the mirror serves signed apt repositories that apt accepts with the
mirror's key and refuses without it, and the PyTorch CPU wheel under the vendor's URL layout."""

import subprocess
from pathlib import Path

import pytest

from tests.helpers import run

ROOT = Path(__file__).resolve().parents[2]


def apt_in_container(testbed, keyring_setup, signed_by):
    """apt-get update against the self-test repository in a throwaway base-image container."""
    url = testbed["AWSOME_MIRROR_URL"] + "testbed/selftest/"
    script = f"""set -e
{keyring_setup}
echo 'deb [signed-by={signed_by}] {url} /' > /etc/apt/sources.list.d/selftest.list
apt-get update -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/selftest.list -o Dir::Etc::sourceparts=- 2>&1
apt-get install -y -q awsome-selftest 2>&1
dpkg-query -W -f='${{Version}}' awsome-selftest
"""
    return subprocess.run(
        ["docker", "run", "--rm", "awsome-ml-base:latest", "bash", "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.integration
def test_signed_repository_installs_with_the_mirror_key(testbed):
    key = testbed["AWSOME_MIRROR_URL"] + "testbed/keys/mirror.gpg"
    fetch = f"python3 -c \"import urllib.request; urllib.request.urlretrieve('{key}', '/tmp/mirror.gpg')\""
    result = apt_in_container(testbed, fetch, "/tmp/mirror.gpg")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith("1.0-1")


@pytest.mark.integration
def test_signed_repository_is_refused_with_another_key(testbed):
    result = apt_in_container(testbed, "true", "/usr/share/keyrings/debian-archive-keyring.gpg")
    assert result.returncode != 0
    assert "NO_PUBKEY" in result.stdout or "not signed" in result.stdout, result.stdout


@pytest.mark.integration
def test_torch_cpu_wheel_under_the_vendor_layout(testbed, tmp_path):
    index = testbed["AWSOME_MIRROR_URL"] + "download.pytorch.org/whl/cpu"
    host = index.split("/")[2].split(":")[0]
    # --isolated: ignore this machine's pip configuration, which knows another copy of the wheel.
    run(
        [
            str(ROOT / ".venv" / "bin" / "pip"),
            "download",
            "--isolated",
            "--no-deps",
            "-q",
            "-d",
            str(tmp_path),
            "--index-url",
            index,
            "--trusted-host",
            host,
            "torch==2.13.0",
        ],
        env=testbed,
    )
    assert [p.name for p in tmp_path.glob("torch-2.13.0+cpu-*.whl")]
