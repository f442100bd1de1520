// QEMU (offline pipeline): boots an existing qcow2 (the Debian 12 base built by debootstrap).
// qemu_disk_image / qemu_kernel / qemu_initrd come from the pipeline's own --var-file.
cpus             = 2
memory           = 1024
qemu_accelerator = "tcg"
ssh_timeout      = "30m"
