// Provisioning order (contract with `greengrass-image build`): stage upload, install steps, seal.
// Scripts run as root via sudo; PACKER_BUILDER_TYPE tells packages.sh whether to add open-vm-tools.

build {
  sources = [
    "source.vsphere-iso.ubuntu",
    "source.vmware-iso.ubuntu",
    "source.virtualbox-iso.ubuntu",
    "source.qemu.ubuntu",
  ]

  // The staging dir holds the claim private key: create it 0700 (as the build user, who owns the
  // upload) before anything is copied into it.
  provisioner "shell" {
    inline = ["rm -rf /tmp/gg-stage", "mkdir -m 0700 /tmp/gg-stage"]
  }

  provisioner "file" {
    source      = "${var.staging_dir}/"
    destination = "/tmp/gg-stage"
  }

  provisioner "shell" {
    execute_command = "{{ .Vars }} sudo -n -E sh -eu '{{ .Path }}'"
    environment_vars = [
      "GG_STAGE=/tmp/gg-stage",
      "GGC_USER=${var.ggc_user}",
      "GGC_GROUP=${var.ggc_group}",
      "VMWARE_TOOLS=${var.vmware_tools}",
    ]
    scripts = [
      "${path.root}/scripts/packages.sh",
      "${path.root}/scripts/ggc-user.sh",
      "${path.root}/scripts/greengrass-layout.sh",
      "${path.root}/scripts/claim-certs.sh",
      "${path.root}/scripts/agent.sh",
      "${path.root}/scripts/cleanup-stage.sh",
    ]
  }

  provisioner "shell" {
    execute_command = "{{ .Vars }} sudo -n -E sh -eu '{{ .Path }}'"
    scripts         = ["${path.root}/scripts/seal.sh"]
  }

  post-processor "manifest" {
    output     = "${var.output_directory}/packer-manifest.json"
    strip_path = true
  }
}
