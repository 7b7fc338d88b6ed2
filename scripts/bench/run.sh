#!/usr/bin/env bash
# Usage: scripts/bench/run.sh          (what `make bench` runs)
#
# latch's benchmark, in one go (see BENCHMARKS.md for a run's figures):
#
#  1. throughput: wrk against GET /api/me/ of
#       - bare           internal/benchserver, a bare net/http handler (the floor)
#       - latch-sqlite   `latch serve` on the embedded default (SQLite, in-process state)
#       - latch-check    GET /api/auth/check/ (forward auth) of latch-sqlite,
#                        first probed to answer 200 and an empty body
#       - latch-pgredis  `latch serve` on PostgreSQL + Redis (private instances of
#                        scripts/testenv.sh, a fresh schema)
#     with immediate revocation on (the default) and throttling off, in
#     BENCH_ROUNDS rounds where the servers take turns in short slices;
#     prints requests/s and the server's CPU time per request, the ratios
#     latch/bare of each round (both measured in that round) and their
#     medians. Target (SPEC §8): latch >= 0.90 x bare. A non-2xx answer
#     during the rounds makes the ratio INVALID (a miss for BENCH_STRICT).
#  2. login flood: /api/me/ latency (wrk --latency, -c8) idle, then while a
#     second wrk hammers POST /api/token/ with valid credentials (saturating
#     the hashing pool, which answers 503 when full); prints p99 flood/idle
#     (target <= 2) and the memory (VmHWM, VmRSS) of latch and its hash-worker
#     process before, during, after. First, the flood alone (no
#     authenticated traffic) in BENCH_LAT_ROUNDS rounds, each next to the
#     single-core hash rate of the same round: logins/s over that rate
#     (target >= 1.5 on two cores).
#     Measured closed-loop (as fast as possible) and paced (BENCH_DELAY_MS
#     think time per connection). Next to it, the machine's own floor for
#     that ratio: the bare server's p99 alone, then beside one argon2id hash
#     loop (the password package's BenchmarkHash, -cpu 1) in a process of
#     its own at the lowest priority (SCHED_IDLE, nice 19, as latch's hash
#     worker runs), which shares nothing with the server but the machine.
#  3. go test -bench over BENCH_GO_PKGS (Authenticate, BenchmarkMe, token
#     and password benchmarks).
#  4. gateway: wrk against GET /shop/ping of an upstream (internal/benchserver)
#       - plain          a plain httputil.ReverseProxy to it, in its own process (benchserver -upstream)
#       - latch-gateway  `latch serve` (SQLite) with LATCH_UPSTREAM at the same
#                        upstream, the request carrying a valid access token
#     in BENCH_ROUNDS rounds, the two taking turns in BENCH_SLICE slices;
#     ratios latch-gateway/plain per round and their median. Target (SPEC
#     §8): latch-gateway >= 0.90 x plain. A non-2xx answer: INVALID, as in 1.
#  5. refresh: chained refreshes with rotation (internal/benchrefresh: each
#     of c workers logs in once, then refreshes with the refresh token it
#     was just handed) at c in BENCH_REFRESH_CONNS, on latch-sqlite, on
#     latch-pgredis (the tests' PostgreSQL: fsync and synchronous_commit
#     off) and on latch-pgdurable (a PostgreSQL with its default durability,
#     fsync and synchronous_commit on, as production runs it), each next to
#     the database's own single-row INSERT rate at the same c (benchrefresh
#     insert, through latch's own sqlite.Open / postgres.OpenSchema: same
#     driver, connection settings, durability), measured in turn (first one,
#     then the other) in BENCH_REFRESH_ROUNDS rounds; prints the ratio
#     refresh/INSERT per round and its median. Target (SPEC §8): >= 0.5.
#
# Everything it starts (servers, wrk, and through testenv.sh PostgreSQL and
# Redis) is stopped by pid at the end, also on failure or interrupt.
#
# Knobs (environment):
#   BENCH_DURATION=10s      wrk duration of each measurement
#   BENCH_WARMUP=2s         wrk warm-up of each server before measuring
#   BENCH_ROUNDS=3          rounds of the throughput comparison, each BENCH_DURATION per server
#   BENCH_SLICE=2s          within a round, the servers take turns in slices this long
#   BENCH_THREADS=2 BENCH_CONNS=32        wrk load of the throughput runs
#   BENCH_LAT_CONNS=8       connections of the latency runs (login flood)
#   BENCH_FLOOD_CONNS=32    connections of the login flood (1 wrk thread)
#   BENCH_FLOOD_DELAY_MS=100  ms between one flood connection's logins: 32 connections offer
#                           ~320 logins/s, about 10x what the hashing pool can do on 2 cores, so
#                           hashing is saturated; 0 makes the flood a closed loop (an HTTP flood)
#   BENCH_DELAY_MS=5        think time of the paced latency runs (0: skip them)
#   BENCH_LAT_ROUNDS=3      alternated idle/flood rounds of each latency mode
#   BENCH_HASH_WORKERS=N    LATCH_HASH_WORKERS of the flooded server (default: latch's)
#   BENCH_FLOOR_GC_HEAP_FLOOR=0  MiB; 64 runs bare and plain with latch serve's GC setting
#   BENCH_USER_THROTTLE=1000000000/hour  LATCH_THROTTLE_USER of every latch (on, never reached)
#   BENCH_SCENARIOS="sqlite check pgredis flood gateway refresh gobench"   what to run
#                           (check: GET /api/auth/check/ of latch-sqlite in the throughput rounds)
#   BENCH_GO_PKGS="./auth/ ./token/ ./httpapi/ ./password/"   BENCHTIME=1s
#   BENCH_REFRESH_CONNS="1 8 32" BENCH_REFRESH_DURATION=5s BENCH_REFRESH_ROUNDS=3   refresh scenario
#   BENCH_OUT=DIR           keep the raw outputs and logs there
#   BENCH_STRICT=1          exit 1 when a target is missed or a ratio is INVALID
set -euo pipefail
LOG_PREFIX=bench
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
source "$here/../lib.sh"
cd "$here/../.."

BENCH_DURATION=${BENCH_DURATION:-10s}
BENCH_WARMUP=${BENCH_WARMUP:-2s}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_SLICE=${BENCH_SLICE:-2s}
BENCH_THREADS=${BENCH_THREADS:-2}
BENCH_CONNS=${BENCH_CONNS:-32}
BENCH_LAT_CONNS=${BENCH_LAT_CONNS:-8}
BENCH_FLOOD_CONNS=${BENCH_FLOOD_CONNS:-32}
export BENCH_FLOOD_DELAY_MS=${BENCH_FLOOD_DELAY_MS:-100}
BENCH_DELAY_MS=${BENCH_DELAY_MS:-5}
BENCH_LAT_ROUNDS=${BENCH_LAT_ROUNDS:-3}
# The floors (bare, plain) run with Go's GC defaults, as the targets are
# stated; BENCH_FLOOR_GC_HEAP_FLOOR=64 gives them latch serve's GC setting
# (LATCH_GC_HEAP_FLOOR) instead, to compare latch's code alone.
BENCH_FLOOR_GC_HEAP_FLOOR=${BENCH_FLOOR_GC_HEAP_FLOOR:-0}
# The per-user throttle is on, at a rate no run reaches: its cost is part
# of every authenticated request (off: BENCH_USER_THROTTLE=off).
BENCH_USER_THROTTLE=${BENCH_USER_THROTTLE:-1000000000/hour}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-sqlite check pgredis flood gateway refresh gobench}
BENCH_REFRESH_CONNS=${BENCH_REFRESH_CONNS:-1 8 32}
BENCH_REFRESH_DURATION=${BENCH_REFRESH_DURATION:-5s}
BENCH_REFRESH_ROUNDS=${BENCH_REFRESH_ROUNDS:-3}
BENCH_GO_PKGS=${BENCH_GO_PKGS:-./auth/ ./token/ ./httpapi/ ./password/}
BENCHTIME=${BENCHTIME:-1s}

# secs DURATION: whole seconds of a wrk duration (10s, 1m).
secs() {
	case $1 in
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}
DUR_S=$(secs "$BENCH_DURATION") SLICE_S=$(secs "$BENCH_SLICE")
[[ "$DUR_S" =~ ^[1-9][0-9]*$ && "$SLICE_S" =~ ^[1-9][0-9]*$ ]] || die "BENCH_DURATION and BENCH_SLICE must be whole seconds (10s, 1m)"
((SLICE_S <= DUR_S)) || SLICE_S=$DUR_S
SLICES=$(((DUR_S + SLICE_S - 1) / SLICE_S))
PACE_MS=0 # think time of the wrk runs of wrk_me (report.lua reads BENCH_PACE_MS)
want() { [[ " $BENCH_SCENARIOS " == *" $1 "* ]]; }

# PostgreSQL and Redis come from testenv.sh: re-run this script inside it
# (no Redis Cluster: not used here).
# The refresh scenario also asks for the durable PostgreSQL.
if { want pgredis || want refresh; } && [[ -z "${LATCH_TEST_POSTGRES_URL:-}" || -z "${LATCH_TEST_REDIS_URL:-}" ]]; then
	if [[ "${LATCH_TESTENV_ACTIVE:-}" == 1 ]]; then
		die "inside testenv.sh but LATCH_TEST_POSTGRES_URL / LATCH_TEST_REDIS_URL are unset"
	fi
	durable=0
	if want refresh; then durable=1; fi
	exec env LATCH_TESTENV_CLUSTER=0 LATCH_TESTENV_PG_DURABLE=$durable "$here/../testenv.sh" "$0" "$@"
fi

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v curl >/dev/null 2>&1 || need+=(curl)
if { want pgredis || want refresh; } && ! command -v psql >/dev/null 2>&1; then need+=(postgresql-client); fi
if [[ ${#need[@]} -gt 0 ]]; then apt_install "${need[@]}"; fi
command -v wrk >/dev/null 2>&1 || die "wrk not found"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/latch-bench.XXXXXX")
OUT=${BENCH_OUT:-$WORK/out}
mkdir -p "$OUT"

PIDS=()
cleanup() {
	local rc=$? pid i
	set +e
	trap '' INT TERM HUP
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "pid $pid did not stop; killing it"
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
	done
	rm -rf "${WORK:?}"
	if [[ -n "${BENCH_OUT:-}" ]]; then log "raw outputs and logs kept in $OUT"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# stop PID: stop one server started here, and wait for it.
stop() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------------------
log "building latch and the bare server"
mkdir -p "$WORK/bin"
go build -o "$WORK/bin/latch" ./cmd/latch
go build -o "$WORK/bin/benchserver" ./internal/benchserver
go build -o "$WORK/bin/benchrefresh" ./internal/benchrefresh
# The login flood's hashing references: one core's rate, and the loop
# beside the bare server.
if want flood; then go test -c -o "$WORK/bin/password.test" ./password/; fi
LATCH=$WORK/bin/latch
BARE=$WORK/bin/benchserver

PASSWORD='correct horse battery staple'
ME_BODY='{"id":1,"username":"alice","role":"user","email":"alice@example.com"}'

# start_server NAME CMD...: starts CMD in the background (output in
# $OUT/NAME.log) and waits for its "listening on http://…" line; sets
# SERVER_URL and SERVER_PID. Fails when CMD exits first.
start_server() {
	local name=$1 log pid i url
	shift
	log="$OUT/$name.log"
	: >"$log"
	"$@" </dev/null >"$log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for ((i = 0; i < 300; i++)); do
		url=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$log" | head -n1)
		if [[ -n "$url" ]]; then
			SERVER_URL=$url SERVER_PID=$pid
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			return 1
		fi
		sleep 0.05
	done
	stop "$pid"
	return 1
}

# latch_env DATADIR [VAR=VALUE...]: the environment of the latch commands.
latch_env() {
	local dir=$1
	shift
	echo LATCH_DATA_DIR="$dir" LATCH_ADDR=127.0.0.1:0 \
		LATCH_THROTTLE_ANON=off LATCH_THROTTLE_USER="$BENCH_USER_THROTTLE" \
		LATCH_ACCESS_TOKEN_LIFETIME=1h "$@"
}

# start_latch NAME DATADIR [VAR=VALUE...]: creates alice and bob, starts
# `latch serve`, logs alice in; sets SERVER_URL, SERVER_PID and TOKEN.
# Sets UNAVAILABLE (and fails) when the configuration is not supported yet.
start_latch() {
	local name=$1 dir=$2 u body
	shift 2
	local -a envs
	read -r -a envs <<<"$(latch_env "$dir" "$@")"
	mkdir -p "$dir"
	UNAVAILABLE=""
	for u in alice bob; do
		if ! env "${envs[@]}" LATCH_PASSWORD="$PASSWORD" "$LATCH" createuser "$u" --email "$u@example.com" \
			>>"$OUT/$name-createuser.log" 2>&1; then
			if grep -q 'not built yet' "$OUT/$name-createuser.log"; then
				UNAVAILABLE=$(grep -m1 'not built yet' "$OUT/$name-createuser.log")
				return 1
			fi
			cat "$OUT/$name-createuser.log" >&2
			die "$name: latch createuser $u failed"
		fi
	done
	if ! start_server "$name" env "${envs[@]}" "$LATCH" serve; then
		if grep -q 'not built yet' "$OUT/$name.log"; then
			UNAVAILABLE=$(grep -m1 'not built yet' "$OUT/$name.log")
			return 1
		fi
		tail -n 30 "$OUT/$name.log" >&2
		die "$name: latch serve did not start"
	fi
	body=$(curl -sS --fail-with-body -X POST "$SERVER_URL/api/token/" -d username=alice \
		--data-urlencode "password=$PASSWORD") || die "$name: login failed: $body"
	TOKEN=$(sed -n 's/.*"access":"\([^"]*\)".*/\1/p' <<<"$body")
	[[ -n "$TOKEN" ]] || die "$name: no access token in $body"
	check_me "$name" "$SERVER_URL" "$TOKEN"
}

# check_me NAME URL TOKEN: GET /api/me/ answers 200 with alice's record.
check_me() {
	local body
	body=$(curl -sS --fail-with-body -H "Authorization: Bearer $3" "$2/api/me/") ||
		die "$1: GET /api/me/ failed: $body"
	[[ "$body" == "$ME_BODY" ]] || die "$1: GET /api/me/ answered $body, want $ME_BODY"
}

# check_auth NAME URL TOKEN: GET /api/auth/check/ answers 200, alice's
# identity headers and an empty body, as forward auth must (a refusal's
# throughput is not what the check scenario measures).
check_auth() {
	local code
	code=$(curl -sS -D "$WORK/check-headers" -o "$WORK/check-body" -w '%{http_code}' \
		-H "Authorization: Bearer $3" "$2/api/auth/check/") || die "$1: GET /api/auth/check/ failed"
	[[ $code == 200 && ! -s "$WORK/check-body" ]] ||
		die "$1: GET /api/auth/check/ answered $code $(head -c 300 "$WORK/check-body"), want 200 and an empty body"
	grep -qi '^X-Latch-Username: alice' "$WORK/check-headers" ||
		die "$1: GET /api/auth/check/ did not name alice: $(cat "$WORK/check-headers")"
}

# wrk_me OUTFILE URL TOKEN CONNS DURATION [wrk args...]: GET /api/me/ (or
# WRK_PATH); prints the WRK line (also saved with wrk's full output in
# OUTFILE).
wrk_me() {
	local out=$1 url=$2 tok=$3 conns=$4 dur=$5 threads=$BENCH_THREADS line
	shift 5
	((threads > conns)) && threads=$conns
	BENCH_PACE_MS=$PACE_MS wrk -t"$threads" -c"$conns" -d"$dur" --timeout 5s -s "$here/report.lua" "$@" \
		-H "Authorization: Bearer $tok" "$url${WRK_PATH:-/api/me/}" >"$out" 2>&1 || {
		cat "$out" >&2
		die "wrk failed"
	}
	line=$(grep -m1 '^WRK ' "$out") || die "no WRK line in $out"
	if [[ $(field non2xx "$line") != 0 || $(field sockerr "$line") != 0 ]]; then
		log "warning: errors in $out: $line"
	fi
	echo "$line"
}

# field NAME LINE: the value of NAME=VALUE in LINE.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

median() { # values on stdin, one a line
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# redis_cmds, pg_xacts: counters of the testenv.sh Redis and PostgreSQL.
redis_cmds() {
	redis-cli -u "$LATCH_TEST_REDIS_URL" info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'
}
pg_xacts() {
	psql -qtA "$LATCH_TEST_POSTGRES_URL" -c "SELECT pg_stat_force_next_flush(); SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database" 2>/dev/null | tail -n1
}

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # PID: user+sys CPU time in clock ticks (fields 14, 15 of /proc/PID/stat)
	local stat
	stat=$(cat "/proc/$1/stat")
	stat=${stat##*) } # after the command name
	awk '{ print $12 + $13 }' <<<"$stat"
}

children() { # PID: the pids of its child processes (latch serve's hash-worker)
	# Bash builtins only: this runs every 0.5 s during the measurements.
	local f kids
	for f in /proc/"$1"/task/*/children; do
		read -r -a kids <"$f" 2>/dev/null || true
		[[ ${#kids[@]} -gt 0 ]] && echo "${kids[@]}"
	done
}

mem() { # PID FIELD (VmHWM, VmRSS): in MiB, of PID and its child processes together
	local p files=()
	for p in "$1" $(children "$1"); do
		[[ -r /proc/$p/status ]] && files+=("/proc/$p/status")
	done
	[[ ${#files[@]} -gt 0 ]] || {
		echo "?"
		return
	}
	awk -v f="$2:" '$1 == f { s += $2 } END { printf "%.1f", s / 1024 }' "${files[@]}" 2>/dev/null || echo "?"
}

STRICT_FAIL=0
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

say "== make bench: $(date -u +%FT%TZ) =="
say "machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), $(go version | cut -d' ' -f3), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "latch: $(git describe --always --dirty 2>/dev/null || echo '?'); LATCH_THROTTLE_ANON=off LATCH_THROTTLE_USER=$BENCH_USER_THROTTLE LATCH_REVOCATION=immediate (default)"

# ---------------------------------------------------------------------------
# 1. throughput
# ---------------------------------------------------------------------------
declare -A URL TOK PID
NAMES=()
if want sqlite || want pgredis || want check; then
	start_server bare "$BARE" -addr 127.0.0.1:0 -gc-heap-floor "$BENCH_FLOOR_GC_HEAP_FLOOR" || die "benchserver did not start"
	URL[bare]=$SERVER_URL TOK[bare]=none PID[bare]=$SERVER_PID
	check_me bare "$SERVER_URL" none
	NAMES+=(bare)
fi
declare -A WPATH # the path wrk asks a name for; default /api/me/
if want sqlite || want check; then
	start_latch latch-sqlite "$WORK/data-sqlite"
	URL[latch-sqlite]=$SERVER_URL TOK[latch-sqlite]=$TOKEN PID[latch-sqlite]=$SERVER_PID
	want sqlite && NAMES+=(latch-sqlite)
fi
if want check; then
	# Forward auth (SPEC §9) on the same server: GET /api/auth/check/ against
	# the bare handler's /api/me/.
	URL[latch-check]=${URL[latch-sqlite]} TOK[latch-check]=${TOK[latch-sqlite]} PID[latch-check]=${PID[latch-sqlite]}
	WPATH[latch-check]=/api/auth/check/
	check_auth latch-check "${URL[latch-check]}" "${TOK[latch-check]}"
	NAMES+=(latch-check)
fi
PG_NOTE=""
if want pgredis; then
	schema="latch_bench_$$_$RANDOM"
	psql -q -v ON_ERROR_STOP=1 "$LATCH_TEST_POSTGRES_URL" -c "CREATE SCHEMA $schema" >/dev/null ||
		die "could not create schema $schema"
	sep='?'
	[[ "$LATCH_TEST_POSTGRES_URL" == *\?* ]] && sep='&'
	PG_URL="$LATCH_TEST_POSTGRES_URL${sep}search_path=$schema"
	if start_latch latch-pgredis "$WORK/data-pgredis" LATCH_DATABASE_URL="$PG_URL" LATCH_REDIS_URL="$LATCH_TEST_REDIS_URL"; then
		URL[latch-pgredis]=$SERVER_URL TOK[latch-pgredis]=$TOKEN PID[latch-pgredis]=$SERVER_PID
		NAMES+=(latch-pgredis)
	else
		PG_NOTE="UNAVAILABLE: latch serve with LATCH_REDIS_URL: ${UNAVAILABLE:-failed}"
		log "latch-pgredis $PG_NOTE"
		log "falling back to latch-postgres: PostgreSQL with in-process state (no Redis), reported apart"
		schema2="${schema}_noredis"
		psql -q -v ON_ERROR_STOP=1 "$LATCH_TEST_POSTGRES_URL" -c "CREATE SCHEMA $schema2" >/dev/null ||
			die "could not create schema $schema2"
		if start_latch latch-postgres "$WORK/data-postgres" LATCH_DATABASE_URL="$LATCH_TEST_POSTGRES_URL${sep}search_path=$schema2"; then
			URL[latch-postgres]=$SERVER_URL TOK[latch-postgres]=$TOKEN PID[latch-postgres]=$SERVER_PID
			NAMES+=(latch-postgres)
		fi
	fi
fi

# The bare server gets the same request as latch, Authorization header
# included (it ignores it): same bytes to read and parse.
for n in "${NAMES[@]:1}"; do
	TOK[bare]=${TOK[$n]}
	break
done
if [[ ${#NAMES[@]} -gt 1 ]]; then
	say ""
	say "-- 1. throughput: GET /api/me/ (latch-check: GET /api/auth/check/ of latch-sqlite), wrk -t$BENCH_THREADS -c$BENCH_CONNS, $BENCH_ROUNDS rounds of ${DUR_S}s per server (warm-up $BENCH_WARMUP each) --"
	say "   each round interleaves the servers in ${SLICE_S}s slices (order reversed every other slice), so that"
	say "   a burst of load from other tenants of the machine hits every server of the round alike"
	say "   rps: requests/s (wrk); cpu: the server's CPU time (user+sys, /proc/PID/stat) per request, in us;"
	say "   ratios: latch/bare in rps, bare/latch in cpu (both: > 1 is better for latch), from the same round"
	for n in "${NAMES[@]}"; do
		log "warm-up $n"
		WRK_PATH=${WPATH[$n]:-/api/me/} wrk_me "$OUT/warmup-$n.txt" "${URL[$n]}" "${TOK[$n]}" "$BENCH_CONNS" "$BENCH_WARMUP" >/dev/null
	done
	# NON2XX: wrk's error answers (status >= 400) per server over the
	# measured slices; any makes that server's ratio invalid.
	declare -A RPS CPU RATIOS CRATIOS NON2XX
	# Round trips to Redis and PostgreSQL while latch-pgredis serves /api/me/
	# (SPEC §8: none in steady state).
	PG_REQS=0
	if [[ -n "${URL[latch-pgredis]:-}" ]]; then
		redis0=$(redis_cmds) pg0=$(pg_xacts)
	fi
	header=$(printf '%-5s %10s %6s' round bare cpu)
	for n in "${NAMES[@]:1}"; do header+=$(printf ' | %14s %6s %6s %6s' "$n" cpu ratio cpu-r); done
	say "$header"
	for ((r = 1; r <= BENCH_ROUNDS; r++)); do
		declare -A REQ=() SECS=() TICKS=()
		for ((sl = 1; sl <= SLICES; sl++)); do
			order=("${NAMES[@]}")
			if (((r * SLICES + sl) % 2 == 0)); then # reverse every other slice against drift
				order=()
				for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do order+=("${NAMES[$i]}"); done
			fi
			for n in "${order[@]}"; do
				log "round $r, slice $sl/$SLICES: $n"
				t0=$(cpu_ticks "${PID[$n]}")
				line=$(WRK_PATH=${WPATH[$n]:-/api/me/} wrk_me "$OUT/round$r-slice$sl-$n.txt" "${URL[$n]}" "${TOK[$n]}" "$BENCH_CONNS" "${SLICE_S}s")
				t1=$(cpu_ticks "${PID[$n]}")
				REQ[$n]=$((${REQ[$n]:-0} + $(field requests "$line")))
				NON2XX[$n]=$((${NON2XX[$n]:-0} + $(field non2xx "$line")))
				SECS[$n]=$(awk -v a="${SECS[$n]:-0}" -v b="$(field secs "$line")" 'BEGIN { print a + b }')
				TICKS[$n]=$((${TICKS[$n]:-0} + t1 - t0))
			done
		done
		for n in "${NAMES[@]}"; do
			RPS[$r,$n]=$(awk -v n="${REQ[$n]}" -v s="${SECS[$n]}" 'BEGIN { printf "%.1f", n / s }')
			CPU[$r,$n]=$(awk -v t="${TICKS[$n]}" -v hz="$CLK_TCK" -v n="${REQ[$n]}" \
				'BEGIN { if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print "n/a" }')
			if [[ $n == latch-pgredis ]]; then PG_REQS=$((PG_REQS + REQ[$n])); fi
		done
		row=$(printf '%-5s %10s %6s' "$r" "${RPS[$r,bare]}" "${CPU[$r,bare]}")
		for n in "${NAMES[@]:1}"; do
			q=$(ratio "${RPS[$r,$n]}" "${RPS[$r,bare]}")
			c=$(ratio "${CPU[$r,bare]}" "${CPU[$r,$n]}")
			RATIOS[$n]+="$q " CRATIOS[$n]+="$c "
			row+=$(printf ' | %14s %6s %6s %6s' "${RPS[$r,$n]}" "${CPU[$r,$n]}" "$q" "$c")
		done
		say "$row"
	done
	for n in "${NAMES[@]:1}"; do
		m=$(tr ' ' '\n' <<<"${RATIOS[$n]}" | grep . | median)
		mc=$(tr ' ' '\n' <<<"${CRATIOS[$n]}" | grep . | median)
		verdict=$(awk -v m="$m" 'BEGIN { print (m >= 0.90) ? "meets" : "MISSES" }')
		if ((${NON2XX[$n]:-0} + ${NON2XX[bare]:-0} > 0)); then
			# An error answer is not the work being compared (a 401 costs
			# less than a 200): the ratio measures nothing.
			verdict=INVALID
			say "median ratio $n/bare: INVALID: non-2xx answers during the rounds, $n ${NON2XX[$n]:-0}, bare ${NON2XX[bare]:-0} (throughput $m; CPU per request (bare/latch) $mc)"
		else
			say "median ratio $n/bare: throughput $m ($verdict the target >= 0.90); CPU per request (bare/latch) $mc"
		fi
		[[ $verdict != meets ]] && STRICT_FAIL=1
	done
	if [[ -n "${URL[latch-pgredis]:-}" ]]; then
		redis1=$(redis_cmds) pg1=$(pg_xacts)
		say "latch-pgredis served $PG_REQS requests to wrk during the rounds; meanwhile Redis processed $((redis1 - redis0)) commands and PostgreSQL committed $((pg1 - pg0)) transactions (all clients, background catch-up and these probes included)"
	fi
	if [[ -n "$PG_NOTE" ]]; then
		say "latch-pgredis: $PG_NOTE"
		say "  (latch-postgres above, if listed, is PostgreSQL with in-process state: not the pg+redis target)"
	fi
fi
# The throughput servers are done: stop them so that they cost nothing later.
for n in "${NAMES[@]}"; do stop "${PID[$n]}"; done

# ---------------------------------------------------------------------------
# 2. login flood
# ---------------------------------------------------------------------------
# latency_round LABEL ROUND URL TOKEN PID: /api/me/ idle, then under a login
# flood; prints a row and appends the p99 ratio to LAT_RATIOS[LABEL].
declare -A LAT_RATIOS
RSS_MAX=0
latency_round() {
	local label=$1 r=$2 url=$3 tok=$4 pid=$5 idle flood fl fpid sampler tag
	tag="flood-$label-$r"
	idle=$(wrk_me "$OUT/$tag-idle.txt" "$url" "$tok" "$BENCH_LAT_CONNS" "$BENCH_DURATION" --latency)
	# The flood starts 1 s before the measurement and ends after it.
	local dur_s=$DUR_S
	BENCH_USER=bob BENCH_PASSWORD=$PASSWORD wrk -t1 -c"$BENCH_FLOOD_CONNS" -d"$((dur_s + 2))s" --timeout 10s \
		-s "$here/login.lua" "$url/api/token/" >"$OUT/$tag-logins.txt" 2>&1 &
	fpid=$!
	PIDS+=("$fpid")
	(
		while kill -0 "$fpid" 2>/dev/null; do
			mem "$pid" VmRSS
			echo
			sleep 0.5
		done
	) >"$OUT/$tag-rss.txt" &
	sampler=$!
	sleep 1
	flood=$(wrk_me "$OUT/$tag-flood.txt" "$url" "$tok" "$BENCH_LAT_CONNS" "$BENCH_DURATION" --latency)
	wait "$fpid" || true
	wait "$sampler" || true
	local keep=() p
	for p in "${PIDS[@]}"; do [[ "$p" == "$fpid" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
	fl=$(grep -m1 '^FLOOD ' "$OUT/$tag-logins.txt") || die "no FLOOD line in $OUT/$tag-logins.txt"
	local pi pf q rss
	pi=$(field p99_us "$idle") pf=$(field p99_us "$flood")
	q=$(ratio "$pf" "$pi")
	LAT_RATIOS[$label]+="$q "
	rss=$(grep -v '^?' "$OUT/$tag-rss.txt" | sort -g | tail -n1)
	RSS_MAX=$(awk -v a="$RSS_MAX" -v b="${rss:-0}" 'BEGIN { print (b > a) ? b : a }')
	say "$(printf '%-12s %-2s| %8s %6s %7s | %8s %6s %7s | %6s | %7s %5s %7s | %s' \
		"$label" "$r" "$(field rps "$idle")" "$(field p50_us "$idle")" "$pi" \
		"$(field rps "$flood")" "$(field p50_us "$flood")" "$pf" "$q" \
		"$(field rps "$fl")" "$(field ok "$fl")" "$(field busy "$fl")" \
		"$(grep -v '^?' "$OUT/$tag-rss.txt" | awk 'NR == 1 { f = $1 } { if ($1 > m) m = $1; l = $1 } END { printf "%s/%s/%s", f, m, l }')")"
}

# neighbor_floor TOKEN: the bare server's /api/me/ p99 alone and beside one
# argon2id loop at the lowest priority, in each latency mode: how much a
# hash on the other core costs any server's tail on this machine, latch's
# code aside. Under authenticated traffic latch hashes on one core (the
# adaptive pool gives the other back), so one loop is the same load.
neighbor_floor() {
	local tok=$1 mode r idle near q pi pn npid
	local -a low=(nice -n 19)
	if command -v chrt >/dev/null; then low=(chrt --idle 0 nice -n 19); fi
	start_server bare-neighbor "$BARE" -addr 127.0.0.1:0 || die "benchserver did not start"
	say "floor: the bare server, same load, alone and beside one argon2id loop (${low[*]}, BenchmarkHash -cpu 1, its own process):"
	say "$(printf '%-12s %-2s| %6s %7s | %6s %7s | %6s' mode r p50 p99 p50 p99 "p99 x")"
	declare -A NB_RATIOS=()
	for mode in "${modes[@]}"; do
		PACE_MS=0
		[[ $mode == paced-* ]] && PACE_MS=$BENCH_DELAY_MS
		for ((r = 1; r <= BENCH_LAT_ROUNDS; r++)); do
			idle=$(wrk_me "$OUT/neighbor-$mode-$r-alone.txt" "$SERVER_URL" "$tok" "$BENCH_LAT_CONNS" "$BENCH_DURATION" --latency)
			"${low[@]}" "$WORK/bin/password.test" -test.run '^$' -test.bench '^BenchmarkHash$' -test.cpu 1 \
				-test.benchtime 1000000x >"$OUT/neighbor-$mode-$r-hash.txt" 2>&1 &
			npid=$!
			PIDS+=("$npid")
			sleep 1
			near=$(wrk_me "$OUT/neighbor-$mode-$r-beside.txt" "$SERVER_URL" "$tok" "$BENCH_LAT_CONNS" "$BENCH_DURATION" --latency)
			stop "$npid"
			pi=$(field p99_us "$idle") pn=$(field p99_us "$near")
			q=$(ratio "$pn" "$pi")
			NB_RATIOS[$mode]+="$q "
			say "$(printf '%-12s %-2s| %6s %7s | %6s %7s | %6s' "$mode" "$r" "$(field p50_us "$idle")" "$pi" "$(field p50_us "$near")" "$pn" "$q")"
		done
		PACE_MS=0
	done
	for mode in "${modes[@]}"; do
		say "median p99 beside the loop/alone, bare server, $mode: $(tr ' ' '\n' <<<"${NB_RATIOS[$mode]}" | grep . | median) (the floor of latch's flood/idle above)"
	done
	stop "$SERVER_PID"
}

if want flood; then
	say ""
	say "-- 2. login flood: GET /api/me/ (wrk -t$BENCH_THREADS -c$BENCH_LAT_CONNS --latency, $BENCH_DURATION) idle, then while wrk -t1 -c$BENCH_FLOOD_CONNS"
	say "   floods POST /api/token/ with valid credentials (${BENCH_FLOOD_DELAY_MS} ms between a connection's logins; 0: closed loop);"
	say "   $BENCH_LAT_ROUNDS alternated rounds per mode, on a fresh latch-sqlite."
	say "   closed-loop: each connection sends its next request at once; paced-Nms: N ms think time per connection."
	say "   latencies in us; logins/s = all answers of the flood, 200 = logins done, 503 = refused by the full hashing pool;"
	say "   RSS = VmRSS (MiB) of latch and its hash-worker process together, sampled every 0.5 s during the flood: first/max/last"
	flood_env=()
	if [[ -n "${BENCH_HASH_WORKERS:-}" ]]; then flood_env+=(LATCH_HASH_WORKERS="$BENCH_HASH_WORKERS"); fi
	start_latch latch-flood "$WORK/data-flood" "${flood_env[@]}"
	fu=$SERVER_URL ftok=$TOKEN fpid_srv=$SERVER_PID
	log_lines0=$(wc -l <"$OUT/latch-flood.log")
	wrk_me "$OUT/warmup-flood.txt" "$fu" "$ftok" "$BENCH_LAT_CONNS" "$BENCH_WARMUP" >/dev/null
	# The noise floor: the bare server, same load, no flood.
	start_server bare-latency "$BARE" -addr 127.0.0.1:0 || die "benchserver did not start"
	bl=$(wrk_me "$OUT/flood-bare-closed.txt" "$SERVER_URL" "$ftok" "$BENCH_LAT_CONNS" "$BENCH_DURATION" --latency)
	say "noise floor, bare server, closed-loop, no flood: $(field rps "$bl") rps, p50 $(field p50_us "$bl") us, p99 $(field p99_us "$bl") us"
	stop "$SERVER_PID"
	say "memory of latch + hash-worker before: VmHWM $(mem "$fpid_srv" VmHWM) MiB, VmRSS $(mem "$fpid_srv" VmRSS) MiB"
	# Logins with no authenticated traffic, next to what one core hashes
	# (SPEC §8: bounded by the hash cost alone; target >= 1.5x on 2 cores),
	# in BENCH_LAT_ROUNDS rounds, each ratio from its own round: the
	# single-core rate moves with the machine's load as much as latch's.
	say "login flood alone (no authenticated traffic, $BENCH_DURATION a round) against what one core hashes"
	say "   (password.test -test.bench BenchmarkHash -test.cpu 1 -test.benchtime 2s, argon2id m=19 MiB t=2, in the same round):"
	say "$(printf '   %-2s | %9s %5s | %10s | %6s' r logins/s 503 "1 core/s" ratio)"
	ALONE_RATIOS=""
	for ((r = 1; r <= BENCH_LAT_ROUNDS; r++)); do
		hash_ns=$("$WORK/bin/password.test" -test.run='^$' -test.bench='^BenchmarkHash$' -test.cpu 1 -test.benchtime=2s -test.count=1 |
			awk '/^BenchmarkHash/ { print $3; exit }')
		[[ -n "$hash_ns" ]] || die "BenchmarkHash printed no ns/op"
		hash_rate=$(awk -v ns="$hash_ns" 'BEGIN { printf "%.1f", 1e9 / ns }')
		sleep 2 # the warm-up's requests are over: the pool has every core again
		BENCH_USER=bob BENCH_PASSWORD=$PASSWORD wrk -t1 -c"$BENCH_FLOOD_CONNS" -d"$BENCH_DURATION" --timeout 10s \
			-s "$here/login.lua" "$fu/api/token/" >"$OUT/flood-alone-logins-r$r.txt" 2>&1
		fa=$(grep -m1 '^FLOOD ' "$OUT/flood-alone-logins-r$r.txt") || die "no FLOOD line in $OUT/flood-alone-logins-r$r.txt"
		logins_alone=$(awk -v ok="$(field ok "$fa")" -v s="$(field secs "$fa")" 'BEGIN { printf "%.1f", ok / s }')
		q=$(ratio "$logins_alone" "$hash_rate")
		ALONE_RATIOS+="$q "
		say "$(printf '   %-2s | %9s %5s | %10s | %6s' "$r" "$logins_alone" "$(field busy "$fa")" "$hash_rate" "$q")"
	done
	m=$(tr ' ' '\n' <<<"$ALONE_RATIOS" | grep . | median)
	verdict=$(awk -v m="$m" 'BEGIN { print (m >= 1.5) ? "meets" : "MISSES" }')
	[[ $verdict == MISSES ]] && STRICT_FAIL=1
	say "median ratio logins/s alone / one core's hashes/s: $m ($verdict the target >= 1.5 on $(nproc) cores)"
	say "$(printf '%-12s %-2s| %8s %6s %7s | %8s %6s %7s | %6s | %7s %5s %7s | %s' \
		mode r "idle rps" p50 p99 "flood rps" p50 p99 "p99 x" "logins/s" 200 503 RSS)"
	modes=(closed-loop)
	if [[ "$BENCH_DELAY_MS" != 0 ]]; then modes+=("paced-${BENCH_DELAY_MS}ms"); fi
	for mode in "${modes[@]}"; do
		PACE_MS=0
		[[ $mode == paced-* ]] && PACE_MS=$BENCH_DELAY_MS
		for ((r = 1; r <= BENCH_LAT_ROUNDS; r++)); do
			latency_round "$mode" "$r" "$fu" "$ftok" "$fpid_srv"
		done
		PACE_MS=0
	done
	for mode in "${modes[@]}"; do
		m=$(tr ' ' '\n' <<<"${LAT_RATIOS[$mode]}" | grep . | median)
		verdict=$(awk -v m="$m" 'BEGIN { print (m <= 2.0) ? "meets" : "MISSES" }')
		[[ $verdict == MISSES ]] && STRICT_FAIL=1
		say "median p99 flood/idle, $mode: $m ($verdict the target <= 2)"
	done
	neighbor_floor "$ftok"
	say "memory of latch + hash-worker after:  VmHWM $(mem "$fpid_srv" VmHWM) MiB, VmRSS $(mem "$fpid_srv" VmRSS) MiB; max VmRSS sampled during the floods $RSS_MAX MiB"
	say "   (LATCH_HASH_WORKERS=${BENCH_HASH_WORKERS:-the default: adaptive, every core while authenticated requests are light, one fewer while they are not}; argon2id m=19 MiB per hash)"
	say "latch logged $(($(wc -l <"$OUT/latch-flood.log") - log_lines0)) lines during the floods ($(grep -c 'hashing pool busy' "$OUT/latch-flood.log" || true) of them 'hashing pool busy')"
	stop "$fpid_srv"
fi

# ---------------------------------------------------------------------------
# 4. gateway: latch's gateway against a plain httputil.ReverseProxy
# ---------------------------------------------------------------------------
PING_BODY='{"ok":true,"service":"upstream"}'
if want gateway; then
	say ""
	say "-- 4. gateway: GET /shop/ping proxied to one upstream (internal/benchserver), wrk -t$BENCH_THREADS -c$BENCH_CONNS,"
	say "   $BENCH_ROUNDS rounds of ${DUR_S}s per proxy in ${SLICE_S}s slices (order reversed every other slice), warm-up $BENCH_WARMUP each;"
	say "   plain: httputil.ReverseProxy with latch's upstream transport in its own process (benchserver -upstream); latch-gateway: latch serve (SQLite),"
	say "   LATCH_UPSTREAM at the same upstream, a valid access token on every request; ratio latch-gateway/plain in rps"
	start_server upstream "$BARE" -addr 127.0.0.1:0 || die "the upstream benchserver did not start"
	upstream_url=$SERVER_URL upstream_pid=$SERVER_PID
	start_server plain-proxy "$BARE" -addr 127.0.0.1:0 -upstream "$upstream_url" -gc-heap-floor "$BENCH_FLOOR_GC_HEAP_FLOOR" || die "benchserver -upstream did not start"
	plain_url=$SERVER_URL plain_pid=$SERVER_PID
	start_latch latch-gateway "$WORK/data-gateway" LATCH_UPSTREAM="$upstream_url"
	gw_url=$SERVER_URL gw_pid=$SERVER_PID gw_tok=$TOKEN
	for u in "$plain_url" "$gw_url"; do
		body=$(curl -sS --fail-with-body -H "Authorization: Bearer $gw_tok" "$u/shop/ping") ||
			die "GET $u/shop/ping failed: $body"
		[[ "$body" == "$PING_BODY" ]] || die "GET $u/shop/ping answered $body, want $PING_BODY"
	done
	export WRK_PATH=/shop/ping
	declare -A GURL=([plain]=$plain_url [latch-gateway]=$gw_url)
	GNAMES=(plain latch-gateway)
	for n in "${GNAMES[@]}"; do
		log "warm-up $n"
		wrk_me "$OUT/warmup-$n.txt" "${GURL[$n]}" "$gw_tok" "$BENCH_CONNS" "$BENCH_WARMUP" >/dev/null
	done
	say "$(printf '%-5s %10s | %14s %6s' round plain latch-gateway ratio)"
	GW_RATIOS=""
	declare -A GNON2XX=() # error answers (status >= 400) per proxy, all rounds: any makes the ratio invalid
	for ((r = 1; r <= BENCH_ROUNDS; r++)); do
		declare -A GREQ=() GSECS=()
		for ((sl = 1; sl <= SLICES; sl++)); do
			order=("${GNAMES[@]}")
			(((r * SLICES + sl) % 2 == 0)) && order=(latch-gateway plain)
			for n in "${order[@]}"; do
				log "gateway round $r, slice $sl/$SLICES: $n"
				line=$(wrk_me "$OUT/gateway-round$r-slice$sl-$n.txt" "${GURL[$n]}" "$gw_tok" "$BENCH_CONNS" "${SLICE_S}s")
				GREQ[$n]=$((${GREQ[$n]:-0} + $(field requests "$line")))
				GNON2XX[$n]=$((${GNON2XX[$n]:-0} + $(field non2xx "$line")))
				GSECS[$n]=$(awk -v a="${GSECS[$n]:-0}" -v b="$(field secs "$line")" 'BEGIN { print a + b }')
			done
		done
		rp=$(awk -v n="${GREQ[plain]}" -v s="${GSECS[plain]}" 'BEGIN { printf "%.1f", n / s }')
		rg=$(awk -v n="${GREQ[latch-gateway]}" -v s="${GSECS[latch-gateway]}" 'BEGIN { printf "%.1f", n / s }')
		q=$(ratio "$rg" "$rp")
		GW_RATIOS+="$q "
		say "$(printf '%-5s %10s | %14s %6s' "$r" "$rp" "$rg" "$q")"
	done
	unset WRK_PATH
	m=$(tr ' ' '\n' <<<"$GW_RATIOS" | grep . | median)
	verdict=$(awk -v m="$m" 'BEGIN { print (m >= 0.90) ? "meets" : "MISSES" }')
	if ((${GNON2XX[plain]:-0} + ${GNON2XX[latch-gateway]:-0} > 0)); then
		verdict=INVALID
		say "median ratio latch-gateway/plain: INVALID: non-2xx answers during the rounds, latch-gateway ${GNON2XX[latch-gateway]:-0}, plain ${GNON2XX[plain]:-0} (throughput $m)"
	else
		say "median ratio latch-gateway/plain: throughput $m ($verdict the target >= 0.90)"
	fi
	[[ $verdict != meets ]] && STRICT_FAIL=1
	stop "$gw_pid"
	stop "$plain_pid"
	stop "$upstream_pid"
fi

# ---------------------------------------------------------------------------
# 5. refresh with rotation against the database's own INSERT rate
# ---------------------------------------------------------------------------
# new_schema URL PREFIX: creates a fresh schema in the PostgreSQL at URL;
# prints the URL with it.
new_schema() {
	local schema="$2_$$_$RANDOM" sep='?'
	psql -q -v ON_ERROR_STOP=1 "$1" -c "CREATE SCHEMA $schema" >/dev/null ||
		die "could not create schema $schema"
	[[ "$1" == *\?* ]] && sep='&'
	echo "$1${sep}search_path=$schema"
}
# durability URL: what a PostgreSQL's commit waits for.
durability() {
	psql -qtA "$1" -c "SELECT 'fsync=' || current_setting('fsync') || ' synchronous_commit=' || current_setting('synchronous_commit') || ' full_page_writes=' || current_setting('full_page_writes')" 2>/dev/null
}
# refresh_floor DB C TAG: the database's own INSERT rate at C workers.
refresh_floor() {
	if [[ $1 == sqlite ]]; then
		"$BR" insert -sqlite "$WORK/insert-c$2.db" -c "$2" -d "$BENCH_REFRESH_DURATION" >"$OUT/$3-insert.txt" 2>&1 ||
			die "benchrefresh insert failed: $(tail -n3 "$OUT/$3-insert.txt")"
	else
		"$BR" insert -postgres "${IURL[$1]}" -c "$2" -d "$BENCH_REFRESH_DURATION" >"$OUT/$3-insert.txt" 2>&1 ||
			die "benchrefresh insert failed: $(tail -n3 "$OUT/$3-insert.txt")"
	fi
}
# refresh_run DB C TAG: chained refreshes at C workers against latch.
refresh_run() {
	BENCH_PASSWORD=$PASSWORD "$BR" refresh -url "${RURL[$1]}" -user alice -c "$2" -d "$BENCH_REFRESH_DURATION" \
		>"$OUT/$3-refresh.txt" 2>&1 || die "benchrefresh refresh failed: $(tail -n3 "$OUT/$3-refresh.txt")"
}
if want refresh; then
	BR=$WORK/bin/benchrefresh
	say ""
	say "-- 5. refresh: chained refreshes with rotation (each of c clients logs in once, then refreshes with the token it was"
	say "   just handed), ${BENCH_REFRESH_DURATION} per measurement, against the database's own single-row INSERT rate at the same c,"
	say "   through latch's own store constructors (same driver, connection settings, durability), $BENCH_REFRESH_ROUNDS rounds taken in turn;"
	say "   sqlite: modernc, WAL, synchronous=NORMAL, one writer; pgredis and pgdurable: pgxpool defaults + testenv.sh's Redis;"
	say "   pgredis: the tests' PostgreSQL ($(durability "$LATCH_TEST_POSTGRES_URL")): a commit waits for no disk;"
	if [[ -n "${LATCH_TEST_POSTGRES_DURABLE_URL:-}" ]]; then
		fs=$(stat -f -c %T "${LATCH_TEST_POSTGRES_DURABLE_DIR:-/}" 2>/dev/null || echo unknown)
		say "   pgdurable: PostgreSQL's defaults ($(durability "$LATCH_TEST_POSTGRES_DURABLE_URL")), data on $fs: a commit waits for its WAL on disk"
		if [[ $fs == tmpfs || $fs == ramfs ]]; then
			say "   (warning: the durable PostgreSQL's data is in memory here, so its fsync costs nothing; set LATCH_TESTENV_TMPDIR to a disk)"
		fi
	fi
	start_latch latch-refresh-sqlite "$WORK/data-refresh-sqlite"
	declare -A RURL=([sqlite]=$SERVER_URL) RPID=([sqlite]=$SERVER_PID) IURL=()
	RDBS=(sqlite)
	# refresh_pg DB BASEURL: latch on a fresh schema of the PostgreSQL at
	# BASEURL, and a schema of its own for the INSERT floor.
	refresh_pg() {
		if start_latch "latch-refresh-$1" "$WORK/data-refresh-$1" LATCH_DATABASE_URL="$(new_schema "$2" latch_bench_refresh)" LATCH_REDIS_URL="$LATCH_TEST_REDIS_URL"; then
			RURL[$1]=$SERVER_URL RPID[$1]=$SERVER_PID
			IURL[$1]=$(new_schema "$2" latch_bench_insert)
			RDBS+=("$1")
		else
			say "latch-refresh-$1: UNAVAILABLE: ${UNAVAILABLE:-failed}"
		fi
	}
	refresh_pg pgredis "$LATCH_TEST_POSTGRES_URL"
	if [[ -n "${LATCH_TEST_POSTGRES_DURABLE_URL:-}" ]]; then
		refresh_pg pgdurable "$LATCH_TEST_POSTGRES_DURABLE_URL"
	else
		say "latch-refresh-pgdurable: not run (testenv.sh was started without LATCH_TESTENV_PG_DURABLE=1)"
	fi
	say "$(printf '%-9s %3s %-5s | %10s %10s %6s' db c round INSERT/s refresh/s ratio)"
	for db in "${RDBS[@]}"; do
		for c in $BENCH_REFRESH_CONNS; do
			RRATIOS=""
			for ((r = 1; r <= BENCH_REFRESH_ROUNDS; r++)); do
				tag="refresh-$db-c$c-r$r"
				# The two take turns going first: what one leaves behind
				# (dirty pages the kernel writes back, PostgreSQL's
				# autovacuum after thousands of rows) costs whoever runs next.
				if ((r % 2)); then
					refresh_floor "$db" "$c" "$tag"
					refresh_run "$db" "$c" "$tag"
				else
					refresh_run "$db" "$c" "$tag"
					refresh_floor "$db" "$c" "$tag"
				fi
				ins=$(grep -m1 '^INSERT ' "$OUT/$tag-insert.txt") ref=$(grep -m1 '^REFRESH ' "$OUT/$tag-refresh.txt")
				if [[ $(field errors "$ref") != 0 ]]; then log "warning: errors in $OUT/$tag-refresh.txt: $ref"; fi
				q=$(ratio "$(field rps "$ref")" "$(field rps "$ins")")
				RRATIOS+="$q "
				say "$(printf '%-9s %3s %-5s | %10s %10s %6s' "$db" "$c" "$r" "$(field rps "$ins")" "$(field rps "$ref")" "$q")"
			done
			m=$(tr ' ' '\n' <<<"$RRATIOS" | grep . | median)
			verdict=$(awk -v m="$m" 'BEGIN { print (m >= 0.5) ? "meets" : "MISSES" }')
			if [[ $c -gt 1 && $verdict == MISSES ]]; then STRICT_FAIL=1; fi
			say "median ratio refresh/INSERT, $db, c=$c: $m ($verdict the target >= 0.5$([[ $c -gt 1 ]] || echo '; not a target at c=1'))"
		done
	done
	for db in "${RDBS[@]}"; do stop "${RPID[$db]}"; done
fi

# ---------------------------------------------------------------------------
# 3. go test -bench
# ---------------------------------------------------------------------------
if want gobench; then
	say ""
	say "-- 3. go test -run='^\$' -bench=. -benchmem -benchtime=$BENCHTIME $BENCH_GO_PKGS --"
	: >"$OUT/gobench.txt"
	for pkg in $BENCH_GO_PKGS; do
		log "go test -bench $pkg"
		if ! go test -run='^$' -bench=. -benchmem -benchtime="$BENCHTIME" -count=1 "$pkg" >"$OUT/gobench-pkg.txt" 2>&1; then
			cat "$OUT/gobench-pkg.txt" >&2
			say "$pkg: FAILED (see above; the benchmarks of the other packages go on)"
			STRICT_FAIL=1
		fi
		cat "$OUT/gobench-pkg.txt" >>"$OUT/gobench.txt"
	done
	rm -f "$OUT/gobench-pkg.txt"
	grep -E '^(Benchmark|ok|FAIL|pkg:)' "$OUT/gobench.txt" | tee -a "$SUMMARY"
	bare_ns=$(awk '$1 ~ /^BenchmarkMe\/bare(-[0-9]+)?$/ { print $3 }' "$OUT/gobench.txt")
	latch_ns=$(awk '$1 ~ /^BenchmarkMe\/latch(-[0-9]+)?$/ { print $3 }' "$OUT/gobench.txt")
	if [[ -n "$bare_ns" && -n "$latch_ns" ]]; then
		say "in-process (BenchmarkMe): latch adds $(awk -v a="$latch_ns" -v b="$bare_ns" 'BEGIN { printf "%.0f", a - b }') ns per request over the bare handler (bare/latch ns = $(ratio "$bare_ns" "$latch_ns"))"
	fi
fi

say ""
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ "${BENCH_STRICT:-}" == 1 && $STRICT_FAIL == 1 ]]; then
	log "a target was missed (BENCH_STRICT=1)"
	exit 1
fi
