#!/usr/bin/env bash
# aws-ofi-nccl's source release at its real URL
# (github.com/aws/aws-ofi-nccl/releases/download/v<V>/aws-ofi-nccl-<V>.tar.gz, top directory
# aws-ofi-nccl-<V>/, a configure script as release tarballs carry). configure takes the real options
# (--prefix, --with-libfabric, --with-cuda, --with-mpi, --with-hwloc, --enable-platform-aws,
# --disable-tests) and fails as the real one does when libfabric's, CUDA's or hwloc's headers are
# missing; make compiles a real libnccl-net-ofi.so against those headers, make install puts it with
# its libnccl-net.so name into <prefix>/lib. It moves no data.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"
version=1.21.1
out=$MIRROR_ROOT/github.com/aws/aws-ofi-nccl/releases/download/v$version
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$work/aws-ofi-nccl-$version
mkdir -p "$src/src" "$out"
cat >"$src/src/nccl_ofi_net.c" <<C
/* test bed stand-in for aws-ofi-nccl $version's plugin */
#include <rdma/fabric.h>
#include <hwloc.h>
#include <cuda.h>
const char *nccl_ofi_version = "$version";
C
cat >"$src/configure" <<'SH'
#!/bin/sh
# Test bed stand-in for aws-ofi-nccl's configure.
prefix=/usr/local libfabric=/usr cuda=/usr/local/cuda hwloc=/usr
for arg in "$@"; do
  case "$arg" in
    --prefix=*) prefix=${arg#*=} ;;
    --with-libfabric=*) libfabric=${arg#*=} ;;
    --with-cuda=*) cuda=${arg#*=} ;;
    --with-hwloc=*) hwloc=${arg#*=} ;;
    --with-mpi=*|--enable-platform-aws|--disable-tests|--enable-tests|--disable-nccl-net-library) ;;
    *) echo "configure: error: unrecognized option: '$arg'" >&2; exit 1 ;;
  esac
done
[ -f "$libfabric/include/rdma/fabric.h" ] || { echo "configure: error: libfabric not found in $libfabric (rdma/fabric.h)" >&2; exit 1; }
[ -f "$cuda/include/cuda.h" ] || { echo "configure: error: CUDA not found in $cuda (cuda.h)" >&2; exit 1; }
[ -f "$hwloc/include/hwloc.h" ] || { echo "configure: error: hwloc not found in $hwloc (hwloc.h)" >&2; exit 1; }
cat >Makefile <<MAKE
all: src/libnccl-net-ofi.so
src/libnccl-net-ofi.so: src/nccl_ofi_net.c
	\$(CC) -O2 -fPIC -shared -I$libfabric/include -I$cuda/include -I$hwloc/include -o \$@ src/nccl_ofi_net.c
install: all
	install -d $prefix/lib
	install -m 755 src/libnccl-net-ofi.so $prefix/lib/
	ln -sf libnccl-net-ofi.so $prefix/lib/libnccl-net.so
MAKE
echo "configure: creating Makefile (prefix $prefix)"
SH
chmod 755 "$src/configure"
tar -C "$work" --owner=0 --group=0 --mtime=@0 -czf "$out/aws-ofi-nccl-$version.tar.gz" "aws-ofi-nccl-$version"
