#!/usr/bin/env bash
# Runs the shared load harness (../shared/bench/run-sut.sh) against
# bin/mailinspector: a fresh data directory, MTA mode, relaying to the
# harness's counting sink on 127.0.0.1:10025. Results land under
# $BENCH_WORK/results (see ../shared/bench/README.md).
#
# Knobs: CONCS [16], N [2000], SUT_ADDR [127.0.0.1:2600], CLAMD [0; 1 starts a
# private clamd with testdata/clamav's signatures, sets engine.clamd, and
# expects EICAR quarantined], EXPECT_EICAR [accept, or quarantine with
# CLAMD=1], plus every knob of run-sut.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH="${BENCH:-../shared/bench}"
[[ -x $BENCH/run-sut.sh ]] || { echo "no shared bench harness at $BENCH" >&2; exit 1; }
export SUT_ADDR="${SUT_ADDR:-127.0.0.1:2600}" CONCS="${CONCS:-16}" LABEL="${LABEL:-mailinspector}"
DATA="$(mktemp -d /var/tmp/mailinspector-bench-data.XXXXXX)"
LOG="$DATA.log"
EXTRA=()
CLAMD_PID=""
if [[ ${CLAMD:-0} == 1 ]]; then
	export EXPECT_EICAR="${EXPECT_EICAR:-quarantine}"
	mkdir -p "$DATA/clamd/db"
	cp testdata/clamav/mailinspector-test.* "$DATA/clamd/db/"
	cat >"$DATA/clamd/clamd.conf" <<CONF
LocalSocket $DATA/clamd/clamd.sock
DatabaseDirectory $DATA/clamd/db
TemporaryDirectory $DATA/clamd
LogFile $DATA/clamd/clamd.log
Foreground yes
ScanMail yes
ScanArchive yes
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
fi
export EXPECT_EICAR="${EXPECT_EICAR:-accept}"
bin/mailinspector serve --data-dir "$DATA" --set smtp.listen="$SUT_ADDR" --set delivery.relay=127.0.0.1:10025 \
	--set hostname=mi.bench "${EXTRA[@]}" ${SUT_SETTINGS:-} 2>"$LOG" &
PID=$!
trap 'kill -TERM $PID $CLAMD_PID 2>/dev/null; wait $PID $CLAMD_PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 50); do
	ss -Hltn "sport = :${SUT_ADDR##*:}" | grep -q . && break
	sleep 0.1
done
if [[ -n $CLAMD_PID ]]; then
	SUT_WATCH="$LABEL=$PID,clamd=$CLAMD_PID" "$BENCH/run-sut.sh"
else
	SUT_PID=$PID "$BENCH/run-sut.sh"
fi
echo "daemon log: $LOG"
