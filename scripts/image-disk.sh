#!/usr/bin/env bash
# Step 2 of the image: a disk from the rootfs tar, assembled without loop
# devices or mounts (NOTES.md): partitions made as files (mkfs.ext4 -d,
# mkfs.fat) and copied into a raw disk at their offsets.
#   scripts/image-disk.sh ROOTFS.tar OUT.qcow2
# The appliance (BOOT=grub, the default): GPT with a BIOS boot partition,
# an EFI system partition (empty FAT, label MIEFI), the root (ext4, label
# MIROOT, /boot inside it) and a data partition (MIDATA) for
# /var/lib/mailinspector. There is no boot loader yet: the kernel and
# initramfs are written beside OUT (OUT without .qcow2, plus .vmlinuz and
# .initrd), the Packer build starts them directly and the guest installs
# GRUB for BIOS and UEFI itself (scripts/image-guest-bootloader.sh): GRUB's
# installer wants a block device and mounted file systems, which here
# would take loop devices and mounts.
# The sandbox guest (BOOT=syslinux DATA_MB=0): MBR, a FAT /boot with
# syslinux written with mtools, the root; it only ever boots in the
# appliance's own libvirt.
# Needs root (to unpack the tar with its owners), mkfs.ext4, mkfs.fat,
# sfdisk, qemu-img; for syslinux also mtools and syslinux.
set -euo pipefail
ROOTFS="$1" OUT="$2"
BOOT="${BOOT:-grub}" DATA_MB="${DATA_MB:-4096}"
work="$(mktemp -d /var/tmp/mailinspector-disk.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/root"
tar -C "$work/root" --numeric-owner -xpf "$ROOTFS"
kernel="$(readlink -f "$work/root/vmlinuz" 2>/dev/null || true)"
[[ -f $kernel ]] || kernel="$(ls "$work"/root/boot/vmlinuz-* | tail -1)"
initrd="$(ls "$work"/root/boot/initrd.img-* | tail -1)"

# Root: its size is the content plus a third for logs and updates.
used_mb=$(du -sm "$work/root" | cut -f1)
ROOT_MB=$(( used_mb + used_mb / 3 + 512 ))
truncate -s "${ROOT_MB}M" "$work/root.img"
mkfs.ext4 -q -L MIROOT -d "$work/root" "$work/root.img"
if (( DATA_MB > 0 )); then
	truncate -s "${DATA_MB}M" "$work/data.img"
	mkfs.ext4 -q -L MIDATA "$work/data.img"
fi

# put IMG START_MB: one partition's file system into the disk.
put() { dd if="$1" of="$work/disk.raw" bs=1M seek="$2" conv=notrunc,sparse status=none; }

case "$BOOT" in
grub)
	# 1 MiB for the protective MBR and GPT, 1 MiB BIOS boot (GRUB's core
	# image), 128 MiB EFI system partition (FAT32 needs > 32 MiB), root,
	# data, and 1 MiB for the backup GPT.
	BIOS_MB=1 ESP_MB=128
	mkfs.fat -F 32 -n MIEFI -C "$work/esp.img" $(( ESP_MB * 1024 )) >/dev/null
	total=$(( 1 + BIOS_MB + ESP_MB + ROOT_MB + DATA_MB + 1 ))
	truncate -s "${total}M" "$work/disk.raw"
	{
		echo "label: gpt"
		echo "start=1MiB, size=${BIOS_MB}MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios"
		echo "size=${ESP_MB}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp"
		echo "size=${ROOT_MB}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root"
		(( DATA_MB > 0 )) && echo "size=${DATA_MB}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=data"
		true
	} | sfdisk -q "$work/disk.raw"
	put "$work/esp.img" $(( 1 + BIOS_MB ))
	put "$work/root.img" $(( 1 + BIOS_MB + ESP_MB ))
	(( DATA_MB > 0 )) && put "$work/data.img" $(( 1 + BIOS_MB + ESP_MB + ROOT_MB ))
	cp "$kernel" "${OUT%.qcow2}.vmlinuz"
	cp "$initrd" "${OUT%.qcow2}.initrd"
	;;
syslinux)
	# Kernel, initramfs and syslinux on FAT; both consoles, the serial one
	# last so that it is /dev/console.
	BOOT_MB=256
	cat > "$work/syslinux.cfg" <<CFG
SERIAL 0 115200
DEFAULT mailinspector
PROMPT 0
TIMEOUT 0
LABEL mailinspector
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND root=LABEL=MIROOT ro console=tty1 console=ttyS0,115200n8
CFG
	mkfs.fat -C -n MIBOOT "$work/boot.img" $(( BOOT_MB * 1024 )) >/dev/null
	mcopy -i "$work/boot.img" "$kernel" ::/vmlinuz
	mcopy -i "$work/boot.img" "$initrd" ::/initrd.img
	mcopy -i "$work/boot.img" "$work/syslinux.cfg" ::/syslinux.cfg
	syslinux --install "$work/boot.img"
	total=$(( 1 + BOOT_MB + ROOT_MB + DATA_MB ))
	truncate -s "${total}M" "$work/disk.raw"
	{
		echo "label: dos"
		echo "start=1MiB, size=${BOOT_MB}MiB, type=c, bootable"
		echo "size=${ROOT_MB}MiB, type=83"
		(( DATA_MB > 0 )) && echo "size=${DATA_MB}MiB, type=83"
		true
	} | sfdisk -q "$work/disk.raw"
	put "$work/boot.img" 1
	put "$work/root.img" $(( 1 + BOOT_MB ))
	(( DATA_MB > 0 )) && put "$work/data.img" $(( 1 + BOOT_MB + ROOT_MB ))
	dd if=/usr/lib/syslinux/mbr/mbr.bin of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
	;;
*)
	echo "BOOT=$BOOT: grub or syslinux" >&2
	exit 2
	;;
esac
mkdir -p "$(dirname "$OUT")"
qemu-img convert -O qcow2 -c "$work/disk.raw" "$OUT"
echo "disk: $OUT ($(du -h "$OUT" | cut -f1)), $BOOT, root ${ROOT_MB} MiB, data ${DATA_MB} MiB"
