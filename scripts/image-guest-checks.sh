#!/bin/sh
# In-guest checks of the image build (run by Packer as root in the booted
# image): the daemon's unit as systemd itself rates it, and the watchdog
# restarting a daemon that stops answering (kill -STOP).
set -eu
score=$(systemd-analyze security --no-pager mailinspector.service | sed -n 's/.*Overall exposure level for mailinspector.service: \([0-9.]*\).*/\1/p')
echo "in-guest systemd-analyze security: $score"
awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'

# The watchdog, with a short interval for the check only.
mkdir -p /run/systemd/system/mailinspector.service.d
printf '[Service]\nWatchdogSec=6s\n' > /run/systemd/system/mailinspector.service.d/check.conf
touch /var/lib/mailinspector/.firstboot-done
systemctl daemon-reload
systemctl start mailinspector.service
pid=$(systemctl show -p MainPID --value mailinspector.service)
kill -STOP "$pid"
new=$pid n=0
for i in $(seq 90); do
	new=$(systemctl show -p MainPID --value mailinspector.service)
	n=$(systemctl show -p NRestarts --value mailinspector.service)
	if [ "$new" != "$pid" ] && [ "$new" != 0 ] && [ "$n" -ge 1 ]; then break; fi
	sleep 1
done
if [ "$new" = "$pid" ] || [ "$n" -lt 1 ]; then
	echo "the watchdog did not restart the stopped daemon" >&2
	journalctl -u mailinspector.service --no-pager | tail -20 >&2
	exit 1
fi
echo "in-guest watchdog: the stopped daemon (pid $pid) was restarted as pid $new (NRestarts=$n)"
systemctl stop mailinspector.service
rm -rf /run/systemd/system/mailinspector.service.d
systemctl daemon-reload

# The sandbox's libvirt host: libvirtd answers the daemon's user (a member
# of the libvirt group), the isolated network and the storage pool are up.
if ! runuser -u mailinspector -- virsh -c qemu:///system version >/dev/null; then
	echo "the daemon's user cannot reach libvirtd" >&2
	exit 1
fi
virsh -c qemu:///system net-info mi-sandbox | grep -q '^Active:.*yes' || { echo "network mi-sandbox is not active" >&2; exit 1; }
virsh -c qemu:///system pool-info mi-sandbox | grep -q '^State:.*running' || { echo "storage pool mi-sandbox is not running" >&2; exit 1; }
ip -4 addr show mi-sbx0 | grep -q '10.77.0.1/24' || { echo "no 10.77.0.1 on mi-sbx0" >&2; exit 1; }
echo "in-guest sandbox host: libvirtd answers the daemon's user; network mi-sandbox and pool mi-sandbox are up"

# clamd's temporary files go to a private tmpfs (our drop-in for Debian's unit).
systemctl show -p TemporaryFileSystem clamav-daemon.service | grep -q '/tmp:size=1G' || {
	echo "clamav-daemon.service has no private tmpfs on /tmp: $(systemctl show -p TemporaryFileSystem clamav-daemon.service)" >&2
	exit 1
}
echo "in-guest clamd: temporary files on a private 1G tmpfs"

# The local resolver the DNS reputation checks ask (dns.resolver =
# 127.0.0.1:53) runs: unbound with DNSSEC needs the root trust anchor
# (dns-root-data), without which it exits at every start.
systemctl is-active --quiet unbound.service || {
	echo "unbound.service is not running" >&2
	journalctl -u unbound.service --no-pager | tail -10 >&2
	exit 1
}
echo "in-guest unbound: running on 127.0.0.1:53"

# clamd runs on the image's seed of the project's signatures (Debian's unit
# would wait for freshclam's main and daily databases: our drop-in resets
# that condition), so the appliance scans from its first message.
for _ in $(seq 60); do systemctl is-active --quiet clamav-daemon.service && [ -S /run/clamav/clamd.ctl ] && break; sleep 2; done
systemctl is-active --quiet clamav-daemon.service || {
	echo "clamav-daemon.service is not running" >&2
	systemctl status clamav-daemon.service --no-pager >&2 || true
	journalctl -u clamav-daemon.service --no-pager | tail -20 >&2
	exit 1
}
echo "in-guest clamd: running on the seed ($(ls /var/lib/clamav | grep -c '^mi-clamav--') files)"

# The QEMU guest agent reads its configuration, with the commands a
# hypervisor must not have (run, files, passwords, keys) blocked.
conf=$(qemu-ga --dump-conf)
case "$conf" in
*guest-exec\;*guest-file-open\;*guest-set-user-password\;*) ;;
*) echo "qemu-ga does not block what rootfs/etc/qemu/qemu-ga.conf blocks:" >&2; echo "$conf" >&2; exit 1 ;;
esac
echo "in-guest qemu-ga: guest-exec, file and password commands blocked"
