# Packer >= 1.7 only: `packer init` installs these. The builder leaves this file out for Packer 1.6.6,
# whose `packer {}` block accepts only required_version and which has all four builders built in.
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    vsphere = {
      version = ">= 1.2.0"
      source  = "github.com/vmware/vsphere"
    }
    vmware = {
      version = ">= 1.0.7"
      source  = "github.com/vmware/vmware"
    }
    virtualbox = {
      version = ">= 1.0.3"
      source  = "github.com/hashicorp/virtualbox"
    }
    qemu = {
      version = ">= 1.0.9"
      source  = "github.com/hashicorp/qemu"
    }
  }
}
