#!/usr/bin/env bash
# Usage: scripts/bench/profile.sh [OUTDIR]      (default: ./bench-profile)
#
# Where latch's per-request time goes on GET /api/me/ (see BENCHMARKS.md):
#  1. go tool pprof over a CPU profile of BenchmarkMe/latch (in process,
#     httptest recorder, no network): OUTDIR/me.cpu.out, me.cum.txt,
#     me.flat.txt, me.latch.txt (the handler's subtree only);
#  2. when Linux perf works here: perf over the real `latch serve`
#     (SQLite, throttling off) under `wrk -t2 -c32` on /api/me/, since latch
#     has no pprof endpoint: OUTDIR/serve.perf.txt (children-inclusive %).
# BENCHTIME (default 3s) and PERF_SECONDS (default 8) tune the durations.
set -euo pipefail
LOG_PREFIX=profile
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
source "$here/../lib.sh"
cd "$here/../.."

OUTDIR=${1:-bench-profile}
BENCHTIME=${BENCHTIME:-3s}
PERF_SECONDS=${PERF_SECONDS:-8}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

log "BenchmarkMe/latch with -cpuprofile"
go test -run='^$' -bench='^BenchmarkMe$/^latch$' -benchmem -benchtime="$BENCHTIME" -count=1 \
	-cpuprofile "$OUTDIR/me.cpu.out" -o "$OUTDIR/httpapi.test" ./httpapi/ | tee "$OUTDIR/me.bench.txt"
go tool pprof -top -cum -nodecount=60 "$OUTDIR/httpapi.test" "$OUTDIR/me.cpu.out" >"$OUTDIR/me.cum.txt" 2>/dev/null
go tool pprof -top -nodecount=40 "$OUTDIR/httpapi.test" "$OUTDIR/me.cpu.out" >"$OUTDIR/me.flat.txt" 2>/dev/null
# The handler's subtree only: what latch adds over net/http.
go tool pprof -top -cum -nodecount=60 -focus='httpapi\.\(\*Server\)\.ServeHTTP' \
	"$OUTDIR/httpapi.test" "$OUTDIR/me.cpu.out" >"$OUTDIR/me.latch.txt" 2>/dev/null
log "pprof tables in $OUTDIR/me.{cum,flat,latch}.txt"

if ! command -v perf >/dev/null 2>&1; then
	apt_install linux-perf || true
fi
command -v wrk >/dev/null 2>&1 || apt_install wrk
if ! command -v perf >/dev/null 2>&1 || ! perf stat -e task-clock -- true >/dev/null 2>&1; then
	log "perf is not usable here; skipping the profile of the real server"
	exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/latch-profile.XXXXXX")
SRV=""
cleanup() {
	set +e
	if [[ -n "$SRV" ]]; then
		kill -TERM "$SRV" 2>/dev/null
		wait "$SRV" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
go build -o "$WORK/latch" ./cmd/latch
export LATCH_DATA_DIR="$WORK/data" LATCH_ADDR=127.0.0.1:0 LATCH_THROTTLE_ANON=off LATCH_THROTTLE_USER=off LATCH_ACCESS_TOKEN_LIFETIME=1h
pw='correct horse battery staple'
LATCH_PASSWORD=$pw "$WORK/latch" createuser alice --email alice@example.com >/dev/null 2>&1
: >"$WORK/serve.log"
"$WORK/latch" serve </dev/null >"$WORK/serve.log" 2>&1 &
SRV=$!
url=""
for ((i = 0; i < 200; i++)); do
	url=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$WORK/serve.log" | head -n1)
	[[ -n "$url" ]] && break
	sleep 0.05
done
[[ -n "$url" ]] || die "latch serve did not start: $(cat "$WORK/serve.log")"
tok=$(curl -sS -X POST "$url/api/token/" -d username=alice --data-urlencode "password=$pw" | sed -n 's/.*"access":"\([^"]*\)".*/\1/p')
[[ -n "$tok" ]] || die "login failed"
wrk -t2 -c32 -d2s -H "Authorization: Bearer $tok" "$url/api/me/" >/dev/null
wrk -t2 -c32 -d"$((PERF_SECONDS + 3))s" -H "Authorization: Bearer $tok" "$url/api/me/" >"$OUTDIR/serve.wrk.txt" &
wrkpid=$!
sleep 1
log "perf record -g on latch serve (pid $SRV) for ${PERF_SECONDS}s under wrk"
perf record -F 999 -g -p "$SRV" -o "$WORK/perf.data" -- sleep "$PERF_SECONDS" >/dev/null 2>&1
wait "$wrkpid"
perf report -i "$WORK/perf.data" --children --sort symbol --stdio 2>/dev/null |
	grep -E '^ +[0-9]' | sed 's/ *- *- *$//' >"$OUTDIR/serve.perf.txt"
log "perf table (children-inclusive) in $OUTDIR/serve.perf.txt; wrk output in $OUTDIR/serve.wrk.txt"
