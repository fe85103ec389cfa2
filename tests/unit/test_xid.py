"""Xid classification (plugins/module_utils/xid.py) on kernel log lines in the driver's format."""

from pathlib import Path

from ansible_collections.awsome.ml_cluster.plugins.module_utils import xid

LOG = (Path(__file__).resolve().parents[1] / "fixtures" / "readings" / "kernel-log-xid.txt").read_text()


def test_lines_are_read_with_their_bus_and_text():
    events = xid.parse(LOG)
    assert [(e["xid"], e["bus"]) for e in events] == [(13, "0000:53:00"), (79, "0000:64:00"), (63, "0000:75:00")]
    assert events[1]["text"].endswith("GPU has fallen off the bus.")


def test_the_worst_xid_decides():
    events = xid.parse(LOG)
    worst = xid.worst(events)
    assert worst["xid"] == 79 and worst["severity"] == "reboot"  # NVIDIA: RESTART_BM
    assert xid.describe(worst, events).startswith("Xid 79 on 0000:64:00")


def test_application_xids_alone_call_for_nothing():
    events = xid.parse(LOG.splitlines()[0])
    assert events[0]["severity"] is None and xid.worst(events) is None


def test_an_xid_the_table_lacks_is_reported_and_monitored():
    events = xid.parse("NVRM: Xid (PCI:0000:53:00): 9999, pid=1, something new")
    assert events[0]["severity"] == "monitor" and "not in the collection's table" in events[0]["what"]


def test_xid_154_takes_the_drivers_own_recovery_action():
    line = "NVRM: Xid (PCI:0000:53:00): 154, GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)"
    assert xid.parse(line)[0]["severity"] == "reboot"
    reset = line.replace("0x2 (Node Reboot Required)", "0x1 (GPU Reset Required)")
    assert xid.parse(reset)[0]["severity"] == "reset"
    # R610 prints other words for the same codes: the code decides
    assert xid.parse(line.replace("(Node Reboot Required)", "(OS Reboot)"))[0]["severity"] == "reboot"
    unknown = line.replace("0x2 (Node Reboot Required)", "0x9 (Drain and Reset)")
    assert xid.parse(unknown)[0]["severity"] == "reset"


def test_other_lines_are_not_xids():
    assert xid.parse("kernel: nvidia-nvlink: Nvlink Core is being initialized\n") == []


def test_every_catalogued_xid_maps_to_a_severity_the_program_knows():
    assert {level for _, level in xid.XIDS.values()} <= {None, *xid.ORDER}
    assert xid.XIDS[48][1] == "reset" and xid.XIDS[54][1] == "isolate" and xid.XIDS[63][1] == "monitor"
