"""NVIDIA Xid errors from the kernel log, classified by what they call for.

A line reads `NVRM: Xid (PCI:0000:53:00): 79, pid=1234, name=python, GPU has fallen off the bus.`;
Xid 154 names the action the driver itself derived (`GPU recovery action changed from 0x0 (None) to
0x1 (GPU Reset Required)`), which wins over the table. Severities are the health program's: isolate
(drain, replace the instance), reboot, reset (the GPU), monitor (report only), and None for Xids that
are an application's own fault.
"""

from __future__ import annotations

import re

LINE = re.compile(r"NVRM: Xid \((?:PCI:)?(?P<bus>[0-9A-Fa-f:.]+)\): (?P<xid>\d+),\s*(?P<text>.*)")
RECOVERY = re.compile(
    r"recovery action changed from 0x[0-9a-fA-F]+ \([^)]*\) to (?P<code>0x[0-9a-fA-F]+) \((?P<to>[^)]*)\)"
)

# NVIDIA's "Resolution Bucket (Immediate Action)" -> the health program's severity.
ACTIONS = {
    "RESTART_APP": None,  # the application's own fault: restart the job, not the node
    "IGNORE": "monitor",
    "CONTACT_SUPPORT": "monitor",  # codes NVIDIA marks unused: reported for a person to look at
    "RESET_GPU": "reset",
    "WORKFLOW_XID_48": "reset",  # DBE: "a GPU reset or node reboot is needed to clear this error"
    "WORKFLOW_NVLINK_ERR": "reset",  # "a GPU reset or node reboot is needed"
    "WORKFLOW_NVLINK5_ERR": "reset",  # per sub-error in NVIDIA's table; the sub-codes are not read here
    "WORKFLOW_XID_45": "monitor",  # follows the other Xid it comes with
    "CHECK_UVM": "monitor",
    "RESTART_VM": "reboot",
    "RESTART_BM": "reboot",
    "BOOT_REATTEMPT": "reboot",
    "CHECK_MECHANICALS": "isolate",
}

# Xid -> (what it is, NVIDIA's immediate action). Source: NVIDIA, "Analyzing Xid Errors with the Xid
# Catalog" (docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html, drivers up to R575), as
# NVIDIA's NVSentinel keeps it in xiderrorsmapping.csv; 168's bucket is read from its text.
_CATALOGUE = {
    13: ("Graphics Engine Exception", "RESTART_APP"),
    31: ("GPU memory page fault", "RESTART_APP"),
    32: ("Invalid or corrupted push buffer stream", "RESTART_APP"),
    38: ("Driver firmware error", "IGNORE"),
    43: ("GPU stopped processing", "IGNORE"),
    45: ("Preemptive cleanup, due to previous errors", "WORKFLOW_XID_45"),
    46: ("GPU stopped processing", "RESET_GPU"),
    48: ("Double Bit ECC Error", "WORKFLOW_XID_48"),
    54: ("Auxiliary power is not connected to the GPU board", "CHECK_MECHANICALS"),
    61: ("Internal micro-controller breakpoint (unused)", "CONTACT_SUPPORT"),
    62: ("Internal micro-controller halt", "RESET_GPU"),
    63: ("GPU memory remapping event", "IGNORE"),
    64: ("GPU memory remapping failure", "RESET_GPU"),
    68: ("NVDEC0 Exception", "RESTART_APP"),
    69: ("Graphics Engine class error", "RESTART_APP"),
    74: ("NVLink Error", "WORKFLOW_NVLINK_ERR"),
    79: ("GPU has fallen off the bus", "RESTART_BM"),
    92: ("High single-bit ECC error rate", "IGNORE"),
    94: ("Contained memory error", "RESTART_APP"),
    95: ("Uncontained memory error", "RESET_GPU"),
    109: ("Context Switch Timeout Error", "RESET_GPU"),
    110: ("Security Fault Error", "RESET_GPU"),
    119: ("GSP RPC Timeout", "RESET_GPU"),
    120: ("GSP Error", "RESET_GPU"),
    121: ("C2C Error", "IGNORE"),
    136: ("Link Training Failed", "RESET_GPU"),
    137: ("NVLink Privilege Error", "IGNORE"),
    140: ("ECC Unrecovered Error", "RESET_GPU"),
    143: ("GPU Initialization Error", "RESET_GPU"),
    144: ("NVLink: SAW Error", "WORKFLOW_NVLINK5_ERR"),
    145: ("NVLink: RLW Error", "WORKFLOW_NVLINK5_ERR"),
    146: ("NVLink: TLW Error", "WORKFLOW_NVLINK5_ERR"),
    147: ("NVLink: TREX Error", "WORKFLOW_NVLINK5_ERR"),
    148: ("NVLink: NVLPW_CTRL Error", "WORKFLOW_NVLINK5_ERR"),
    149: ("NVLink: NETIR Error", "WORKFLOW_NVLINK5_ERR"),
    150: ("NVLink: MSE Error", "WORKFLOW_NVLINK5_ERR"),
    151: ("Key rotation Error", "RESTART_VM"),
    154: ("GPU Recovery Action Changed", "IGNORE"),  # its own text says what to do: RECOVERY_ACTIONS
    155: ("NVLink: SW Defined Error", "RESET_GPU"),
    156: ("Resource Retirement Event", "RESET_GPU"),
    157: ("Resource Retirement Failure", "CONTACT_SUPPORT"),
    158: ("GPU Fatal Timeout", "RESET_GPU"),
    159: ("CHI Non-Data Error", "CHECK_UVM"),
    168: ("Errors found in WPR", "BOOT_REATTEMPT"),
}
XIDS = {number: (what, ACTIONS[action]) for number, (what, action) in _CATALOGUE.items()}
ORDER = ("monitor", "reset", "reboot", "isolate")
# Xid 154's derived actions: "GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot
# Required)". The code is NVML's nvmlDeviceGpuRecoveryAction_t (0 none, 1 GPU reset, 2 node reboot,
# 3 drain P2P, 4 drain and reset, 5 recover the IMEX domain, 6 bus reset, 7 system reboot); it is read
# first, since R610 drivers print other words ("OS Reboot", "PF FLR"); the words NVIDIA lists are the
# fallback.
RECOVERY_CODES = {0: "monitor", 1: "reset", 2: "reboot", 3: "reset", 4: "reset", 5: "reset", 6: "reset", 7: "reboot"}
RECOVERY_ACTIONS = {
    "none": "monitor",
    "drain p2p": "reset",
    "drain and reset": "reset",
    "gpu reset required": "reset",
    "node reboot required": "reboot",
}


def parse(text):
    """Every Xid event in the log text: {xid, bus, text, what, severity}."""
    events = []
    for line in text.splitlines():
        match = LINE.search(line)
        if not match:
            continue
        number = int(match["xid"])
        what, level = XIDS.get(number, (f"Xid {number}, not in the collection's table", "monitor"))
        if number == 154:
            level = _recovery(match["text"], level)
        events.append(
            {"xid": number, "bus": match["bus"], "text": match["text"].strip(), "what": what, "severity": level}
        )
    return events


def _recovery(text, default):
    match = RECOVERY.search(text)
    if not match:
        return default
    code = int(match["code"], 16)
    return RECOVERY_CODES.get(code) or RECOVERY_ACTIONS.get(match["to"].strip().lower(), default)


def worst(events):
    """The event that calls for the most (monitor-only and application Xids do not count), or None."""
    acting = [e for e in events if e["severity"] and e["severity"] != "monitor"]
    return max(acting, key=lambda e: ORDER.index(e["severity"]), default=None)


def describe(event, events):
    same = sum(1 for e in events if e["xid"] == event["xid"])
    return f"Xid {event['xid']} on {event['bus']} ({event['what']}){f', {same} times' if same > 1 else ''}"


def severity_of(events):
    event = worst(events)
    return event["severity"] if event else None
