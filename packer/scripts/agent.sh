#!/bin/sh
# The first-boot agent: executable, config, build info, its documentation, systemd unit (enabled).
# Enabling: `systemctl enable` on a running system; otherwise (ROOT other than /, or no running
# systemd, e.g. a chroot) the WantedBy= symlink is created directly.
set -eu

ROOT=${ROOT:-/}
STAGE=${GG_STAGE:-/tmp/gg-stage}
r=${ROOT%/}
unit=greengrass-firstboot.service

for f in greengrass-firstboot agent.yaml "$unit" build-info.json agent.md; do
  if [ ! -s "$STAGE/$f" ]; then
    echo "agent: staged file $STAGE/$f is missing or empty" >&2
    exit 3
  fi
done

# The account ggc-user.sh made (Packer's ggc_user/ggc_group) is the one the installer gets as
# --component-default-user. The names are [a-z0-9_-] (checked here, by the Packer variables and by
# ggc-user.sh), so replacing the one YAML line that holds the value cannot change the file's structure.
user=""
if [ -n "${GGC_USER:-}" ]; then
  user="$GGC_USER:${GGC_GROUP:-ggc_group}"
  case "$GGC_USER${GGC_GROUP:-}" in
    *[!a-z0-9_-]*)
      echo "agent: invalid user/group name '$user'" >&2
      exit 3
      ;;
    *) ;;
  esac
  if [ "$(grep -c '^  componentDefaultUser: ' "$STAGE/agent.yaml")" != 1 ]; then
    echo "agent: $STAGE/agent.yaml has no single 'installer.componentDefaultUser' line to set to $user" >&2
    exit 3
  fi
fi

install -d -m 0755 "$r/usr/local/bin" "$r/etc/greengrass-firstboot" "$r/etc/systemd/system" "$r/usr/share/doc/greengrass-firstboot"
install -m 0755 "$STAGE/greengrass-firstboot" "$r/usr/local/bin/greengrass-firstboot"
if [ -n "$user" ]; then
  sed "s/^  componentDefaultUser: .*/  componentDefaultUser: $user/" "$STAGE/agent.yaml" > "$r/etc/greengrass-firstboot/agent.yaml.tmp"
  chmod 0644 "$r/etc/greengrass-firstboot/agent.yaml.tmp"
  mv "$r/etc/greengrass-firstboot/agent.yaml.tmp" "$r/etc/greengrass-firstboot/agent.yaml"
else
  install -m 0644 "$STAGE/agent.yaml" "$r/etc/greengrass-firstboot/agent.yaml"
fi
install -m 0644 "$STAGE/build-info.json" "$r/etc/greengrass-firstboot/build-info.json"
install -m 0644 "$STAGE/$unit" "$r/etc/systemd/system/$unit"
# The unit's Documentation= names it: `systemctl help greengrass-firstboot` opens it on the machine.
install -m 0644 "$STAGE/agent.md" "$r/usr/share/doc/greengrass-firstboot/agent.md"

if [ "$ROOT" = / ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
  systemctl enable "$unit"
else
  wanted=$(sed -n 's/^[[:space:]]*WantedBy[[:space:]]*=[[:space:]]*//p' "$r/etc/systemd/system/$unit")
  if [ -z "$wanted" ]; then
    echo "agent: $unit has no WantedBy= in [Install]; cannot enable it" >&2
    exit 3
  fi
  for target in $wanted; do
    install -d -m 0755 "$r/etc/systemd/system/$target.wants"
    ln -sfn "/etc/systemd/system/$unit" "$r/etc/systemd/system/$target.wants/$unit"
  done
fi
echo "agent: installed and enabled $unit"
