#!/bin/sh
# /greengrass/v2: the nucleus unpacked under installer/, the FleetProvisioningByClaim jar, the
# installer config (with the {{thingName}} placeholder the agent fills at first boot) and the
# Amazon root CA. Nothing device-specific: Greengrass itself is installed by the agent on each clone.
# ROOT (default /) and GG_STAGE (default /tmp/gg-stage) let a test run it against a throwaway tree.
set -eu
umask 077

ROOT=${ROOT:-/}
STAGE=${GG_STAGE:-/tmp/gg-stage}
r=${ROOT%/}
gg="$r/greengrass/v2"

for f in greengrass-nucleus.zip fleetprovisioningbyclaim.jar config.yaml AmazonRootCA1.pem; do
  if [ ! -s "$STAGE/$f" ]; then
    echo "greengrass-layout: staged file $STAGE/$f is missing or empty" >&2
    exit 3
  fi
done
if ! grep -q -- '-----BEGIN CERTIFICATE-----' "$STAGE/AmazonRootCA1.pem"; then
  echo "greengrass-layout: $STAGE/AmazonRootCA1.pem is not a PEM certificate" >&2
  exit 3
fi

install -d -m 0755 "$r/greengrass" "$gg"
rm -rf "$gg/installer"
install -d -m 0755 "$gg/installer"
if ! unzip -q -o "$STAGE/greengrass-nucleus.zip" -d "$gg/installer"; then
  echo "greengrass-layout: cannot unzip $STAGE/greengrass-nucleus.zip" >&2
  exit 3
fi
if [ ! -f "$gg/installer/lib/Greengrass.jar" ]; then
  echo "greengrass-layout: the nucleus zip has no lib/Greengrass.jar" >&2
  exit 3
fi
# unzip keeps the zip's own modes; make the installer tree root-owned and not world-writable.
chown -R 0:0 "$gg/installer"
chmod -R u+rwX,go+rX,go-w "$gg/installer"

install -m 0644 "$STAGE/fleetprovisioningbyclaim.jar" "$gg/installer/aws.greengrass.FleetProvisioningByClaim.jar"
# 0600: the config may carry proxyPassword.
install -m 0600 "$STAGE/config.yaml" "$gg/installer/config.yaml"
install -m 0644 "$STAGE/AmazonRootCA1.pem" "$gg/AmazonRootCA1.pem"
echo "greengrass-layout: $gg/installer ready"
