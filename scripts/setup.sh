#!/usr/bin/env bash
# Installs everything the pipeline and the tests need on a fresh Debian 12 machine (run as root), then npm ci.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# Node >= 20 (package.json engines; the agent is a Node 20 single executable) is a prerequisite: Debian 12 ships 18.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo none)
if [ "$node_major" = none ] || ! command -v npm >/dev/null || [ "$node_major" -lt 20 ]; then
  echo "setup: need Node.js >= 20 with npm on PATH (found: $(node --version 2>/dev/null || echo no node)); Debian 12's nodejs is 18: install Node 20 or newer (nodejs.org or NodeSource), then re-run" >&2
  exit 1
fi
# The independent checks in npm test (issue 17) need Python tools that Debian does not package at these versions and
# that setup cannot fetch here (no PyPI): moto 5.x with moto.server, boto3, the aws CLI, cfn-lint. Name what is missing.
py_missing=()
if ! command -v python3 >/dev/null; then
  py_missing+=("python3")
else
  moto_version=$(python3 -c 'import moto, moto.server; print(moto.__version__)' 2>/dev/null || true)
  case "$moto_version" in
    5.*) ;;
    '') py_missing+=("moto 5.x with moto.server (python3 has no moto)") ;;
    *) py_missing+=("moto 5.x with moto.server (python3 has moto $moto_version)") ;;
  esac
  python3 -c 'import boto3' >/dev/null 2>&1 || py_missing+=("boto3")
fi
command -v aws >/dev/null || py_missing+=("awscli (the aws command)")
command -v cfn-lint >/dev/null || py_missing+=("cfn-lint")
if [ "${#py_missing[@]}" -gt 0 ]; then
  printf -v list '%s, ' "${py_missing[@]}"
  echo "setup: missing Python tools for the independent checks: ${list%, }; install them where PyPI is reachable" \
    "(python3 -m pip install 'moto[server]>=5,<6' boto3 awscli cfn-lint), then re-run" >&2
  exit 1
fi
# genisoimage: Packer's mkisofs for the vSphere autoinstall CD (cd_files), and the OVF environment ISO (ISO
# transport) for clones and tests. golang-go + golang-github-vmware-vmw-ovflib-dev: VMware's OVF-environment
# parser, which a test runs. util-linux (unshare), bsdutils (logger): the agent's journal test.
pkgs=(openjdk-17-jdk-headless openssl openssh-client systemd util-linux bsdutils packer shellcheck qemu-system-x86 qemu-utils
  debootstrap e2fsprogs unzip zip time genisoimage golang-go golang-github-vmware-vmw-ovflib-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to install: ${missing[*]}" >&2; exit 1; fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# govc and vcsim (VMware's govmomi) check the OVA and the vsphere-iso template; Debian ships only the Go library,
# so setup-govmomi.sh builds both from Debian's source package (quick no-op once built).
bash scripts/setup-govmomi.sh
npm ci --no-fund --no-audit
