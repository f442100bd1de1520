// vSphere: Ubuntu 22.04 from the ISO, converted to a VM template. Site values (vcenter_server,
// vsphere_* names, credentials) come from the user's --var-file.
cpus      = 2
memory    = 2048
disk_size = 20480
