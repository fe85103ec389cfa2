"""What dnf_locked (roles/versions/tasks/dnf_locked.yml) installs and which of its locks must go.

The packages are the version set's: dicts with `name`, `version` (an RPM version such as 580.126.20,
a version-release such as 2.27.7-1+cuda12.9, or an epoch:version-release) and optionally
`install: false` for a name that is only locked (a dependency its parent requires at an exact
version, which dnf installs by itself).

rpm_packages(names, versions, install=True, files=()): those dicts, built from the role's names and one
version for all of them (a string) or one version per name (a list), with the downloaded files in the
names' order where there are any; every role hands dnf_locked its list through this.
rpm_specs(rpm_lines): what dnf installs: name-version (dnf matches it with any epoch and release), or
for a package given with a local `file` (a downloaded release) that file, unless rpm shows the package
at its version already.
rpm_stale_locks(packages, replaced=()): from the lines of
`rpm -q --queryformat '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n'`,
the versionlock entries (name-epoch:version-release.*, as the plugin writes them) of the packages
installed at another version than the wanted one, and of the installed packages the set replaces (the
other kernel-module flavour, which dnf erases): a lock pins what is installed, so it must go before
the version changes."""

from __future__ import annotations

from fnmatch import fnmatchcase


def package_list(names, versions, install=True, files=()):
    names = list(names)
    versions = [versions] * len(names) if isinstance(versions, str) else list(versions)
    files = list(files) or [None] * len(names)
    if not len(names) == len(versions) == len(files):
        raise ValueError(f"rpm_packages: {len(names)} names for {len(versions)} versions and {len(files)} files")
    built = []
    for name, version, file in zip(names, versions, files, strict=True):
        package = {"name": name, "version": str(version)}
        if not install:
            package["install"] = False
        if file:
            package["file"] = file
        built.append(package)
    return built


def specs(packages, rpm_lines=()):
    have = _installed(rpm_lines)
    wanted = [p for p in packages if p.get("install", True)]
    return [
        p["file"]
        if "file" in p and not _matches(have.get(p["name"], "0:-"), str(p["version"]))
        else f"{p['name']}-{p['version']}"
        for p in wanted
    ]


def _installed(rpm_lines):
    """name -> epoch:version-release from rpm's lines; "package X is not installed" and the like left out."""
    found = {}
    for line in rpm_lines:
        fields = line.split()
        if len(fields) == 2 and ":" in fields[1]:
            found[fields[0]] = fields[1]
    return found


def _matches(evr, wanted):
    """True when epoch:version-release `evr` is at `wanted`: a version, a version-release or an
    epoch:version-release (DCGM's 1:4.5.3-1), or a glob of a version or version-release (Neuron's
    2.34.10.0*, whose RPM versions carry a build hash: 2.34.10.0_3dcef56f0)."""
    version_release = evr.split(":", 1)[1]
    forms = (evr, version_release, version_release.rsplit("-", 1)[0])
    return any(fnmatchcase(form, wanted) for form in forms)


def stale_locks(rpm_lines, packages, replaced=()):
    wanted = {p["name"]: str(p["version"]) for p in packages}
    return [
        f"{name}-{evr}.*"
        for name, evr in _installed(rpm_lines).items()
        if name in replaced or (name in wanted and not _matches(evr, wanted[name]))
    ]


class FilterModule:
    def filters(self):
        return {"rpm_packages": package_list, "rpm_specs": specs, "rpm_stale_locks": stale_locks}
