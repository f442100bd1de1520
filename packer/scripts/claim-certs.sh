#!/bin/sh
# The fleet-provisioning claim certificate and private key: root-owned, 0600, in a 0700 directory.
# Never prints key material. ROOT / GG_STAGE as in greengrass-layout.sh.
set -eu
umask 077

ROOT=${ROOT:-/}
STAGE=${GG_STAGE:-/tmp/gg-stage}
r=${ROOT%/}
dir="$r/greengrass/v2/claim-certs"

cert="$STAGE/claim.pem.crt"
key="$STAGE/claim.private.pem.key"
if [ ! -s "$cert" ] || ! grep -q -- '-----BEGIN CERTIFICATE-----' "$cert"; then
  echo "claim-certs: $cert is missing or not a PEM certificate" >&2
  exit 3
fi
if [ ! -s "$key" ] || ! grep -q -- '-----BEGIN .*PRIVATE KEY-----' "$key"; then
  echo "claim-certs: $key is missing or not a PEM private key" >&2
  exit 3
fi

install -d -m 0755 "$r/greengrass" "$r/greengrass/v2"
install -d -m 0700 -o 0 -g 0 "$dir"
install -m 0600 -o 0 -g 0 "$cert" "$dir/claim.pem.crt"
install -m 0600 -o 0 -g 0 "$key" "$dir/claim.private.pem.key"
echo "claim-certs: installed in $dir (root, 0600)"
