#!/usr/bin/env bash
# nccl-tests' source release at its real URL (github.com/NVIDIA/nccl-tests/archive/refs/tags/v<V>.tar.gz,
# top directory nccl-tests-<V>/). Its Makefile takes the real variables (CUDA_HOME, NCCL_HOME, MPI=1,
# MPI_HOME, NVCC_GENCODE, BUILDDIR) and fails as the real build does when nvcc, nccl.h or (with MPI=1)
# mpi.h is missing; it "builds" the real binaries' names in BUILDDIR as the stand-in perf.py
# (nccl-tests/perf.py: the real flags and output format, no GPU), and records the variables it was
# given in BUILDDIR/.standin-build for the tests.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"
version=2.17.6
out=$MIRROR_ROOT/github.com/NVIDIA/nccl-tests/archive/refs/tags
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$work/nccl-tests-$version
mkdir -p "$src/src" "$out"
cp "$here/standins/nccl-tests/perf.py" "$root/tests/fixtures/nccl.py" "$src/src/"
cat >"$src/Makefile" <<'MAKE'
# Test bed stand-in for nccl-tests' Makefile: its variables and its outputs (BUILDDIR/<collective>_perf).
CUDA_HOME ?= /usr/local/cuda
NCCL_HOME ?=
MPI ?= 0
MPI_HOME ?= /usr/lib/x86_64-linux-gnu/openmpi
NVCC_GENCODE ?=
BUILDDIR ?= build
override BUILDDIR := $(abspath $(BUILDDIR))
BINS := all_reduce all_gather broadcast reduce_scatter reduce alltoall scatter gather sendrecv hypercube

default: src.build

src.build: check
	mkdir -p $(BUILDDIR)
	install -m 755 src/perf.py $(BUILDDIR)/perf.py
	install -m 644 src/nccl.py $(BUILDDIR)/nccl.py
	for b in $(BINS); do ln -sf perf.py $(BUILDDIR)/$${b}_perf; done
	printf 'CUDA_HOME=%s\nNCCL_HOME=%s\nMPI=%s\nMPI_HOME=%s\nNVCC_GENCODE=%s\n' \
	  '$(CUDA_HOME)' '$(NCCL_HOME)' '$(MPI)' '$(MPI_HOME)' '$(NVCC_GENCODE)' >$(BUILDDIR)/.standin-build

check:
	@test -x $(CUDA_HOME)/bin/nvcc || { echo "make: $(CUDA_HOME)/bin/nvcc: No such file or directory" >&2; exit 2; }
	@test -f $(NCCL_HOME)/include/nccl.h -o -f /usr/include/nccl.h \
	  || { echo "common.h:9:10: fatal error: nccl.h: No such file or directory" >&2; exit 2; }
	@if [ "$(MPI)" = 1 ]; then test -f $(MPI_HOME)/include/mpi.h \
	  || { echo "common.h:17:10: fatal error: mpi.h: No such file or directory" >&2; exit 2; }; fi

clean:
	rm -rf $(BUILDDIR)
MAKE
tar -C "$work" --owner=0 --group=0 -czf "$out/v$version.tar.gz" "nccl-tests-$version"
