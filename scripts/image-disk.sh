#!/usr/bin/env bash
# Step 2 of the image: a bootable disk from the rootfs tar, assembled without
# loop devices or mounts (NOTES.md): a FAT boot partition with syslinux
# (written with mtools), the root as ext4 made with mkfs.ext4 -d, a separate
# ext4 data partition for /var/lib/mailinspector, an MBR from syslinux.
#   scripts/image-disk.sh ROOTFS.tar OUT.qcow2
# DATA_MB=0 leaves out the data partition (the sandbox guest has none).
# Needs root (to unpack the tar with its owners), mkfs.ext4, mkfs.fat,
# mtools, syslinux, sfdisk, qemu-img.
set -euo pipefail
ROOTFS="$1" OUT="$2"
BOOT_MB=256 DATA_MB="${DATA_MB:-4096}"
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

# Boot: kernel, initramfs, syslinux; both consoles, the serial one last so
# that it is /dev/console (the boot test reads it).
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

# The disk: 1 MiB for the MBR, then boot, root, data.
total=$(( 1 + BOOT_MB + ROOT_MB + DATA_MB ))
truncate -s "${total}M" "$work/disk.raw"
{
	echo "label: dos"
	echo "start=1MiB, size=${BOOT_MB}MiB, type=c, bootable"
	echo "size=${ROOT_MB}MiB, type=83"
	(( DATA_MB > 0 )) && echo "size=${DATA_MB}MiB, type=83"
	true
} | sfdisk -q "$work/disk.raw"
dd if="$work/boot.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc status=none
dd if="$work/root.img" of="$work/disk.raw" bs=1M seek=$(( 1 + BOOT_MB )) conv=notrunc,sparse status=none
if (( DATA_MB > 0 )); then
	dd if="$work/data.img" of="$work/disk.raw" bs=1M seek=$(( 1 + BOOT_MB + ROOT_MB )) conv=notrunc,sparse status=none
fi
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
mkdir -p "$(dirname "$OUT")"
qemu-img convert -O qcow2 -c "$work/disk.raw" "$OUT"
echo "disk: $OUT ($(du -h "$OUT" | cut -f1)), root ${ROOT_MB} MiB, data ${DATA_MB} MiB"
