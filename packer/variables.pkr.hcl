// Inputs. The builder (`greengrass-image build`) always passes staging_dir and output_directory
// and one <target>.pkrvars.hcl; everything site-specific comes from the user's own --var-file.
// Packer 1.6.6-compatible: no data sources, no templatefile(), validation conditions reference
// only their own variable, and regex_replace() stands in for regex() (1.6.6 has no regex()).

// ---- contract with the builder ----------------------------------------------------------------

variable "staging_dir" {
  type        = string
  description = "Host directory with the staged files (nucleus zip, plugin jar, config.yaml, claim cert/key, root CA, agent, unit, build-info.json). Uploaded to /tmp/gg-stage/ in the guest."
  validation {
    condition     = length(var.staging_dir) > 0 && substr(var.staging_dir, 0, 1) == "/"
    error_message = "The staging_dir variable must be an absolute path (the builder passes -var staging_dir=<stage>/files)."
  }
}

variable "output_directory" {
  type        = string
  description = "Where the image (and packer-manifest.json) is written. Must not exist before the build."
  default     = "output"
}

variable "vm_name" {
  type        = string
  description = "Name of the VM / template / image file. greengrass-image build always sets it (--image-name; by default greengrass-golden-<nucleus version>-<yyyymmdd>-<hhmmss>, UTC)."
  default     = "greengrass-golden"
  validation {
    condition     = regex_replace(var.vm_name, "^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$", "") == ""
    error_message = "The vm_name variable must be 1-80 characters of letters, digits, '.', '_' or '-'."
  }
}

variable "ggc_user" {
  type        = string
  description = "System user Greengrass components run as (--component-default-user)."
  default     = "ggc_user"
  validation {
    condition     = regex_replace(var.ggc_user, "^[a-z_][a-z0-9_-]{0,31}$", "") == ""
    error_message = "The ggc_user variable must be a valid POSIX user name."
  }
}

variable "ggc_group" {
  type        = string
  description = "System group Greengrass components run as."
  default     = "ggc_group"
  validation {
    condition     = regex_replace(var.ggc_group, "^[a-z_][a-z0-9_-]{0,31}$", "") == ""
    error_message = "The ggc_group variable must be a valid POSIX group name."
  }
}

variable "vmware_tools" {
  type        = bool
  description = "Install open-vm-tools whatever the builder: an image that will run on VMware (an OVA made from the qemu build) needs it for the guestinfo OVF environment and for vSphere guest customization. VMware builders always install it."
  default     = false
}

// ---- build account (created by the rendered http/user-data for ISO builds, present in the offline base image) --

variable "ssh_username" {
  type        = string
  description = "Build account Packer logs in with; locked and stripped of sudo/keys at shutdown."
  default     = "packer"
  validation {
    condition     = regex_replace(var.ssh_username, "^[a-z_][a-z0-9_-]{0,31}$", "") == ""
    error_message = "The ssh_username variable must be a valid POSIX user name."
  }
}

// No common word as default: Packer masks a sensitive value wherever it appears in its output. greengrass-image
// build sets it (PKR_VAR_ssh_password, one random password per build) and renders its hash into http/user-data.
variable "ssh_password" {
  type        = string
  description = "Build account password (the rendered http/user-data carries its SHA-512 crypt hash)."
  default     = ""
  sensitive   = true
}

variable "ssh_timeout" {
  type    = string
  default = "60m"
}

// ---- machine shape ----------------------------------------------------------------------------

variable "cpus" {
  type    = number
  default = 2
  validation {
    condition     = var.cpus >= 1 && var.cpus <= 64
    error_message = "The cpus variable must be between 1 and 64."
  }
}

variable "memory" {
  type        = number
  description = "MiB."
  default     = 2048
  validation {
    condition     = var.memory >= 512
    error_message = "The memory variable must be at least 512 (MiB)."
  }
}

variable "disk_size" {
  type        = number
  description = "MiB (ISO builds)."
  default     = 20480
  validation {
    condition     = var.disk_size >= 8192
    error_message = "The disk_size variable must be at least 8192 (MiB): Ubuntu Server needs it."
  }
}

variable "headless" {
  type    = bool
  default = true
}

// ---- Ubuntu 22.04 installer ISO (vsphere-iso, vmware-iso, virtualbox-iso) ----------------------

variable "iso_url" {
  type        = string
  description = "Ubuntu 22.04 live-server ISO (URL or local path / internal mirror)."
  default     = "https://releases.ubuntu.com/22.04.5/ubuntu-22.04.5-live-server-amd64.iso"
}

variable "iso_checksum" {
  type        = string
  description = "sha256:<hex>, or file:<SHA256SUMS URL> (Packer 1.6.6 fetches a file: checksum already at validate time). Never 'none' for an ISO. Default: ubuntu-22.04.5-live-server-amd64.iso as listed in releases.ubuntu.com/22.04.5/SHA256SUMS."
  default     = "sha256:9bc6028870aef3f74f4e16b900008179e78b130e6b0b9a140635434a46aa98b0"
  validation {
    condition     = regex_replace(var.iso_checksum, "^(sha256:[0-9a-fA-F]{64}|sha512:[0-9a-fA-F]{128}|file:.+)$", "") == ""
    error_message = "The iso_checksum variable must be sha256:<64 hex>, sha512:<128 hex> or file:<checksum file URL>."
  }
}

variable "boot_wait" {
  type    = string
  default = "5s"
}

// ---- vSphere (vsphere-iso) ----------------------------------------------------------------------

variable "vcenter_server" {
  type    = string
  default = ""
}

variable "vsphere_username" {
  type    = string
  default = ""
}

variable "vsphere_password" {
  type      = string
  default   = ""
  sensitive = true
}

variable "vsphere_insecure_connection" {
  type    = bool
  default = false
}

variable "vsphere_datacenter" {
  type    = string
  default = ""
}

variable "vsphere_cluster" {
  type    = string
  default = ""
}

variable "vsphere_host" {
  type    = string
  default = ""
}

variable "vsphere_datastore" {
  type    = string
  default = ""
}

variable "vsphere_folder" {
  type    = string
  default = ""
}

variable "vsphere_network" {
  type    = string
  default = "VM Network"
}

variable "vsphere_iso_paths" {
  type        = list(string)
  description = "ISO files already in a datastore, e.g. [\"[datastore1] iso/ubuntu-22.04.5-live-server-amd64.iso\"]. When set, iso_url and iso_checksum are not used: nothing is downloaded or uploaded, the first path is the installer."
  default     = []
}

variable "vsphere_remove_cdrom" {
  type        = bool
  description = "Delete the CD-ROM drives from the template (Packer always ejects them). Keep them (false) if clones get their OVF environment on the ISO transport, which needs a CD-ROM drive."
  default     = false
}

variable "autoinstall_source" {
  type        = string
  description = "Where the Ubuntu installer reads http/user-data and http/meta-data: \"http\" (Packer's HTTP server, the guest must reach the build host) or \"cd\" (a CD built from them with cd_files, for build networks that block it; needs xorriso, mkisofs or genisoimage on the build host). vsphere-iso only."
  default     = "http"
  validation {
    condition     = contains(["http", "cd"], var.autoinstall_source)
    error_message = "The autoinstall_source variable must be \"http\" or \"cd\"."
  }
}

variable "vsphere_cd_files" {
  type        = list(string)
  description = "Extra files for the autoinstall CD (autoinstall_source = \"cd\"), beside user-data and meta-data."
  default     = []
}

variable "vsphere_cd_label" {
  type        = string
  description = "Volume label of the autoinstall CD. cloud-init's NoCloud source looks for cidata (or CIDATA)."
  default     = "cidata"
}

// Against an API-only endpoint (vcsim, the vSphere simulator the tests use) nothing boots: it types no keys and
// reports no guest IP. These two let the vsphere-iso source run there up to the template conversion.
variable "vsphere_communicator" {
  type        = string
  description = "\"ssh\" (a real build), or \"none\": no provisioning, Packer waits 5 minutes for the VM to be powered off from outside, then converts it. \"none\" builds no golden image."
  default     = "ssh"
  validation {
    condition     = contains(["ssh", "none"], var.vsphere_communicator)
    error_message = "The vsphere_communicator variable must be \"ssh\" or \"none\"."
  }
}

variable "vsphere_type_boot_command" {
  type        = bool
  description = "Type the installer's boot command on the VM console (false: none is typed, for endpoints without keyboard input)."
  default     = true
}

// ---- qemu (offline pipeline: boots an existing qcow2) -----------------------------------------

variable "qemu_disk_image" {
  type        = string
  description = "Existing qcow2 disk image to boot (copied, never modified)."
  default     = ""
}

variable "qemu_kernel" {
  type        = string
  description = "Kernel for direct kernel boot; empty = boot the disk normally."
  default     = ""
}

variable "qemu_initrd" {
  type    = string
  default = ""
}

variable "qemu_append" {
  type        = string
  description = "Kernel command line for direct kernel boot."
  default     = "root=/dev/vda rw console=ttyS0"
}

variable "qemu_serial_log" {
  type        = string
  description = "File for the guest's serial console (qemu target); empty = none."
  default     = ""
}

variable "qemu_accelerator" {
  type    = string
  default = "tcg"
  validation {
    condition     = contains(["tcg", "kvm", "hvf", "whpx", "xen", "hax", "none"], var.qemu_accelerator)
    error_message = "The qemu_accelerator variable must be one of tcg, kvm, hvf, whpx, xen, hax, none."
  }
}

variable "qemu_binary" {
  type    = string
  default = "qemu-system-x86_64"
}
