"""packages_missing: which of the wanted packages dpkg does not record as installed at their version;
packages_installed: the versions dpkg records.

Opening apt's cache costs seconds in a container and about a minute in a VM under emulation, so a role
asks dpkg first (one `dpkg-query` of every name) and runs its apt transaction only for what is missing.
"""

from __future__ import annotations

from fnmatch import fnmatchcase


def installed(dpkg_lines):
    """name -> version of the packages that dpkg-query lines show fully installed; the lines are
    those of the versions role's `versions_dpkg_query`: "<name> <version> <status>".

    ${db:Status-Abbrev} is three letters: the wanted state (i install, h hold, ...), the current one
    (i installed, U unpacked, F half-configured, c config-files, n not-installed) and an error flag
    (space when none). Only a current state of i with no error counts."""
    found = {}
    for line in dpkg_lines:
        fields = line.split(" ", 2)
        if len(fields) < 3:
            continue
        name, version, status = fields
        if len(status) >= 2 and status[1] == "i" and status[2:].strip() == "":
            found[name] = version
    return found


def packages_missing(dpkg_lines, wanted):
    """The names in `wanted` (name -> apt version pattern such as 580.126.20*, or '' for any version) that
    are not installed at a version the pattern matches, in `wanted`'s order."""
    have = installed(dpkg_lines)
    return [
        name
        for name, pattern in wanted.items()
        if name not in have or (pattern and not fnmatchcase(have[name], str(pattern)))
    ]


class FilterModule:
    def filters(self):
        return {"packages_missing": packages_missing, "packages_installed": installed}
