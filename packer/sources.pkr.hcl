// One source per target, all named "ubuntu": the builder runs `packer build -only=<type>.ubuntu`.

locals {
  // Ubuntu 22.04 live-server GRUB: the autoinstall arguments go BEFORE "---" so the installer does
  // not copy them (and ds=nocloud) onto the installed system's kernel command line.
  // The autoinstall data: from Packer's HTTP server, or (vsphere-iso, autoinstall_source = "cd") from a CD labelled
  // cidata, which cloud-init's NoCloud source finds by its label.
  autoinstall_from_cd = var.autoinstall_source == "cd"
  nocloud_ds          = local.autoinstall_from_cd ? "ds=nocloud" : "ds=nocloud-net\\;s=http://{{ .HTTPIP }}:{{ .HTTPPort }}/"
  autoinstall_cd_files = concat(
    ["${path.root}/http/user-data", "${path.root}/http/meta-data"],
    var.vsphere_cd_files,
  )

  ubuntu_boot_command = [
    "c<wait>",
    "linux /casper/vmlinuz autoinstall ${local.nocloud_ds} ---<enter><wait>",
    "initrd /casper/initrd<enter><wait>",
    "boot<enter>",
  ]

  // image-builder style: before powering off, the build account loses its sudoers drop-in, its
  // authorized_keys and its password (locked + expired), so the sealed image has no build login.
  shutdown_command = "sudo -n sh -c 'for f in /etc/sudoers.d/*; do grep -qs \"^${var.ssh_username}[[:space:]]\" \"$f\" && rm -f \"$f\"; done; rm -f /home/${var.ssh_username}/.ssh/authorized_keys; usermod -L -e 1 ${var.ssh_username}; shutdown -P now'"

  // Direct kernel boot only when a kernel is given (the offline Debian 12 base keeps it outside the disk).
  qemu_kernel_args = [
    ["-kernel", var.qemu_kernel],
    ["-initrd", var.qemu_initrd],
    ["-append", var.qemu_append],
  ]
  // The guest's serial console to a file when one is named: a bake stalled at "Waiting for SSH" shows why there.
  qemu_serial_args = [["-serial", "file:${var.qemu_serial_log}"]]
}

source "vsphere-iso" "ubuntu" {
  vcenter_server      = var.vcenter_server
  username            = var.vsphere_username
  password            = var.vsphere_password
  insecure_connection = var.vsphere_insecure_connection
  datacenter          = var.vsphere_datacenter
  cluster             = var.vsphere_cluster
  host                = var.vsphere_host
  datastore           = var.vsphere_datastore
  folder              = var.vsphere_folder

  vm_name              = var.vm_name
  guest_os_type        = "ubuntu64Guest"
  CPUs                 = var.cpus
  RAM                  = var.memory
  disk_controller_type = ["pvscsi"]
  storage {
    disk_size             = var.disk_size
    disk_thin_provisioned = true
  }
  network_adapters {
    network      = var.vsphere_network
    network_card = "vmxnet3"
  }

  // An ISO already in a datastore (iso_paths) replaces the download; null leaves an option unset.
  iso_url        = length(var.vsphere_iso_paths) > 0 ? null : var.iso_url
  iso_checksum   = length(var.vsphere_iso_paths) > 0 ? null : var.iso_checksum
  iso_paths      = var.vsphere_iso_paths
  cd_files       = local.autoinstall_from_cd ? local.autoinstall_cd_files : null
  cd_label       = local.autoinstall_from_cd ? var.vsphere_cd_label : null
  http_directory = local.autoinstall_from_cd ? null : "${path.root}/http"
  boot_wait      = var.boot_wait
  boot_command   = var.vsphere_type_boot_command ? local.ubuntu_boot_command : null

  communicator     = var.vsphere_communicator
  ssh_username     = var.ssh_username
  ssh_password     = var.ssh_password
  ssh_timeout      = var.ssh_timeout
  shutdown_command = var.vsphere_communicator == "none" ? null : local.shutdown_command

  // A fixed boot order (disk first: the installed system once there is one). Without it Packer sets one for the
  // build and clears it after the template conversion, a reconfigure of a template that vcsim refuses.
  boot_order          = "disk,cdrom"
  remove_cdrom        = var.vsphere_remove_cdrom
  convert_to_template = true
}

source "vmware-iso" "ubuntu" {
  vm_name              = var.vm_name
  guest_os_type        = "ubuntu-64"
  cpus                 = var.cpus
  memory               = var.memory
  disk_size            = var.disk_size
  disk_adapter_type    = "pvscsi"
  network_adapter_type = "vmxnet3"
  headless             = var.headless

  iso_url        = var.iso_url
  iso_checksum   = var.iso_checksum
  http_directory = "${path.root}/http"
  boot_wait      = var.boot_wait
  boot_command   = local.ubuntu_boot_command

  communicator     = "ssh"
  ssh_username     = var.ssh_username
  ssh_password     = var.ssh_password
  ssh_timeout      = var.ssh_timeout
  shutdown_command = local.shutdown_command

  output_directory = var.output_directory
  format           = "ova"
}

source "virtualbox-iso" "ubuntu" {
  vm_name              = var.vm_name
  guest_os_type        = "Ubuntu_64"
  cpus                 = var.cpus
  memory               = var.memory
  disk_size            = var.disk_size
  hard_drive_interface = "sata"
  guest_additions_mode = "disable"
  headless             = var.headless

  iso_url        = var.iso_url
  iso_checksum   = var.iso_checksum
  http_directory = "${path.root}/http"
  boot_wait      = var.boot_wait
  boot_command   = local.ubuntu_boot_command

  communicator     = "ssh"
  ssh_username     = var.ssh_username
  ssh_password     = var.ssh_password
  ssh_timeout      = var.ssh_timeout
  shutdown_command = local.shutdown_command

  output_directory = var.output_directory
  format           = "ova"
}

source "qemu" "ubuntu" {
  vm_name          = "${var.vm_name}.qcow2"
  qemu_binary      = var.qemu_binary
  accelerator      = var.qemu_accelerator
  cpus             = var.cpus
  memory           = var.memory
  headless         = true
  disk_image       = true
  iso_url          = var.qemu_disk_image
  iso_checksum     = "none"
  skip_resize_disk = true
  format           = "qcow2"
  disk_interface   = "virtio"
  // The seal's fstrim reaches the qcow2 (freed blocks leave the image, and the OVA made from it).
  disk_discard       = "unmap"
  disk_detect_zeroes = "unmap"
  net_device         = "virtio-net"
  qemuargs = concat(
    slice(local.qemu_kernel_args, 0, var.qemu_kernel == "" ? 0 : 3),
    slice(local.qemu_serial_args, 0, var.qemu_serial_log == "" ? 0 : 1),
  )

  communicator     = "ssh"
  ssh_username     = var.ssh_username
  ssh_password     = var.ssh_password
  ssh_timeout      = var.ssh_timeout
  shutdown_command = local.shutdown_command

  output_directory = var.output_directory
}
