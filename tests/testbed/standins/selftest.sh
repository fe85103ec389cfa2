#!/usr/bin/env bash
# A one-package signed repository under testbed/selftest/ that the test bed's own tests install
# from, to prove the mirror's signing and serving work before any vendor stand-in relies on them.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"
repo=$MIRROR_ROOT/testbed/selftest
rm -rf "$repo"
make_deb "$repo" awsome-selftest 1.0-1 all ""
flat_repo "$repo"
