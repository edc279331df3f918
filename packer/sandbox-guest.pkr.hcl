# The Linux sandbox guest's last step, for Debian 12's packer 1.6.6 (no
# `packer init`; CHECKPOINT_DISABLE=1): boot the disk that
# scripts/image-disk.sh assembled from scripts/sandbox-guest-rootfs.sh's
# tree, once. The guest has no SSH (nothing in it may be reached but the
# agent): its build check (mailinspector-guest-selfcheck) writes its
# verdict to the serial console and powers the guest off; the local
# provisioner reads that verdict. scripts/sandbox-guest-packer.sh runs it.

variable "base_image" {
  type = string
}

variable "output_dir" {
  type = string
}

variable "serial_log" {
  type = string
}

source "qemu" "sandbox-guest" {
  disk_image       = true
  use_backing_file = false
  skip_resize_disk = true
  iso_url          = "file://${var.base_image}"
  iso_checksum     = "none"
  accelerator      = "tcg"
  format           = "qcow2"
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  memory           = 512
  cpus             = 1
  headless         = true
  output_directory = var.output_dir
  vm_name          = "guest.qcow2"
  communicator     = "none"
  boot_wait        = "1s"
  qemuargs         = [["-serial", "file:${var.serial_log}"]]
  # The guest powers itself off once its check is done.
  shutdown_command = ""
  shutdown_timeout = "5m"
}

build {
  sources = ["source.qemu.sandbox-guest"]

  provisioner "shell-local" {
    inline = [
      "for i in $(seq 600); do grep -q 'reboot: Power down' '${var.serial_log}' 2>/dev/null && break; sleep 1; done",
      "grep -a 'mailinspector-selfcheck' '${var.serial_log}'",
      "grep -q 'mailinspector-selfcheck: ok' '${var.serial_log}'",
    ]
  }
}
