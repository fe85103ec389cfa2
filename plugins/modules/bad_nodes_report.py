#!/usr/bin/python
"""Writes the report of a bad-node search: JSON, Markdown and a PNG plot."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bad_nodes_report
short_description: Write the report of a bad-node search (JSON, Markdown, a plot)
description:
  - Takes what M(awsome.ml_cluster.bad_node_search) returned and writes C(<dest>.json),
    C(<dest>.md) and C(<dest>.png) (busbw per group in each round, and per node).
version_added: 0.1.0
author: awsome.ml_cluster maintainers
options:
  result:
    description: The search's result (verdict, rounds, seconds, judged_against, order, leaf_switches).
    type: dict
    required: true
  dest:
    description: The report's path without its suffix.
    type: path
    required: true
  title:
    description: The report's title.
    type: str
    default: Bad-node search
"""

EXAMPLES = r"""
- name: Write the report
  awsome.ml_cluster.bad_nodes_report:
    result: "{{ search }}"
    dest: /tmp/reports/bad-nodes
  delegate_to: localhost
"""

RETURN = r"""
markdown:
  description: The Markdown report's path.
  type: str
  returned: always
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.awsome.ml_cluster.plugins.module_utils import bad_nodes_report


def main():
    module = AnsibleModule(
        argument_spec={
            "result": {"type": "dict", "required": True},
            "dest": {"type": "path", "required": True},
            "title": {"type": "str", "default": "Bad-node search"},
        }
    )
    p = module.params
    os.makedirs(os.path.dirname(p["dest"]) or ".", exist_ok=True)
    result = {k: p["result"][k] for k in ("verdict", "rounds", "seconds", "judged_against")}
    result.update({k: p["result"].get(k) for k in ("order", "leaf_switches")})
    png = p["dest"] + ".png"
    bad_nodes_report.plot(result, p["title"], png)
    with open(p["dest"] + ".md", "w", encoding="utf-8") as f:
        f.write(bad_nodes_report.markdown(result, p["title"], os.path.basename(png)))
    with open(p["dest"] + ".json", "w", encoding="utf-8") as f:
        f.write(bad_nodes_report.to_json(result, p["title"]))
    module.exit_json(changed=True, markdown=p["dest"] + ".md")


if __name__ == "__main__":
    main()
