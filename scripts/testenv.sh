#!/usr/bin/env bash
# Usage: scripts/testenv.sh CMD [ARGS...]
#
# Runs CMD with private, throw-away test services:
#   * installs what the tests need when missing (Debian packages: redis-server,
#     nginx and caddy for the reverse-proxy tests (LATCH_TEST_NGINX, LATCH_TEST_CADDY),
#     postgresql, gcc for -race, the Python packages used by interop tests),
#   * starts on free loopback ports, in a temp dir:
#       - one Redis server                 -> LATCH_TEST_REDIS_URL
#       - one PostgreSQL server            -> LATCH_TEST_POSTGRES_URL
#         (fsync, synchronous_commit and full_page_writes off: test data is
#         thrown away)
#       - with LATCH_TESTENV_PG_DURABLE=1, a second one with PostgreSQL's
#         default durability (all three on), for benchmarks of durable
#         writes                           -> LATCH_TEST_POSTGRES_DURABLE_URL
#         (its data directory: LATCH_TEST_POSTGRES_DURABLE_DIR)
#       - a 3-master Redis Cluster         -> LATCH_TEST_REDIS_CLUSTER_ADDRS
#       - one mailpit SMTP server          -> LATCH_TEST_SMTP_ADDR (host:port, plain SMTP
#         with AUTH accepting any credentials) and LATCH_TEST_MAILPIT_API (its
#         HTTP API, where tests read what arrived); LATCH_TEST_MAILPIT is the
#         binary, for tests that start, stop and restart a server of their own
#         (mailpit is built once from the Go module proxy and cached)
#   * exports LATCH_TEST_PYTHON (a python3 that has PyJWT/Django/DRF/SimpleJWT),
#     and LATCH_TEST_PG_BIN (the directory of initdb and pg_ctl),
#   * runs CMD, stops every instance it started (by pid, also on failure or
#     interrupt) and exits with CMD's status.
#
# Knobs (environment):
#   LATCH_TESTENV_CLUSTER=0   do not start the Redis Cluster
#   LATCH_TESTENV_PG_DURABLE=1  also start the durable PostgreSQL (above)
#   LATCH_TESTENV_INSTALL=0   never install anything (fail if missing)
#   LATCH_TESTENV_KEEP=1      keep the temp dir (data and logs) afterwards
#   LATCH_TESTENV_TMPDIR=DIR  parent of the temp dir (default: $TMPDIR or /tmp)
# When run inside another testenv.sh (LATCH_TESTENV_ACTIVE=1) it just runs CMD.
set -euo pipefail

LOG_PREFIX=testenv
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -gt 0 ]] || die "usage: $0 CMD [ARGS...]"

if [[ "${LATCH_TESTENV_ACTIVE:-}" == 1 ]]; then
	exec "$@"
fi

# Daemons misbehave when started with fd 0/1/2 closed (redis-server crashes
# when stdin is closed): make sure all three are open.
if [[ -d /proc/self/fd ]]; then
	[[ -L /proc/self/fd/0 ]] || exec </dev/null
	[[ -L /proc/self/fd/1 ]] || exec >/dev/null
	[[ -L /proc/self/fd/2 ]] || exec 2>/dev/null
fi

t_start=$(date +%s%N)
ms_since_start() { echo $((($(date +%s%N) - t_start) / 1000000)); }

# --------------------------------------------------------------------------
# Install what is missing.
# --------------------------------------------------------------------------
PY_MODULES='import jwt, django, rest_framework, rest_framework_simplejwt'
PY_PKGS=(python3-jwt python3-django python3-djangorestframework python3-djangorestframework-simplejwt)

# pg_bindir prints a directory holding initdb, pg_ctl and postgres (all from
# the same installation), preferring the newest /usr/lib/postgresql/<ver>/bin.
pg_bindir() {
	local d cands=()
	while IFS= read -r d; do cands+=("$d"); done < <(
		for d in /usr/lib/postgresql/*/bin; do [[ -d "$d" ]] && echo "$d"; done | sort -t/ -k5,5 -V -r
	)
	if command -v pg_config >/dev/null 2>&1; then
		cands+=("$(pg_config --bindir 2>/dev/null || true)")
	fi
	local b
	for b in initdb pg_ctl postgres; do
		if command -v "$b" >/dev/null 2>&1; then
			cands+=("$(dirname "$(readlink -f "$(command -v "$b")")")")
		fi
	done
	for d in "${cands[@]}"; do
		[[ -n "$d" ]] || continue
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

need=()
if ! command -v redis-server >/dev/null 2>&1; then
	need+=(redis-server redis-tools)
elif ! command -v redis-cli >/dev/null 2>&1; then
	need+=(redis-tools)
fi
if ! pg_bindir >/dev/null; then
	need+=(postgresql)
fi
py_ok() { /usr/bin/python3 -c "$PY_MODULES" >/dev/null 2>&1; }
PY_OK=0
if py_ok; then PY_OK=1; else need+=("${PY_PKGS[@]}"); fi
# Real reverse proxies in front of latch's forward auth (cmd/latch/proxy_test.go).
NGINX_BIN=/usr/sbin/nginx
if [[ ! -x $NGINX_BIN ]]; then
	need+=(nginx)
fi
if ! command -v caddy >/dev/null 2>&1; then
	need+=(caddy)
fi
# go test -race needs cgo and a C toolchain.
if ! command -v gcc >/dev/null 2>&1; then
	need+=(gcc libc6-dev)
fi
if [[ ${#need[@]} -gt 0 ]]; then
	if [[ "${LATCH_TESTENV_INSTALL:-1}" == 0 ]]; then
		die "missing and LATCH_TESTENV_INSTALL=0: ${need[*]}"
	fi
	log "installing: ${need[*]}"
	apt_install "${need[@]}"
	if [[ $PY_OK == 0 ]] && py_ok; then PY_OK=1; fi
fi
command -v redis-server >/dev/null 2>&1 || die "redis-server still not found"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli still not found"
PG_BIN=$(pg_bindir) || die "PostgreSQL server binaries (initdb, pg_ctl, postgres) still not found"
if [[ $PY_OK == 0 ]]; then
	log "warning: /usr/bin/python3 cannot '$PY_MODULES'; interop tests may skip"
fi
# mailpit, a real SMTP server with an HTTP API, built from the Go module
# proxy (a machine with only Go needs nothing else) into a cache kept
# across runs.
MAILPIT_VERSION=v1.33.1
MAILPIT_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/latch-testenv/mailpit-$MAILPIT_VERSION"
MAILPIT_BIN="$MAILPIT_DIR/mailpit"
if [[ ! -x $MAILPIT_BIN ]]; then
	if [[ "${LATCH_TESTENV_INSTALL:-1}" == 0 ]]; then
		die "missing and LATCH_TESTENV_INSTALL=0: $MAILPIT_BIN"
	fi
	command -v go >/dev/null 2>&1 || die "go not found: needed to build mailpit"
	log "building mailpit $MAILPIT_VERSION (go install; cached in $MAILPIT_DIR)"
	mkdir -p "$MAILPIT_DIR"
	if ! (cd "$MAILPIT_DIR" && GOBIN="$MAILPIT_DIR" GOFLAGS= CGO_ENABLED=0 go install "github.com/axllent/mailpit@$MAILPIT_VERSION") >"$MAILPIT_DIR/build.log" 2>&1; then
		tail -n 30 "$MAILPIT_DIR/build.log" >&2
		die "could not build mailpit"
	fi
fi
t_installed=$(ms_since_start)

# --------------------------------------------------------------------------
# Temp dir, cleanup.
# --------------------------------------------------------------------------
is_root=0
if [[ $(id -u) -eq 0 ]]; then is_root=1; fi
PG_USER=""
if [[ $is_root == 1 ]]; then
	if id postgres >/dev/null 2>&1; then PG_USER=postgres; else PG_USER=nobody; fi
fi

base=${LATCH_TESTENV_TMPDIR:-${TMPDIR:-/tmp}}
# The postgres user must be able to reach its data dir.
if [[ $is_root == 1 && "$base" != /tmp ]] && ! runuser -u "$PG_USER" -- test -x "$base" 2>/dev/null; then
	base=/tmp
fi
TMP=$(mktemp -d "$base/latch-testenv.XXXXXX")
chmod 755 "$TMP"

REDIS_PIDS=()
MAILPIT_PID=""
PG_DATAS=()
PG_PIDS=()
cleanup_done=0

# alive PID: the process exists and is not a zombie (daemons are reparented
# to PID 1, which may reap them late).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	if [[ -r "/proc/$1/stat" ]]; then
		local stat
		stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
		stat=${stat##*) }
		[[ "${stat:0:1}" != Z ]]
	fi
}

# stop_pid PID NAME SIGNAL: signal PID and wait (up to 15s) for it to exit,
# then SIGKILL it. NAME must be the process's name (guards against a stale
# pid file naming a reused pid).
stop_pid() {
	local pid=$1 name=$2 sig=${3:-TERM} i comm
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	alive "$pid" || return 0
	if [[ -r "/proc/$pid/comm" ]]; then
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 0
		if [[ "$comm" != "$name" ]]; then
			log "warning: pid $pid is '$comm', not $name; not stopping it"
			return 0
		fi
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		alive "$pid" || return 0
		sleep 0.05
	done
	log "warning: $name (pid $pid) did not stop; killing it"
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=${1:-$?}
	set +e
	[[ $cleanup_done == 1 ]] && return
	cleanup_done=1
	trap '' INT TERM HUP # do not get interrupted half-way
	local pid stoppers=()
	for pid in "${REDIS_PIDS[@]}"; do
		stop_pid "$pid" "redis-server" TERM &
		stoppers+=($!)
	done
	if [[ -n "$MAILPIT_PID" ]]; then
		stop_pid "$MAILPIT_PID" mailpit TERM &
		stoppers+=($!)
	fi
	# A server that did not get as far as PG_PIDS is found by its pid file.
	local data
	for data in "${PG_DATAS[@]}"; do
		pid=$(head -n1 "$data/postmaster.pid" 2>/dev/null) || continue
		[[ " ${PG_PIDS[*]} " == *" $pid "* ]] || PG_PIDS+=("$pid")
	done
	for pid in "${PG_PIDS[@]}"; do
		# SIGQUIT = immediate shutdown; the data is thrown away anyway.
		stop_pid "$pid" "postgres" QUIT &
		stoppers+=($!)
	done
	for pid in "${stoppers[@]}"; do wait "$pid"; done
	if [[ "${LATCH_TESTENV_KEEP:-}" == 1 ]]; then
		log "kept $TMP"
	elif [[ $rc -ne 0 ]]; then
		# Keep only the logs, for a look after a failure.
		find "$TMP" -mindepth 1 -maxdepth 1 ! -name '*.log' -exec rm -rf {} + 2>/dev/null
		log "services stopped; logs kept in $TMP"
	else
		rm -rf "$TMP"
	fi
}
# CMD runs in the background (see the end) so that a signal sent to this
# script alone is handled at once: it is passed on to CMD, then the services
# are stopped by the EXIT trap.
CHILD=""
# shellcheck disable=SC2317 # called from traps
on_signal() { # SIGNAL EXIT_CODE
	trap '' INT TERM HUP
	if [[ -n "$CHILD" ]] && kill -0 "$CHILD" 2>/dev/null; then
		log "got SIG$1; passing it on to the command (pid $CHILD)"
		kill "-$1" "$CHILD" 2>/dev/null || true
		local i
		for ((i = 0; i < 100; i++)); do
			alive "$CHILD" || break
			sleep 0.1
		done
	fi
	exit "$2"
}
trap 'cleanup' EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP

show_log() {
	local f=$1
	if [[ -s "$f" ]]; then
		log "---- last lines of $f ----"
		tail -n 30 "$f" >&2
		log "----"
	fi
}

# --------------------------------------------------------------------------
# Ports: random ones in 15000-22767, so that a cluster bus port (+10000) is
# below the kernel's ephemeral range (32768+) too; a port counts as free when
# nothing accepts a connection on it. Starts are retried on a new port anyway.
# --------------------------------------------------------------------------
USED_PORTS=" "
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# free_port [BUS]: prints a free port (and checks port+10000 too when BUS=1).
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((15000 + (RANDOM * 32768 + RANDOM) % 7768))
		[[ "$USED_PORTS" == *" $p "* ]] && continue
		port_busy "$p" && continue
		if [[ "${1:-0}" == 1 ]] && port_busy $((p + 10000)); then continue; fi
		USED_PORTS+="$p "
		echo "$p"
		return 0
	done
	die "no free port found"
}

# --------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------
wait_redis() { # PORT PID
	local i
	for ((i = 0; i < 200; i++)); do
		if [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; then
			return 0
		fi
		alive "$2" || return 1 # exited (bind error, bad option...)
		sleep 0.05
	done
	return 1
}

# start_redis NAME [cluster]: starts a redis-server; sets REDIS_PORT.
# Not daemonized: started as a background child, so that its pid is known
# at once ($!) and it can always be stopped, whatever happens during start.
start_redis() {
	local name=$1 cluster=${2:-} attempt port dir args pid
	dir="$TMP/$name"
	mkdir -p "$dir"
	for ((attempt = 1; attempt <= 5; attempt++)); do
		port=$(free_port "$([[ -n $cluster ]] && echo 1 || echo 0)")
		args=(--port "$port" --bind 127.0.0.1 --save '' --appendonly no
			--daemonize no --dir "$dir" --pidfile "$dir/redis.pid"
			--logfile "$TMP/$name.log" --protected-mode no)
		if [[ -n $cluster ]]; then
			args+=(--cluster-enabled yes --cluster-config-file nodes.conf
				--cluster-node-timeout 5000)
		fi
		rm -f "$dir/nodes.conf"
		redis-server "${args[@]}" </dev/null >>"$TMP/$name.log" 2>&1 &
		pid=$!
		REDIS_PIDS+=("$pid")
		if wait_redis "$port" "$pid"; then
			REDIS_PORT=$port
			return 0
		fi
		stop_pid "$pid" redis-server
		log "$name did not start on port $port (attempt $attempt)"
		if ! grep -qE 'Address already in use|Failed listening' "$TMP/$name.log" 2>/dev/null; then
			break
		fi
		mv "$TMP/$name.log" "$TMP/$name.attempt$attempt.log"
	done
	show_log "$TMP/$name.log"
	die "could not start $name"
}

# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------
as_pg() {
	if [[ $is_root == 1 ]]; then
		# cd: the caller's cwd may not be readable by $PG_USER.
		if command -v runuser >/dev/null 2>&1; then
			(cd "$TMP" && runuser -u "$PG_USER" -- "$@")
		else
			(cd "$TMP" && su "$PG_USER" -s /bin/sh -c "$(printf '%q ' "$@")")
		fi
	else
		"$@"
	fi
}

# start_postgres NAME [SETTINGS...]: initdb and start a PostgreSQL server in
# $TMP/NAME on a free port, with the -c settings given; sets PG_PORT and
# appends its pid to PG_PIDS (its data dir to PG_DATAS, for cleanup).
start_postgres() {
	local name=$1 pgdir="$TMP/$1" attempt port opts="" setting
	shift
	for setting in "$@"; do opts+=" -c $setting"; done
	mkdir -p "$pgdir/data" "$pgdir/sock"
	chmod 700 "$pgdir/data"
	if [[ $is_root == 1 ]]; then chown -R "$PG_USER" "$pgdir"; fi
	local data="$pgdir/data" log="$TMP/$name.log"
	PG_DATAS+=("$data")
	if ! as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust \
		--no-locale -E UTF8 --no-sync >"$TMP/$name-initdb.log" 2>&1; then
		show_log "$TMP/$name-initdb.log"
		die "initdb failed"
	fi
	touch "$log"
	if [[ $is_root == 1 ]]; then chown "$PG_USER" "$log"; fi
	for ((attempt = 1; attempt <= 5; attempt++)); do
		port=$(free_port 0)
		if as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $pgdir/sock -c max_connections=300$opts" \
			start </dev/null >>"$TMP/$name-pg_ctl.log" 2>&1; then
			if [[ -x "$PG_BIN/pg_isready" ]]; then
				"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -t 10 ||
					{ show_log "$log"; die "$name started but is not ready"; }
			fi
			PG_PORT=$port
			PG_PIDS+=("$(head -n1 "$data/postmaster.pid")")
			return 0
		fi
		log "$name did not start on port $port (attempt $attempt)"
		if [[ -s "$data/postmaster.pid" ]]; then
			stop_pid "$(head -n1 "$data/postmaster.pid")" postgres QUIT
		fi
		if ! grep -qE 'could not bind|could not create any TCP/IP sockets|Address already in use' "$log"; then
			break
		fi
		mv "$log" "$TMP/$name.attempt$attempt.log"
		touch "$log"
		if [[ $is_root == 1 ]]; then chown "$PG_USER" "$log"; fi
	done
	show_log "$TMP/$name-pg_ctl.log"
	show_log "$log"
	die "could not start $name"
}

# --------------------------------------------------------------------------
# mailpit (SMTP + HTTP API)
# --------------------------------------------------------------------------
start_mailpit() {
	local attempt smtp_port http_port i
	for ((attempt = 1; attempt <= 5; attempt++)); do
		smtp_port=$(free_port 0)
		http_port=$(free_port 0)
		"$MAILPIT_BIN" --smtp "127.0.0.1:$smtp_port" --listen "127.0.0.1:$http_port" \
			--database "$TMP/mailpit.db" --smtp-auth-accept-any --smtp-auth-allow-insecure \
			--smtp-disable-rdns --disable-version-check --quiet </dev/null >>"$TMP/mailpit.log" 2>&1 &
		MAILPIT_PID=$!
		for ((i = 0; i < 200; i++)); do
			if port_busy "$smtp_port" && port_busy "$http_port"; then
				SMTP_PORT=$smtp_port
				MAILPIT_HTTP_PORT=$http_port
				return 0
			fi
			alive "$MAILPIT_PID" || break
			sleep 0.05
		done
		stop_pid "$MAILPIT_PID" mailpit
		MAILPIT_PID=""
		log "mailpit did not start on ports $smtp_port/$http_port (attempt $attempt)"
	done
	show_log "$TMP/mailpit.log"
	die "could not start mailpit"
}

# --------------------------------------------------------------------------
# Redis Cluster (3 masters, no replicas)
# --------------------------------------------------------------------------
start_redis_cluster() {
	local ports=() addrs=() i p info ok
	for i in 1 2 3; do
		start_redis "redis-cluster-$i" cluster
		ports+=("$REDIS_PORT")
		addrs+=("127.0.0.1:$REDIS_PORT")
	done
	if ! timeout 120 redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes \
		>"$TMP/redis-cluster-create.log" 2>&1 </dev/null; then
		show_log "$TMP/redis-cluster-create.log"
		die "redis-cli --cluster create failed"
	fi
	for ((i = 0; i < 300; i++)); do
		ok=1
		for p in "${ports[@]}"; do
			info=$(redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | tr -d '\r')
			if [[ "$info" != *"cluster_state:ok"* || "$info" != *"cluster_slots_ok:16384"* ||
				"$info" != *"cluster_known_nodes:3"* ]]; then
				ok=0
				break
			fi
		done
		if [[ $ok == 1 ]]; then
			# Every node must also route a key (redirects followed with -c).
			for p in "${ports[@]}"; do
				if [[ "$(redis-cli -c -h 127.0.0.1 -p "$p" set "latch-testenv-$p" 1 2>/dev/null)" != OK ]]; then
					ok=0
				fi
				redis-cli -c -h 127.0.0.1 -p "$p" del "latch-testenv-$p" >/dev/null 2>&1 || true
			done
		fi
		if [[ $ok == 1 ]]; then
			CLUSTER_ADDRS=$(
				IFS=,
				echo "${addrs[*]}"
			)
			return 0
		fi
		sleep 0.1
	done
	for p in "${ports[@]}"; do
		log "cluster info of 127.0.0.1:$p:"
		redis-cli -h 127.0.0.1 -p "$p" cluster info 2>&1 | head -n 8 >&2 || true
	done
	show_log "$TMP/redis-cluster-create.log"
	die "redis cluster did not reach cluster_state:ok within 30s"
}

# --------------------------------------------------------------------------
# Start everything, run the command, stop everything.
# --------------------------------------------------------------------------
log "starting services in $TMP"
start_redis redis
REDIS_MAIN_PORT=$REDIS_PORT
# Durability off: the tests throw the data away.
start_postgres postgres fsync=off synchronous_commit=off full_page_writes=off
PG_MAIN_PORT=$PG_PORT
if [[ "${LATCH_TESTENV_PG_DURABLE:-0}" == 1 ]]; then
	# PostgreSQL's own defaults (fsync, synchronous_commit and
	# full_page_writes on): what a production server runs, for benchmarks
	# of durable writes.
	start_postgres postgres-durable
	export LATCH_TEST_POSTGRES_DURABLE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
	LATCH_TEST_POSTGRES_DURABLE_DIR="$TMP/postgres-durable/data"
	export LATCH_TEST_POSTGRES_DURABLE_DIR
else
	unset LATCH_TEST_POSTGRES_DURABLE_URL LATCH_TEST_POSTGRES_DURABLE_DIR
fi
start_mailpit
if [[ "${LATCH_TESTENV_CLUSTER:-1}" != 0 ]]; then
	start_redis_cluster
	export LATCH_TEST_REDIS_CLUSTER_ADDRS="$CLUSTER_ADDRS"
else
	unset LATCH_TEST_REDIS_CLUSTER_ADDRS
fi

export LATCH_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_MAIN_PORT/0"
# Tests that stop and restart a PostgreSQL of their own start it from here.
export LATCH_TEST_PG_BIN="$PG_BIN"
export LATCH_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_MAIN_PORT/postgres?sslmode=disable"
if [[ $PY_OK == 1 ]]; then
	export LATCH_TEST_PYTHON=/usr/bin/python3
else
	unset LATCH_TEST_PYTHON
fi
[[ -x $NGINX_BIN ]] && export LATCH_TEST_NGINX="$NGINX_BIN"
command -v caddy >/dev/null 2>&1 && export LATCH_TEST_CADDY="$(command -v caddy)"
export LATCH_TEST_SMTP_ADDR="127.0.0.1:$SMTP_PORT"
export LATCH_TEST_MAILPIT_API="http://127.0.0.1:$MAILPIT_HTTP_PORT"
export LATCH_TEST_MAILPIT="$MAILPIT_BIN"
export LATCH_TESTENV_ACTIVE=1

log "redis $LATCH_TEST_REDIS_URL"
log "postgres $LATCH_TEST_POSTGRES_URL"
if [[ -n "${LATCH_TEST_POSTGRES_DURABLE_URL:-}" ]]; then log "postgres (durable) $LATCH_TEST_POSTGRES_DURABLE_URL"; fi
log "smtp $LATCH_TEST_SMTP_ADDR (mailpit API $LATCH_TEST_MAILPIT_API)"
if [[ -n "${LATCH_TEST_REDIS_CLUSTER_ADDRS:-}" ]]; then log "redis cluster $LATCH_TEST_REDIS_CLUSTER_ADDRS"; fi
log "ready in $(ms_since_start) ms (install check/install: $t_installed ms); running: $*"

# In the background, with stdin kept and SIGINT/SIGQUIT not ignored (a
# non-interactive shell would ignore them in background jobs).
env --default-signal=INT,QUIT -- "$@" <&0 &
CHILD=$!
status=0
wait "$CHILD" || status=$?
CHILD=""

t_stop=$(date +%s%N)
log "command exited with status $status; stopping services"
cleanup "$status"
log "stopped in $((($(date +%s%N) - t_stop) / 1000000)) ms"
exit "$status"
