"""The VM disk's zipimport cache (tests/testbed/zipimport_cache.py): a module imported from a zip is
compiled once, its code taken from the cache the next time, under the new zip's file name."""

import importlib
import sys
import zipfile
import zipimport

import pytest

from tests.testbed import zipimport_cache

SOURCE = "def where():\n    return __file__, where.__code__.co_filename\n\nANSWER = 42\n"


def payload(tmp_path, name, source=SOURCE):
    archive = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload_mod.py", source)
    return archive


def load(archive):
    """Imports payload_mod from archive, as AnsiballZ does: the zip first on sys.path."""
    sys.path.insert(0, str(archive))
    sys.path_importer_cache.pop(str(archive), None)
    try:
        sys.modules.pop("payload_mod", None)
        return importlib.import_module("payload_mod")
    finally:
        sys.path.remove(str(archive))
        sys.modules.pop("payload_mod", None)


@pytest.fixture
def cache(tmp_path):
    zipimport_cache.install(str(tmp_path / "cache"))
    yield tmp_path / "cache"
    zipimport_cache.uninstall()


def test_the_second_import_takes_the_cached_code_under_its_own_file_name(tmp_path, cache, monkeypatch):
    first = load(payload(tmp_path, "first"))
    assert first.ANSWER == 42 and len(list(cache.iterdir())) == 1

    def no_compiling(pathname, source):
        raise AssertionError(f"compiled {pathname} again")

    # the same cache, with a compiler that fails: only the cached code can import it now
    monkeypatch.setattr(zipimport, "_compile_source", zipimport_cache._cached_compiler(no_compiling, str(cache)))
    module_file, code_file = load(payload(tmp_path, "second")).where()
    assert module_file.startswith(str(tmp_path / "second.zip"))
    assert code_file.startswith(str(tmp_path / "second.zip")), "the code names the zip it came from"


def test_changed_source_is_compiled_again(tmp_path, cache):
    load(payload(tmp_path, "old"))
    changed = load(payload(tmp_path, "new", SOURCE.replace("42", "43")))
    assert changed.ANSWER == 43 and len(list(cache.iterdir())) == 2


def test_an_unwritable_cache_only_costs_the_compile(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    zipimport_cache.install(str(blocker / "cache"))  # a path under a file: never writable
    try:
        assert load(payload(tmp_path, "plain")).ANSWER == 42
    finally:
        zipimport_cache.uninstall()
    assert not hasattr(zipimport._compile_source, "compile_source"), "uninstall puts zipimport back"
