#!/usr/bin/env bash
# Usage: scripts/bench/run.sh
# Benchmarks: Go micro-benchmarks (go test -bench), run with the private
# Redis/PostgreSQL instances of scripts/testenv.sh so that store-backed
# benchmarks do not skip. wrk is installed for the HTTP load scenarios.
set -euo pipefail
LOG_PREFIX=bench
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
source "$here/../lib.sh"
cd "$here/../.."

if ! command -v wrk >/dev/null 2>&1; then
	apt_install wrk
fi

BENCHTIME=${BENCHTIME:-1s}
exec "$here/../testenv.sh" go test -run='^$' -bench=. -benchmem -benchtime="$BENCHTIME" ./...
