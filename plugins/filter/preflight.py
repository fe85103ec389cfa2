"""version_conflicts: what is wrong with a version set on a node, as sentences a person can act on.

The `versions` role refuses to go on while this list is not empty, before any task changes a host.
"""

from __future__ import annotations

import re

from ansible_collections.awsome.ml_cluster.plugins.module_utils import compat, hardware


def _driver(version_set):
    return version_set.get("nvidia_driver") or {}


def well_formed(version_set):
    """Versions the other rules can compare: a driver as 580.126.20, CUDA as 12.8.1, EFA as 1.42.0, NCCL as
    2.27.7-1 for CUDA 12.9."""
    problems = []
    driver = str(_driver(version_set).get("version", ""))
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", driver):
        problems.append(f"driver version '{driver}' is not an exact version such as 580.126.20.")
    for toolkit in version_set.get("cuda_toolkits") or []:
        if not re.fullmatch(r"\d+\.\d+\.\d+", str(toolkit.get("version", ""))):
            problems.append(f"CUDA version '{toolkit.get('version')}' is not major.minor.patch, such as 12.8.1.")
    efa = version_set.get("efa")
    if efa and not re.fullmatch(r"\d+\.\d+\.\d+", str(efa.get("version", ""))):
        problems.append(f"EFA installer version '{efa.get('version')}' is not an exact version such as 1.42.0.")
    nccl = version_set.get("nccl")
    if nccl and not (
        re.fullmatch(r"\d+\.\d+\.\d+-\d+", str(nccl.get("version", "")))
        and re.fullmatch(r"\d+\.\d+", str(nccl.get("cuda", "")))
    ):
        problems.append(
            f"NCCL '{nccl.get('version')}+cuda{nccl.get('cuda')}' is not an exact package version "
            "such as 2.27.7-1+cuda12.9."
        )
    return problems


def cuda_against_driver(version_set, node):
    """Every CUDA toolkit must run on the driver without cuda-compat (NVIDIA's table)."""
    driver = _driver(version_set).get("version")
    problems = []
    for toolkit in version_set.get("cuda_toolkits") or []:
        cuda = toolkit["version"]
        needed = compat.CUDA_MIN_DRIVER.get(cuda)
        if needed is None:
            problems.append(
                f"CUDA {cuda} is not in NVIDIA's minimum-driver table this collection knows "
                f"({', '.join(sorted(compat.CUDA_MIN_DRIVER, key=compat.parse))})."
            )
        elif driver and compat.parse(driver) < compat.parse(needed):
            problems.append(f"CUDA {cuda} needs driver {needed} or newer; the driver is {driver}.")
    return problems


def cuda_default(version_set, node):
    """The toolkit /usr/local/cuda points at must be one that is installed."""
    default = version_set.get("cuda_default")
    installed = [compat.major_minor(t["version"]) for t in version_set.get("cuda_toolkits") or []]
    if default and installed and default not in installed:
        return [f"cuda_default {default} is not among the toolkits installed ({', '.join(installed)})."]
    return []


def fabric_manager_matches(version_set, node):
    """Fabric manager refuses to start against a driver of another version."""
    driver = _driver(version_set).get("version")
    fabric = version_set.get("fabric_manager")
    if driver and fabric and str(fabric) != str(driver):
        return [f"fabric manager {fabric} differs from the driver {driver}; they must be the same version."]
    return []


def flavour_fits_gpu(version_set, node):
    """Open modules are required on Blackwell/Grace and impossible before Turing."""
    arch = (node or {}).get("gpu_architecture")
    wanted = _driver(version_set).get("flavour", "auto")
    flavour = hardware.module_flavour(arch, wanted)
    model = (node or {}).get("gpu_model")
    if arch in hardware.OPEN_REQUIRED and flavour != "open":
        return [f"{model} ({arch}) needs the open kernel modules; flavour is {flavour}."]
    if arch in hardware.PROPRIETARY_ONLY and flavour != "proprietary":
        return [f"{model} ({arch}) has no open kernel module support; use flavour proprietary."]
    return []


def generation_limits(version_set, node):
    """Old GPUs stop at a driver branch and CUDA major; Blackwell starts at CUDA 12.8."""
    arch = (node or {}).get("gpu_architecture")
    driver = _driver(version_set).get("version")
    problems = []
    last_branch = hardware.LAST_BRANCH.get(arch)
    if driver and last_branch and compat.branch(driver) > last_branch:
        problems.append(f"{arch} GPUs are supported up to driver branch {last_branch}; the driver is {driver}.")
    for toolkit in version_set.get("cuda_toolkits") or []:
        version = compat.parse(toolkit["version"])
        last_major = hardware.LAST_CUDA_MAJOR.get(arch)
        if last_major and version[0] > last_major:
            problems.append(f"CUDA {toolkit['version']} no longer builds for {arch} GPUs (last: CUDA {last_major}).")
        minimum = hardware.MIN_CUDA.get(arch)
        if minimum and version[:2] < minimum:
            problems.append(
                f"CUDA {toolkit['version']} cannot target {arch} GPUs (needs {minimum[0]}.{minimum[1]} or newer)."
            )
    return problems


def efa_pinned(version_set, node):
    """The installer runs only when the version set holds its checksum."""
    efa = version_set.get("efa")
    if not efa:
        return []
    version = efa.get("version")
    if not re.fullmatch(r"[0-9a-f]{64}", str(efa.get("sha256", ""))):
        return [
            f"EFA installer {version} has no sha256 in versions_efa.sha256: add the checksum AWS publishes for it "
            "(efa-verify.html); an installer that cannot be checked is never run."
        ]
    return []


def efa_bundles_as_released(version_set, node):
    """What the version set says the installer bundles must be what that release ships."""
    efa = version_set.get("efa") or {}
    version, plugin = efa.get("version"), efa.get("aws_ofi_nccl")
    if not version:
        return []
    known = compat.EFA_BUNDLED_OFI.get(str(version))
    if known and plugin and str(plugin) != known:
        return [
            f"versions_efa.bundles names aws-ofi-nccl {plugin}, but EFA installer {version} bundles {known} "
            "(EFA changelog)."
        ]
    return []


def plugin_source(version_set, node):
    """The plugin comes from an installer that bundles one, or from a checked source release."""
    plugin = version_set.get("aws_ofi_nccl")
    if not plugin:
        return []
    install = plugin.get("install")
    efa = (version_set.get("efa") or {}).get("version")
    if install == "bundled" and efa and compat.older(efa, compat.EFA_FIRST_WITH_OFI):
        return [
            f"EFA installer {efa} bundles no aws-ofi-nccl (the first that does is {compat.EFA_FIRST_WITH_OFI}): "
            "set versions_aws_ofi_nccl.install to source."
        ]
    if install == "source":
        problems = []
        if not re.fullmatch(r"\d+\.\d+\.\d+", str(plugin.get("version", ""))):
            problems.append(f"aws-ofi-nccl version '{plugin.get('version')}' is not an exact release such as 1.21.1.")
        if not re.fullmatch(r"[0-9a-f]{128}", str(plugin.get("sha512", ""))):
            problems.append("versions_aws_ofi_nccl.sha512 is not a sha512 (128 hex digits) of the source tarball.")
        return problems
    if install != "bundled":
        return [f"versions_aws_ofi_nccl.install is '{install}'; it is bundled or source."]
    return []


def nccl_fits(version_set, node):
    """NCCL's build must suit the plugin, the default CUDA and the driver."""
    nccl = version_set.get("nccl")
    if not nccl:
        return []
    version, cuda = str(nccl["version"]), str(nccl["cuda"])
    problems = []
    if version_set.get("aws_ofi_nccl") and compat.older(version, compat.OFI_OLDEST_NCCL):
        problems.append(f"NCCL {version} is older than {compat.OFI_OLDEST_NCCL}, the oldest aws-ofi-nccl supports.")
    default = version_set.get("cuda_default")
    if default and compat.parse(cuda)[0] != compat.parse(default)[0]:
        problems.append(
            f"NCCL {version} is built for CUDA {cuda}, but /usr/local/cuda is CUDA {default}: "
            f"use a +cuda{compat.parse(default)[0]}.x build."
        )
    needed = compat.CUDA_MIN_DRIVER.get(f"{cuda}.0")
    driver = _driver(version_set).get("version")
    if needed and driver and compat.parse(driver) < compat.parse(needed):
        problems.append(f"NCCL built for CUDA {cuda} needs driver {needed} or newer; the driver is {driver}.")
    return problems


def network_floor(version_set, node):
    """Hopper and Blackwell nodes need a stack recent enough for them."""
    floor = {"hopper": compat.HOPPER_FLOOR, "blackwell": compat.BLACKWELL_FLOOR}.get(
        (node or {}).get("gpu_architecture")
    )
    if not floor:
        return []
    declared = {
        "EFA installer": (version_set.get("efa") or {}).get("version"),
        "NCCL": (version_set.get("nccl") or {}).get("version"),
        "aws-ofi-nccl": (version_set.get("aws_ofi_nccl") or {}).get("version"),
    }
    return [
        f"{node.get('gpu_model')} nodes need {name} {minimum} or newer; the version set has {declared[name]}."
        for name, minimum in floor.items()
        if declared.get(name) and compat.older(declared[name], minimum)
    ]


RULES = (
    cuda_against_driver,
    cuda_default,
    fabric_manager_matches,
    flavour_fits_gpu,
    generation_limits,
    efa_pinned,
    efa_bundles_as_released,
    plugin_source,
    nccl_fits,
    network_floor,
)


def version_conflicts(version_set, node=None):
    """Every rule's complaints about version_set on node (ansible_facts.ml_node), in rule order.

    A malformed version is reported alone: the other rules could not compare it.
    """
    return well_formed(version_set) or [problem for rule in RULES for problem in rule(version_set, node or {})]


class FilterModule:
    def filters(self):
        return {"version_conflicts": version_conflicts}
