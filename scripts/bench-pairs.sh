#!/usr/bin/env bash
# Interleaved pairs, the way speed is compared here: scripts/bench-sut.sh without
# a hub, then with HUB=up (MODE=up) or HUB=blackhole BREAKERS=open
# (MODE=blackhole), PAIRS times, back to back. Per run it prints e2e msg/s,
# the daemon's and the hub's CPU per message (from the harness's JSON and
# /proc), the load driver's CPU per message, and the same CPU divided by the
# driver's: the driver does the same work in every run, so its cost is the
# machine's speed at that moment (docs/performance.md, fourth session of
# 2026-12-02). Per pair: the e2e ratio. MODE=base compares builds instead:
# the daemon BASE_MI (an older bin/mailinspector, kept aside) then
# bin/mailinspector, with the same knobs (e.g. CLAMD=1, or HUB=up: both
# then ask a hub, bin/'s): the ratio is new/base. Knobs: PAIRS [4], MODE [up], BASE_MI,
# plus every knob of bench-sut.sh (N, CONCS …).
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS="${PAIRS:-4}" MODE="${MODE:-up}" LABEL="${LABEL:-mailinspector}"
RESULTS="${BENCH_WORK:-/var/tmp/mailinspector-bench}/results"
[[ $MODE == up || $MODE == blackhole || $MODE == base ]] || { echo "MODE is up, blackhole or base" >&2; exit 2; }
[[ $MODE != base || -x ${BASE_MI:-} ]] || { echo "MODE=base needs BASE_MI, the older daemon binary" >&2; exit 2; }
one() { # one run; prints "e2e daemon_ms hub_ms driver_ms clamd_ms ok"
	local out hub json
	if [[ $1 == none ]]; then
		out=$(scripts/bench-sut.sh 2>&1) || { echo "bench-sut.sh failed:" >&2; echo "$out" | tail -5 >&2; return 1; }
	elif [[ $1 == old ]]; then
		out=$(MI="$BASE_MI" scripts/bench-sut.sh 2>&1) || { echo "bench-sut.sh failed:" >&2; echo "$out" | tail -5 >&2; return 1; }
	elif [[ $1 == up ]]; then
		out=$(HUB=up scripts/bench-sut.sh 2>&1) || { echo "bench-sut.sh failed:" >&2; echo "$out" | tail -5 >&2; return 1; }
	else
		out=$(HUB=blackhole BREAKERS=open scripts/bench-sut.sh 2>&1) || { echo "bench-sut.sh failed:" >&2; echo "$out" | tail -5 >&2; return 1; }
	fi
	hub=$(grep -o 'hub CPU time (user+system, whole run): [0-9.]*' <<<"$out" | awk '{print $NF}')
	# The run's own results directory, as the harness printed it: not
	# merely the newest one (a failed run must not borrow the last).
	json=$(grep -o "$RESULTS/[^ ]*-$LABEL" <<<"$out" | head -1)/$LABEL-c${CONCS:-16}.json
	[[ -f $json ]] || { echo "no results JSON in the run's output ($json)" >&2; return 1; }
	python3 - "$json" "${hub:-0}" "$LABEL" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
n = d["completed"]
print(d["verify"]["e2e_accepted_per_s"], 1000 * d["watch"][sys.argv[3]]["cpu_s"] / n, 1000 * float(sys.argv[2]) / n,
      1000 * d["driver_cpu_s"] / n, 1000 * d["watch"].get("clamd", {}).get("cpu_s", 0) / n, "ok" if d["ok"] else "FAILED-CHECKS")
PY
}
for i in $(seq "$PAIRS"); do
	if [[ $MODE == base ]]; then
		a=$(one old)
		b=$(one none)
	else
		a=$(one none)
		b=$(one "$MODE")
	fi
	read -r e0 d0 h0 r0 c0 ok0 <<<"$a"
	read -r e1 d1 h1 r1 c1 ok1 <<<"$b"
	awk -v i="$i" -v a="$([[ $MODE == base ]] && echo base || echo none)" -v m="$([[ $MODE == base ]] && echo new || echo "$MODE")" -v e0="$e0" -v d0="$d0" -v h0="$h0" -v r0="$r0" -v e1="$e1" -v d1="$d1" -v h1="$h1" -v r1="$r1" -v c0="$c0" -v c1="$c1" -v ok="$ok0/$ok1" 'BEGIN {
		printf "pair %d: %s e2e %.1f, CPU %.2f + hub %.2f ms/msg (%.2f driver units) | %s e2e %.1f, CPU %.2f + hub %.2f ms/msg (%.2f driver units) | ratio %.3f",
			i, a, e0, d0, h0, (d0 + h0) / r0, m, e1, d1, h1, (d1 + h1) / r1, e1 / e0
		if (c0 + c1 > 0) printf " | clamd %.2f / %.2f driver units", c0 / r0, c1 / r1
		printf "  [%s]\n", ok }'
done
