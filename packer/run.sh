#!/usr/bin/env bash
# Runs packer on these templates with whichever Packer is installed:
#   packer/run.sh validate [ARGS...]      packer/run.sh build [ARGS...]
# Current Packer: `packer init` once, then the command in packer/. Packer 1.6 (Debian's) does not know
# `required_plugins` (its builders are built in): the command runs in a shadow of the checkout where
# packer/ lacks plugins.pkr.hcl and everything else is a link.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
export CHECKPOINT_DISABLE=1
command -v packer >/dev/null || { echo "packer is not installed (Debian: apt-get install packer)" >&2; exit 1; }
version=$(packer version | head -1 | sed -E 's/^Packer v([0-9]+)\.([0-9]+).*/\1 \2/')
read -r major minor <<<"$version"
if [ "$major" -gt 1 ] || [ "$minor" -ge 7 ]; then
  cd "$here"
  packer init . >/dev/null
  exec packer "$@" .
fi
shadow=$(mktemp -d "${TMPDIR:-/tmp}/awsome-packer.XXXX")
# Packer writes crash.log into the directory it runs in: kept beside the shadow, which goes
keep_crash_log() {
  [ ! -f "$shadow/packer/crash.log" ] || {
    mv "$shadow/packer/crash.log" "$shadow.crash.log"
    echo "packer/run.sh: Packer's crash log is at $shadow.crash.log" >&2
  }
  rm -rf "$shadow"
}
trap keep_crash_log EXIT
for entry in roles playbooks ansible.cfg .ansible; do ln -s "$root/$entry" "$shadow/$entry"; done
mkdir "$shadow/packer"
for file in "$here"/*; do
  [ "$(basename "$file")" = plugins.pkr.hcl ] || ln -s "$file" "$shadow/packer/"
done
cd "$shadow/packer"
packer "$@" .
