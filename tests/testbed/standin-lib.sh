# Helpers for stand-in recipes (sourced by standins/*.sh): build .deb packages that carry the real
# vendors' names and versions, and publish them as apt repositories signed with the mirror's key.
# shellcheck shell=bash
set -euo pipefail
: "${MIRROR_ROOT:?run stand-in recipes through mirror.sh build}" "${GNUPGHOME:?}"

# make_deb OUTDIR NAME VERSION ARCH DEPENDS [PAYLOAD_DIR]: a package whose files are PAYLOAD_DIR's.
# CONTROL, when set, holds more control fields (Provides, Conflicts, Replaces), one per line.
make_deb() {
  local out=$1 name=$2 version=$3 arch=$4 depends=$5 payload=${6:-}
  local pkg
  pkg=$(mktemp -d)
  [ -z "$payload" ] || cp -a "$payload/." "$pkg/"
  mkdir -p "$pkg/DEBIAN"
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: awsome test bed <testbed@awsome.invalid>"
    [ -z "$depends" ] || echo "Depends: $depends"
    [ -z "${CONTROL:-}" ] || echo "$CONTROL"
    echo "Description: test bed stand-in for $name $version"
  } >"$pkg/DEBIAN/control"
  mkdir -p "$out"
  # file names carry no epoch, as in real archives (datacenter-gpu-manager-4-core_4.5.3-1_amd64.deb)
  dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$out/${name}_${version#*:}_${arch}.deb" >/dev/null
  rm -rf "$pkg"
}

# flat_repo DIR [ORIGIN LABEL]: index the .debs in DIR as a flat repository ("deb [signed-by=…] URL /"),
# the layout NVIDIA's CUDA repositories use, with Release, InRelease and Release.gpg signed by the
# mirror's key. ORIGIN and LABEL are what apt pins match (NVIDIA's: "NVIDIA", "NVIDIA CUDA").
flat_repo() {
  local dir=$1 origin=${2:-awsome test bed} label=${3:-awsome test bed}
  (
    cd "$dir"
    apt-ftparchive packages . >Packages 2>/dev/null
    gzip -9kf Packages
    rm -f Release InRelease Release.gpg
    # written beside, then moved: a Release being written must not index itself
    apt-ftparchive -o "APT::FTPArchive::Release::Origin=$origin" -o "APT::FTPArchive::Release::Label=$label" \
      release . >../.Release.$$
    mv ../.Release.$$ Release
    gpg --batch --yes --clearsign -o InRelease Release
    gpg --batch --yes -abs -o Release.gpg Release
  )
}
