#!/usr/bin/python
"""Documentation of the apt_present action (plugins/action/apt_present.py does the work)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: apt_present
short_description: Install packages at pinned versions with apt, only when dpkg does not show them already
description:
  - Asks dpkg (one C(dpkg-query) over the connection, no Python on the node) whether every package is
    installed at a version its pattern matches; when all are, changes nothing and never opens apt's
    cache, which is what makes a converged node's run cheap (a VM under emulation spends about 17 s
    per apt task).
  - Otherwise runs M(ansible.builtin.apt) with I(state=present) and every other option as given, for all
    the packages at once (one transaction, so dependent packages resolve together).
  - Only packages fully installed count (dpkg's current state C(i), no error flag); a half-configured
    package, one with only its configuration files left, or another version makes apt run.
version_added: 0.1.0
author: awsome.ml_cluster maintainers
options:
  name:
    description:
      - The packages, as C(name) (any version) or C(name=<version>) where the version may end in C(*),
        as M(ansible.builtin.apt) takes them.
    type: list
    elements: str
    required: true
  state:
    description: Only C(present).
    type: str
    default: present
    choices: [present]
notes:
  - Every other option (I(update_cache), I(cache_valid_time), I(install_recommends),
    I(allow_change_held_packages), I(allow_downgrade), ...) is passed to M(ansible.builtin.apt) unchanged.
"""

EXAMPLES = r"""
- name: Install NCCL at exactly its CUDA build
  awsome.ml_cluster.apt_present:
    name: [libnccl2=2.27.7-1+cuda12.9, libnccl-dev=2.27.7-1+cuda12.9]
    install_recommends: false
    allow_change_held_packages: true
"""

RETURN = r"""
missing:
  description: The packages dpkg did not show at their pinned version (empty when apt did not run).
  returned: always
  type: list
  elements: str
"""
