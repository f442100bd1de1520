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
pkgs=(openjdk-17-jdk-headless openssl openssh-client systemd packer shellcheck qemu-system-x86 qemu-utils debootstrap e2fsprogs unzip zip time)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to install: ${missing[*]}" >&2; exit 1; fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
npm ci --no-fund --no-audit
