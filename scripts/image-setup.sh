#!/usr/bin/env bash
# Installs, with apt-get, what building and booting the image needs.
set -euo pipefail
need=()
for t in mmdebstrap:mmdebstrap qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils syslinux:syslinux \
	mcopy:mtools mkfs.fat:dosfstools sfdisk:fdisk mkfs.ext4:e2fsprogs ssh-keygen:openssh-client ${WITH_PACKER:+packer:packer}; do
	command -v "${t%%:*}" >/dev/null || [[ -x /usr/sbin/${t%%:*} ]] || need+=("${t#*:}")
done
[[ -f /usr/lib/syslinux/mbr/mbr.bin ]] || need+=(syslinux-common)
# The image test: OVMF (UEFI firmware for qemu), virt-v2v to import the
# OVA as a KVM administrator does; libguestfs under it boots a small
# appliance built by supermin from the host's kernel, which a container
# may not have.
[[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ]] || need+=(ovmf)
command -v virt-v2v >/dev/null || need+=(virt-v2v)
# virt-v2v writes its output through nbdkit and copies with nbdcopy, and
# says so only when it gets there.
command -v nbdkit >/dev/null || need+=(nbdkit)
command -v nbdcopy >/dev/null || need+=(libnbd-bin)
command -v virt-xml-validate >/dev/null || need+=(libvirt-clients)
command -v xmllint >/dev/null || need+=(libxml2-utils) # virt-xml-validate's
compgen -G "/boot/vmlinuz-*" >/dev/null || need+=(linux-image-amd64)
if ((${#need[@]} == 0)); then
	echo "image-setup: everything is installed"
	exit 0
fi
SUDO=""
[[ $(id -u) == 0 ]] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
