#!/bin/sh
# measure-ws.sh: saturate, room and idle for TCP and WebSocket clients side
# by side, alternating (tcp, ws, tcp, ws, …), RUNS pairs per scenario, each
# run on a fresh server; one JSON result per run in OUT (default
# /tmp/fanout-ws-bench), summarised by summarize-ws.py.
#   sh bench/measure-ws.sh [RUNS]
set -eu
runs=${1:-3}
out=${OUT:-/tmp/fanout-ws-bench}
bin=${BIN:-/tmp/fanout-ws-bench-bin}
mkdir -p "$out"
go build -o "$bin" .
for scenario in saturate room idle; do
	for i in $(seq 1 "$runs"); do
		for proto in tcp ws; do
			echo "$scenario $proto run $i" >&2
			"$bin" bench --scenario "$scenario" --proto "$proto" --json >"$out/$scenario-$proto-$i.json"
		done
	done
done
python3 "$(dirname "$0")/summarize-ws.py" "$out"
