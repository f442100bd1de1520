// VirtualBox: Ubuntu 22.04 from the ISO, exported as an OVA.
cpus      = 2
memory    = 2048
disk_size = 20480
headless  = true
