#!/usr/bin/env bash
# make run: the appliance on a fresh data directory, with what it needs to
# really inspect on this machine: a private clamd loading the project's own
# signatures (testdata/clamav; installed with apt-get when missing), and with
# RUN_HUB=1 a local intelligence hub fed from the project's feed files
# (internal/hub/testdata). Ctrl-C, or a signal to the process group, stops
# everything it started.
#
# Knobs: RUN_DIR [run-data], RUN_SMTP [127.0.0.1:2525], RUN_HUB [0],
# RUN_HUB_LISTEN [127.0.0.1:8444], RUN_WEB [127.0.0.1:8443: the web console], RUN_CLICK [127.0.0.1:8025: the click
# service of time-of-click; "" for none], RUN_CLAMD [1; 0 runs without a pattern
# engine: every message is then unrated and attachments are held], and
# arguments passed on to `mailinspector serve` (make run ARGS="--set K=V").
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR="${RUN_DIR:-$PWD/run-data}" RUN_SMTP="${RUN_SMTP:-127.0.0.1:2525}"
RUN_HUB="${RUN_HUB:-0}" RUN_HUB_LISTEN="${RUN_HUB_LISTEN:-127.0.0.1:8444}" RUN_CLAMD="${RUN_CLAMD:-1}"
MI="$PWD/bin/mailinspector"
[[ -x $MI ]] || { echo "run: $MI is not built (make run builds it)" >&2; exit 1; }

rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
pids=()
stop() {
	trap - INT TERM EXIT
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
RUN_WEB="${RUN_WEB:-127.0.0.1:8443}" RUN_CLICK="${RUN_CLICK-127.0.0.1:8025}"
args=(--set "smtp.listen=$RUN_SMTP" --set "web.listen=$RUN_WEB")
click_line="off (RUN_CLICK is empty)"
if [[ -n $RUN_CLICK ]]; then
	args+=(--set "click.listen=$RUN_CLICK" --set "click.base_url=http://$RUN_CLICK")
	click_line="links of delivered mail go through http://$RUN_CLICK/c/…, each click judged again (show clicks)"
fi

clamd_bin() { command -v clamd 2>/dev/null || { [[ -x /usr/sbin/clamd ]] && echo /usr/sbin/clamd; } || true; }
if [[ $RUN_CLAMD == 1 && -z $(clamd_bin) ]]; then
	echo "run: clamd is missing: installing clamav-daemon (apt-get)"
	SUDO=""
	[[ $(id -u) == 0 ]] || SUDO=sudo
	{ DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends clamav-daemon >/dev/null ||
		{ $SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends clamav-daemon >/dev/null; }; } ||
		echo "run: could not install clamav-daemon: running without a pattern engine"
fi
CLAMD=$(clamd_bin)
if [[ $RUN_CLAMD == 1 && -n $CLAMD ]]; then
	C="$RUN_DIR/clamd"
	mkdir -p "$C/db"
	cp testdata/clamav/mailinspector-test.* "$C/db/"
	{
		echo "LocalSocket $C/clamd.sock"
		echo "LocalSocketMode 600"
		echo "DatabaseDirectory $C/db"
		echo "TemporaryDirectory $C"
		echo "LogFile $C/clamd.log"
		echo "Foreground yes"
		echo "ScanMail yes"
		echo "ScanArchive yes"
		echo "AlertEncrypted yes"
		echo "Bytecode no"
		echo "StreamMaxLength 60M"
		[[ $(id -u) != 0 ]] || echo "User root"
	} >"$C/clamd.conf"
	"$CLAMD" -c "$C/clamd.conf" >"$C/clamd.out" 2>&1 &
	pids+=($!)
	for _ in $(seq 300); do [[ -S $C/clamd.sock ]] && break; sleep 0.1; done
	if [[ -S $C/clamd.sock ]]; then
		args+=(--set "engine.clamd=unix:$C/clamd.sock" --set "engine.clamd_database=$C/db")
		clamd_line="clamd with the project's test signatures ($C/)"
	else
		echo "run: clamd did not start (see $C/clamd.log): running without a pattern engine" >&2
	fi
fi
clamd_line="${clamd_line:-none: every message is unrated, texts are tagged, attachments are held as unscannable}"

hub_line="none (RUN_HUB=1 starts one from the project's feed files)"
if [[ $RUN_HUB == 1 ]]; then
	H="$RUN_DIR/hub"
	KEY=$("$MI" hub keys add --data-dir "$H" run)
	for f in urlhaus-csv:urlhaus.csv malwarebazaar-csv:malwarebazaar.csv openphish-txt:openphish.txt \
		phishtank-csv:phishtank.csv spamhaus-drop-json:drop_v4.json known-good-sha256:known-good.txt; do
		"$MI" hub import --data-dir "$H" "${f%%:*}" "internal/hub/testdata/${f#*:}" >/dev/null
	done
	"$MI" hub --data-dir "$H" --listen "$RUN_HUB_LISTEN" 2>"$H.log" &
	pids+=($!)
	args+=(--set "hub.url=http://$RUN_HUB_LISTEN" --set "hub.key=$KEY")
	hub_line="http://$RUN_HUB_LISTEN with the project's test feeds ($H/)"
fi

cat <<EOF
Mail Inspector $(cat VERSION): data directory $RUN_DIR
  SMTP:    $RUN_SMTP   (no downstream configured: mail lands in $RUN_DIR/maildir/<recipient>/new/)
  clamd:   $clamd_line
  hub:     $hub_line
  clicks:  $click_line
  send:    swaks --server $RUN_SMTP --from you@example.org --to alice@example.com
  EICAR:   printf '%s' 'X5O!P%@AP[4\\PZX54(P^)7CC)7}\$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!\$H+H*' |
             swaks --server $RUN_SMTP --from you@example.org --to alice@example.com --attach - --attach-name eicar.com
  look:    bin/mailinspector shell --data-dir $RUN_DIR -c 'show messages'
  console: https://$RUN_WEB  (self-signed; log in as admin once its password is set:
             printf 'Admin-Pass-1\\n' | bin/mailinspector shell --data-dir $RUN_DIR -c 'account password admin')
  stop:    Ctrl-C
EOF
"$MI" serve --data-dir "$RUN_DIR" "${args[@]}" "$@" &
pids+=($!)
wait "${pids[-1]}"
