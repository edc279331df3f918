#!/usr/bin/env bash
# Installs, with apt-get, what building and booting the image needs.
set -euo pipefail
need=()
for t in mmdebstrap:mmdebstrap qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils syslinux:syslinux \
	mcopy:mtools mkfs.fat:dosfstools sfdisk:fdisk mkfs.ext4:e2fsprogs ssh-keygen:openssh-client ${WITH_PACKER:+packer:packer}; do
	command -v "${t%%:*}" >/dev/null || [[ -x /usr/sbin/${t%%:*} ]] || need+=("${t#*:}")
done
[[ -f /usr/lib/syslinux/mbr/mbr.bin ]] || need+=(syslinux-common)
if ((${#need[@]} == 0)); then
	echo "image-setup: everything is installed"
	exit 0
fi
SUDO=""
[[ $(id -u) == 0 ]] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
