#!/usr/bin/python
"""Judges benchmark outputs and writes the report: JSON, markdown and a PNG plot."""

from __future__ import annotations

DOCUMENTATION = r"""
module: benchmark_report
short_description: Judge nccl-tests or FSDP results and write a report a person reads
description:
  - Parses nccl-tests outputs (text with launcher prefixes and NCCL log lines, or the C(-J) JSON),
    judges busbw at one large message size against an expected-figure table, and checks that the run
    finished and its data was correct.
  - Judges an FSDP result (files/test_cases/fsdp/train.py) - every step ran, the loss is sound, ranks
    read their own data at the configured sequence length - and computes MFU against the
    accelerator's dense BF16 peak from the collection's table.
  - Writes C(<dest>/<name>.json), C(<dest>/<name>.md) and C(<dest>/<name>.png). Runs on the
    controller (delegate to localhost, with the Python that has matplotlib).
  - Fails only when asked to (I(fail_on_check)), after the report is written, naming each failed check.
version_added: 0.1.0
author: awsome.ml_cluster maintainers
options:
  kind:
    description: Which benchmark the outputs come from.
    type: str
    choices: [nccl, fsdp]
    required: true
  outputs:
    description:
      - For C(nccl), a list of C({name, output, collective}) with each binary's output (text or JSON).
      - For C(fsdp), a list holding the result JSON of the run (a dict or its text).
    type: list
    elements: raw
    required: true
  dest:
    description: Directory to write the report into (created).
    type: path
    required: true
  name:
    description: Base name of the report files.
    type: str
    default: report
  title:
    description: Title of the report.
    type: str
    default: Benchmark report
  instance_type:
    description: The nodes' instance type, which selects the expected figure and the peak.
    type: str
  nodes:
    description: How many nodes the run spanned (selects the expected figure).
    type: int
    default: 1
  expected:
    description:
      - More expected figures, after (and overriding) the collection's own (BUSBW in module_utils/hardware.py),
        entries C({instance_type, nodes, collective, message_size, busbw, source}).
    type: list
    elements: dict
    default: []
  message_size:
    description: Message size (bytes) busbw is judged at where the table has no entry.
    type: int
    default: 1073741824
  tolerance:
    description: How far below the expected busbw a run may fall and still pass (fraction).
    type: float
    default: 0.1
  peak_tflops:
    description: Dense BF16 peak per accelerator for MFU; 0 takes it from the collection's table.
    type: float
    default: 0
  min_mfu:
    description: MFU (fraction) below which the FSDP run fails; 0 reports MFU without judging it.
    type: float
    default: 0
  versions:
    description: Component versions per node (node name to a dict of component to version).
    type: dict
    default: {}
  plot:
    description: Draw the PNG plot (needs matplotlib on the controller).
    type: bool
    default: true
  fail_on_check:
    description: Fail when a check fails (after writing the report).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Judge the all_reduce sweep and write the report
  awsome.ml_cluster.benchmark_report:
    kind: nccl
    outputs: [{name: all_reduce, collective: all_reduce, output: "{{ job_output }}"}]
    dest: reports/nccl
    instance_type: p5.48xlarge
    nodes: 2
    expected: "{{ benchmark_nccl_expected }}"
  delegate_to: localhost
"""

RETURN = r"""
passed:
  description: Whether no check failed.
  returned: always
  type: bool
checks:
  description: Every check, C({name, status, detail}); status is pass, fail or not judged.
  returned: always
  type: list
  elements: dict
files:
  description: The report files written.
  returned: always
  type: list
  elements: str
summary:
  description: The figures that matter (busbw per collective; tokens/s, TFLOP/s and MFU for FSDP).
  returned: always
  type: dict
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.awsome.ml_cluster.plugins.module_utils import benchmarks, report


def build(params):
    if params["kind"] == "nccl":
        judging = {
            "table": params["expected"],
            "instance_type": params["instance_type"],
            "nodes": params["nodes"],
            "message_size": params["message_size"],
            "tolerance": params["tolerance"],
        }
        return report.build_nccl(params["outputs"], title=params["title"], judging=judging, versions=params["versions"])
    result = params["outputs"][0]
    result = json.loads(result) if isinstance(result, str) else result
    judging = {
        "peak_tflops": params["peak_tflops"] or None,
        "min_mfu": params["min_mfu"] or None,
        "instance_type": params["instance_type"],
    }
    return report.build_fsdp(result, title=params["title"], judging=judging, versions=params["versions"])


def summary(rep):
    if rep["kind"] == "nccl":
        return {r["collective"]: {"judged_size": r["judged_size"], "busbw": r["busbw"]} for r in rep["runs"]}
    r = rep["result"]
    return {
        "tokens_per_s": r["tokens_per_s"],
        "tokens_per_s_per_accelerator": r["tokens_per_s_per_accelerator"],
        "tflops_per_accelerator": r["tflops_per_accelerator"],
        "mfu": rep["mfu"],
    }


def write(path, text):
    """Writes text when it differs from what is there; True when it wrote."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return False
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return True


def main():
    module = AnsibleModule(
        argument_spec={
            "kind": {"type": "str", "choices": ["nccl", "fsdp"], "required": True},
            "outputs": {"type": "list", "elements": "raw", "required": True},
            "dest": {"type": "path", "required": True},
            "name": {"type": "str", "default": "report"},
            "title": {"type": "str", "default": "Benchmark report"},
            "instance_type": {"type": "str"},
            "nodes": {"type": "int", "default": 1},
            "expected": {"type": "list", "elements": "dict", "default": []},
            "message_size": {"type": "int", "default": benchmarks.GIB},
            "tolerance": {"type": "float", "default": 0.1},
            "peak_tflops": {"type": "float", "default": 0},
            "min_mfu": {"type": "float", "default": 0},
            "versions": {"type": "dict", "default": {}},
            "plot": {"type": "bool", "default": True},
            "fail_on_check": {"type": "bool", "default": True},
        },
        supports_check_mode=False,
    )
    p = module.params
    try:
        rep = build(p)
    except (KeyError, TypeError, ValueError) as e:
        module.fail_json(msg=f"cannot read the {p['kind']} outputs: {type(e).__name__}: {e}")
    os.makedirs(p["dest"], exist_ok=True)
    base = os.path.join(p["dest"], p["name"])
    files, changed = [base + ".json", base + ".md"], False
    plot_name = None
    if p["plot"]:
        try:
            report.plot(rep, base + ".png")
        except ImportError as e:
            module.fail_json(msg=f"the plot needs matplotlib in the controller's Python: {e}")
        plot_name = os.path.basename(base + ".png")
        files.append(base + ".png")
        changed = True
    changed |= write(base + ".json", report.to_json(rep))
    changed |= write(base + ".md", report.markdown(rep, plot_name))
    result = {
        "changed": changed,
        "passed": rep["passed"],
        "checks": rep["checks"],
        "files": files,
        "summary": summary(rep),
    }
    failures = benchmarks.failed(rep["checks"])
    if failures and p["fail_on_check"]:
        module.fail_json(msg="failed checks: " + "; ".join(f"{c['name']} ({c['detail']})" for c in failures), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
