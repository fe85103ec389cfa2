"""Test bed only, installed in the containers' base image and on the VM disk (lib.sh,
install_zipimport_cache): keeps the code Python compiles for modules it imports from zip files, by the
source's hash, so that each Ansible task does not compile the same module_utils again.

Ansible sends every module as a zip (AnsiballZ) that Python imports with zipimport, which never writes
bytecode: each task compiled ansible.module_utils anew. Measured on this machine kind: importing
ansible.module_utils.basic from a zip takes 0.42 s of CPU natively and 0.26 s with this cache; a stat
task 0.39 s of a container's CPU, 0.30 s with it; a ping in the TCG guest about 5.6 s of host CPU, and
3.6 s with it. The cache is keyed by the Python version and
the source bytes, so changed source is compiled again; the code keeps the file name it is imported from."""

import marshal
import os
import sys
import zipimport

CACHE = "/var/cache/testbed-zipimport"


def _renamed(code, pathname):
    """The code object, and every code object inside it, as compiled from pathname."""
    consts = tuple(_renamed(c, pathname) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_filename=pathname, co_consts=consts)


def _cached_compiler(compile_source, cache):
    def compile_cached(pathname, source):
        import hashlib  # noqa: PLC0415 (not at every interpreter start: most never import from a zip)

        key = hashlib.sha256(sys.version.encode() + b"\0" + source).hexdigest()
        path = os.path.join(cache, key)
        try:
            with open(path, "rb") as cached:
                return _renamed(marshal.load(cached), pathname)
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = compile_source(pathname, source)
        try:
            os.makedirs(cache, exist_ok=True)
            # written beside, then moved: another task may read it at the same time
            with open(f"{path}.{os.getpid()}", "wb") as new:
                marshal.dump(code, new)
            os.replace(f"{path}.{os.getpid()}", path)
        except OSError:
            pass  # a read-only or full disk: compiled as before
        return code

    compile_cached.compile_source = compile_source
    return compile_cached


def install(cache=CACHE):
    """Makes zipimport compile through the cache (once; a .pth line calls this at interpreter start)."""
    if not hasattr(zipimport._compile_source, "compile_source"):
        zipimport._compile_source = _cached_compiler(zipimport._compile_source, cache)


def uninstall():
    original = getattr(zipimport._compile_source, "compile_source", None)
    if original is not None:
        zipimport._compile_source = original
