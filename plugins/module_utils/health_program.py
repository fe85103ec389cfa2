"""The node health program: one entry point that Slurm (HealthCheckProgram, the prolog), cron,
playbooks and people run the same way (docs/health.md).

It runs a tier of the check catalogue, or one check, against what the node shows and what it should
have (the expectations the health role writes from the node's facts and the version set), prints one
JSON result on stdout and a summary on stderr, and exits 0 healthy, 1 unhealthy, 2 could not check
(64 for bad input, before anything runs). With --slurm it then drains, reboots or resumes this node
as slurm_nodes.decide() says; with --prolog it only exits (a prolog must not call Slurm commands).

Every command runs with a timeout and the tier has a budget: a check that hangs is killed and
reported "could not check", which drains nothing unless the check is marked required. Only Python's
standard library and the collection's module_utils are used, so a node needs no Ansible to run it.
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

from ansible_collections.awsome.ml_cluster.plugins.module_utils import (
    benchmarks,
    nccl_tests,
    node_readings,
    pci,
    slurm_nodes,
    xid,
)

PASS, FAIL, UNCHECKED, NOT_JUDGED = "pass", "fail", "could not check", "not judged"
EXIT = {"healthy": 0, "unhealthy": 1, "could not check": 2}
BAD_INPUT = 64
TIERS = ("quick", "standard", "deep")
HISTORY_LINES = 200
PROLOG_RECORD = "prolog.json"
# Seconds each scontrol command may take.
SLURM_TIMEOUT = 10


class CouldNotCheck(Exception):
    """The check could not run: a tool missing, a command that failed or timed out, output unreadable."""


def run_in_own_group(argv, timeout, stdin=None):
    """subprocess.run in a session of its own, so that a timeout kills what the command started too
    (a wrapper script's children would otherwise outlive it)."""
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def start_in_own_group(argv):
    """A command left running (a test's server side), in a session of its own; stop() ends it."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def command_name(argv):
    """The program an argv runs: past env and its NAME=value settings, and timeout and its own."""
    rest = list(argv[1:] if argv and argv[0] in ("env", "/usr/bin/env") else argv)
    rest = [a for a in rest if "=" not in a] or list(argv)
    if rest[0] == "timeout":
        # timeout [-k SECONDS] DURATION COMMAND ...
        rest = rest[rest.index("-k") + 3 :] if "-k" in rest[:2] else rest[2:]
    return rest[0] if rest else argv[0]


class Node:
    """What the node shows: commands with timeouts, and files under root (a fixture tree in tests)."""

    def __init__(self, root="/", runner=run_in_own_group, starter=start_in_own_group):
        self.root, self.runner, self.starter = root, runner, starter

    def path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def call(self, argv, timeout, stdin=None):
        """The finished command, whatever its exit status; CouldNotCheck where it is missing or
        outlives timeout."""
        try:
            done = self.runner(argv, timeout, stdin)
        except FileNotFoundError as error:
            raise CouldNotCheck(f"{command_name(argv)} is not installed") from error
        except subprocess.TimeoutExpired as error:
            raise CouldNotCheck(f"{command_name(argv)} timed out after {timeout:g} s (killed)") from error
        if done.returncode == 127 and argv[0] in ("env", "/usr/bin/env") and "No such file" in done.stderr:
            raise CouldNotCheck(f"{command_name(argv)} is not installed")
        return done

    def run(self, argv, timeout, stdin=None):
        """stdout of argv; CouldNotCheck where it is missing, fails or outlives timeout."""
        done = self.call(argv, timeout, stdin)
        if done.returncode != 0:
            raise CouldNotCheck(f"{argv[0]} exited {done.returncode}: {(done.stderr or done.stdout).strip()[:200]}")
        return done.stdout

    def start(self, argv):
        try:
            return self.starter(argv)
        except FileNotFoundError as error:
            raise CouldNotCheck(f"{command_name(argv)} is not installed") from error

    @staticmethod
    def stop(proc):
        """What a started command printed; it is killed, with what it started, if still running."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()[0] or ""

    def listening(self, port):
        """Whether a TCP socket listens on port (/proc/net/tcp and tcp6); None where neither reads."""
        tables = [self.read(f"/proc/net/{name}") for name in ("tcp", "tcp6")]
        if all(t is None for t in tables):
            return None
        # local_address is ADDR:PORT in hex, st 0A is LISTEN
        wanted = f":{port:04X}"
        return any(
            fields[1].endswith(wanted) and fields[3] == "0A"
            for table in tables
            for fields in (line.split() for line in (table or "").splitlines()[1:])
            if len(fields) > 3
        )

    def read(self, path):
        try:
            with open(self.path(path), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return None

    def glob(self, pattern):
        """Paths as the node names them (without root), for read()."""
        base = self.root.rstrip("/")
        return sorted(p[len(base) :] if base else p for p in glob.glob(self.path(pattern)))


def _expect(expected, key):
    record = expected.get("record") or {}
    return record.get(key)


def _why_not_judged(expected):
    if not expected.get("instance_type"):
        return "no instance type known"
    return f"{expected['instance_type']} is not in the instance type table"


# The checks. Each takes (node, expected, settings, timeout) and returns (status, detail).


def check_gpu_count(node, expected, settings, timeout):
    count = _pci_gpu_count(node)
    want = _expect(expected, "gpu_count")
    if want is None:
        return NOT_JUDGED, f"{count} on the PCI bus; {_why_not_judged(expected)}"
    return (PASS if count == want else FAIL), f"{count} on the PCI bus, {expected['instance_type']} has {want}"


def check_nvidia_smi(node, expected, settings, timeout):
    query = ["nvidia-smi", "--query-gpu=index,name,driver_version,pci.bus_id", "--format=csv,noheader"]
    rows = _parse(node_readings.parse_nvidia_smi, node.run(query, timeout))
    want_count, want_driver = _expect(expected, "gpu_count"), expected.get("driver_version")
    drivers = sorted({r["driver_version"] for r in rows})
    ok = (want_count is None or len(rows) == want_count) and (not want_driver or drivers == [want_driver])
    return (PASS if ok else FAIL), f"{len(rows)} GPUs answer, driver {', '.join(drivers) or 'none'}" + (
        f"; {want_count} expected, driver {want_driver}" if not ok else ""
    )


def _gpu_query(node, fields, timeout):
    text = node.run(["nvidia-smi", f"--query-gpu=index,{','.join(fields)}", "--format=csv,noheader"], timeout)
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(fields) + 1 or not cells[0].isdigit():
            raise CouldNotCheck(f"could not read nvidia-smi's row {line.strip()[:80]!r}")
        rows.append(dict(zip(["index", *fields], cells, strict=True)))
    if not rows:
        raise CouldNotCheck("nvidia-smi printed no GPU row")
    return rows


def check_persistence_mode(node, expected, settings, timeout):
    rows = _gpu_query(node, ["persistence_mode"], timeout)
    off = [r["index"] for r in rows if r["persistence_mode"] != "Enabled"]
    return (FAIL if off else PASS), (f"off on GPU {', '.join(off)}" if off else f"on for all {len(rows)} GPUs")


def _count(cell):
    """An nvidia-smi counter cell: a number, or 0 where the GPU has no such counter ([N/A])."""
    return int(cell) if cell.isdigit() else 0


def check_ecc(node, expected, settings, timeout):
    fields = ["ecc.errors.uncorrected.volatile.total", "remapped_rows.pending", "remapped_rows.failure"]
    rows = _gpu_query(node, fields, timeout)
    bad = []
    for row in rows:
        if row["remapped_rows.failure"] == "Yes":
            bad.append(f"GPU {row['index']}: row remapping failed")
        if row["remapped_rows.pending"] == "Yes":
            bad.append(f"GPU {row['index']}: a row remap waits for a GPU reset")
        if _count(row["ecc.errors.uncorrected.volatile.total"]):
            bad.append(f"GPU {row['index']}: {row['ecc.errors.uncorrected.volatile.total']} uncorrectable ECC errors")
    return (FAIL if bad else PASS), ("; ".join(bad) if bad else f"no uncorrectable errors on {len(rows)} GPUs")


def check_nvlink(node, expected, settings, timeout):
    """Every NVLink of every GPU up, on a node whose GPUs talk through NVSwitch: `<inactive>` links,
    a GPU whose links are all down, or fewer GPUs than the type has fail it."""
    gpus = _parse(node_readings.parse_nvlink_status, node.run(["nvidia-smi", "nvlink", "--status"], timeout))
    want = _expect(expected, "gpu_count")
    bad = []
    if want is not None and len(gpus) != want:
        bad.append(f"{len(gpus)} GPUs report NVLink, {expected['instance_type']} has {want}")
    for gpu in gpus:
        down = [str(n) for n, speed in sorted(gpu["links"].items()) if speed is None]
        if gpu["all_inactive"] or (not gpu["links"]):
            bad.append(f"GPU {gpu['index']}: all links inactive")
        elif down:
            bad.append(f"GPU {gpu['index']}: link {', '.join(down)} inactive")
    if bad:
        return FAIL, "; ".join(bad)[:300]
    return PASS, f"{sum(len(g['links']) for g in gpus)} links up on {len(gpus)} GPUs"


def check_xid(node, expected, settings, timeout):
    # the whole boot's kernel log, filtered here: journalctl --grep exits 1 when nothing matches
    text = node.run(["journalctl", "-k", "-b", "--no-pager", "-o", "short-monotonic"], timeout)
    events = xid.parse(text)
    worst = xid.worst(events)
    if worst is None:
        return PASS, f"no Xid that calls for action since boot ({len(events)} seen)" if events else "no Xid since boot"
    return FAIL, xid.describe(worst, events), worst["severity"]


def check_fabric_manager(node, expected, settings, timeout):
    if not expected.get("nvswitch"):
        return NOT_JUDGED, "no NVSwitch on this node"
    try:
        state = node.run(["systemctl", "is-active", "nvidia-fabricmanager"], timeout).strip()
    except CouldNotCheck as error:
        if "exited" in str(error):  # is-active exits non-zero for every state but active
            return FAIL, f"nvidia-fabricmanager is {str(error).rsplit(': ', 1)[-1] or 'not active'}"
        raise
    return PASS, f"nvidia-fabricmanager is {state}"


def check_efa_count(node, expected, settings, timeout):
    found = pci.scan(pci.pci_devices(node.path("/sys")))["efa_count"]
    want, rule = expected.get("efa_count"), expected.get("efa_rule", "no instance type known")
    if want is None:
        return NOT_JUDGED, f"{found} on the PCI bus; {_why_not_judged(expected)}"
    return (PASS if found == want else FAIL), f"{found} on the PCI bus, {want} expected ({rule})"


def check_efa_ports(node, expected, settings, timeout):
    ports = node.glob("/sys/class/infiniband/*/ports/*/state")
    if not ports:
        return NOT_JUDGED, "no RDMA device ports in /sys/class/infiniband"
    down = []
    for port in ports:
        state = (node.read(port) or "").strip()
        if not state.endswith("ACTIVE"):
            device = port.split("/class/infiniband/")[1].split("/")[0]
            down.append(f"{device} {state or 'unreadable'}")
    return (FAIL if down else PASS), ("; ".join(down) if down else f"{len(ports)} ports ACTIVE")


# EFA's hw_counters that count errors (operations.md section on EFA metrics); a rise in one names a
# link in trouble, though not always this node's end of it: the check reports, the bad-node search
# finds the culprit.
EFA_ERROR_COUNTERS = (
    "rx_drops",
    "retrans_timeout_events",
    "unresponsive_remote_events",
    "impaired_remote_conn_events",
    "rdma_read_wr_err",
    "rdma_write_wr_err",
)
EFA_COUNTERS_STATE = "efa-counters.json"


def efa_error_counters(node):
    """{device/port: {counter: value}} for the error counters each EFA port has (SRD counters exist
    on Nitro v4 and later only)."""
    found = {}
    for path in node.glob("/sys/class/infiniband/*/ports/*/hw_counters"):
        parts = path.split("/")
        name = f"{parts[-4]}/{parts[-2]}"
        for counter in EFA_ERROR_COUNTERS:
            text = node.read(f"{path}/{counter}")
            if text is not None and text.strip().isdigit():
                found.setdefault(name, {})[counter] = int(text)
    return found


def check_efa_counters(node, expected, settings, timeout):
    """The EFA error counters against the reading this check kept last time: any that rose fails
    (a counter below its last reading was reset, by a reboot or a driver reload, and starts anew)."""
    now = efa_error_counters(node)
    if not now:
        return NOT_JUDGED, "no EFA error counters in /sys/class/infiniband/*/ports/*/hw_counters"
    if not settings.get("state_dir"):
        raise CouldNotCheck("no state directory to keep the last reading in")
    path = os.path.join(settings["state_dir"], EFA_COUNTERS_STATE)
    before = _read_json(path)
    _write_json(path, now)
    if not isinstance(before, dict):
        return NOT_JUDGED, f"first reading of {len(now)} EFA ports kept; the next run compares"
    risen = [
        f"{port} {counter} +{value - before[port][counter]}"
        for port, counters in sorted(now.items())
        for counter, value in counters.items()
        if counter in before.get(port, {}) and value > before[port][counter]
    ]
    if risen:
        return FAIL, "; ".join(risen)[:300]
    return PASS, f"no error counter rose on {len(now)} ports"


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_json(path, value):
    """Written whole or not at all: a run killed mid-write leaves the last reading."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(f"{path}.tmp", "w", encoding="utf-8") as f:
        json.dump(value, f, sort_keys=True)
    os.replace(f"{path}.tmp", path)


EFA_BIN_DIR = "/opt/amazon/efa/bin"
# Seconds the server side gets to listen, and each domain's client to finish.
PINGPONG_LISTEN_S = 5
PINGPONG_CLIENT_S = 60


def check_efa_loopback(node, expected, settings, timeout):
    """fi_pingpong from each EFA domain to itself over the device: libfabric's RDM domains from fi_info
    (rdmap<bus>s<slot>-rdm, not the kernel's names), each named with -d on both sides, shared memory
    off so that the transfer crosses the device (as AWS's efa_test.sh), data checked at the receiver
    (-c). A domain fails when a side reports an error or exits non-zero, a transfer goes
    unacknowledged or nothing was sent."""
    bin_dir = settings.get("efa_bin_dir") or EFA_BIN_DIR
    deadline = time.monotonic() + timeout
    done = node.call([f"{bin_dir}/fi_info", "-p", "efa", "-t", "FI_EP_RDM"], timeout)
    if done.returncode != 0 and "No data available" in done.stdout + done.stderr:
        return FAIL, "libfabric's efa provider finds no device (fi_info -p efa: No data available)"
    if done.returncode != 0:
        raise CouldNotCheck(f"fi_info exited {done.returncode}: {(done.stderr or done.stdout).strip()[:200]}")
    domains = _parse(node_readings.parse_fi_info, done.stdout)
    if not domains:
        return FAIL, "fi_info -p efa -t FI_EP_RDM lists no EFA RDM domain"
    failed, rates = [], []
    for domain in domains:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CouldNotCheck(f"the {timeout:g} s ran out after {len(rates) + len(failed)} of {len(domains)} domains")
        problem, rate = _pingpong(node, bin_dir, domain, min(left, PINGPONG_CLIENT_S))
        if problem:
            failed.append(f"{domain}: {problem}")
        else:
            rates.append(rate)
    if failed:
        return FAIL, f"{len(failed)} of {len(domains)} EFA domains failed: {'; '.join(failed)}"[:300]
    return PASS, f"{len(domains)} EFA domains loop back (largest transfer {min(rates):.0f} MB/s or more)"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Seconds the server side gets to end after its client did.
PINGPONG_SERVER_END_S = 3


def _pingpong(node, bin_dir, domain, timeout):
    """(problem or None, MB/s at the largest size) of one domain's loopback."""
    port = _free_port()
    env = ["env", "FI_LOG_LEVEL=warn", "FI_EFA_ENABLE_SHM_TRANSFER=0"]
    # -d names the domain on both sides. FI_EFA_DEVICE_NAME, which some health scripts set, is no
    # libfabric variable: it is ignored, and every pass would test the first device.
    pingpong = [f"{bin_dir}/fi_pingpong", "-e", "rdm", "-p", "efa", "-d", domain, "-c"]
    # under timeout(1): a server side outlives no ml-health that was killed
    limit = str(int(PINGPONG_LISTEN_S + timeout + PINGPONG_SERVER_END_S + 5))
    server = node.start([*env, "timeout", "-k", "5", limit, *pingpong, "-B", str(port)])
    client = late = None
    try:
        listening, early = _wait_listening(node, server, port), server.poll()
        if early is None and listening:
            client = node.call([*env, *pingpong, "-P", str(port), "localhost"], timeout)
            late = _wait_exit(server, PINGPONG_SERVER_END_S)
    finally:
        server_output = node.stop(server)
    if early is not None:
        return _server_problem(early, server_output), None
    if client is None:
        raise CouldNotCheck(f"fi_pingpong's server side was not listening on port {port} after {PINGPONG_LISTEN_S} s")
    return _judge_pingpong(client, late, server_output)


def _wait_exit(proc, seconds):
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def _server_problem(code, output):
    if code in (126, 127):
        raise CouldNotCheck(f"fi_pingpong could not start (exit {code}): {_first_error(output)}")
    return f"the server side exited {code}: {_first_error(output)}"


def _judge_pingpong(client, server_exit, server_output):
    """Either side's error line, or exit status, fails the domain; so do unacknowledged transfers and
    a run that reports none."""
    output = client.stdout + "\n" + client.stderr
    found = node_readings.parse_fi_pingpong(output) if output.strip() else {"rows": [], "errors": []}
    server = node_readings.parse_fi_pingpong(server_output) if server_output.strip() else {"rows": [], "errors": []}
    unacknowledged = [r["size"] for r in found["rows"] if not r["acknowledged"]]
    problems = [
        client.returncode != 0 and f"exited {client.returncode}: {_first_error(output)}",
        found["errors"] and found["errors"][0],
        unacknowledged and f"transfers unacknowledged at {', '.join(unacknowledged)} bytes",
        not found["rows"] and "no transfer reported",
        server_exit not in (None, 0) and _server_problem(server_exit, server_output),
        server["errors"] and f"the server side: {server['errors'][0]}",
    ]
    problem = next((p for p in problems if p), None)
    return (problem[:160], None) if problem else (None, found["rows"][-1]["mb_per_s"])


def _wait_listening(node, server, port):
    """True once the server listens (or, where /proc/net cannot tell, once the wait is over)."""
    end, listening = time.monotonic() + PINGPONG_LISTEN_S, False
    while time.monotonic() < end and server.poll() is None:
        listening = node.listening(port)
        if listening:
            return True
        time.sleep(0.1)
    return listening is None


def _first_error(output):
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if node_readings.PINGPONG_ERROR.fullmatch(line)]
    return ((errors or lines or ["no output"])[0])[:160]


NCCL_TESTS_DIR = "/opt/nccl-tests/build"
# A one-node all_reduce is judged at this size unless the expected figure names its own.
LOCAL_COLLECTIVE_SIZE = benchmarks.GIB
LOCAL_COLLECTIVE_TOLERANCE = 0.2


def check_local_collective(node, expected, settings, timeout):
    """all_reduce_perf over every GPU of the node in one process (-g N, NVLink or PCIe, no network):
    it must finish, move correct data (-c 1) and, where the table has a one-node figure for the
    instance type, reach it within the tolerance (benchmarks.nccl_checks, as the benchmarks judge)."""
    gpus = _expect(expected, "gpu_count") or _pci_gpu_count(node)
    table = settings.get("busbw_expected") or []
    entry = benchmarks.expected_figure(table, expected.get("instance_type"), 1, "all_reduce")
    size = int(entry["message_size"]) if entry else LOCAL_COLLECTIVE_SIZE
    binary = f"{settings.get('nccl_tests_dir') or NCCL_TESTS_DIR}/all_reduce_perf"
    argv = [binary, "-b", "32M", "-e", str(size), "-f", "2", "-g", str(gpus), "-c", "1", "-w", "5", "-n", "20"]
    done = node.call(argv, timeout)
    runs = nccl_tests.parse_text(done.stdout + "\n" + done.stderr, "all_reduce")
    run = runs[-1] if runs else None
    if run is None or (done.returncode != 0 and not run["failures"] and not run["rows"]):
        first = next((line for line in (done.stderr + done.stdout).splitlines() if line.strip()), "no output")
        raise CouldNotCheck(f"all_reduce_perf exited {done.returncode}: {first.strip()[:200]}")
    judging = {"table": table, "instance_type": expected.get("instance_type"), "nodes": 1}
    judged = benchmarks.nccl_checks(run, {**judging, "message_size": size, "tolerance": LOCAL_COLLECTIVE_TOLERANCE})
    failed = [c for c in judged["checks"] if c["status"] == FAIL]
    if done.returncode != 0 and not failed:
        failed = [{"name": "exit status", "detail": f"all_reduce_perf exited {done.returncode}"}]
    if failed:
        return FAIL, "; ".join(f"{c['name']}: {c['detail']}" for c in failed)[:300]
    against = next(c for c in judged["checks"] if c["name"] == "busbw against expected")
    return PASS, f"{gpus} GPUs, busbw {judged['busbw']:.1f} GB/s at {benchmarks.size_label(size)}; {against['detail']}"[
        :300
    ]


def busbw_problems(entries):
    """What is wrong with one-node figures (settings' busbw_expected), as sentences."""
    problems = []
    for i, entry in enumerate(entries if isinstance(entries, list) else [entries]):
        e = entry if isinstance(entry, dict) else {}
        size, busbw = e.get("message_size"), e.get("busbw")
        if not isinstance(e.get("instance_type"), str) or not e.get("instance_type"):
            problems.append(f"entry {i} needs an instance_type.")
        if e.get("nodes") != 1 or e.get("collective", "all_reduce") != "all_reduce":
            problems.append(f"entry {i}: the one-node collective is all_reduce on nodes: 1.")
        if not isinstance(busbw, (int, float)) or isinstance(busbw, bool) or busbw <= 0:
            problems.append(f"entry {i}: busbw must be a positive number of GB/s, not {busbw!r}.")
        # the sweep doubles from 32 MiB, so only such a size is measured exactly
        if not isinstance(size, int) or size < 32 << 20 or size & (size - 1):
            problems.append(f"entry {i}: message_size must be a power of two of 32 MiB or more, not {size!r}.")
    return problems


def _pci_gpu_count(node):
    found = pci.scan(pci.pci_devices(node.path("/sys")))
    return len(found["gpus"]) + found["unknown_gpu_count"]


def check_neuron_count(node, expected, settings, timeout):
    found = pci.scan(pci.pci_devices(node.path("/sys")))["neuron_count"]
    devices = len(node.glob("/dev/neuron[0-9]*"))
    want = _expect(expected, "neuron_device_count")
    if want is None:
        return NOT_JUDGED, f"{found} on the PCI bus; {_why_not_judged(expected)}"
    ok = found == want and devices == found
    return (
        PASS if ok else FAIL
    ), f"{found} on the PCI bus, {devices} /dev/neuron*, {expected['instance_type']} has {want}"


def check_neuron_ls(node, expected, settings, timeout):
    """neuron-ls must list every device the bus shows, each with EC2's cores (or half of them, grouped
    by the logical NeuronCore config, on NeuronCore v3)."""
    tool = "/opt/aws/neuron/bin/neuron-ls"
    reading = _parse(node_readings.parse_neuron_ls, node.run([tool, "--json-output"], timeout))
    found = pci.scan(pci.pci_devices(node.path("/sys")))["neuron_count"]
    physical = _expect(expected, "neuron_cores_per_device")
    allowed = {physical, physical // 2} if physical and _expect(expected, "neuron_core_version") == 3 else {physical}
    cores = reading["cores_per_device"]
    ok = reading["devices"] == found and (physical is None or (len(cores) == 1 and cores[0] in allowed))
    return (PASS if ok else FAIL), f"{reading['devices']} devices of {cores} NeuronCores, {found} on the PCI bus"


def check_munge(node, expected, settings, timeout):
    """A credential made and decoded through this node's munged, as slurmd and every job step need:
    munged stopped, its key changed, or the clock skewed beyond munge's TTL fail it."""
    made = node.call(["munge", "-n"], timeout)
    if made.returncode != 0:
        return FAIL, f"munge -n: {(made.stderr or made.stdout).strip()[:200]}"
    decoded = node.call(["unmunge"], timeout, stdin=made.stdout)
    lines = decoded.stdout.splitlines()
    status = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("STATUS:")), "")
    if decoded.returncode == 0 and status.startswith("Success"):
        return PASS, "a credential made and decoded"
    return FAIL, f"unmunge: {status or (decoded.stderr or decoded.stdout).strip()[:200]}"


def check_mounts(node, expected, settings, timeout):
    wanted = settings.get("mounts") or []
    if not wanted:
        return NOT_JUDGED, "no filesystem required (health_mounts)"
    # /proc/mounts is read, never the mount itself: a hung NFS or Lustre mount cannot hang the check.
    table = node.read("/proc/mounts")
    if table is None:
        raise CouldNotCheck("/proc/mounts is unreadable")
    mounted = {line.split()[1] for line in table.splitlines() if len(line.split()) > 1}
    missing = [m for m in wanted if m not in mounted]
    return (FAIL if missing else PASS), (f"not mounted: {', '.join(missing)}" if missing else ", ".join(wanted))


def check_disk(node, expected, settings, timeout):
    wanted = settings.get("disk") or []
    if not wanted:
        return NOT_JUDGED, "no free-space floor set (health_disk)"
    short = []
    for floor in wanted:
        out = node.run(["df", "-P", "-k", floor["path"]], timeout).splitlines()
        try:
            free_gib = int(out[-1].split()[3]) / (1 << 20)
        except (IndexError, ValueError) as error:
            raise CouldNotCheck(f"could not read df's line for {floor['path']}") from error
        if free_gib < floor["min_free_gib"]:
            short.append(f"{floor['path']} has {free_gib:.1f} GiB free (floor {floor['min_free_gib']:g})")
    return (FAIL if short else PASS), ("; ".join(short) if short else f"{len(wanted)} paths above their floor")


def check_memory(node, expected, settings, timeout):
    floor = settings.get("memory_min_available_pct")
    if not floor:
        return NOT_JUDGED, "no memory floor set (health_memory_min_available_pct)"
    info = node.read("/proc/meminfo") or ""
    values = {line.split(":")[0]: int(line.split()[1]) for line in info.splitlines() if len(line.split()) >= 2}
    if "MemTotal" not in values or "MemAvailable" not in values:
        raise CouldNotCheck("/proc/meminfo has no MemTotal and MemAvailable")
    pct = 100 * values["MemAvailable"] / values["MemTotal"]
    return (PASS if pct >= floor else FAIL), f"{pct:.0f} % of memory available (floor {floor:g} %)"


def check_dcgm(level):
    """`dcgmi diag -r LEVEL -j`: every result that failed, by test and GPU, with DCGM's own message; the
    worst of DCGM's error severities acts (a setting such as persistence mode only reports). dcgmi
    exits 226 when a test fails, so its JSON is read whatever the exit status."""

    def run(node, expected, settings, timeout):
        done = node.call(["dcgmi", "diag", "-r", str(level), "-j"], timeout)
        try:
            found = node_readings.parse_dcgmi_diag(done.stdout)
        except node_readings.Unreadable as error:
            why = (done.stderr or done.stdout).strip()[:200]
            raise CouldNotCheck(f"dcgmi diag -r {level} -j exited {done.returncode}: {why or error}") from error
        except ValueError as error:
            raise CouldNotCheck(str(error)) from error
        ran = found["results"] - found["skipped"]
        if not found["failed"] and (done.returncode != 0 or not ran):
            # dcgmi said something went wrong, or ran nothing: not a pass
            raise CouldNotCheck(f"dcgmi diag -r {level} -j exited {done.returncode} with {ran} results and no failure")
        if not found["failed"]:
            return PASS, f"dcgmi diag -r {level}: {ran} passed, {found['skipped']} skipped (DCGM {found['version']})"
        worst = max((f["severity"] for f in found["failed"]), key=slurm_nodes.SEVERITY_ORDER.index)
        detail = "; ".join(f"{f['test']} GPU {f['gpu']}: {f['detail']}" for f in found["failed"])
        return FAIL, detail[:300], worst

    return run


def check_command(argv):
    """A site's own check (health_checks): argv exits 0 for pass, 1 for fail, anything else for could
    not check; the first line it prints is the detail (as NHC's and Nagios's checks do)."""

    def run(node, expected, settings, timeout):
        done = node.call(argv, timeout)
        lines = [line.strip() for line in (done.stdout + "\n" + done.stderr).splitlines() if line.strip()]
        detail = lines[0][:200] if lines else f"{argv[0]} exited {done.returncode}"
        if done.returncode in (0, 1):
            return (PASS if done.returncode == 0 else FAIL), detail
        raise CouldNotCheck(f"{argv[0]} exited {done.returncode}: {detail}")

    return run


def _parse(parse, text):
    try:
        return parse(text)
    except node_readings.Unreadable as error:
        raise CouldNotCheck(f"could not read the output: {error}") from error


# The catalogue, as data. needs: what the node must have for the check to apply (gpu, nvswitch, efa,
# neuron, munge: a munge key, as every Slurm node has; None: every node); timeout in seconds;
# severity -> action: isolate (drain, replace the instance), reboot (scontrol reboot, then resume),
# reset (drain for a GPU reset), monitor (report only; never drains, never fails the exit code).
# A failed Xid check takes the worst Xid's (xid.py).
FIELDS = ("name", "tier", "needs", "timeout", "severity", "run")
CATALOGUE = tuple(
    dict(zip(FIELDS, row, strict=True))
    for row in (
        ("GPU count", "quick", "gpu", 5, "isolate", check_gpu_count),
        ("nvidia-smi", "quick", "gpu", 10, "reboot", check_nvidia_smi),
        ("persistence mode", "quick", "gpu", 10, "monitor", check_persistence_mode),
        ("ECC and row remapping", "quick", "gpu", 10, "reset", check_ecc),
        ("Xid", "quick", "gpu", 10, "isolate", check_xid),
        ("fabric manager", "quick", "nvswitch", 5, "reboot", check_fabric_manager),
        ("NVLink", "quick", "nvswitch", 10, "reset", check_nvlink),
        ("EFA devices", "quick", "efa", 5, "isolate", check_efa_count),
        ("EFA ports", "quick", "efa", 5, "isolate", check_efa_ports),
        ("Neuron devices", "quick", "neuron", 5, "isolate", check_neuron_count),
        ("neuron-ls", "quick", "neuron", 10, "reboot", check_neuron_ls),
        ("munge", "quick", "munge", 5, "reboot", check_munge),
        ("filesystems", "quick", None, 5, "isolate", check_mounts),
        ("disk space", "quick", None, 10, "isolate", check_disk),
        ("memory", "quick", None, 2, "monitor", check_memory),
        ("EFA error counters", "standard", "efa", 5, "monitor", check_efa_counters),
        ("EFA loopback", "standard", "efa", 300, "isolate", check_efa_loopback),
        ("one-node collective", "standard", "gpu", 600, "isolate", check_local_collective),
        ("DCGM diagnostics level 2", "standard", "gpu", 900, "isolate", check_dcgm(2)),
        ("DCGM diagnostics level 3", "deep", "gpu", 3600, "isolate", check_dcgm(3)),
    )
)
NEEDS = {"gpu": "GPU", "nvswitch": "NVSwitch", "efa": "EFA device", "neuron": "Neuron device", "munge": "munge key"}
MUNGE_KEY = "/etc/munge/munge.key"
# Seconds the quick tier may take in all: under the prolog timeout the Slurm role sets.
BUDGET = {"quick": 30, "standard": 1800, "deep": 7200}


SEVERITIES = slurm_nodes.SEVERITY_ORDER


def site_check_problems(checks):
    """What is wrong with a site's own checks (settings' checks: [{name, tier, command, timeout,
    severity}]), as sentences; empty where they can run."""
    builtin, problems, seen = {c["name"] for c in CATALOGUE}, [], set()
    for i, c in enumerate(checks if isinstance(checks, list) else [checks]):
        if not isinstance(c, dict):
            problems.append(f"check {i + 1} is not a mapping of name, tier, command, timeout and severity.")
            continue
        name = c.get("name")
        label = f"check {name!r}" if name else f"check {i + 1}"
        if not isinstance(name, str) or not name or ":" in name or ";" in name:
            problems.append(f"{label} needs a name without ':' or ';' (the drain reason's separators).")
        elif name in builtin or name in seen:
            problems.append(f"{label} is named like another check; names must be unique.")
        seen.add(name)
        if c.get("tier") not in TIERS:
            problems.append(f"{label}: tier must be one of {', '.join(TIERS)}, not {c.get('tier')!r}.")
        command = c.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(a, str) and a for a in command):
            problems.append(f"{label}: command must be a list of arguments, the program first.")
        timeout = c.get("timeout")
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            problems.append(f"{label}: timeout must be a positive number of seconds, not {timeout!r}.")
        if c.get("severity") not in SEVERITIES:
            problems.append(f"{label}: severity must be one of {', '.join(SEVERITIES)}, not {c.get('severity')!r}.")
    return problems


def catalogue(settings):
    """The built-in checks and the site's own (settings' checks), in tier order."""
    fields = ("name", "tier", "timeout", "severity")
    site = [
        {**{k: c[k] for k in fields}, "needs": None, "run": check_command(c["command"])}
        for c in settings.get("checks") or []
    ]
    return sorted([*CATALOGUE, *site], key=lambda c: TIERS.index(c["tier"]))


def applies(check, expected, node):
    """Whether the node has what the check needs: by its expectations, or by what its bus shows."""
    needs = check["needs"]
    if needs is None:
        return True
    record = expected.get("record") or {}
    if needs == "nvswitch":
        return bool(expected.get("nvswitch"))
    if needs == "munge":
        return os.path.exists(node.path(MUNGE_KEY))
    key = {"gpu": "gpu_count", "efa": "efa_count", "neuron": "neuron_device_count"}[needs]
    if expected.get(key) if needs == "efa" else record.get(key):
        return True
    found = pci.scan(pci.pci_devices(node.path("/sys")))
    return bool(
        {
            "gpu": len(found["gpus"]) + found["unknown_gpu_count"],
            "efa": found["efa_count"],
            "neuron": found["neuron_count"],
        }[needs]
    )


def select(tier=None, check=None, checks=CATALOGUE):
    """The entries of checks asked for; ValueError naming the choices for a tier or check that does not
    exist."""
    if check:
        chosen = [c for c in checks if c["name"] == check]
        if not chosen:
            raise ValueError(f"no check named {check!r}; the checks: {', '.join(c['name'] for c in checks)}")
        return chosen
    if tier not in TIERS:
        raise ValueError(f"no tier {tier!r}; the tiers: {', '.join(TIERS)}")
    # a tier includes the ones below it
    return [c for c in checks if TIERS.index(c["tier"]) <= TIERS.index(tier)]


def run_checks(checks, node, config, budget, clock=time.monotonic):
    """Each check in turn, each under its timeout and what is left of the budget."""
    expected, settings = config["expected"], config["settings"]
    started, results = clock(), []
    for check in checks:
        left = budget - (clock() - started)
        base = {"name": check["name"], "tier": check["tier"], "severity": check["severity"]}
        if not applies(check, expected, node):
            detail = f"no {NEEDS[check['needs']]} on this node"
            results.append({**base, "status": NOT_JUDGED, "detail": detail, "seconds": 0})
            continue
        if left <= 0:
            results.append({**base, "status": UNCHECKED, "detail": f"the budget of {budget:g} s ran out", "seconds": 0})
            continue
        begun = clock()
        try:
            # a check may name its own severity (Xid: the worst Xid's)
            status, detail, *level = check["run"](node, expected, settings, min(check["timeout"], left))
        except CouldNotCheck as error:
            status, detail, level = UNCHECKED, str(error), []
        base["severity"] = level[0] if level else base["severity"]
        results.append({**base, "status": status, "detail": detail, "seconds": round(clock() - begun, 3)})
    return results


def outcome(results, required=()):
    """healthy, unhealthy (a failed check that acts: monitor-only ones do not), or could not check."""
    if any(r.get("severity") != "monitor" for r in slurm_nodes.failing({"checks": results}, required)):
        return "unhealthy"
    return "could not check" if any(r["status"] == UNCHECKED for r in results) else "healthy"


def summary(result):
    lines = [f"{result['node']}: {result['outcome']} ({result['tier'] or result['check']}, {result['seconds']:.1f} s)"]
    lines += [f"  {r['status']:>15}  {r['name']}: {r['detail']}" for r in result["checks"] if r["status"] != NOT_JUDGED]
    if result.get("slurm"):
        lines.append(f"  slurm: {result['slurm']['action']}: {result['slurm']['why']}")
    return "\n".join(lines)


def remember(state_dir, result):
    """The last result, and a bounded history, kept on the node."""
    os.makedirs(state_dir, exist_ok=True)
    # last.json is whatever ran last (the quick tier, every interval); last-<tier>.json each tier's own
    names = ["last.json"] + ([f"last-{result['tier']}.json"] if result.get("tier") else [])
    for name in names:
        with open(os.path.join(state_dir, name), "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1, sort_keys=True)
    history = os.path.join(state_dir, "history.jsonl")
    lines = []
    if os.path.exists(history):
        with open(history, encoding="utf-8") as f:
            lines = f.readlines()[-(HISTORY_LINES - 1) :]
    entry_line = {k: result[k] for k in ("time", "tier", "check", "outcome")}
    entry_line["failed"] = [r["name"] for r in result["checks"] if r["status"] in (FAIL, UNCHECKED)]
    lines.append(json.dumps(entry_line, sort_keys=True) + "\n")
    with open(history, "w", encoding="utf-8") as f:
        f.writelines(lines)


def remember_prolog(state_dir, result, job=None):
    """What the prolog found, for the health checker to know Slurm's "Prolog error" as its own: kept
    while the prolog fails, removed once it passes."""
    path = os.path.join(state_dir, PROLOG_RECORD)
    if result["outcome"] != "unhealthy":
        if os.path.exists(path):
            os.remove(path)
        return
    failed = slurm_nodes.failing(result, result.get("required", ()))
    record = {"time": result["time"], "job": job, "reason": slurm_nodes.reason_for(failed)}
    os.makedirs(state_dir, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, sort_keys=True)


def read_prolog(state_dir):
    try:
        with open(os.path.join(state_dir, PROLOG_RECORD), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def scontrol(node, settings, argv):
    """argv (scontrol first) from the configured Slurm bin directory: slurmd runs HealthCheckProgram
    with a bare PATH, and ParallelCluster's Slurm is under /opt/slurm/bin."""
    program = os.path.join(settings["slurm_bin_dir"], argv[0]) if settings.get("slurm_bin_dir") else argv[0]
    return node.run([program, *argv[1:]], SLURM_TIMEOUT)


def this_node(node, name, settings):
    """This node's record among `scontrol -o show node`'s lines."""
    return slurm_nodes.find_node(scontrol(node, settings, ["scontrol", "-o", "show", "node"]), name)


def apply_to_slurm(node, name, result, settings, prolog=None):
    """Reads this node's Slurm state, decides, and runs the one scontrol command decided on."""
    found = this_node(node, name, settings)
    result["node"] = found["name"]
    known = [c["name"] for c in catalogue(settings)]
    decision = slurm_nodes.decide(found, result, settings.get("required") or [], prolog, known)
    if settings.get("hold") and decision["action"] == "resume":
        decision = {"action": "none", "argv": None, "why": f"{found['name']} is held: the sweep checks it on the node"}
    if settings.get("hold") and decision["action"] == "reboot":
        decision.update(action="drain", argv=slurm_nodes.drain_argv(found["name"], decision["why"]))
    earlier = rebooted_lately(settings, result) if decision["action"] == "reboot" else None
    if earlier:
        # a reboot that did not cure it is not asked for again: the node is drained, and returns once the
        # check passes (a person may replace it meanwhile); the result says why it was not rebooted
        decision.update(action="drain", argv=slurm_nodes.drain_argv(found["name"], decision["why"]))
        decision["why"] += (
            f"; not rebooted again: a reboot for {', '.join(earlier['checks'])} was asked "
            f"{(result['time'] - earlier['time']) / 3600:.1f} h ago"
        )
    if decision["argv"]:
        try:
            scontrol(node, settings, decision["argv"])
            decision["done"] = True
        except CouldNotCheck as error:
            decision.update(done=False, error=str(error))
    if decision["action"] == "reboot" and decision["done"]:
        remember_reboot(settings, result)
    if decision["action"] == "reboot" and not decision["done"]:
        # Slurm refuses a reboot where no RebootProgram is set: drained instead, never left in service
        drain = slurm_nodes.drain_argv(found["name"], decision["why"])
        try:
            scontrol(node, settings, drain)
            decision.update(action="drain", argv=drain, done=True)
        except CouldNotCheck as error:
            decision["error"] += f"; and the drain: {error}"
    return decision


REBOOTS_STATE = "reboots.json"
# Hours within which a check that asked for a reboot gets a drain instead (settings' reboot_window_h).
REBOOT_WINDOW_H = 24


def _reboot_checks(result):
    return sorted(c["name"] for c in result["checks"] if c["status"] == FAIL and c.get("severity") == "reboot")


def _reboots(settings):
    past = _read_json(os.path.join(settings["state_dir"], REBOOTS_STATE)) if settings.get("state_dir") else None
    return [r for r in past if isinstance(r, dict)] if isinstance(past, list) else []


def rebooted_lately(settings, result):
    """The last reboot asked for one of this run's reboot checks within the window, or None."""
    window = 3600 * float(settings.get("reboot_window_h", REBOOT_WINDOW_H))
    checks = set(_reboot_checks(result))
    lately = [r for r in _reboots(settings) if result["time"] - r.get("time", 0) < window]
    return next((r for r in reversed(lately) if checks & set(r.get("checks", []))), None)


def remember_reboot(settings, result):
    """Keeps when a reboot was asked for and for which checks (the window's entries only)."""
    if not settings.get("state_dir"):
        return
    window = 3600 * float(settings.get("reboot_window_h", REBOOT_WINDOW_H))
    kept = [r for r in _reboots(settings) if result["time"] - r.get("time", 0) < window]
    entry = {"time": result["time"], "checks": _reboot_checks(result)}
    _write_json(os.path.join(settings["state_dir"], REBOOTS_STATE), [*kept, entry])


def parser():
    p = argparse.ArgumentParser(prog="ml-health", description="Health checks of an ML training node.")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--tier", choices=TIERS, default=None, help="quick (default), standard or deep")
    what.add_argument("--check", help="one check of the catalogue, by name")
    p.add_argument("--list", action="store_true", help="print the catalogue and exit")
    p.add_argument("--config", default="/etc/ml_cluster/health.json", help="expectations and settings")
    p.add_argument("--state-dir", default="/var/lib/ml_cluster/health")
    p.add_argument("--root", default="/", help="where the node's /sys, /proc and /dev are (tests)")
    p.add_argument("--node-name", default=None, help="this node's Slurm name (default: the short hostname)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--slurm", action="store_true", help="then drain, reboot or resume this node")
    mode.add_argument("--prolog", action="store_true", help="only the exit code: no Slurm command is run")
    p.add_argument(
        "--if-drained",
        action="store_true",
        help="with --slurm: run only where the health program drained this node and no job runs, holding it meanwhile",
    )
    return p


def load_config(path):
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from error
    if not isinstance(config.get("expected"), dict) or not isinstance(config.get("settings"), dict):
        raise ValueError(f"{path} must hold 'expected' and 'settings' objects")
    problems = site_check_problems(config["settings"].get("checks") or [])
    problems += [f"busbw_expected: {p}" for p in busbw_problems(config["settings"].get("busbw_expected") or [])]
    if problems:
        raise ValueError(f"{path}: {' '.join(problems)}")
    return config


def print_catalogue(checks):
    for c in checks:
        print(f"{c['tier']:>8}  {c['name']} (needs {c['needs'] or 'nothing'}, {c['timeout']} s, {c['severity']})")


# The direct run's hold on the node: an exclusive flock for its whole run (from before it asks Slurm
# until it has acted), which the quick tier's --slurm tries to share around its decision; a lock dies
# with its process, so none is left behind.
HOLD = "hold.lock"


def hold(state_dir, exclusive):
    """The open lock file, held exclusively (waiting for a quick run to finish acting) or shared
    without waiting; None where a direct run holds it."""
    os.makedirs(state_dir, exist_ok=True)
    f = open(os.path.join(state_dir, HOLD), "a+", encoding="utf-8")  # noqa: SIM115 (the lock is held past this function)
    try:
        fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def not_drained_here(node, name, settings):
    """Why the tier may not run on this node outside Slurm (None where it may): that is for a node the
    health program drained whose jobs are done, which no Slurm job can reach (the sweep's direct run)."""
    found = this_node(node, name, settings)
    if not (slurm_nodes.drained(found) and slurm_nodes.ours(found)):
        return f"{found['name']} is not drained by the health program ({found['state']}, {found['reason']})"
    if slurm_nodes.runs_jobs(found):
        return f"{found['name']} still runs jobs"
    return None


def main(argv=None, node=None, clock=time.monotonic, now=time.time):
    args = parser().parse_args(argv)
    try:
        # the catalogue lists without a configuration too (the built-in checks only)
        config = load_config(args.config) if os.path.exists(args.config) or not args.list else {"settings": {}}
        if args.list:
            print_catalogue(catalogue(config["settings"]))
            return 0
        # a tier or check that does not exist is refused here, before anything runs
        checks = select(args.tier or ("quick" if not args.check else None), args.check, catalogue(config["settings"]))
        if args.if_drained and not args.slurm:
            raise ValueError("--if-drained goes with --slurm")
    except ValueError as error:
        print(f"ml-health: {error}", file=sys.stderr)
        return BAD_INPUT
    node = node or Node(args.root)
    # checks that compare with their last reading keep it beside the results
    config["settings"] = {**config["settings"], "state_dir": args.state_dir}
    args.node_name = name = args.node_name or socket.gethostname().split(".")[0]
    if not args.if_drained:
        return run_tier(args, node, config, checks, (clock, now))
    lock = hold(args.state_dir, exclusive=True)
    try:
        why = not_drained_here(node, name, config["settings"])
    except (CouldNotCheck, ValueError) as error:
        why = f"could not reach Slurm: {error}"
    if why:
        lock.close()
        print(json.dumps({"node": name, "outcome": "not run", "why": why, "slurm": {"action": "none", "why": why}}))
        return EXIT["healthy"]
    with lock:
        return run_tier(args, node, config, checks, (clock, now))


def run_tier(args, node, config, checks, clocks):
    """Runs the checks selected, acts on Slurm or leaves the prolog's record, keeps and prints the result."""
    clock, now = clocks
    settings = config["settings"]
    required = settings.get("required") or []
    tier = None if args.check else (args.tier or "quick")
    budget = BUDGET[tier] if tier else max(c["timeout"] for c in checks)
    begun = clock()
    results = run_checks(checks, node, config, settings.get("budget_s", {}).get(tier, budget), clock)
    result = {
        "node": args.node_name,
        "tier": tier,
        "check": args.check,
        "time": round(now(), 3),
        "seconds": round(clock() - begun, 3),
        "outcome": outcome(results, required),
        "checks": results,
    }
    if args.slurm:
        result["slurm"] = to_slurm(args, node, result, settings)
    if args.prolog:
        remember_prolog(args.state_dir, {**result, "required": required}, os.environ.get("SLURM_JOB_ID"))
    remember(args.state_dir, result)
    print(json.dumps(result, sort_keys=True))
    print(summary(result), file=sys.stderr)
    if args.prolog:
        # a prolog's non-zero exit drains the node: only a failure that acts, never a check that could not run
        return EXIT["unhealthy"] if result["outcome"] == "unhealthy" else EXIT["healthy"]
    return EXIT[result["outcome"]]


def to_slurm(args, node, result, settings):
    """What Slurm was told about the node. While a direct run holds it, this run neither resumes it
    (the deep tier is running there) nor reboots it (that would kill the run and resume the node)."""
    lock = None if args.if_drained else hold(args.state_dir, exclusive=False)
    held = not args.if_drained and lock is None
    try:
        decision = apply_to_slurm(node, result["node"], result, {**settings, "hold": held}, read_prolog(args.state_dir))
    except (CouldNotCheck, ValueError) as error:
        return {"action": "none", "argv": None, "why": f"could not reach Slurm: {error}"}
    finally:
        if lock:
            lock.close()
    if decision.get("adopted") and decision.get("done"):
        remember_prolog(args.state_dir, {"outcome": "taken over"})
    return decision
