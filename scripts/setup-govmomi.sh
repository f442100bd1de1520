#!/usr/bin/env bash
# Builds VMware's govc CLI and vcsim vSphere simulator from Debian's own source package of govmomi and installs
# them to /usr/local/bin. The tests check the OVA and the vsphere-iso template with VMware's code; Debian packages
# govmomi only as a Go library (golang-github-vmware-govmomi-dev leaves govc and vcsim out), so they are compiled
# here, offline, against Debian's Go packages: no module proxy, no network beyond the Debian archive.
# Run as root on Debian (setup.sh calls it). Fast when the installed pair already matches Debian's version.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
prefix=${GOVMOMI_PREFIX:-/usr/local/bin}
die() {
  echo "setup-govmomi: $*" >&2
  exit 1
}

# 1. The version wanted: Debian's, read from the binary package (needs no deb-src), stamped into govc at build time
#    so that `govc version` tells whether this build is current.
want=$(apt-cache policy golang-github-vmware-govmomi-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -z "$want" ] || [ "$want" = "(none)" ]; then
  die "apt knows no golang-github-vmware-govmomi-dev (is this Debian 12 with 'main' enabled? run apt-get update)"
fi
if [ "$("$prefix/govc" version 2>/dev/null || true)" = "govc $want" ] && "$prefix/vcsim" -h >/dev/null 2>&1; then
  exit 0
fi
[ "$(id -u)" = 0 ] || die "need root to build and install govc and vcsim $want to $prefix"

# 2. Build dependencies: Go, dpkg-source (apt-get source unpacks with it), and the Debian Go libraries govc and
#    vcsim import (the package's Build-Depends).
pkgs=(golang-go dpkg-dev xz-utils golang-github-google-uuid-dev golang-github-kr-pretty-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 3. A deb-src entry made from the machine's own Debian entries (same mirror, suites, components and keyring), only
#    when apt has none: apt-get source needs one, and Debian images ship binary entries only.
if ! apt-cache showsrc golang-github-vmware-govmomi >/dev/null 2>&1; then
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "cannot tell the Debian codename from /etc/os-release"
  src=/etc/apt/sources.list.d/greengrass-image-deb-src
  # deb822 files: copy each stanza of Types deb whose suites are this release's, as Types deb-src.
  for f in /etc/apt/sources.list.d/*.sources; do
    if [ ! -e "$f" ] || [ "$f" = "$src.sources" ]; then continue; fi
    awk -v rel="$codename" 'BEGIN { RS = ""; ORS = "\n\n" }
      $0 ~ /(^|\n)Types:[^\n]*deb([ \t]|\n|$)/ && $0 ~ ("(^|\n)Suites:[^\n]*" rel) {
        sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f"
  done >"$src.sources.new"
  mv "$src.sources.new" "$src.sources"
  # One-line sources.list: the same, line by line.
  if [ -f /etc/apt/sources.list ]; then
    sed -n "s/^deb \(.*[ \t]${codename}[-a-z]*[ \t].*\)/deb-src \1/p" /etc/apt/sources.list >"$src.list"
  fi
  [ -s "$src.sources" ] || rm -f "$src.sources"
  [ -s "$src.list" ] 2>/dev/null || rm -f "$src.list"
  apt-get update -qq
  apt-cache showsrc golang-github-vmware-govmomi >/dev/null 2>&1 ||
    die "no deb-src entry for Debian $codename could be made from /etc/apt (add one by hand, then re-run)"
fi

# 4. Fetch the source and build in GOPATH mode, as Debian's dh-golang does: the package has no vendor directory and
#    its imports resolve from Debian's Go library tree under /usr/share/gocode. GOPROXY=off keeps it offline.
work=$(mktemp -d /tmp/govmomi-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get source -qq "golang-github-vmware-govmomi=$want" >/dev/null 2>&1) ||
  die "apt-get source golang-github-vmware-govmomi=$want failed"
tree=$(find "$work" -maxdepth 1 -type d -name 'golang-github-vmware-govmomi-*' | head -n 1)
[ -n "$tree" ] || die "apt-get source unpacked no golang-github-vmware-govmomi-* directory"
mkdir -p "$work/gopath/src/github.com/vmware" "$work/out"
ln -s "$tree" "$work/gopath/src/github.com/vmware/govmomi"
echo "setup-govmomi: building govc and vcsim $want from Debian's source package (a few minutes)"
(cd "$work/gopath/src/github.com/vmware/govmomi" &&
  GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/cache" GOPROXY=off GOFLAGS='' CGO_ENABLED=0 \
    go build -ldflags "-X github.com/vmware/govmomi/govc/flags.GitVersion=$want" -o "$work/out/" ./govc ./vcsim) ||
  die "go build of govc and vcsim failed (see above)"

# 5. Install, then check both run.
install -m 0755 "$work/out/govc" "$work/out/vcsim" "$prefix/"
[ "$("$prefix/govc" version)" = "govc $want" ] || die "installed govc does not report version $want"
"$prefix/vcsim" -h >/dev/null 2>&1 || die "installed vcsim does not run"
echo "setup-govmomi: installed govc and vcsim $want to $prefix"
