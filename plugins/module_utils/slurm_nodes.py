"""What the health checker may do to a Slurm node: drain it, ask for a reboot, resume it, or leave it.

Pure functions over `scontrol -o show node` output and a health result. The rules (issue 27, NHC's
ownership of reasons, ../shared/reference/operations.md section 1):
- Every reason the checker sets starts with OWNER; it resumes only nodes whose reason starts so.
- A node a person drained (any other reason) is never resumed, and its reason never replaced.
- A node in a reboot Slurm is carrying out (REBOOT_REQUESTED, REBOOT_ISSUED) is left alone.
- A check that could not run drains nothing unless it is marked required.
- Reboot severity goes through `scontrol reboot ASAP nextstate=RESUME reason=...`, which keeps the
  node out until it is back and then returns it; isolate and reset drain (running jobs finish: a
  drain kills none).
"""

from __future__ import annotations

import re

OWNER = "ml_cluster:"
# Slurm's reason field is short in practice; sinfo shows 20 characters by default, scontrol all.
REASON_LIMIT = 200
REBOOTING = ("REBOOT_REQUESTED", "REBOOT_ISSUED")
SEVERITY_ORDER = ("monitor", "reset", "reboot", "isolate")


def parse_node(text):
    """{name, state, flags, reason} from `scontrol -o show node NAME` (one line of Key=Value)."""
    line = text.strip()
    name = re.search(r"(?:^|\s)NodeName=(\S+)", line)
    state = re.search(r"(?:^|\s)State=(\S+)", line)
    if not name or not state:
        raise ValueError(f"not scontrol's node line: {line[:120]!r}")
    reason = re.search(r"(?:^|\s)Reason=(.*?)(?:\s\[[^\]]*\])?(?=\s[A-Z][A-Za-z]+=|$)", line)
    base, *flags = state.group(1).split("+")
    return {
        "name": name.group(1),
        "state": base.rstrip("*~#!%$@^-"),
        "flags": flags,
        "reason": reason.group(1).strip() if reason and reason.group(1) not in ("", "(null)") else None,
    }


def find_node(text, hostname):
    """This host's node among `scontrol -o show node`'s lines: by NodeName, else by NodeHostName
    (ParallelCluster names nodes queue-st-type-1 on hosts named ip-10-0-0-1)."""
    short = hostname.split(".")[0]
    lines = [line for line in text.splitlines() if line.strip()]
    for key in ("NodeName", "NodeHostName"):
        for line in lines:
            if re.search(rf"(?:^|\s){key}={re.escape(short)}(?:\s|$)", line):
                return parse_node(line)
    raise ValueError(f"no Slurm node named {short} or on host {short}")


def drained(node):
    return "DRAIN" in node["flags"] or node["state"] == "DRAINED"


def ours(node):
    return bool(node["reason"]) and node["reason"].startswith(OWNER)


def reason_for(failed):
    """The drain reason: the owner, then each failed check's name and detail, cut to REASON_LIMIT."""
    text = f"{OWNER} " + "; ".join(f"{c['name']}: {c['detail']}" for c in failed)
    text = text.replace('"', "'").replace("\n", " ")
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 3] + "..."


def failing(result, required=()):
    """The checks that count against the node: failed ones, and those that could not run where
    marked required."""
    return [
        c
        for c in result["checks"]
        if c["status"] == "fail" or (c["status"] == "could not check" and c["name"] in required)
    ]


def severity(checks):
    return max((c.get("severity", "isolate") for c in checks), key=SEVERITY_ORDER.index, default=None)


def decide(node, result, required=()):
    """{action: drain | reboot | resume | none, argv (the scontrol command, or None), why}."""
    name = node["name"]
    if any(flag in REBOOTING for flag in node["flags"]):
        return _none(f"{name} is rebooting ({'+'.join(node['flags'])}): Slurm returns it")
    if drained(node) and not ours(node):
        return _none(f"{name} was drained by someone else ({node['reason'] or 'no reason'}): left as it is")
    bad = failing(result, required)
    return _unhealthy(node, bad) if bad else _healthy(node)


def _healthy(node):
    if not drained(node):
        return _none(f"{node['name']} is healthy")
    return {
        "action": "resume",
        "argv": ["scontrol", "update", f"NodeName={node['name']}", "State=RESUME"],
        "why": f"every check passed; the reason was ours ({node['reason']})",
    }


def _unhealthy(node, bad):
    name, level, reason = node["name"], severity(bad), reason_for(bad)
    if level == "monitor":
        return _none(f"{name}: {reason} (monitor only)")
    if drained(node) and node["reason"] == reason:
        return _none(f"{name} is drained already for this reason")
    if level == "reboot":
        argv = ["scontrol", "reboot", "ASAP", "nextstate=RESUME", f"reason={reason}", name]
        return {"action": "reboot", "argv": argv, "why": reason}
    return {"action": "drain", "argv": drain_argv(name, reason), "why": reason}


def drain_argv(name, reason):
    return ["scontrol", "update", f"NodeName={name}", "State=DRAIN", f"Reason={reason}"]


def _none(why):
    return {"action": "none", "argv": None, "why": why}
