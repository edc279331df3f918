#!/usr/bin/env bash
# Sandbox guest, step 3: Packer boots the assembled guest disk once; the
# guest checks itself (agent, strace, the programs that open samples),
# resets its first-boot state and powers off (packer/sandbox-guest.pkr.hcl).
#   scripts/sandbox-guest-packer.sh BASE.qcow2 OUT.qcow2
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="$(realpath "$1")" OUT="$2"
outdir="$(mktemp -d /var/tmp/mailinspector-guest-packer.XXXXXX)"
rmdir "$outdir" # packer wants to create it
serial="$(mktemp /var/tmp/mailinspector-guest-serial.XXXXXX.log)"
trap 'rm -rf "$outdir" "$serial"' EXIT
CHECKPOINT_DISABLE=1 PACKER_LOG="${PACKER_LOG:-0}" packer build -color=false \
	-var "base_image=$BASE" -var "output_dir=$outdir" -var "serial_log=$serial" \
	packer/sandbox-guest.pkr.hcl
mv "$outdir/guest.qcow2" "$OUT"
echo "packer: $OUT"
