#!/usr/bin/python
"""Installs a vendor's repository signing key after checking its fingerprint against a pin."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gpg_keyring
short_description: Install a repository signing key whose fingerprint matches a pin
description:
  - Fetches an OpenPGP public key (armored or binary), checks that its primary key has the pinned
    fingerprint, and writes it dearmored where apt's C(signed-by) or dnf's C(gpgkey) reads it.
  - A key that does not match is refused and nothing is written, so a tampered or rotated key never
    becomes trusted silently.
  - An existing keyring that already holds the pinned key is left alone without fetching anything,
    which keeps a converged node's run offline and cheap.
version_added: 0.1.0
author: awsome.ml_cluster maintainers
options:
  url:
    description: Where to fetch the key (https, or http from a mirror whose content apt verifies).
    type: str
    required: true
  fingerprint:
    description: The pinned fingerprint of the primary key (spaces allowed).
    type: str
    required: true
  dest:
    description: The keyring file to write (binary, as apt's signed-by expects).
    type: path
    required: true
  mode:
    description: File mode of I(dest).
    type: str
    default: "0644"
  timeout:
    description: Seconds to wait for the download.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Trust NVIDIA's CUDA repository key
  awsome.ml_cluster.gpg_keyring:
    url: https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/3bf863cc.pub
    fingerprint: EB693B3035CD5710E231E123A4B469963BF863CC
    dest: /usr/share/keyrings/cuda-archive-keyring.gpg
"""

RETURN = r"""
fingerprints:
  description: Fingerprints of the primary keys in the keyring written or found.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible_collections.awsome.ml_cluster.plugins.module_utils import openpgp


def existing_fingerprints(path):
    try:
        with open(path, "rb") as handle:
            return openpgp.primary_fingerprints(handle.read())
    except (OSError, ValueError, IndexError):
        return []


def fetch(url, timeout):
    return open_url(url, timeout=timeout, validate_certs=True).read()


def main():
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "fingerprint": {"type": "str", "required": True},
            "dest": {"type": "path", "required": True},
            "mode": {"type": "str", "default": "0644"},
            "timeout": {"type": "int", "default": 30},
        },
        supports_check_mode=True,
    )
    params = module.params
    pinned = openpgp.normalize(params["fingerprint"])
    found = existing_fingerprints(params["dest"])
    if pinned in found:
        changed = module.set_fs_attributes_if_different(module.load_file_common_arguments(params), False)
        module.exit_json(changed=changed, fingerprints=found)

    try:
        data = fetch(params["url"], params["timeout"])
        keyring = openpgp.dearmor(data)
        fetched = openpgp.primary_fingerprints(keyring)
    except Exception as error:  # a download or parse failure is reported with the URL
        module.fail_json(msg=f"could not read an OpenPGP key from {params['url']}: {error}")
    if pinned not in fetched:
        module.fail_json(
            msg=f"the key at {params['url']} has fingerprint(s) {', '.join(fetched) or 'none'}, "
            f"not the pinned {pinned}; refusing to trust it",
            fingerprints=fetched,
        )
    if not module.check_mode:
        directory = os.path.dirname(params["dest"]) or "."
        os.makedirs(directory, exist_ok=True)
        tmp = f"{params['dest']}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(keyring)
        module.atomic_move(tmp, params["dest"])
        module.set_fs_attributes_if_different(module.load_file_common_arguments(params), True)
    module.exit_json(changed=True, fingerprints=fetched)


if __name__ == "__main__":
    main()
