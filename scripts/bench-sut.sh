#!/usr/bin/env bash
# Runs the shared load harness (../shared/bench/run-sut.sh) against
# bin/mailinspector: a fresh data directory, MTA mode, relaying to the
# harness's counting sink on 127.0.0.1:10025. Results land under
# $BENCH_WORK/results (see ../shared/bench/README.md).
#
# Knobs: CONCS [16], N [2000], SUT_ADDR [127.0.0.1:2600], EXPECT_EICAR
# [accept: no content analysis yet, so EICAR is delivered], plus every knob
# of run-sut.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH="${BENCH:-../shared/bench}"
[[ -x $BENCH/run-sut.sh ]] || { echo "no shared bench harness at $BENCH" >&2; exit 1; }
export SUT_ADDR="${SUT_ADDR:-127.0.0.1:2600}" CONCS="${CONCS:-16}" LABEL="${LABEL:-mailinspector}"
export EXPECT_EICAR="${EXPECT_EICAR:-accept}"
DATA="$(mktemp -d /var/tmp/mailinspector-bench-data.XXXXXX)"
LOG="$DATA.log"
bin/mailinspector serve --data-dir "$DATA" --set smtp.listen="$SUT_ADDR" --set delivery.relay=127.0.0.1:10025 \
	--set hostname=mi.bench ${SUT_SETTINGS:-} 2>"$LOG" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 50); do
	ss -Hltn "sport = :${SUT_ADDR##*:}" | grep -q . && break
	sleep 0.1
done
SUT_PID=$PID "$BENCH/run-sut.sh"
echo "daemon log: $LOG"
