# shellcheck shell=bash
# Shared helpers for the scripts in this directory. Source it; do not run it.
#
#   apt_install PKG...   install Debian packages that exist in the configured
#                        archive (names that do not exist are skipped with a
#                        warning); runs `apt-get update` once per process.

if [[ -n "${_LATCH_LIB_SH:-}" ]]; then
	return 0
fi
_LATCH_LIB_SH=1

log() { printf '%s: %s\n' "${LOG_PREFIX:-latch}" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# as_root CMD... runs CMD as root (directly, or through sudo when not root).
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n -- "$@"
	else
		die "need root to run: $* (install the packages by hand or run as root)"
	fi
}

_apt_updated=""
apt_update_once() {
	if [[ -z "$_apt_updated" ]]; then
		log "apt-get update"
		local out
		out=$(mktemp "${TMPDIR:-/tmp}/latch-apt.XXXXXX")
		if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update >"$out" 2>&1; then
			tail -n 40 "$out" >&2
			rm -f "$out"
			die "apt-get update failed"
		fi
		rm -f "$out"
		_apt_updated=1
	fi
}

# apt_pkg_exists PKG: true when apt knows an installable candidate for PKG.
apt_pkg_exists() {
	local cand
	cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
	[[ -n "$cand" && "$cand" != "(none)" ]]
}

apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found; please install: $*"
	apt_update_once
	local p ok=()
	for p in "$@"; do
		if apt_pkg_exists "$p"; then
			ok+=("$p")
		else
			log "warning: Debian package '$p' does not exist here; skipping it"
		fi
	done
	[[ ${#ok[@]} -gt 0 ]] || return 0
	log "apt-get install ${ok[*]}"
	# Keep package maintainer scripts from starting system-wide services
	# (a stock redis on 6379, a "main" postgres cluster on 5432): the tests
	# use private instances. Only add a policy-rc.d when there is none.
	local policy=/usr/sbin/policy-rc.d added_policy=""
	if [[ ! -e $policy ]] && [[ $(id -u) -eq 0 ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
	fi
	local rc=0 out
	out=$(mktemp "${TMPDIR:-/tmp}/latch-apt.XXXXXX")
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
		install -y -q "${ok[@]}" >"$out" 2>&1 || rc=$?
	if [[ -n "$added_policy" ]]; then
		rm -f "$policy"
	fi
	if [[ $rc -ne 0 ]]; then
		tail -n 40 "$out" >&2
		rm -f "$out"
		die "apt-get install ${ok[*]} failed (exit $rc)"
	fi
	rm -f "$out"
}
