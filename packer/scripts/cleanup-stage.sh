#!/bin/sh
# Last install step: the staging copy (claim key included) leaves the guest.
set -eu

# GG_STAGE is a path on the running system (as in the other install scripts), so no ROOT here.
STAGE=${GG_STAGE:-/tmp/gg-stage}
case "$STAGE" in
  /tmp/* | /var/tmp/*) ;;
  *)
    echo "cleanup-stage: refusing to remove $STAGE (not under /tmp or /var/tmp)" >&2
    exit 3
    ;;
esac
if [ -f "$STAGE/claim.private.pem.key" ] && command -v shred >/dev/null 2>&1; then
  shred -u "$STAGE/claim.private.pem.key"
fi
rm -rf "$STAGE"
echo "cleanup-stage: removed $STAGE"
