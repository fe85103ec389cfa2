"""What dpkg records, from the lines of the versions role's versions_dpkg_query (parsed by
plugins/module_utils/packages.py, as apt_present does).

packages_installed: name -> version of the fully installed packages.
packages_at(pattern): the names fully installed at a version the apt glob matches."""

from __future__ import annotations

from ansible_collections.awsome.ml_cluster.plugins.module_utils.packages import at_version, installed


class FilterModule:
    def filters(self):
        return {"packages_installed": installed, "packages_at": at_version}
