"""What the health checker may do to a Slurm node: drain it, ask for a reboot, resume it, or leave it.

Pure functions over `scontrol -o show node` output and a health result. The rules (issue 27, NHC's
ownership of reasons, ../shared/reference/operations.md section 1):
- Every reason the checker sets starts with OWNER; it resumes only nodes whose reason starts so.
- A node a person drained (any other reason) is never resumed, and its reason never replaced.
- A node in a reboot Slurm is carrying out (REBOOT_REQUESTED, REBOOT_ISSUED) is left alone.
- A check that could not run drains nothing unless it is marked required.
- A node Slurm drained for a failed prolog ("Prolog error") is the checker's when its own prolog
  failed there just before (the record the prolog left on the node): it then re-drains it with the
  failed checks as the reason, or resumes it once they pass. Any other "Prolog error" is left alone.
- A node drained for checks of ours is resumed only by a run of those same checks that passed: the
  quick tier every interval never returns a node the deep tier drained (reason_checks()).
- Reboot severity goes through `scontrol reboot ASAP nextstate=RESUME reason=...`, which keeps the
  node out until it is back and then returns it; isolate and reset drain (running jobs finish: a
  drain kills none).
"""

from __future__ import annotations

import re
import time

OWNER = "ml_cluster:"
# Slurm's reason field is short in practice; sinfo shows 20 characters by default, scontrol all.
REASON_LIMIT = 200
REBOOTING = ("REBOOT_REQUESTED", "REBOOT_ISSUED")
# The reason slurmctld gives a node whose prolog exited non-zero.
PROLOG_ERROR = "Prolog error"
# How long after our prolog failed Slurm's "Prolog error" may be dated and still be ours (seconds; a
# little before too, for clocks a second or two apart).
ADOPT_WINDOW = (-120, 600)
SEVERITY_ORDER = ("monitor", "reset", "reboot", "isolate")


def parse_node(text):
    """{name, state, flags, reason, reason_time} from `scontrol -o show node NAME` (one line of
    Key=Value); reason_time is the epoch of the [user@time] Slurm adds to a reason, or None."""
    line = text.strip()
    name = re.search(r"(?:^|\s)NodeName=(\S+)", line)
    state = re.search(r"(?:^|\s)State=(\S+)", line)
    if not name or not state:
        raise ValueError(f"not scontrol's node line: {line[:120]!r}")
    reason = re.search(r"(?:^|\s)Reason=(.*?)(?:\s\[([^\]@]*)@([^\]]*)\])?(?=\s[A-Z][A-Za-z]+=|$)", line)
    base, *flags = state.group(1).split("+")
    return {
        "name": name.group(1),
        "state": base.rstrip("*~#!%$@^-"),
        "flags": flags,
        "reason": reason.group(1).strip() if reason and reason.group(1) not in ("", "(null)") else None,
        "reason_time": _epoch(reason.group(3)) if reason and reason.group(3) else None,
    }


def _epoch(stamp):
    """Slurm's local-time stamp (2026-12-07T20:40:01) as seconds since the epoch, or None."""
    try:
        return time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None


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


# Base states in which a node runs jobs; 22.05 shows one whose epilog still runs as a flag too
# (IDLE+COMPLETING+DRAIN).
RUNNING = ("ALLOCATED", "MIXED", "COMPLETING")


def runs_jobs(node):
    return node["state"] in RUNNING or "COMPLETING" in node["flags"]


def drained(node):
    return "DRAIN" in node["flags"] or node["state"] == "DRAINED"


def ours(node):
    return bool(node["reason"]) and node["reason"].startswith(OWNER)


def reason_for(failed):
    """The drain reason: the owner, then each failed check's name and detail. Beyond REASON_LIMIT the
    details are shortened, never the names: reason_checks() reads them back to know what must pass."""
    # no '"' (scontrol's quoting) and no "Word=" inside a detail (it would end parse_node()'s Reason)
    entries = [(c["name"], str(c["detail"]).replace('"', "'").replace("\n", " ").replace("=", ":")) for c in failed]
    text = _reason_text(entries)
    if len(text) <= REASON_LIMIT:
        return text
    overhead = len(_reason_text([(name, "") for name, _ in entries]))
    width = max((REASON_LIMIT - overhead) // max(len(entries), 1), 0)
    text = _reason_text([(name, _shorten(detail, width)) for name, detail in entries])
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 3] + "..."


def _reason_text(entries):
    return f"{OWNER} " + "; ".join(f"{name}: {detail}" for name, detail in entries)


def _shorten(text, width):
    return text if len(text) <= width else (text[: width - 3] + "..." if width > 3 else "")


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


def adopted(node, prolog):
    """Whether Slurm's "Prolog error" drain on this node follows our prolog's failure there (prolog:
    the record ml-health --prolog left, {time, ...}, or None)."""
    if node["reason"] != PROLOG_ERROR or not drained(node) or not prolog or node["reason_time"] is None:
        return False
    low, high = ADOPT_WINDOW
    return low <= node["reason_time"] - prolog["time"] <= high


def reason_checks(reason, known):
    """The checks of known that a reason of ours names (each entry of reason_for() starts with one)."""
    if not reason or not reason.startswith(OWNER):
        return []
    body = reason[len(OWNER) :]
    return [name for name in known if re.search(rf"(?:^ |; ){re.escape(name)}:", body)]


def unproven(node, result, known):
    """The checks our drain reason names that this run did not pass ([] where the reason is not ours)."""
    if not drained(node) or not ours(node):
        return []
    # a failure that only reports (a DCGM CONFIG warning) clears the check as a pass does
    passed = {c["name"] for c in result["checks"] if c["status"] == "pass" or _monitor_only(c)}
    return [name for name in reason_checks(node["reason"], known) if name not in passed]


def _monitor_only(check):
    return check["status"] == "fail" and check.get("severity") == "monitor"


def decide(node, result, required=(), prolog=None, known=()):
    """{action: drain | reboot | resume | none, argv (the scontrol command, or None), why, adopted}.
    known: every check name the program has, to read which checks our reason names."""
    name = node["name"]
    if any(flag in REBOOTING for flag in node["flags"]):
        return _none(f"{name} is rebooting ({'+'.join(node['flags'])}): Slurm returns it")
    adopt = adopted(node, prolog)
    if drained(node) and not (ours(node) or adopt):
        return _none(f"{name} was drained by someone else ({node['reason'] or 'no reason'}): left as it is")
    bad, carried = failing(result, required), unproven(node, result, known)
    # monitor-only failures report and act on nothing: they neither drain nor keep a node drained
    acting = [c for c in bad if c.get("severity", "isolate") != "monitor"]
    decision = _unhealthy(node, acting, carried) if acting else _healthy(node, carried)
    if bad and not acting:
        decision["why"] += f"; reported only: {reason_for(bad)[len(OWNER) + 1 :]}"
    if adopt:
        decision["why"] = f"{decision['why']} (Slurm's Prolog error followed our prolog's failure)"
    return {**decision, "adopted": adopt}


def _healthy(node, carried):
    if not drained(node):
        return _none(f"{node['name']} is healthy")
    if carried:
        names = ", ".join(carried)
        return _none(f"{node['name']} stays drained: {names} did not run and pass here ({node['reason']})")
    return {
        "action": "resume",
        "argv": ["scontrol", "update", f"NodeName={node['name']}", "State=RESUME"],
        "why": f"every check passed; the reason was ours ({node['reason']})",
    }


def _unhealthy(node, bad, carried):
    """Drain (or reboot) for the failed checks; the checks the old reason named that this run did not
    pass stay in the new one, first, so that a pass of the others alone cannot return the node, and a
    reboot (whose nextstate=RESUME would) becomes a drain."""
    name, level = node["name"], severity(bad)
    failed_now = {c["name"] for c in bad}
    kept = [{"name": c, "detail": "failed before, not passed since"} for c in carried if c not in failed_now]
    reason = reason_for(kept + bad)
    if drained(node) and node["reason"] == reason:
        return _none(f"{name} is drained already for this reason")
    if level == "reboot" and not kept:
        argv = ["scontrol", "reboot", "ASAP", "nextstate=RESUME", f"reason={reason}", name]
        return {"action": "reboot", "argv": argv, "why": reason}
    return {"action": "drain", "argv": drain_argv(name, reason), "why": reason}


def drain_argv(name, reason):
    return ["scontrol", "update", f"NodeName={name}", "State=DRAIN", f"Reason={reason}"]


def _none(why):
    return {"action": "none", "argv": None, "why": why}


def expand_hostlist(expression):
    """Slurm's hostlist expression (ml-c[1-3,7],gpu-[01-02]x) as names, as `scontrol show hostnames`
    prints them: ranges keep their zero padding; a name may hold one bracket."""
    names = []
    for part in re.findall(r"[^,\[]*(?:\[[^\]]*\])?[^,]*", expression):
        if not part:
            continue
        bracket = re.fullmatch(r"([^\[]*)\[([^\]]*)\](.*)", part)
        if not bracket:
            names.append(part)
            continue
        prefix, ranges, suffix = bracket.groups()
        if "[" in suffix:
            raise ValueError(f"a name with two ranges is not read here: {part!r} in {expression!r}")
        for item in ranges.split(","):
            low, _, high = item.partition("-")
            if not low.isdigit() or (high and not high.isdigit()):
                raise ValueError(f"not a hostlist range: {item!r} in {expression!r}")
            width = len(low)
            names += [f"{prefix}{n:0{width}d}{suffix}" for n in range(int(low), int(high or low) + 1)]
    return names


def leaf_switches(text):
    """{leaf switch: [nodes]} from `scontrol show topology` (topology/tree); {} where Slurm has no
    topology ("No topology information available" goes to stderr)."""
    leaves = {}
    for line in text.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "SwitchName" in fields and fields.get("Nodes") and fields.get("Level", "0") == "0":
            leaves[fields["SwitchName"]] = expand_hostlist(fields["Nodes"])
    return leaves
