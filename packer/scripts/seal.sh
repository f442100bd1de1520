#!/bin/sh
# Seal the golden image so that every clone is a new machine (and a new Greengrass core):
#   the agent's own seal (template hostname recorded, first-boot state cleared), no Greengrass
#   device identity, cloud-init cleaned (+ Ubuntu installer leftovers), machine-id "uninitialized",
#   SSH host keys removed and regenerated on first boot, hostname emptied, DHCP leases, logs,
#   journal, shell history, apt lists, /tmp (except Packer's own scripts), random seed; free space
#   discarded (fstrim) so the image and its OVA carry only live data.
#
# ROOT (default /) seals an unbooted tree instead: every step works on $ROOT/... paths, and the
# steps that need the running system (the agent, cloud-init clean, journalctl) are skipped.
set -eu

ROOT=${ROOT:-/}
r=${ROOT%/}
live=false
if [ "$ROOT" = / ]; then live=true; fi

log() { printf 'seal: %s\n' "$*"; }

# Remove every entry directly inside a directory (if it exists), except names matching $2 (a glob).
empty_dir() { # dir [keep-glob]
  if [ -d "$1" ]; then
    if [ $# -gt 1 ]; then
      find "$1" -mindepth 1 -maxdepth 1 ! -name "$2" -exec rm -rf {} +
    else
      find "$1" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
    fi
  fi
}

# --- 1. the first-boot agent: records the template hostname (refused as a ThingName on clones) --
agent=/usr/local/bin/greengrass-firstboot
if $live; then
  if [ -x "$agent" ]; then
    "$agent" seal --template-hostname "$(hostname)"
  else
    log "WARNING: $agent is not installed: template hostname NOT recorded"
  fi
else
  # Without the running system the agent cannot run; remove its default state files instead
  # (agent/src/agent-config.ts defaults: sentinel, state file, rendered config).
  rm -f "$r/var/lib/greengrass-firstboot/provisioned.json" "$r/var/lib/greengrass-firstboot/state.json" \
    "$r/var/lib/greengrass-firstboot/config.yaml"
  log "ROOT=$ROOT: agent seal skipped (needs the live system); default agent state removed"
fi

# --- 2. Greengrass: only the installer, the claim certificate and the root CA may be baked in ---
gg="$r/greengrass/v2"
if [ -d "$gg" ]; then
  # config/ (config.tlog, effectiveConfig.yaml), thingCert.crt, privKey.key, alts/, packages/, logs/ ...
  find "$gg" -mindepth 1 -maxdepth 1 ! -name installer ! -name claim-certs ! -name AmazonRootCA1.pem \
    -exec rm -rf {} +
  if [ -d "$gg/claim-certs" ]; then
    chown -R 0:0 "$gg/claim-certs"
    chmod 0700 "$gg/claim-certs"
    find "$gg/claim-certs" -type f -exec chmod 0600 {} +
  fi
fi
rm -f "$r/etc/systemd/system/greengrass.service" "$r/etc/systemd/system/multi-user.target.wants/greengrass.service"

# --- 3. cloud-init --------------------------------------------------------------------------------
if $live && command -v cloud-init >/dev/null 2>&1; then
  # --machine-id exists from cloud-init 22.3 (Ubuntu 22.04 gets newer releases as SRUs): check.
  if cloud-init clean --help 2>&1 | grep -q -- '--machine-id'; then
    cloud-init clean --logs --seed --machine-id
  else
    cloud-init clean --logs --seed
  fi
fi
empty_dir "$r/var/lib/cloud"
rm -f "$r/var/log/cloud-init.log" "$r/var/log/cloud-init-output.log"
# Ubuntu installer (subiquity/curtin) leftovers: datasource_list [None] etc. hide the VMware
# datasource and network config from clones.
for f in 99-installer.cfg 90-installer-network.cfg subiquity-disable-cloudinit-networking.cfg \
  curtin-preserve-sources.cfg; do
  rm -f "$r/etc/cloud/cloud.cfg.d/$f"
done
rm -f "$r/etc/cloud/ds-identify.cfg" "$r/etc/cloud/cloud-init.disabled"

# --- 4. machine-id: "uninitialized" = systemd first boot (an empty file is NOT a first boot) -------
install -d -m 0755 "$r/etc"
rm -f "$r/etc/machine-id"
printf 'uninitialized\n' > "$r/etc/machine-id"
chmod 0444 "$r/etc/machine-id"
dbus_id="$r/var/lib/dbus/machine-id"
if [ -e "$dbus_id" ] && [ ! -L "$dbus_id" ]; then
  rm -f "$dbus_id"
  ln -s /etc/machine-id "$dbus_id"
fi
rm -f "$r/var/lib/systemd/random-seed" "$r/var/lib/systemd/credential.secret"
# On a first boot PID 1 also applies presets to every unit file (preset-all, enable-only). Debian's
# and Ubuntu's presets end in "enable anything not listed", which would enable on each clone what the
# image ships disabled (ssh.socket beside ssh.service, ...). A preset sorted first names exactly the
# units the template has disabled: they stay so, and units that packages add later on a clone
# (deb-systemd-helper enables through presets) get the distribution's default as usual.
preset="$r/etc/systemd/system-preset/00-golden-image.preset"
rm -f "$preset"
if command -v systemctl >/dev/null 2>&1; then
  if [ "$ROOT" = / ]; then
    disabled=$(systemctl list-unit-files --state=disabled --no-legend --no-pager | awk '{print $1}')
  else
    disabled=$(systemctl --root="$r" list-unit-files --state=disabled --no-legend --no-pager | awk '{print $1}')
  fi
  if [ -n "$disabled" ]; then
    install -d -m 0755 "$r/etc/systemd/system-preset"
    {
      echo '# greengrass-golden-image (seal.sh): units the template had disabled stay disabled on its clones'
      echo '# (systemd applies presets on a first boot: "uninitialized" machine-id).'
      for u in $disabled; do echo "disable $u"; done
    } > "$preset"
    chmod 0644 "$preset"
  fi
fi

# --- 5. SSH: no host keys in the image; a oneshot regenerates them on first boot ----------------
rm -f "$r"/etc/ssh/ssh_host_*
rm -f "$r/root/.ssh/authorized_keys"
if [ -d "$r/etc/ssh" ]; then
  # Debian 12's and Ubuntu 22.04's ssh.service only run `sshd -t` before starting (no ssh-keygen
  # -A), and cloud-init regenerates keys only where it runs with a datasource: so our own unit.
  install -d -m 0755 "$r/etc/systemd/system" "$r/etc/systemd/system/multi-user.target.wants" \
    "$r/etc/systemd/system/ssh.service.wants"
  cat > "$r/etc/systemd/system/ssh-host-keys.service" <<'UNIT'
[Unit]
Description=Generate this clone's SSH host keys (removed when the golden image was sealed)
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key
After=cloud-init.service
Before=ssh.service sshd.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target ssh.service
UNIT
  chmod 0644 "$r/etc/systemd/system/ssh-host-keys.service"
  ln -sfn /etc/systemd/system/ssh-host-keys.service "$r/etc/systemd/system/multi-user.target.wants/ssh-host-keys.service"
  ln -sfn /etc/systemd/system/ssh-host-keys.service "$r/etc/systemd/system/ssh.service.wants/ssh-host-keys.service"
fi

# --- 6. hostname: empty, so each clone takes the name vSphere customization / DHCP / the kernel
#        command line (systemd.hostname=) gives it; the template's own name is recorded in step 1.
if [ -e "$r/etc/hostname" ]; then
  : > "$r/etc/hostname"
fi
if [ -f "$r/etc/hosts" ]; then
  sed -i '/^127\.0\.1\.1[[:space:]]/d' "$r/etc/hosts"
fi
rm -f "$r/etc/machine-info"

# --- 7. network state ---------------------------------------------------------------------------
for d in var/lib/dhcp var/lib/dhclient var/lib/dhcpcd; do
  if [ -d "$r/$d" ]; then
    find "$r/$d" -mindepth 1 -maxdepth 1 -type f -exec rm -f {} +
  fi
done
if [ -d "$r/var/lib/NetworkManager" ]; then
  find "$r/var/lib/NetworkManager" -maxdepth 1 -type f -name '*.lease' -exec rm -f {} +
fi
rm -f "$r/etc/udev/rules.d/70-persistent-net.rules"

# --- 8. logs and journal --------------------------------------------------------------------------
# On the running template journald keeps writing until power-off: what it writes after the files are
# deleted (the build account's logout, its own "Failed to create new system journal") would be the first
# boot every clone's `journalctl --list-boots` and `-p err` show. --relinquish-var moves it to the
# volatile /run/log/journal until the next boot (systemd >= 243: Ubuntu 22.04 has 249, Debian 12 252).
if $live && command -v journalctl >/dev/null 2>&1; then
  journalctl --rotate >/dev/null 2>&1 || true
  journalctl --vacuum-time=1s >/dev/null 2>&1 || true
  journalctl --relinquish-var >/dev/null 2>&1 || log "journald did not move to /run (journalctl --relinquish-var failed)"
fi
empty_dir "$r/var/log/journal"
if [ -d "$r/var/log" ]; then
  find "$r/var/log" -type f \( -name '*.gz' -o -name '*.xz' -o -name '*.[0-9]' -o -name '*.old' \) -exec rm -f {} +
  find "$r/var/log" -type f -exec truncate -s 0 {} +
fi

# --- 9. shell history -----------------------------------------------------------------------------
for home in "$r/root" "$r"/home/*; do
  if [ -d "$home" ]; then
    rm -f "$home/.bash_history" "$home/.ash_history" "$home/.sh_history" "$home/.zsh_history" \
      "$home/.python_history" "$home/.lesshst" "$home/.viminfo" "$home/.wget-hsts"
  fi
done

# --- 10. package caches and temp files --------------------------------------------------------------
empty_dir "$r/var/lib/apt/lists"
if [ -d "$r/var/cache/apt" ]; then
  find "$r/var/cache/apt" -type f \( -name '*.deb' -o -name '*.bin' \) -exec rm -f {} +
fi
# Packer runs this very script from /tmp/script_*.sh: keep those.
empty_dir "$r/tmp" 'script_*.sh'
empty_dir "$r/var/tmp"

# --- 11. free space: discarded, so the disk (and the OVA exported from it) carries only live data ----
# Deleted files leave their data in the free blocks, and a disk image copies them. fstrim tells the
# virtual disk which blocks are free: QEMU with discard=unmap (the qemu source) drops them from the
# qcow2, vSphere thin disks and VMFS unmap them, and qemu-img skips what reads back as zeros when it
# writes the VMDK stream. sync first: blocks freed above are only free once the journal commits.
# A disk without discard support (some controllers, VirtualBox without --discard) refuses: nothing
# is lost but the saving, so that is a note, not a failure.
if $live && command -v fstrim >/dev/null 2>&1; then
  sync
  if trimmed=$(fstrim -av 2>&1); then
    printf '%s\n' "$trimmed" | sed 's/^/seal: fstrim: /'
  else
    log "fstrim: free space not discarded on this disk ($(printf '%s' "$trimmed" | tail -n 1))"
  fi
fi

if $live; then
  sync
fi
log "sealed ${ROOT}"
