# Helpers for stand-in recipes (sourced by standins/*.sh): build .deb packages that carry the real
# vendors' names and versions, and publish them as apt repositories signed with the mirror's key.
# shellcheck shell=bash
set -euo pipefail
: "${MIRROR_ROOT:?run stand-in recipes through mirror.sh build}" "${GNUPGHOME:?}"

# payload NAME: an empty payload directory for package NAME, under the recipe's $work
payload() { rm -rf "${work:?}/p/$1"; mkdir -p "$work/p/$1"; echo "$work/p/$1"; }

# script PATH BODY: an executable stand-in under a payload
script() { mkdir -p "$(dirname "$1")"; printf '#!/bin/sh\n# test bed stand-in\n%s\n' "$2" >"$1"; chmod 755 "$1"; }

# unit PATH DESCRIPTION EXECSTART: a systemd service unit, enabled by multi-user.target
unit() {
  mkdir -p "$(dirname "$1")"
  printf '[Unit]\nDescription=%s\n\n[Service]\nExecStart=%s\n\n[Install]\nWantedBy=multi-user.target\n' "$2" "$3" >"$1"
}

# shared_lib PATH SONAME: an empty shared object with that soname, for the loader to find
shared_lib() { mkdir -p "$(dirname "$1")"; gcc -shared -fPIC -nostdlib -Wl,-soname,"$2" -o "$1" -x c /dev/null; }

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

# dists_repo DIR CODENAME...: index the .debs under DIR/pool as a standard repository
# ("deb [signed-by=…] URL CODENAME main", the layout AWS's Neuron repository uses) for each codename,
# amd64, with Release, InRelease and Release.gpg signed by the mirror's key.
dists_repo() {
  local dir=$1 codename
  shift
  (
    cd "$dir"
    for codename in "$@"; do
      mkdir -p "dists/$codename/main/binary-amd64"
      apt-ftparchive packages pool >"dists/$codename/main/binary-amd64/Packages" 2>/dev/null
      gzip -9kf "dists/$codename/main/binary-amd64/Packages"
      rm -f "dists/$codename/Release" "dists/$codename/InRelease" "dists/$codename/Release.gpg"
      apt-ftparchive -o "APT::FTPArchive::Release::Codename=$codename" -o "APT::FTPArchive::Release::Suite=$codename" \
        -o APT::FTPArchive::Release::Components=main -o APT::FTPArchive::Release::Architectures=amd64 \
        release "dists/$codename" >".Release.$$"
      mv ".Release.$$" "dists/$codename/Release"
      gpg --batch --yes --clearsign -o "dists/$codename/InRelease" "dists/$codename/Release"
      gpg --batch --yes -abs -o "dists/$codename/Release.gpg" "dists/$codename/Release"
    done
  )
}

# make_wheel OUTDIR NAME VERSION PKGDIR [CONSOLE_SCRIPTS]: a pure-Python wheel (py3-none-any) of the
# package directory PKGDIR, with its RECORD, as pip builds them. CONSOLE_SCRIPTS: "name=module:func" lines.
make_wheel() {
  python3 - "$@" <<'PY'
import base64, hashlib, pathlib, sys, zipfile
out, name, version, pkg = sys.argv[1:5]
scripts = sys.argv[5] if len(sys.argv) > 5 else ""
dist = name.replace("-", "_")
info = f"{dist}-{version}.dist-info"
files = {}
for path in sorted(pathlib.Path(pkg).rglob("*")):
    if path.is_file():
        files[f"{pathlib.Path(pkg).name}/{path.relative_to(pkg)}"] = path.read_bytes()
files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test bed stand-in\n".encode()
files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: awsome-testbed\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
if scripts:
    files[f"{info}/entry_points.txt"] = ("[console_scripts]\n" + scripts + "\n").encode()
def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
record = "".join(f"{path},{digest(data)},{len(data)}\n" for path, data in files.items()) + f"{info}/RECORD,,\n"
files[f"{info}/RECORD"] = record.encode()
target = pathlib.Path(out) / f"{dist}-{version}-py3-none-any.whl"
target.parent.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(target, "w") as whl:
    for path, data in files.items():
        info_ = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
        info_.external_attr = 0o644 << 16
        whl.writestr(info_, data, zipfile.ZIP_DEFLATED)
PY
}

# make_rpm OUTDIR NAME [EPOCH:]VERSION-RELEASE ARCH REQUIRES [PAYLOAD_DIR]: an RPM whose files are
# PAYLOAD_DIR's (those under /etc as configuration), to be signed by rpm_repo. REQUIRES is a comma list with
# rpm's operators ("nvidia-kmod-common = 3:580.126.20-1.amzn2023"); RPM_TAGS, when set, holds more
# spec tags (Provides, Conflicts, Obsoletes), one per line; RPM_POST a %post scriptlet. Dependencies
# come only from REQUIRES (no automatic ones: the test bed's RedHat-family container has no rpm
# database of its own userland, tests/testbed/el-image.sh).
make_rpm() {
  local out=$1 name=$2 evr=$3 arch=$4 requires=$5 payload=${6:-}
  local epoch="" version release top spec
  case "$evr" in *:*) epoch=${evr%%:*}; evr=${evr#*:} ;; esac
  version=${evr%-*} release=${evr##*-}
  top=$(mktemp -d)
  spec=$top/$name.spec
  {
    echo "Name: $name"
    [ -z "$epoch" ] || echo "Epoch: $epoch"
    echo "Version: $version"
    echo "Release: $release"
    echo "Summary: test bed stand-in for $name"
    echo "License: test bed stand-in"
    echo "BuildArch: $arch"
    echo "AutoReqProv: no"
    [ -z "$requires" ] || echo "Requires: $requires"
    [ -z "${RPM_TAGS:-}" ] || echo "$RPM_TAGS"
    echo "%description"
    echo "test bed stand-in for $name $evr"
    echo "%install"
    [ -z "$payload" ] || echo "cp -a '$payload/.' %{buildroot}/"
    [ -z "${RPM_POST:-}" ] || printf '%%post\n%s\n' "$RPM_POST"
    echo "%files"
    # files under /etc are configuration, kept when changed (%config(noreplace), as Fedora packages do)
    [ -z "$payload" ] || (cd "$payload" && find . -mindepth 1 \( -type f -o -type l \) -printf '/%P\n' \
      | sed -e 's|^/etc/.*|%config(noreplace) "&"|' -e '/^%config/!s|.*|"&"|')
    # empty directories are the package's own (enroot.conf.d/): the others come with their files
    [ -z "$payload" ] || (cd "$payload" && find . -mindepth 1 -type d -empty -printf '%%dir "/%P"\n')
  } >"$spec"
  rpmbuild -bb --quiet --define "_topdir $top" --define "_build_id_links none" \
    --define "__os_install_post %{nil}" "$spec" >"$top/build.log" 2>&1 \
    || { cat "$top/build.log" >&2; return 1; }
  mkdir -p "$out"
  find "$top/RPMS" -name '*.rpm' -exec mv {} "$out/" \;
  rm -rf "$top"
}

# rpm_repo DIR: sign DIR's RPMs with the mirror's key and index them with createrepo_c, as a dnf
# repository with gpgcheck on reads them.
rpm_repo() {
  local dir=$1
  rpmsign --addsign --define "__gpg $(command -v gpg)" \
    --define "_gpg_name $(cat "$MIRROR_ROOT/testbed/keys/mirror.fpr")" "$dir"/*.rpm >/dev/null 2>&1 \
    || { echo "rpmsign failed for $dir" >&2; return 1; }
  createrepo_c --quiet "$dir"
}
