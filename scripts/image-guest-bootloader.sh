#!/bin/sh
# The image's boot loader, installed by the guest itself during the Packer
# build (the first boot started the kernel directly): Debian's own
# grub-install for BIOS (core image in the BIOS boot partition) and for
# UEFI (signed shim and GRUB in the EFI system partition, at the path
# firmware looks for without boot entries, and under EFI/debian where
# import tools look for grub.cfg), then update-grub. Done here rather than
# on the build host because grub-install needs the disk as a block device
# and the file systems mounted: in the guest that is its own disk, on the
# host it would take loop devices and mounts.
set -eu
root=$(findmnt -no SOURCE /)
disk=/dev/$(lsblk -no PKNAME "$root")
mountpoint -q /boot/efi || mount /boot/efi
grub-install --target=i386-pc "$disk"
grub-install --target=x86_64-efi --efi-directory=/boot/efi --bootloader-id=debian \
	--no-nvram --force-extra-removable
update-grub
# What the boot needs, checked where it was made.
grep -q 'root=LABEL=MIROOT' /boot/grub/grub.cfg
for f in EFI/BOOT/BOOTX64.EFI EFI/BOOT/grubx64.efi EFI/debian/shimx64.efi EFI/debian/grubx64.efi EFI/debian/grub.cfg; do
	[ -s "/boot/efi/$f" ] || { echo "missing /boot/efi/$f" >&2; exit 1; }
done
echo "in-guest boot loader: GRUB on $disk for BIOS and UEFI, $(grep -c '^menuentry' /boot/grub/grub.cfg) menu entry, root=LABEL=MIROOT"
