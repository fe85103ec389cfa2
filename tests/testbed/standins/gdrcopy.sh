#!/usr/bin/env bash
# GDRCopy's source release at its real URL (github.com/NVIDIA/gdrcopy/archive/refs/tags/v<V>.tar.gz,
# top directory gdrcopy-<V>/), with the real Makefile targets and variables (lib, exes, lib_install,
# exes_install; prefix, DESTDIR, CUDA) and the kernel module's source under src/gdrdrv/ (Kbuild with
# KVER and NVIDIA_SRC_DIR, failing as the real one does when NVIDIA's nv-p2p.h is not there). The
# library is a real shared object (libgdrapi.so.2) and gdrdrv a real module that builds for the
# running kernel and loads; it pins no GPU memory. gdrcopy_sanity and gdrcopy_copybw fail, as the real
# ones do, where /dev/gdrdrv is missing.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"
version=2.5.1
out=$MIRROR_ROOT/github.com/NVIDIA/gdrcopy/archive/refs/tags
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$work/gdrcopy-$version
mkdir -p "$src/include" "$src/src/gdrdrv" "$src/tests" "$out"

cat >"$src/include/gdrapi.h" <<'H'
/* test bed stand-in for GDRCopy's gdrapi.h */
#define GDR_API_MAJOR_VERSION 2
#define GDR_API_MINOR_VERSION 5
int gdr_runtime_get_version(int *major, int *minor);
H
cat >"$src/src/gdrapi.c" <<'C'
#include "gdrapi.h"
int gdr_runtime_get_version(int *major, int *minor) { *major = GDR_API_MAJOR_VERSION; *minor = GDR_API_MINOR_VERSION; return 0; }
C
for t in gdrcopy_sanity gdrcopy_copybw; do
  printf '#!/bin/sh\n# test bed stand-in for %s\n[ -e /dev/gdrdrv ] || { echo "Error opening /dev/gdrdrv: No such file or directory" >&2; exit 1; }\necho "%s: test bed stand-in, copies nothing"\n' "$t" "$t" >"$src/tests/$t"
done

cat >"$src/Makefile" <<'MAKE'
# Test bed stand-in for GDRCopy's top-level Makefile: its targets and variables.
prefix ?= /usr/local
DESTDIR ?=
CUDA ?= /usr/local/cuda
LIB_MAJOR_VER := 2
LIB_MINOR_VER := 5

all: lib exes

lib: src/libgdrapi.so.$(LIB_MAJOR_VER).$(LIB_MINOR_VER)

src/libgdrapi.so.$(LIB_MAJOR_VER).$(LIB_MINOR_VER): src/gdrapi.c include/gdrapi.h
	$(CC) -O2 -fPIC -shared -Iinclude -Wl,-soname,libgdrapi.so.$(LIB_MAJOR_VER) -o $@ src/gdrapi.c

exes: lib
	@test -x $(CUDA)/bin/nvcc || { echo "make: $(CUDA)/bin/nvcc: No such file or directory (set CUDA=)" >&2; exit 2; }

lib_install: lib
	install -d $(DESTDIR)$(prefix)/lib $(DESTDIR)$(prefix)/include
	install -m 755 src/libgdrapi.so.$(LIB_MAJOR_VER).$(LIB_MINOR_VER) $(DESTDIR)$(prefix)/lib/
	ln -sf libgdrapi.so.$(LIB_MAJOR_VER).$(LIB_MINOR_VER) $(DESTDIR)$(prefix)/lib/libgdrapi.so.$(LIB_MAJOR_VER)
	ln -sf libgdrapi.so.$(LIB_MAJOR_VER) $(DESTDIR)$(prefix)/lib/libgdrapi.so
	install -m 644 include/gdrapi.h $(DESTDIR)$(prefix)/include/

exes_install: exes
	install -d $(DESTDIR)$(prefix)/bin
	install -m 755 tests/gdrcopy_sanity tests/gdrcopy_copybw $(DESTDIR)$(prefix)/bin/

.PHONY: all lib exes lib_install exes_install
MAKE

cat >"$src/src/gdrdrv/gdrdrv.c" <<C
#include <linux/module.h>
#include <linux/init.h>
MODULE_LICENSE("Dual MIT/GPL");
MODULE_VERSION("$version");
MODULE_DESCRIPTION("test bed stand-in for GDRCopy's gdrdrv $version");
static int __init gdrdrv_init(void) { pr_info("gdrdrv: loading gdrdrv version $version (test bed stand-in)\\n"); return 0; }
static void __exit gdrdrv_exit(void) { }
module_init(gdrdrv_init);
module_exit(gdrdrv_exit);
C
# kbuild reads Kbuild; DKMS calls the Makefile (and passes KERNELRELEASE, so the Makefile must not
# switch on it)
echo 'obj-m := gdrdrv.o' >"$src/src/gdrdrv/Kbuild"
cat >"$src/src/gdrdrv/Makefile" <<'MAKE'
# Test bed stand-in for gdrdrv's Makefile: KVER and NVIDIA_SRC_DIR as the real one takes them.
KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
NVIDIA_SRC_DIR ?= $(shell find /usr/src -maxdepth 3 -name nv-p2p.h -printf '%h' -quit)
all:
	@test -f "$(NVIDIA_SRC_DIR)/nv-p2p.h" || { echo "gdrdrv: nv-p2p.h not found in NVIDIA_SRC_DIR='$(NVIDIA_SRC_DIR)'" >&2; exit 2; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules
clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
MAKE
tar -C "$work" --owner=0 --group=0 --mtime=@0 -czf "$out/v$version.tar.gz" "gdrcopy-$version"
