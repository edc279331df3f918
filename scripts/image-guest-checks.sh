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
