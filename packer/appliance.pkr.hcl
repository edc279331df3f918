# The appliance image's last step, for Debian 12's packer 1.6.6 (no
# `packer init`; CHECKPOINT_DISABLE=1): boot the disk that
# scripts/image-disk.sh assembled (it carries a temporary build key for
# root) by starting its kernel directly (the disk has no boot loader yet),
# let the guest install GRUB for BIOS and UEFI, run the in-guest checks,
# reset everything a first boot must make fresh, and let the guest power
# itself off. scripts/image-packer.sh runs it.

variable "base_image" {
  type = string
}

variable "output_dir" {
  type = string
}

variable "build_key" {
  type = string
}

variable "version" {
  type = string
}

variable "serial_log" {
  type = string
}

# The rootfs's kernel and initramfs, written beside the disk by
# image-disk.sh.
variable "kernel" {
  type = string
}

variable "initrd" {
  type = string
}

variable "disk_mb" {
  type    = string
  default = "8192"
}

source "qemu" "appliance" {
  disk_image           = true
  use_backing_file     = false
  disk_size            = "${var.disk_mb}M"
  skip_resize_disk     = true
  iso_url              = "file://${var.base_image}"
  iso_checksum         = "none"
  accelerator          = "tcg"
  format               = "qcow2"
  disk_interface       = "virtio"
  net_device           = "virtio-net"
  memory               = 1536
  cpus                 = 2
  headless             = true
  output_directory     = var.output_dir
  vm_name              = "mailinspector-${var.version}.qcow2"
  communicator         = "ssh"
  ssh_username         = "root"
  ssh_private_key_file = var.build_key
  ssh_timeout          = "10m"
  # The reset removes the build key: the guest powers itself off instead.
  shutdown_command = ""
  shutdown_timeout = "5m"
  # The guest's serial console (kernel and boot messages, the first-boot
  # console) goes to a file that image-packer.sh shows when the build
  # fails: without it a guest that stops answering leaves nothing but
  # Packer's "Script disconnected unexpectedly".
  # TCG runs both vCPUs in one host thread (thread=single): a CI build and
  # the next build here had the guest wedge with both of qemu's vCPU
  # threads spinning and no word from the guest kernel, as TestImage once
  # did; the guest still sees two CPUs. -machine is given here because qemu refuses
  # -accel beside -machine accel=, which Packer's accelerator sets.
  qemuargs = [
    ["-machine", "type=pc"],
    ["-accel", "tcg,thread=single"],
    ["-serial", "file:${var.serial_log}"],
    ["-kernel", var.kernel],
    ["-initrd", var.initrd],
    ["-append", "root=LABEL=MIROOT ro console=tty1 console=ttyS0,115200n8"],
  ]
}

build {
  sources = ["source.qemu.appliance"]

  provisioner "shell" {
    script  = "scripts/image-guest-bootloader.sh"
    timeout = "10m"
  }

  provisioner "shell" {
    script = "scripts/image-guest-checks.sh"
    # A guest that stops answering fails the build in bounded time.
    timeout = "10m"
  }

  provisioner "shell" {
    script            = "scripts/image-guest-reset.sh"
    expect_disconnect = true
  }
}
