#!/usr/bin/env bash
# Sandbox guest, step 1: the Linux guest's root filesystem as a tar, made
# by mmdebstrap from Debian 12 packages: a kernel, systemd, strace (the
# tracer), curl, python3, perl and poppler's pdftoppm to open samples,
# nftables for the guest's port-25 redirect, the static agent and
# packer/sandbox-guest/ laid over it. Lean on purpose: under TCG every
# service costs seconds of boot.
#   scripts/sandbox-guest-rootfs.sh [OUT.tar]   (default build/sandbox/guest-rootfs.tar)
# Needs: mmdebstrap, a Debian mirror (MIRROR), bin/mailinspector-agent (make agent).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-build/sandbox/guest-rootfs.tar}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
mkdir -p "$(dirname "$OUT")"
[[ -x bin/mailinspector-agent ]] || { echo "bin/mailinspector-agent is missing: make agent" >&2; exit 1; }
G=packer/sandbox-guest
PACKAGES=(
	linux-image-amd64 initramfs-tools systemd systemd-sysv udev
	iproute2 nftables strace curl python3-minimal perl-base ca-certificates passwd
	poppler-utils
)
mmdebstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" \
	--customize-hook="copy-in bin/mailinspector-agent /usr/local/bin" \
	--customize-hook='mv "$1/usr/local/bin/mailinspector-agent" "$1/usr/local/bin/mailinspector"' \
	--customize-hook="copy-in $G/mailinspector-guest-setup $G/mailinspector-guest-selfcheck /usr/local/sbin" \
	--customize-hook="copy-in $G/mailinspector-guest-setup.service $G/mailinspector-agent.service $G/mailinspector-guest-selfcheck.service /etc/systemd/system" \
	--customize-hook='chroot "$1" useradd -m -s /bin/bash analyst' \
	--customize-hook='chroot "$1" install -d -o analyst -g analyst /home/analyst/work' \
	--customize-hook='chroot "$1" systemctl enable mailinspector-guest-setup.service mailinspector-agent.service mailinspector-guest-selfcheck.service' \
	--customize-hook='touch "$1/etc/mailinspector-selfcheck-pending"' \
	--customize-hook='chroot "$1" systemctl mask getty@tty1.service serial-getty@ttyS0.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer 2>/dev/null || true' \
	--customize-hook='chroot "$1" passwd -l root' \
	--customize-hook='echo "LABEL=MIROOT / ext4 errors=remount-ro 0 1" > "$1/etc/fstab"; echo sandbox > "$1/etc/hostname"; echo uninitialized > "$1/etc/machine-id"' \
	--customize-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"; echo MODULES=most > "$1/etc/initramfs-tools/conf.d/sandbox"' \
	--customize-hook='chroot "$1" update-initramfs -u -k all' \
	bookworm "$OUT" "$MIRROR"
echo "guest rootfs: $OUT ($(du -h "$OUT" | cut -f1))"
