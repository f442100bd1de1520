#!/bin/sh
# Runs inside the debootstrapped tree (chroot) to turn it into the offline base image.
# Part of the base-image recipe: any change here changes the cache key (offline/base-image.ts).
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

echo golden-template > /etc/hostname
cat > /etc/hosts <<'H'
127.0.0.1 localhost
127.0.1.1 golden-template
::1 localhost ip6-localhost ip6-loopback
H

# Root filesystem is the whole virtio disk (no partition table).
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > /etc/fstab

# Build account for Packer: packer/packer, NOPASSWD sudo, ssh password auth.
id packer >/dev/null 2>&1 || useradd -m -s /bin/bash packer
echo 'packer:packer' | chpasswd
printf 'packer ALL=(ALL) NOPASSWD: ALL\n' > /etc/sudoers.d/packer
chmod 0440 /etc/sudoers.d/packer
mkdir -p /etc/ssh/sshd_config.d
printf 'PasswordAuthentication yes\nUseDNS no\n' > /etc/ssh/sshd_config.d/10-offline-base.conf

# Network: systemd-networkd DHCP on the virtio NIC; wait-online makes network-online.target mean "has an address".
mkdir -p /etc/systemd/network
cat > /etc/systemd/network/20-virtio.network <<'N'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4

[DHCPv4]
UseDomains=no
N
systemctl enable systemd-networkd.service systemd-networkd-wait-online.service
# Only one NIC: do not wait the default 120 s for links that will never come.
mkdir -p /etc/systemd/system/systemd-networkd-wait-online.service.d
cat > /etc/systemd/system/systemd-networkd-wait-online.service.d/any.conf <<'W'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=60
W

# Persistent journal so results can be read from the disk afterwards (journalctl --file on the host).
mkdir -p /var/log/journal /etc/systemd/journald.conf.d
printf '[Journal]\nStorage=persistent\n' > /etc/systemd/journald.conf.d/10-persistent.conf

# Time: no NTP is reachable offline. The clock comes from QEMU's RTC (host UTC time). Nothing enables
# systemd-time-wait-sync, so time-sync.target is reached without a sync (see docs/offline-pipeline.md).

# Under TCG every background job costs boot time: no periodic maintenance in the base image.
for t in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer; do
  systemctl disable "$t" >/dev/null 2>&1 || true
  systemctl mask "$t" >/dev/null 2>&1 || true
done

# Every clone must get its own machine-id: empty file = generated on first boot.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
ln -sf /etc/machine-id /var/lib/dbus/machine-id 2>/dev/null || true

# Serial console login (handy when debugging a clone).
systemctl enable serial-getty@ttyS0.service >/dev/null 2>&1 || true

# Size (the image and its OVA carry every byte; docs/ova.md "Size"). Kernel modules for hardware no VM of this
# pipeline (QEMU, vSphere, VirtualBox) has: sound, cameras/TV, radios, physical GPUs, InfiniBand, sensors, staging
# drivers, physical NICs other than Intel's and Realtek's (the e1000/e1000e and rtl8139 that hypervisors emulate):
# about 190 of 390 MiB of modules. virtio, vmxnet3, pvscsi and the virtual GPUs stay; the initramfs is rebuilt
# without the rest. Documentation, manual pages and translations go too (copyright files stay). debootstrap ran with
# INITRD=No, so this is the only initramfs build (each one takes about a minute): created here, not updated.
for k in /lib/modules/*/kernel; do
  for d in sound drivers/media drivers/net/wireless net/wireless net/mac80211 drivers/bluetooth net/bluetooth \
    drivers/gpu/drm/amd drivers/gpu/drm/nouveau drivers/gpu/drm/radeon drivers/gpu/drm/i915 \
    drivers/infiniband drivers/iio drivers/staging drivers/isdn; do
    rm -rf "${k:?}/$d"
  done
  find "$k/drivers/net/ethernet" -mindepth 1 -maxdepth 1 ! -name intel ! -name realtek -exec rm -rf {} +
done
find /usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/info/*
find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
for v in /lib/modules/*; do depmod -a "${v##*/}"; done
for v in /lib/modules/*; do update-initramfs -c -k "${v##*/}"; done

apt-get clean
rm -rf /var/lib/apt/lists/* /tmp/* /var/tmp/*
