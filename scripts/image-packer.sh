#!/usr/bin/env bash
# Step 3 of the image: Packer boots the assembled disk (its kernel started
# directly), the guest installs its boot loader, runs the in-guest checks
# and the first-boot reset (packer/appliance.pkr.hcl).
#   scripts/image-packer.sh BASE.qcow2 BUILD_KEY OUT.qcow2 VERSION
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="$(realpath "$1")" KEY="$2" OUT="$3" VERSION="$4"
outdir="$(mktemp -d /var/tmp/mailinspector-packer.XXXXXX)"
rmdir "$outdir" # packer wants to create it
serial="$(mktemp /var/tmp/mailinspector-packer-serial.XXXXXX.log)"
trap 'rm -rf "$outdir" "$serial"' EXIT
if ! CHECKPOINT_DISABLE=1 PACKER_LOG="${PACKER_LOG:-0}" packer build -color=false \
	-var "base_image=$BASE" -var "output_dir=$outdir" -var "build_key=$KEY" -var "version=$VERSION" \
	-var "serial_log=$serial" -var "kernel=${BASE%.qcow2}.vmlinuz" -var "initrd=${BASE%.qcow2}.initrd" \
	packer/appliance.pkr.hcl; then
	# What the guest said last (kernel, systemd, the console), so that a
	# guest that stopped answering says why, or at least when.
	echo "packer failed; the guest's serial console, last 60 lines:" >&2
	tail -n 60 "$serial" | tr -d '\r' | sed 's/\x1b\[[0-9;]*m//g' >&2
	exit 1
fi
mv "$outdir/mailinspector-$VERSION.qcow2" "$OUT"
echo "packer: $OUT"
