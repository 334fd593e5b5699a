# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/integration/lib.sh: shared by every tests/integration/NNN-topic.sh (sourced, bash).
#
# Each test prints TAP, owns a fresh work dir ($T, removed at exit) and a fresh berth state root
# ($BERTH_ROOT under $T), and registers what it starts (PIDs, mounts) so the exit trap undoes it,
# whatever way the test ends. Tests never touch /var/lib/berth and never stop processes by name.
#
#   plan N                      print the TAP plan up front, or call done_testing at the end
#   ok COND_EXIT_CODE "desc"    (use: `cmd; ok $? "desc"` or `ok_run "desc" cmd args...`)
#   ok_run "desc" cmd...        ok if cmd exits 0; its output goes to the log on failure
#   fail_run "desc" cmd...      ok if cmd exits non-zero
#   is "got" "want" "desc"      string equality
#   like "got" "regex" "desc"   bash regex match
#   skip_all "reason"           skip the whole test (prints "1..0 # SKIP reason"), with a reason
#   need_root / need_cmd CMD... skip_all with a clear reason when a requirement is missing
#   berth ARGS...               the built binary ($BERTH) with --root $BERTH_ROOT
#   track_pid PID / track_mount DIR   cleaned up at exit (kill -9 PID, umount -l DIR)
#   mk_busybox_rootfs DIR       a minimal busybox-static rootfs (bin/busybox + applet links, dev proc sys tmp etc)
#   mk_busybox_tar FILE         the same rootfs as an uncompressed tar
#   with_timeout SECS cmd...    run cmd, killing it after SECS (exit 124)
set -u
set -o pipefail

: "${BERTH:?BERTH must point at the berth binary (meson test sets it)}"
BERTH_SRCDIR=${BERTH_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

T=$(mktemp -d "${TMPDIR:-/tmp}/berth-it.XXXXXX")
export BERTH_ROOT="$T/root"
export DOCKER_CONFIG="$T/docker-config"
_tap_n=0
_tap_failed=0
_pids=()
_mounts=()
_cleanups=()

_lib_cleanup() {
	local p m c
	for c in "${_cleanups[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
	for p in "${_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for m in "${_mounts[@]}"; do
		mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
	done
	rm -rf "$T"
}
trap _lib_cleanup EXIT
trap 'exit 130' INT TERM

track_pid() { _pids+=("$1"); }
track_mount() { _mounts+=("$1"); }
on_exit() { _cleanups+=("$1"); }

plan() { echo "1..$1"; }

_tap_result() { # status desc
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}
ok() { _tap_result "$1" "$2"; }

ok_run() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	_tap_result "$rc" "$desc"
	[ "$rc" -eq 0 ] || { echo "# command: $*"; echo "# exit $rc, output:"; printf '%s\n' "$out" | sed 's/^/#   /' | head -n 40; }
	return "$rc"
}

fail_run() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ]; then _tap_result 0 "$desc"; else
		_tap_result 1 "$desc"
		echo "# command unexpectedly succeeded: $*"
		printf '%s\n' "$out" | sed 's/^/#   /' | head -n 20
	fi
	LAST_OUTPUT=$out
	return 0
}

is() {
	if [ "$1" = "$2" ]; then _tap_result 0 "$3"; else
		_tap_result 1 "$3"
		echo "#   got: '$1'"
		echo "#  want: '$2'"
	fi
}

like() {
	if [[ "$1" =~ $2 ]]; then _tap_result 0 "$3"; else
		_tap_result 1 "$3"
		printf '#   got: %s\n' "$1" | head -n 20
		echo "#  want match: $2"
	fi
}

skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

need_root() { [ "$(id -u)" -eq 0 ] || skip_all "needs root"; }
need_cmd() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip_all "needs '$c' (install it: tools/deps.sh)"; done
}

berth() { "$BERTH" --root "$BERTH_ROOT" "$@"; }

with_timeout() { local s=$1; shift; timeout -s KILL "$s" "$@"; }

mk_busybox_rootfs() {
	local d=$1 a
	local bb=/bin/busybox
	[ -x "$bb" ] || skip_all "needs busybox-static (/bin/busybox)"
	mkdir -p "$d"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,etc,root,var}
	chmod 1777 "$d/tmp"
	cp "$bb" "$d/bin/busybox"
	for a in $("$bb" --list); do
		[ "$a" = busybox ] && continue
		ln -sf busybox "$d/bin/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$d/etc/passwd"
	echo 'root:x:0:' >"$d/etc/group"
}

mk_busybox_tar() {
	local f=$1 d="$T/bbroot.$$.$RANDOM"
	mk_busybox_rootfs "$d"
	tar -C "$d" --numeric-owner -cf "$f" .
	rm -rf "$d"
}

# Ends a test that did not call `plan`: prints the plan for the tests run so far. Exit status 0
# (meson reads the TAP lines, not the status).
done_testing() {
	echo "1..$_tap_n"
}
