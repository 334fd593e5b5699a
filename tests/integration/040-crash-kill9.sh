#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 040-crash-kill9: `berth import`, `berth load` and `berth gc` killed with SIGKILL at random points
# never leave a store that `berth fsck` calls unclean, an image that cannot be read back in full, or
# a ref naming a missing image; and once every image is removed, gc leaves no object behind.
#
# Each round starts one operation in the background and SIGKILLs it after a random delay
# (0-300 ms, capped near the operation's measured length so that kills land inside it, not after).
# BERTH_KILL9_ROUNDS (default 24) and BERTH_KILL9_SEED (default: random, printed) reproduce a run.
source "$(dirname "$0")/lib.sh"

rounds=${BERTH_KILL9_ROUNDS:-24}
seed=${BERTH_KILL9_SEED:-$((($$ + $(date +%s%N) / 1000) % 32768))}
RANDOM=$seed
echo "# seed $seed (BERTH_KILL9_SEED=$seed reproduces the random choices)"
deadline=$((SECONDS + 150)) # bounded: stop starting rounds after 150 s, whatever the machine

# Payload sizes: large enough that an operation outlasts most delays, small enough for ASan.
DATA_MB=${BERTH_KILL9_DATA_MB:-4}

# A rootfs tar: busybox, the shared pool of data (dedups against earlier images) and NEW_MB of
# content no earlier image has (so the import really writes new objects).
pool=$T/pool
mkdir -p "$pool"
head -c $((DATA_MB * 1024 * 1024)) /dev/urandom >"$pool/shared.bin"
mk_busybox_rootfs "$T/bb"
mk_tar() { # FILE NEW_MB
	local d=$T/tarroot
	rm -rf "$d"
	mkdir -p "$d/data"
	ln "$pool/shared.bin" "$d/data/shared.bin"
	head -c $(($2 * 1024 * 1024)) /dev/urandom >"$d/data/new.bin"
	# Many small files too: a kill then often lands between objects of one import.
	awk -v d="$d/data" -v r="$RANDOM$RANDOM" 'BEGIN { for (i = 1; i <= 300; i++) print "file", i, r > (d "/small-" i ".txt") }'
	tar -cf "$1" --numeric-owner -C "$T/bb" . -C "$d" data
	rm -rf "$d"
}

ms() { date +%s%3N; }

# Sources for `berth load`: OCI layouts saved from a separate root, so that loading them into the
# test's root writes objects this root lacks (until they are loaded once and not removed).
src_root=$T/src-root
loads=()
for i in 1 2 3; do
	mk_tar "$T/src$i.tar" "$DATA_MB"
	"$BERTH" --root "$src_root" import "$T/src$i.tar" "loadsrc$i:latest" >/dev/null ||
		{ echo "# setup: import into the source root failed"; ok 1 "setup"; done_testing; exit 0; }
	"$BERTH" --root "$src_root" save "loadsrc$i:latest" -o "$T/load$i.tar" ||
		{ echo "# setup: save from the source root failed"; ok 1 "setup"; done_testing; exit 0; }
	loads+=("$T/load$i.tar")
done
rm -rf "$src_root"

# Calibration: how long each operation takes here when not killed (ASan: several times longer;
# an import's final syncfs() alone can take a second on a busy disk). A round's kill lands at a
# random point in 0-300 ms, or in 0-100% of the operation's length when that is longer, so that
# kills also land in an operation's last steps (the image record, the refs) and a few operations
# finish first.
declare -A max_delay
calibrate() { # OP DESC CMD...: runs CMD, records OP's delay range
	local op=$1 desc=$2 t0 took
	shift 2
	t0=$(ms)
	ok_run "$desc" "$@"
	took=$(($(ms) - t0))
	max_delay[$op]=$((took > 300 ? took : 300))
	echo "# $op takes ${took} ms; kills land at 0-${max_delay[$op]} ms"
}
mk_tar "$T/calib.tar" "$DATA_MB"
calibrate import "an import ($(du -m "$T/calib.tar" | cut -f1) MB) that is not killed succeeds" \
	berth import "$T/calib.tar" calib:latest
calibrate load "a load that is not killed succeeds" berth load -i "${loads[0]}"
berth rmi calib:latest >/dev/null
calibrate gc "a gc that is not killed succeeds" berth gc

# Checks after every round: fsck is clean, every listed image reads back in full (save), and no
# ref names an image that is not there.
check_store() { # ROUND OP
	local round=$1 op=$2 id ids name bad=0 out rc
	out=$(berth fsck 2>&1)
	rc=$?
	ok "$rc" "round $round ($op): fsck is clean"
	[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /' | head -n 20
	# Objects are immutable and only gc deletes any: an image read back in full once stays
	# complete until a gc runs. So after import/load only the images not verified yet are saved,
	# after gc all of them; all at once (one process), then one by one only to name a culprit.
	[ "$op" != gc ] || verified=" "
	ids=
	for id in $(image_ids); do
		[[ "$verified" == *" $id "* ]] || ids="$ids $id"
	done
	if [ -n "$ids" ] && ! out=$(berth save $ids -o "$T/check.tar" 2>&1); then
		bad=1
		printf '%s\n' "$out" | sed 's/^/#   save: /' | head -n 5
		for id in $ids; do
			berth save "$id" -o "$T/check.tar" >/dev/null 2>&1 ||
				echo "#   image $id is listed but 'berth save' fails"
		done
	fi
	rm -f "$T/check.tar"
	[ "$bad" -ne 0 ] || verified="$verified${ids# } "
	ok "$bad" "round $round ($op): every listed image saves in full"
	bad=0
	if [ -f "$BERTH_ROOT/store/refs" ]; then
		while read -r name id; do
			[ -n "$name" ] || continue
			if [ ! -f "$BERTH_ROOT/store/images/${id#sha256:}" ] || ! berth inspect "$name" >/dev/null 2>&1; then
				echo "#   ref '$name' names '$id', which is missing"
				bad=1
			fi
		done <"$BERTH_ROOT/store/refs"
	fi
	ok "$bad" "round $round ($op): every ref names an image that exists"
}

# Image IDs (short, once each) and tagged names ("name:tag", from `berth images`' first two columns).
image_ids() { berth images -q | sort -u; }
image_refs() { berth images | awk 'NR > 1 && $1 != "<none>" && $2 != "<none>" { print $1 ":" $2 }'; }
pick() { [ $# -eq 0 ] || echo "${@:RANDOM % $# + 1:1}"; }

verified=" " # IDs read back in full since the last gc
killed=0
completed=0
n_import=0
for round in $(seq 1 "$rounds"); do
	[ "$SECONDS" -lt "$deadline" ] || { echo "# time bound reached after $((round - 1)) rounds"; break; }
	# Keep the store small (each round checks all of it): at most 5 images before an operation.
	while [ "$(image_ids | wc -l)" -gt 5 ]; do
		victim=$(pick $(image_ids))
		berth rmi -f "$victim" >/dev/null 2>&1 || { echo "#   'berth rmi -f $victim' failed"; break; }
	done
	case $((RANDOM % 3)) in
	0)
		n_import=$((n_import + 1))
		op="import"
		mk_tar "$T/round.tar" "$DATA_MB"
		cmd=("$BERTH" --root "$BERTH_ROOT" import "$T/round.tar" "imp$((n_import % 4)):latest")
		;;
	1)
		op="load"
		cmd=("$BERTH" --root "$BERTH_ROOT" load -i "${loads[RANDOM % ${#loads[@]}]}")
		;;
	2)
		op="gc"
		# Give gc something to delete: untag one image first (not killed).
		victim=$(pick $(image_refs))
		[ -z "$victim" ] || berth rmi "$victim" >/dev/null 2>&1 || echo "#   'berth rmi $victim' failed"
		cmd=("$BERTH" --root "$BERTH_ROOT" gc)
		;;
	esac
	delay=$((RANDOM % (max_delay[$op] + 1)))
	# The binary itself, not lib.sh's `berth` function: $! must be berth's own PID, or the kill
	# would hit a subshell and leave berth running on behind the checks.
	"${cmd[@]}" >"$T/op.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	if [ "$rc" -eq 137 ]; then
		killed=$((killed + 1))
		echo "# round $round: $op killed after ${delay} ms"
	else
		completed=$((completed + 1))
		echo "# round $round: $op finished (exit $rc) before the kill at ${delay} ms"
		ok "$rc" "round $round ($op): an operation that was not killed succeeded"
		[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/op.log" | head -n 20
	fi
	check_store "$round" "$op"
done

echo "# $killed operations killed, $completed finished first"
# A run in which nothing was killed tested nothing.
[ "$killed" -ge $(((killed + completed) / 4)) ] && [ "$killed" -gt 0 ]
ok $? "at least a quarter of the operations were killed while running ($killed of $((killed + completed)))"

# The end: remove every image (by name, then what is left untagged by ID), collect, nothing is left.
for name in $(image_refs); do
	berth rmi "$name" >/dev/null 2>&1 || echo "#   'berth rmi $name' failed"
done
for id in $(image_ids); do
	berth rmi "$id" >/dev/null 2>&1 || echo "#   'berth rmi $id' failed"
done
is "$(berth images -q)" "" "after rmi of everything, no image is listed"
ok_run "gc succeeds" berth gc
left=$(find "$BERTH_ROOT/store/objects" "$BERTH_ROOT/store/images" "$BERTH_ROOT/store/tmp" -type f 2>/dev/null | wc -l)
is "$left" "0" "gc leaves no objects, image records or temp files"
ok_run "fsck of the empty store is clean" berth fsck

done_testing
