#!/usr/bin/env bash
# Runs the shared load harness (../shared/bench/run-sut.sh) against
# bin/mailinspector: a fresh data directory, MTA mode, relaying to the
# harness's counting sink on 127.0.0.1:10025. Results land under
# $BENCH_WORK/results (see ../shared/bench/README.md).
#
# Knobs: CONCS [16], N [2000], SUT_ADDR [127.0.0.1:2600], CLAMD [0; 1 starts a
# private clamd with testdata/clamav's signatures, sets engine.clamd, and
# expects EICAR quarantined], CLAMD_TMP [tmpfs, as the image gives clamd; or
# disk], EXPECT_EICAR [accept, or quarantine with CLAMD=1], HUB [none; up
# starts a mailinspector hub on loopback with the project's test feeds and
# points every hub service at it; blackhole points them at a port that
# accepts and never answers, so that their breakers open], BREAKERS [cold;
# open, with HUB=blackhole, first sends a few messages of the corpus and
# waits until every hub service's breaker is open, so that the measured
# phase is the steady state of an outage and not its first deadline], SPINE
# [0; 1 measures the benchspine experiment build: the mail engine without
# the content analysis (appliance/stages_benchspine.go),
# built into the data directory, never shipped], MI [bin/mailinspector: the
# daemon measured, e.g. an older build for before/after pairs; the hub and
# the shell are always bin/'s], plus every knob of run-sut.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH="${BENCH:-../shared/bench}"
[[ -x $BENCH/run-sut.sh ]] || { echo "no shared bench harness at $BENCH" >&2; exit 1; }
export SUT_ADDR="${SUT_ADDR:-127.0.0.1:2600}" CONCS="${CONCS:-16}" LABEL="${LABEL:-mailinspector}"
# The harness tells the watched processes apart by name; clamd's is "clamd".
[[ $LABEL != clamd ]] || { echo "LABEL=clamd would make the harness watch clamd twice and the daemon not at all" >&2; exit 1; }
if [[ ${BREAKERS:-cold} == open ]]; then
	[[ ${HUB:-none} == blackhole ]] || { echo "BREAKERS=open needs HUB=blackhole" >&2; exit 1; }
	CORPUS="${BENCH_WORK:-/var/tmp/mailinspector-bench}/corpus"
	[[ -f $CORPUS/manifest.tsv ]] || { echo "BREAKERS=open sends messages of the harness's corpus: run the harness once first" >&2; exit 1; }
fi
DATA="$(mktemp -d /var/tmp/mailinspector-bench-data.XXXXXX)"
LOG="$DATA.log"
MI="${MI:-bin/mailinspector}"
if [[ ${SPINE:-0} == 1 ]]; then
	MI="$DATA/mailinspector-spine"
	CGO_ENABLED=1 go build -trimpath -tags benchspine -o "$MI" ./cmd/mailinspector || { rm -rf "$DATA"; exit 1; }
fi
EXTRA=()
CLAMD_PID=""
if [[ ${CLAMD:-0} == 1 ]]; then
	export EXPECT_EICAR="${EXPECT_EICAR:-quarantine}"
	mkdir -p "$DATA/clamd/db"
	# clamd's temporary files (one per scan) on a tmpfs, as the appliance
	# image gives Debian's clamd (rootfs/usr/lib/systemd/system/
	# clamav-daemon.service.d/); CLAMD_TMP=disk keeps them on the disk.
	if [[ ${CLAMD_TMP:-tmpfs} == disk ]]; then
		CLAMD_TMP="$DATA/clamd"
	else
		CLAMD_SHM="$(mktemp -d /dev/shm/mailinspector-bench-clamd.XXXXXX)"
		CLAMD_TMP="$CLAMD_SHM"
	fi
	cp testdata/clamav/mailinspector-test.* "$DATA/clamd/db/"
	cat >"$DATA/clamd/clamd.conf" <<CONF
LocalSocket $DATA/clamd/clamd.sock
DatabaseDirectory $DATA/clamd/db
TemporaryDirectory $CLAMD_TMP
LogFile $DATA/clamd/clamd.log
Foreground yes
ScanMail yes
ScanArchive yes
AlertEncrypted yes
Bytecode no
MaxThreads 12
StreamMaxLength 60M
User root
CONF
	clamd -c "$DATA/clamd/clamd.conf" &
	CLAMD_PID=$!
	for _ in $(seq 100); do [[ -S $DATA/clamd/clamd.sock ]] && break; sleep 0.1; done
	EXTRA+=(--set "engine.clamd=unix:$DATA/clamd/clamd.sock")
	# The bench watches both processes for memory and CPU.
else
	# Without a pattern engine every attachment is unscannable and the
	# default policy holds it, and every text is tagged unrated: the sink
	# would never see the first, and the harness counts what reaches it
	# untouched. What is measured without clamd is the mail path, so such
	# mail is let through as it came here.
	EXTRA+=(--set policy.unscannable=deliver --set policy.unrated=deliver)
fi
HUB_PID=""
case ${HUB:-none} in
up)
	HUBDIR="$DATA/hub"
	KEY=$(bin/mailinspector hub keys add --data-dir "$HUBDIR" bench)
	for f in urlhaus-csv:urlhaus.csv malwarebazaar-csv:malwarebazaar.csv openphish-txt:openphish.txt \
		phishtank-csv:phishtank.csv spamhaus-drop-json:drop_v4.json known-good-sha256:known-good.txt; do
		bin/mailinspector hub import --data-dir "$HUBDIR" "${f%%:*}" "internal/hub/testdata/${f#*:}" >/dev/null
	done
	bin/mailinspector hub --data-dir "$HUBDIR" --listen 127.0.0.1:2610 2>"$DATA.hub.log" &
	HUB_PID=$!
	EXTRA+=(--set hub.url=http://127.0.0.1:2610 --set "hub.key=$KEY")
	;;
blackhole)
	python3 -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 2611)); s.listen(1024)
held=[]
while True:
    c,_=s.accept(); held.append(c)' &
	HUB_PID=$!
	EXTRA+=(--set hub.url=http://127.0.0.1:2611 --set hub.key=none)
	;;
esac
for _ in $(seq 50); do
	[[ -z $HUB_PID ]] && break
	ss -Hltn 'sport = :2610 or sport = :2611' | grep -q . && break
	sleep 0.1
done
export EXPECT_EICAR="${EXPECT_EICAR:-accept}"
"$MI" serve --data-dir "$DATA" --set smtp.listen="$SUT_ADDR" --set delivery.relay=127.0.0.1:10025 \
	--set hostname=mi.bench "${EXTRA[@]}" ${SUT_SETTINGS:-} 2>"$LOG" &
PID=$!
trap 'kill -TERM $PID $CLAMD_PID $HUB_PID 2>/dev/null; wait $PID $CLAMD_PID $HUB_PID 2>/dev/null || true; rm -rf "$DATA" ${CLAMD_SHM:+"$CLAMD_SHM"}' EXIT
for _ in $(seq 50); do
	ss -Hltn "sport = :${SUT_ADDR##*:}" | grep -q . && break
	sleep 0.1
done
if [[ ${BREAKERS:-cold} == open ]]; then
	# Messages with attachments and links reach every hub service; the
	# breakers open after services.failures failures, each one deadline.
	python3 - "$SUT_ADDR" "$CORPUS" <<'PY'
import smtplib, sys, threading
host, port = sys.argv[1].rsplit(":", 1)
def send(name):
    with smtplib.SMTP(host, int(port), timeout=30) as s:
        s.sendmail("warm@bench.example", ["user1@bench.example"], open(sys.argv[2] + "/" + name, "rb").read())
names = [l.split("\t")[1] for l in open(sys.argv[2] + "/manifest.tsv").read().splitlines()[1:]
         if "\tattach\t0\t" in l or "\thtml\t0\t" in l][:8]
ts = [threading.Thread(target=send, args=(n,)) for n in names]
[t.start() for t in ts]
[t.join() for t in ts]
PY
	for _ in $(seq 300); do
		states=$(bin/mailinspector shell --data-dir "$DATA" -o json -c 'show services' | python3 -c 'import json,sys
hub = {"csss", "file-census", "domain-census", "ml", "web-inspection", "web-reputation"}
print(" ".join(sorted({s["state"] for s in json.load(sys.stdin) if s["name"] in hub})))')
		[[ $states == unreachable ]] && break
		sleep 0.1
	done
	# A phase measured with some breakers still closed would be the cold
	# run under another name.
	[[ $states == unreachable ]] || { echo "hub services still $states after 30 s: not measuring" >&2; exit 1; }
	echo "hub services before the measured phase: $states" >&2
fi
if [[ -n $CLAMD_PID ]]; then
	SUT_WATCH="$LABEL=$PID,clamd=$CLAMD_PID" "$BENCH/run-sut.sh"
else
	SUT_PID=$PID "$BENCH/run-sut.sh"
fi
if [[ -n $HUB_PID ]]; then
	bin/mailinspector shell --data-dir "$DATA" -c 'show services'
	if [[ ${HUB:-none} == up ]]; then # with blackhole, HUB_PID is the black hole, not a hub
		# utime + stime in clock ticks (fields 14 and 15; the name in field 2
		# has no spaces here): ps's own column rounds to whole seconds.
		read -r -a st <"/proc/$HUB_PID/stat"
		echo "hub CPU time (user+system, whole run): $(awk -v t=$((st[13] + st[14])) -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t/hz}') s"
	fi
fi
echo "daemon log: $LOG"
