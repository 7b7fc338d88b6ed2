#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [PACKAGES...]   (default ./...)
# Runs every Fuzz* target, one at a time, for FUZZTIME (default 10s) each.
# Targets are discovered with `go test -list '^Fuzz'`. Exits non-zero if any
# target fails (after running all of them).
set -euo pipefail
LOG_PREFIX=fuzz
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZTIME=${FUZZTIME:-10s}
[[ $# -gt 0 ]] || set -- ./...

# `go test -list` prints a package's matching names, then "ok  <pkg> <time>".
list=$(go test -run='^$' -list '^Fuzz' "$@")
targets=()
pending=()
while IFS= read -r line; do
	case "$line" in
	Fuzz*) pending+=("$line") ;;
	ok*)
		pkg=$(awk '{print $2}' <<<"$line")
		for f in "${pending[@]}"; do targets+=("$pkg $f"); done
		pending=()
		;;
	*) pending=() ;;
	esac
done <<<"$list"

if [[ ${#targets[@]} -eq 0 ]]; then
	log "no Fuzz targets found"
	exit 0
fi
log "${#targets[@]} fuzz target(s), $FUZZTIME each"
failed=()
for t in "${targets[@]}"; do
	read -r pkg fn <<<"$t"
	log "$pkg $fn"
	if ! go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$FUZZTIME" "$pkg"; then
		failed+=("$pkg $fn")
	fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
	log "FAILED: ${failed[*]}"
	exit 1
fi
log "all fuzz targets passed"
