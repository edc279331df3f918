#!/usr/bin/env bash
# Boots an image under qemu (TCG, no KVM needed) with its serial console in
# a log, and waits for the first-boot wizard to greet on ttyS0.
#   scripts/image-boot-test.sh IMAGE.qcow2 [TIMEOUT_S]
set -euo pipefail
IMG="$1" TIMEOUT="${2:-600}"
work="$(mktemp -d /var/tmp/mailinspector-boot.XXXXXX)"
qemu-system-x86_64 -machine q35 -accel tcg,thread=single -m 1536 -smp 2 -display none \
	-drive "file=$IMG,if=virtio,snapshot=on" -nic user,model=virtio-net-pci \
	-serial "file:$work/serial.log" -pidfile "$work/qemu.pid" -daemonize
trap 'kill "$(cat "$work/qemu.pid")" 2>/dev/null; echo "serial log: $work/serial.log"' EXIT
start=$SECONDS
while (( SECONDS - start < TIMEOUT )); do
	if grep -q "Mail Inspector — first boot" "$work/serial.log" 2>/dev/null; then
		echo "first-boot wizard on ttyS0 after $(( SECONDS - start )) s"
		exit 0
	fi
	sleep 2
done
echo "no wizard on ttyS0 within ${TIMEOUT}s; the end of the serial log:" >&2
tail -30 "$work/serial.log" >&2
exit 1
