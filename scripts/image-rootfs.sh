#!/usr/bin/env bash
# Step 1 of the image: the root filesystem as a tar, made by mmdebstrap from
# Debian 12 packages, with bin/mailinspector and rootfs/ laid over it, and
# the sandbox's libvirt definitions (isolated network, storage pool, domain
# template) from packer/sandbox-guest/.
#   scripts/image-rootfs.sh [OUT.tar]        (default build/image/rootfs.tar)
# Needs: mmdebstrap, a Debian mirror (MIRROR), bin/mailinspector (make build).
# BUILD_KEY=FILE.pub adds build access for Packer (root by that key over SSH);
# the Packer build removes it again before it shuts the image down.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-build/image/rootfs.tar}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
mkdir -p "$(dirname "$OUT")"
[[ -x bin/mailinspector ]] || { echo "bin/mailinspector is missing: make build" >&2; exit 1; }
# rootfs/ as a tar, so that its symlinks and modes arrive as they are.
overlay="$(mktemp /tmp/mailinspector-overlay.XXXXXX.tar)"
seed="$(mktemp -d /tmp/mailinspector-seed.XXXXXX)"
trap 'rm -rf "$overlay" "$seed"' EXIT
# The seed: the project's signatures (testdata/clamav) as a signed bundle
# the daemon installs at its first start (updates.seed_dir), so that the
# appliance scans with clamd from its first message. The key is made here
# and its private half thrown away once the bundle is signed: it can sign
# nothing else. The files also go into clamd's folder as they will be
# installed, for clamd's first start (clamd does not start on no database).
mkdir "$seed/src" "$seed/out"
cp testdata/clamav/mailinspector-test.* "$seed/src/"
printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$seed/src/eicar.canary"
bin/mailinspector bundle keygen --out "$seed/image-seed" >/dev/null
bin/mailinspector bundle sign --key "$seed/image-seed" --kind clamav --version 1 --expires 87600h \
	--canary eicar.canary=MailInspector.Test.EICAR.Body.UNOFFICIAL --out "$seed/out/clamav-1.bundle" "$seed/src"
rm -f "$seed/image-seed"
cp "$seed/image-seed.pub" "$seed/out/image-seed.pub"
tar --owner=root --group=root -C rootfs -cf "$overlay" .
# polkitd: its rule (rootfs/usr/share/polkit-1/rules.d) lets the daemon's
# user restart its unit, reboot and power off through systemd's D-Bus API
# (restart, reboot, shutdown on the command line) and nothing else.
# dns-root-data: the root trust anchor and hints unbound needs to validate
# (a Recommends of unbound's, which minbase leaves out; without it unbound
# exits at every start and the DNS reputation checks have no resolver).
# grub-pc and the signed shim and GRUB for UEFI (with grub-efi-amd64-bin):
# the guest installs them to its disk during the Packer build
# (scripts/image-guest-bootloader.sh); dosfstools checks the EFI system
# partition at boot. zstd: initramfs-tools' default compression, without
# which it falls back to gzip with a warning (it did not make virt-v2v's
# initramfs rebuild under TCG faster: README). open-vm-tools and qemu-guest-agent:
# the hypervisors' agents (rootfs/etc/qemu/qemu-ga.conf keeps the latter to
# what a hypervisor needs).
PACKAGES=(
	linux-image-amd64 initramfs-tools grub-pc grub-efi-amd64-bin grub-efi-amd64-signed shim-signed dosfstools zstd
	systemd systemd-sysv udev dbus polkitd
	openssh-server clamav-daemon clamav-freshclam unbound dns-root-data chrony open-vm-tools qemu-guest-agent
	iproute2 iputils-ping ca-certificates passwd less
	libvirt-daemon-system qemu-system-x86 qemu-utils
)
BUILD_HOOKS=()
if [[ -n ${BUILD_KEY:-} ]]; then
	BUILD_HOOKS=(
		--customize-hook="mkdir -p \"\$1/root/.ssh\" && cat $(printf %q "$BUILD_KEY") > \"\$1/root/.ssh/authorized_keys\" && chmod 700 \"\$1/root/.ssh\""
		--customize-hook='printf "PermitRootLogin prohibit-password\nAllowUsers root admin\nAuthorizedKeysFile .ssh/authorized_keys\n" > "$1/etc/ssh/sshd_config.d/00-build.conf"'
		--customize-hook='chroot "$1" ssh-keygen -A'
		--customize-hook='printf "[Match]\nName=en*\n\n[Network]\nDHCP=yes\n" > "$1/etc/systemd/network/99-build.network"'
		--customize-hook='chroot "$1" systemctl enable ssh.service'
	)
fi
mmdebstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" \
	--customize-hook="tar-in $overlay /" \
	--customize-hook='copy-in bin/mailinspector /usr/bin' \
	--customize-hook='chroot "$1" systemd-sysusers' \
	--customize-hook='sed -i "s/^ArchiveBlockEncrypted .*/AlertEncrypted true/" "$1/etc/clamav/clamd.conf"; grep -qx "AlertEncrypted true" "$1/etc/clamav/clamd.conf" || echo "AlertEncrypted true" >> "$1/etc/clamav/clamd.conf"' \
	--customize-hook='mkdir -p "$1/usr/share/mailinspector/sandbox" "$1/etc/libvirt/qemu/networks/autostart" "$1/etc/libvirt/storage/autostart"' \
	--customize-hook='mkdir -p "$1/usr/share/mailinspector/bundles" "$1/usr/share/mailinspector/keys"' \
	--customize-hook="copy-in $seed/out/clamav-1.bundle /usr/share/mailinspector/bundles" \
	--customize-hook="copy-in $seed/out/image-seed.pub /usr/share/mailinspector/keys" \
	--customize-hook="for f in $seed/src/mailinspector-test.*; do cp \"\$f\" \"\$1/var/lib/clamav/mi-clamav--\$(basename \"\$f\")\"; done" \
	--customize-hook='chroot "$1" sh -c "chown clamav:clamav /var/lib/clamav/mi-clamav--*; chmod 0644 /var/lib/clamav/mi-clamav--*; chmod 2775 /var/lib/clamav"' \
	--customize-hook='copy-in packer/sandbox-guest/linux-domain.xml /usr/share/mailinspector/sandbox' \
	--customize-hook='cp packer/sandbox-guest/network.xml "$1/etc/libvirt/qemu/networks/mi-sandbox.xml"; ln -sf ../mi-sandbox.xml "$1/etc/libvirt/qemu/networks/autostart/mi-sandbox.xml"' \
	--customize-hook='cp packer/sandbox-guest/storage-pool.xml "$1/etc/libvirt/storage/mi-sandbox.xml"; ln -sf ../mi-sandbox.xml "$1/etc/libvirt/storage/autostart/mi-sandbox.xml"' \
	--customize-hook='chroot "$1" sh -c "grep -qx /usr/bin/mailinspector-shell /etc/shells || echo /usr/bin/mailinspector-shell >> /etc/shells"' \
	--customize-hook='chroot "$1" passwd -l root' \
	--customize-hook='chroot "$1" passwd -l admin' \
	--customize-hook='chroot "$1" systemctl enable systemd-networkd.service mailinspector.service mailinspector-console@tty1.service mailinspector-console@ttyS0.service clamav-daemon.socket clamav-daemon.service' \
	--customize-hook='chroot "$1" systemctl disable ssh.service getty@tty1.service' \
	--customize-hook='chroot "$1" systemctl mask serial-getty@ttyS0.service' \
	--customize-hook='printf "%s\n" "LABEL=MIROOT / ext4 errors=remount-ro 0 1" "LABEL=MIEFI /boot/efi vfat umask=0077,nofail 0 2" "LABEL=MIDATA /var/lib/mailinspector ext4 defaults,nofail 0 2" > "$1/etc/fstab"; mkdir -p "$1/boot/efi"' \
	--customize-hook='echo mailinspector > "$1/etc/hostname"; echo uninitialized > "$1/etc/machine-id"; rm -f "$1"/etc/ssh/ssh_host_*' \
	--customize-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"; echo MODULES=most > "$1/etc/initramfs-tools/conf.d/mailinspector"' \
	--customize-hook='chroot "$1" update-initramfs -u -k all' \
	"${BUILD_HOOKS[@]}" \
	bookworm "$OUT" "$MIRROR"
echo "rootfs: $OUT ($(du -h "$OUT" | cut -f1))"
