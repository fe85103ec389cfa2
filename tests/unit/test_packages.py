"""packages_missing reads dpkg-query's lines as dpkg writes them and names what apt still has to do."""

from pathlib import Path

import pytest
import yaml
from ansible_collections.awsome.ml_cluster.plugins.module_utils.packages import DPKG_FORMAT, at_version, installed
from ansible_collections.awsome.ml_cluster.plugins.module_utils.packages import missing as packages_missing

ROOT = Path(__file__).resolve().parents[2]

# dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' on a node with the driver held,
# an old pin's config files left, a half-configured DKMS package and one package removed
DPKG = [
    "nvidia-driver-pinning-580.126.20 580.126.20-1 hi ",
    "nvidia-open 580.126.20-1 ii ",
    "nvidia-driver-pinning-575.57.08 575.57.08-1 rc ",
    "aws-neuronx-dkms 2.30.2.0 iF ",
    "linux-headers-6.1.0-41-amd64 6.1.158-1 ii",
    "libnccl2  un ",
    "aws-neuronx-runtime-lib 2.34.10.0-7c6f3e1e9 iiR",
]


def test_only_packages_fully_installed_count():
    assert installed(DPKG) == {
        "nvidia-driver-pinning-580.126.20": "580.126.20-1",
        "nvidia-open": "580.126.20-1",
        "linux-headers-6.1.0-41-amd64": "6.1.158-1",
    }


def test_the_names_installed_at_a_release():
    # enroot's check: both packages at 4.2.1-1 fully installed, a half-configured one does not count
    lines = ["enroot 4.2.1-1 ii ", "enroot+caps 4.2.1-1 iF ", "other 4.2.1-10 ii "]
    assert at_version(lines, "4.2.1-1") == ["enroot"]
    assert at_version(DPKG, "580.126.20*") == ["nvidia-driver-pinning-580.126.20", "nvidia-open"]


def test_nothing_is_missing_when_every_version_matches_its_apt_pattern():
    wanted = {"nvidia-driver-pinning-580.126.20": "580.126.20*", "nvidia-open": "580.126.20*"}
    assert packages_missing(DPKG, wanted) == []


@pytest.mark.parametrize(
    ("wanted", "missing"),
    [
        ({"nvidia-open": "590.48.01*"}, ["nvidia-open"]),  # another release installed
        ({"nvidia-driver-pinning-575.57.08": ""}, ["nvidia-driver-pinning-575.57.08"]),  # config files only
        ({"aws-neuronx-dkms": "2.30.2.0*"}, ["aws-neuronx-dkms"]),  # half-configured: its postinst failed
        ({"aws-neuronx-runtime-lib": "2.34.10.0*"}, ["aws-neuronx-runtime-lib"]),  # reinstall required
        ({"libnccl2": ""}, ["libnccl2"]),
        ({"cuda-toolkit-12-8": "12.8.1*"}, ["cuda-toolkit-12-8"]),  # dpkg knows nothing of it
        ({"linux-headers-6.1.0-41-amd64": "", "nvidia-open": "580.126.20*"}, []),  # '' takes any version
    ],
)
def test_what_apt_still_has_to_do(wanted, missing):
    assert packages_missing(DPKG, wanted) == missing


def test_the_pattern_is_apt_s_glob_not_a_prefix_match():
    # 580.126.2* would also take 580.126.20: the roles pass <exact version>* as apt does
    assert packages_missing(["nvidia-open 580.126.20-1 ii "], {"nvidia-open": "580.126.2"}) == ["nvidia-open"]
    assert packages_missing(["nvidia-open 580.126.20-1 ii "], {"nvidia-open": "580.126.20-1"}) == []


def test_the_roles_query_dpkg_in_the_format_the_parser_reads():
    # versions_dpkg_query (roles/versions/vars) feeds packages_installed; apt_present uses DPKG_FORMAT
    role_vars = yaml.safe_load((ROOT / "roles" / "versions" / "vars" / "main.yml").read_text())
    assert role_vars["versions_dpkg_query"][2] == "-f=" + DPKG_FORMAT.replace("\\n", "\n")
