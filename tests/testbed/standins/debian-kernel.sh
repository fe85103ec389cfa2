#!/usr/bin/env bash
# Not a stand-in: Debian's own kernel update, at Debian's path in the mirror:
#   deb.debian.org/debian-security/  dists/bookworm-security/main, signed (mirror's key)
# The newest linux-image-amd64 and linux-headers-amd64 of bookworm-security and what they need beyond
# the test bed disk's kernel (bookworm's: tests/testbed/vm-image.sh), the same source version throughout:
# the ABI's image and headers, the headers' common part, kbuild and the compiler meta. This host's apt
# downloads them (each checked against Debian's signed indexes); the mirror republishes them under its
# own key, which a VM trusts for this suite only. The VM tier tries to upgrade a held kernel with them
# (tests/integration/test_vm.py): a real newer kernel, installable had the hold not been there.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"

suite=bookworm-security
repo=$MIRROR_ROOT/deb.debian.org/debian-security
newest() { apt-cache madison "$1" | awk -F' *[|] *' -v s="$suite/" 'index($3, s) {print $2; exit}'; }
depends() { apt-cache show "$1=$2" | sed -n 's/^Depends: //p' | head -1 | tr ',' '\n' | sed -E 's/^ *([^ ]+).*/\1/'; }

version=$(newest linux-image-amd64)
if [ -z "$version" ]; then
  apt-get update -qq
  version=$(newest linux-image-amd64)
fi
[ -n "$version" ] || { echo "no linux-image-amd64 in $suite among this host's apt sources" >&2; exit 1; }
image=$(depends linux-image-amd64 "$version" | grep '^linux-image-')
headers=$(depends linux-headers-amd64 "$version" | grep '^linux-headers-')
# the headers' own dependencies from the kernel's source package: -common, linux-kbuild-*, linux-compiler-*
mapfile -t packages < <(printf '%s\n' linux-image-amd64 linux-headers-amd64 "$image" "$headers"; depends "$headers" "$version")

rm -rf "$repo"
mkdir -p "$repo/pool/main/l/linux"
(
  cd "$repo/pool/main/l/linux"
  apt-get download -q "${packages[@]/%/=$version}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get download -q "${packages[@]/%/=$version}" >/dev/null; }
)
dists_repo "$repo" "$suite"
