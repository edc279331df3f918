#!/usr/bin/env bash
# Installs, with apt-get, what the test suite uses when it is missing.
# Idempotent; runs as root (CI) or through sudo.
set -euo pipefail
need=()
command -v swaks >/dev/null || need+=(swaks)
command -v postfix >/dev/null || [[ -x /usr/sbin/postfix ]] || need+=(postfix)
command -v sqlite3 >/dev/null || need+=(sqlite3)
# zip and 7z make real encrypted archives (ZipCrypto, WinZip AES) for the archive tests.
command -v zip >/dev/null || need+=(zip)
command -v 7z >/dev/null || need+=(p7zip-full)
# clamd for the pattern-engine tests (they run a private one with testdata/clamav).
command -v clamd >/dev/null || [[ -x /usr/sbin/clamd ]] || need+=(clamav-daemon)
# Python's email package is the lenient mail client of the MIME walk's
# differential tests (internal/message).
command -v python3 >/dev/null || need+=(python3)
# swaks --tls needs Net::SSLeay.
perl -MNet::SSLeay -e1 2>/dev/null || need+=(libnet-ssleay-perl)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
# ssh-keygen makes and fingerprints host keys in the console tests (chpasswd is in passwd,
# which every Debian has).
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v chpasswd >/dev/null || [[ -x /usr/sbin/chpasswd ]] || need+=(passwd)
# OpenSSH's sshd -T and unbound-checkconf check the appliance's drop-ins for them.
command -v sshd >/dev/null || [[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
command -v unbound-checkconf >/dev/null || [[ -x /usr/sbin/unbound-checkconf ]] || need+=(unbound)
# systemd-analyze rates the hardening of rootfs/'s unit (offline, no running systemd).
command -v systemd-analyze >/dev/null || need+=(systemd)
# libvirtd (its test:/// driver on a private socket) for the sandbox orchestration tests;
# libvirt-daemon-system, not libvirt-daemon alone, or libvirtd lacks its users.
[[ -x /usr/sbin/libvirtd ]] || need+=(libvirt-daemon-system libvirt-clients)
# strace watches samples in the sandbox agent's tests (the guest image has it too).
command -v strace >/dev/null || need+=(strace)
# curl fetches links and pdftoppm opens PDFs in the agent's tests, as in the guest.
command -v curl >/dev/null || need+=(curl)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
# rsyslog (with its TLS driver) is the SOC's collector of the SIEM export tests.
command -v rsyslogd >/dev/null || [[ -x /usr/sbin/rsyslogd ]] || need+=(rsyslog)
[[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ]] || compgen -G '/usr/lib/*/rsyslog/lmnsd_gtls.so' >/dev/null || need+=(rsyslog-gnutls)
# Debian's chromium, driven by chromedp, is the browser of the web console's tests.
command -v chromium >/dev/null || need+=(chromium)
# nft checks the sandbox guest's port-25 redirect ruleset.
command -v nft >/dev/null || [[ -x /usr/sbin/nft ]] || need+=(nftables)
if ((${#need[@]} == 0)); then
	echo "test-setup: everything is installed"
	exit 0
fi
SUDO=""
[[ $(id -u) == 0 ]] || SUDO=sudo
echo "test-setup: installing ${need[*]}"
# Postfix asks how to configure itself; the tests run their own instances.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
