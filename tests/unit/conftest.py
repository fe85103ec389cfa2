"""Makes the collection importable as ansible_collections.awsome.ml_cluster for the unit tests,
at import time, so test modules import plugins at their top like any other code; and Ansible's
collection loader finds it and the bundled collections, so templates may use their filters by FQCN."""

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

from ansible.plugins.loader import init_plugin_loader

ROOT = Path(__file__).resolve().parents[2]

_base = Path(tempfile.mkdtemp(prefix="awsome-collections-"))
atexit.register(shutil.rmtree, _base, ignore_errors=True)
(_base / "ansible_collections" / "awsome").mkdir(parents=True)
(_base / "ansible_collections" / "awsome" / "ml_cluster").symlink_to(ROOT)
sys.path.insert(0, str(_base))
init_plugin_loader([str(_base)])
