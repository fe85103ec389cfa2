"""packages_installed: the versions dpkg records, from the lines of the versions role's
versions_dpkg_query (parsed by plugins/module_utils/packages.py, as apt_present does)."""

from __future__ import annotations

from ansible_collections.awsome.ml_cluster.plugins.module_utils.packages import installed


class FilterModule:
    def filters(self):
        return {"packages_installed": installed}
