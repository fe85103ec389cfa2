"""Small helpers the tests share: run a command, show its output, time it."""

import subprocess
import sys
import time


def run(cmd, *, env=None, cwd=None, check=True, capture=True):
    """Runs cmd, echoes its output when it fails (or always under `pytest -s`), returns the result."""
    start = time.monotonic()
    result = subprocess.run(cmd, env=env, cwd=cwd, text=True, capture_output=capture, check=False)
    took = time.monotonic() - start
    print(f"$ {' '.join(map(str, cmd))}  ({took:.0f} s, exit {result.returncode})", file=sys.stderr)
    if capture and (result.returncode != 0 or not sys.stderr.isatty()):
        print(result.stdout[-20000:], result.stderr[-5000:], sep="\n", file=sys.stderr)
    if check:
        assert result.returncode == 0, f"{cmd[0]} exited {result.returncode}"
    return result
