"""Which kernels a DKMS module is built for, shared by the roles that build one (nvidia_driver, gdrcopy).

boot_kernels(files, running): the running kernel and the newest installed one (which boots next where
  they differ: an update installed, not booted yet), from find's files under /boot (vmlinuz-<kernel>).
dkms_installed(lines): the kernels `dkms status` reports the module installed for, in DKMS 3's form
  ("nvidia/580.126.20, 6.1.0-50-amd64, x86_64: installed") and DKMS 2's ("nvidia, 580.126.20, ...")."""

from __future__ import annotations

import re

_PARTS = re.compile(r"(\d+)")


def _version_key(kernel):
    """Numbers as numbers, so 6.1.0-57 sorts after 6.1.0-9 (as version_sort does)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in _PARTS.split(kernel) if part]


def boot_kernels(files, running):
    installed = sorted(
        (
            name.removeprefix("vmlinuz-")
            for name in (str(item["path"] if isinstance(item, dict) else item).rsplit("/", 1)[-1] for item in files)
            if name.startswith("vmlinuz-")
        ),
        key=_version_key,
    )
    return [running] + [kernel for kernel in installed[-1:] if kernel != running]


def dkms_installed(lines):
    kernels = []
    for line in lines:
        where, _, state = line.rpartition(": ")
        fields = [field.strip() for field in where.split(",")]
        if state.startswith("installed") and len(fields) >= 3:
            # DKMS 3: module/version, kernel, arch; DKMS 2: module, version, kernel, arch
            kernels.append(fields[1] if "/" in fields[0] else fields[2])
    return kernels


class FilterModule:
    def filters(self):
        return {"boot_kernels": boot_kernels, "dkms_installed": dkms_installed}
