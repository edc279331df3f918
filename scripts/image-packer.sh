#!/usr/bin/env bash
# Step 3 of the image: Packer boots the assembled disk, runs the in-guest
# checks and the first-boot reset (packer/appliance.pkr.hcl).
#   scripts/image-packer.sh BASE.qcow2 BUILD_KEY OUT.qcow2 VERSION
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="$(realpath "$1")" KEY="$2" OUT="$3" VERSION="$4"
outdir="$(mktemp -d /var/tmp/mailinspector-packer.XXXXXX)"
rmdir "$outdir" # packer wants to create it
trap 'rm -rf "$outdir"' EXIT
CHECKPOINT_DISABLE=1 PACKER_LOG="${PACKER_LOG:-0}" packer build -color=false \
	-var "base_image=$BASE" -var "output_dir=$outdir" -var "build_key=$KEY" -var "version=$VERSION" \
	packer/appliance.pkr.hcl
mv "$outdir/mailinspector-$VERSION.qcow2" "$OUT"
echo "packer: $OUT"
