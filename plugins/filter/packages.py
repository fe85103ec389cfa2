"""packages_missing: which of the wanted packages dpkg does not record as installed at their version;
packages_installed: the versions dpkg records (plugins/module_utils/packages.py)."""

from __future__ import annotations

from ansible_collections.awsome.ml_cluster.plugins.module_utils.packages import installed, missing


class FilterModule:
    def filters(self):
        return {"packages_missing": missing, "packages_installed": installed}
