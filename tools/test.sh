#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/test.sh [--sanitize] [--builddir DIR] [-- MESON_TEST_ARGS...]: runs all of berth's tests.
#
# The README's second command. Installs what is missing (tools/deps.sh), configures a build dir
# of its own (build-test, or build-asan with ASan+UBSan for --sanitize), builds, runs
# `meson test`, and ends with the plain line "N passed, N failed, N skipped". The exit status is
# meson test's. With $CI set, warnings are errors.
set -uo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sanitize=0
builddir=
extra=()

usage() {
	echo "Usage: $0 [--sanitize] [--builddir DIR] [-- MESON_TEST_ARGS...]"
}

while [ $# -gt 0 ]; do
	case $1 in
	--sanitize) sanitize=1 ;;
	--builddir) builddir=${2:?--builddir needs a directory}; shift ;;
	--builddir=*) builddir=${1#--builddir=} ;;
	-h | --help) usage; exit 0 ;;
	--) shift; extra=("$@"); break ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'test: %s\n' "$*" >&2; exit 1; }

opts=(-Dtests=true)
if [ "$sanitize" = 1 ]; then
	: "${builddir:=build-asan}"
	# b_lundef=false: the sanitizer runtimes are linked into the executables, not the libraries.
	opts+=(-Db_sanitize=address,undefined -Db_lundef=false)
else
	: "${builddir:=build-test}"
fi
[ -n "${CI:-}" ] && opts+=(-Dwerror=true)
case $builddir in /*) ;; *) builddir=$src/$builddir ;; esac

cd "$src" || die "cannot enter '$src'"

step "Installing dependencies (tools/deps.sh)"
"$src/tools/deps.sh" || die "installing dependencies failed"

step "Configuring $builddir (${opts[*]})"
if [ -f "$builddir/build.ninja" ]; then
	# --reconfigure also picks up new integration scripts (their list is read at configure time).
	meson setup --reconfigure "${opts[@]}" "$builddir" >"$builddir/setup.log" 2>&1 ||
		{ cat "$builddir/setup.log" >&2; die "'meson setup --reconfigure $builddir' failed"; }
else
	mkdir -p "$builddir"
	meson setup "${opts[@]}" "$builddir" >"$builddir/setup.log" 2>&1 ||
		{ cat "$builddir/setup.log" >&2; die "'meson setup $builddir' failed"; }
fi

step "Building (ninja -C $builddir)"
ninja -C "$builddir" || die "the build failed"

step "Testing (meson test -C $builddir)"
# The sanitizers' defaults, made strict: any report fails the test that caused it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rm -f "$builddir/meson-logs/testlog.json"
# The sanitizer run leaves out the 'slow' suite (a debootstrap of the quick start's base image):
# it exercises scripts and a network mirror, not memory safety, and the default run has it.
[ "$sanitize" = 1 ] && [ ${#extra[@]} -eq 0 ] && extra=(--no-suite slow)
meson test -C "$builddir" --print-errorlogs --num-processes 2 "${extra[@]}"
status=$?

# CI's log reader does not read meson's summary: end with the plain counts.
log=$builddir/meson-logs/testlog.json
if [ -s "$log" ]; then
	python3 -c '
import collections, json, sys
r = collections.Counter(json.loads(l)["result"] for l in open(sys.argv[1]) if l.strip())
ok = r["OK"] + r["EXPECTEDFAIL"]
bad = r["FAIL"] + r["TIMEOUT"] + r["ERROR"] + r["UNEXPECTEDPASS"]
skip = r["SKIP"]
print(f"{ok} passed, {bad} failed, {skip} skipped")' "$log"
else
	echo "0 passed, 1 failed, 0 skipped"
	[ "$status" -ne 0 ] || status=1
fi
exit "$status"
