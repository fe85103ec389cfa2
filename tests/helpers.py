"""Small helpers the tests share: run a command, show its output, time it."""

import re
import subprocess
import sys
import time

# What says why a run failed, in the output of ansible-playbook, packer, molecule and pytest
_FAILURE = re.compile(r"fatal: |FAILED!|ERROR|Error|errored|error:|Traceback|Killed|No space left|panic:|[Cc]rash")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def failure_lines(text, limit=4000):
    """The lines of text that say why a run failed, each with the line after it, at most limit characters.

    The assertion message carries them, so a log cut short in the middle still shows the cause."""
    lines = _COLOUR.sub("", text).splitlines()
    picked = []
    for number, line in enumerate(lines):
        if _FAILURE.search(line):
            picked.extend(lines[number : number + 2])
    kept = "\n".join(dict.fromkeys(line.strip() for line in picked if line.strip()))
    return kept[-limit:]


def explain(result, tail=8):
    """What the assertion message says of a failed run: the lines that say why, then how each stream ended."""
    ends = [_COLOUR.sub("", text).strip().splitlines()[-tail:] for text in (result.stdout, result.stderr)]
    return "\n".join(
        [failure_lines(f"{result.stdout}\n{result.stderr}"), "-- stdout ended:", *ends[0], "-- stderr ended:", *ends[1]]
    )


def run(cmd, *, env=None, cwd=None, check=True, capture=True):
    """Runs cmd, echoes its output when it fails (or always under `pytest -s`), returns the result."""
    start = time.monotonic()
    result = subprocess.run(cmd, env=env, cwd=cwd, text=True, capture_output=capture, check=False)
    took = time.monotonic() - start
    print(f"$ {' '.join(map(str, cmd))}  ({took:.0f} s, exit {result.returncode})", file=sys.stderr)
    if capture and (result.returncode != 0 or not sys.stderr.isatty()):
        print(result.stdout[-20000:], result.stderr[-5000:], sep="\n", file=sys.stderr)
    if check:
        why = explain(result) if capture else ""
        assert result.returncode == 0, f"{cmd[0]} exited {result.returncode} after {took:.0f} s\n{why}"
    return result


def run_unless_crashed_twice(cmd, crash, env=None):
    """run(cmd), and once more when a failed run's output has crash: the tool itself crashed, rather than
    what it ran failing (Packer losing a plugin's connection, hashicorp/packer#13172). It says so; a
    second crash, or any other failure, fails as run() does."""
    result = run(cmd, env=env, check=False)
    if result.returncode != 0 and crash in result.stdout + result.stderr:
        print(f"{cmd[0]} crashed ({crash!r} in its output): running it once more", file=sys.stderr)
        result = run(cmd, env=env, check=False)
    assert result.returncode == 0, f"{cmd[0]} exited {result.returncode}\n{explain(result)}"
    return result
