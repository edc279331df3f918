#!/bin/sh
# The build boot was the image's first boot: make everything a customer's
# first boot needs fresh again, remove the build access, power off.
set -eu
systemctl stop mailinspector.service 2>/dev/null || true
systemctl reset-failed mailinspector.service 2>/dev/null || true
find /var/lib/mailinspector -mindepth 1 -delete
rm -f /etc/ssh/sshd_config.d/00-build.conf /etc/ssh/ssh_host_* /etc/systemd/network/99-build.network
rm -rf /root/.ssh
systemctl disable ssh.service
passwd -l root >/dev/null
echo uninitialized > /etc/machine-id
rm -f /var/lib/dbus/machine-id
journalctl --rotate >/dev/null 2>&1 || true
rm -rf /var/log/journal/* /var/log/*.log
# Packer stops the machine as soon as it has removed this script (it has
# no key left to send a shutdown command with): the EFI partition is
# unmounted first, so that nothing finds it dirty (virt-v2v did), and the
# root synced (it stays writable for Packer's clean-up; ext4's journal
# covers that last write).
umount /boot/efi
sync
echo "reset done; EFI partition unmounted; powering off"
(sleep 2; systemctl poweroff) >/dev/null 2>&1 &
