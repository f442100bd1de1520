#!/bin/sh
# Runtime packages for a Greengrass core: a headless Java 17 runtime (the nucleus needs JRE >= 8),
# unzip (for the nucleus zip), CA certificates, openssl (the device key and CSR in CSR mode; ca-certificates
# pulls it in anyway), and open-vm-tools on VMware/vSphere, or when the image is headed there (VMWARE_TOOLS=true:
# an OVA made from another builder's disk).
# No JDK, no GL libraries. apt's periodic jobs are switched off so they never hold the dpkg lock
# on a clone's first boot. Offline-safe: when everything is already installed, no apt-get at all.
set -eu

log() { printf 'packages: %s\n' "$*"; }

pkgs="openjdk-17-jre-headless unzip ca-certificates openssl"
case "${PACKER_BUILDER_TYPE:-}" in
  vmware-iso | vmware-vmx | vsphere-iso | vsphere-clone) pkgs="$pkgs open-vm-tools" ;;
  *) if [ "${VMWARE_TOOLS:-false}" = true ]; then pkgs="$pkgs open-vm-tools"; fi ;;
esac

# apt-daily / apt-daily-upgrade (and with them unattended-upgrades): disabled and masked, so a
# first-boot preset cannot re-enable them either.
if command -v systemctl >/dev/null 2>&1; then
  for unit in apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service; do
    if [ -d /run/systemd/system ]; then
      systemctl stop "$unit" >/dev/null 2>&1 || true
    fi
    systemctl disable "$unit" >/dev/null 2>&1 || true
    systemctl mask "$unit" >/dev/null 2>&1 || true
  done
fi
mkdir -p /etc/apt/apt.conf.d
cat > /etc/apt/apt.conf.d/10periodic-disabled <<'CONF'
APT::Periodic::Enable "0";
APT::Periodic::Update-Package-Lists "0";
APT::Periodic::Unattended-Upgrade "0";
CONF

# Let a just-installed Ubuntu finish its first boot before touching apt.
if command -v cloud-init >/dev/null 2>&1; then
  cloud-init status --wait >/dev/null 2>&1 || true
fi

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  log "already installed: $pkgs (no apt-get run)"
else
  log "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 -q update
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  apt-get -o DPkg::Lock::Timeout=600 -q -y --no-install-recommends install $missing
fi

if ! command -v java >/dev/null 2>&1; then
  echo "packages: java is not on PATH after installing openjdk-17-jre-headless" >&2
  exit 5
fi
log "java: $(java -version 2>&1 | head -n 1)"
