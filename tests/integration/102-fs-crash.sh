#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A dead filesystem server: kill -9 of it makes accesses fail (ENOTCONN), never hang; `berth
# umount` clears the dead mount and its state. A kill during copy-ups leaves no half copy, and a
# file fsynced before the kill is intact after remounting the same upper directory.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fs-lib.sh"
need_root
need_cmd mountpoint

mkdir -p "$T/l1/big"
for i in $(seq 1 20); do yes "line $i of a file to copy up" | head -c 4000000 >"$T/l1/big/f$i"; done
echo small >"$T/l1/small"
ok_run "image" fs_mkimage crash:latest "$T/l1"

server_pid() { awk '$1 == "pid" {print $2}' "$BERTH_ROOT"/mounts/*/state; }

berth_mount crash:latest "$T/b"; ok $? "mount"
pid=$(server_pid)
like "$pid" '^[0-9]+$' "the server's pid is recorded"
track_pid "$pid"
(cd "$T/b" && sleep 600) &
holder=$!
track_pid "$holder"
kill -9 "$pid"
sleep 0.2
with_timeout 10 stat "$T/b/small" >"$T/err" 2>&1
rc=$?
ok $((rc == 0 || rc == 124)) "an access to the dead mount fails, and does not hang (exit $rc)"
like "$(cat "$T/err")" "not connected" "the error is ENOTCONN"
with_timeout 20 "$BERTH" --root "$BERTH_ROOT" umount "$T/b"
ok $? "berth umount clears the dead mount (busy: a process has its cwd in it)"
fail_run "no longer a mount point" mountpoint -q "$T/b"
is "$(ls "$BERTH_ROOT/mounts")" "" "its state is gone"
kill -9 "$holder"

# A kill during copy-ups, with a persistent upper.
berth_mount crash:latest "$T/b" --upper "$T/up"; ok $? "mount with --upper"
pid=$(server_pid)
track_pid "$pid"
echo durable | dd of="$T/b/synced" conv=fsync status=none
ok $? "an fsynced write"
(for i in $(seq 1 20); do echo tail >>"$T/b/big/f$i"; done) 2>/dev/null &
appender=$!
track_pid "$appender"
sleep 0.3
kill -9 "$pid"
wait "$appender" 2>/dev/null
with_timeout 20 "$BERTH" --root "$BERTH_ROOT" umount "$T/b"
ok $? "umount after the kill"
berth_mount crash:latest "$T/b" --upper "$T/up"; ok $? "remount the same upper"
is "$(cat "$T/b/synced")" durable "the fsynced file is intact"
bad=0
for i in $(seq 1 20); do
	want=$(yes "line $i of a file to copy up" | head -c 4000000 | sha256sum | cut -c1-64)
	want2=$( (yes "line $i of a file to copy up" | head -c 4000000; echo tail) | sha256sum | cut -c1-64)
	got=$(sha256sum <"$T/b/big/f$i" | cut -c1-64)
	[ "$got" = "$want" ] || [ "$got" = "$want2" ] || { bad=1; echo "# big/f$i is neither the old nor the new content"; }
done
ok $bad "every file is the lower one or a complete copy (no half copy-up)"
is "$(ls -A "$T/up.work")" "" "work/ is emptied at mount"
ok_run "umount" berth umount "$T/b"

# A kill during an untar into the union: after remounting, the tree walks cleanly, work/ is
# empty, and the fsynced file from before is intact.
mk_busybox_tar "$T/bb.tar"
berth_mount crash:latest "$T/b" --upper "$T/up"; ok $? "mount again"
pid=$(server_pid)
track_pid "$pid"
mkdir -p "$T/b/untar" 2>/dev/null
(tar -C "$T/b/untar" -xf "$T/bb.tar"; for i in 1 2 3; do tar -C "$T/b/untar" -xf "$T/bb.tar"; done) 2>/dev/null &
untar=$!
track_pid "$untar"
sleep 0.5
kill -9 "$pid"
wait "$untar" 2>/dev/null
with_timeout 20 "$BERTH" --root "$BERTH_ROOT" umount "$T/b"
ok $? "umount after a kill during an untar"
berth_mount crash:latest "$T/b" --upper "$T/up"; ok $? "remount"
ok_run "the union walks cleanly" find "$T/b" -xdev -ls
is "$(cat "$T/b/synced")" durable "the fsynced file is still intact"
is "$(ls -A "$T/up.work")" "" "work/ is empty"
ok_run "untar again over the leftovers" tar -C "$T/b/untar" -xf "$T/bb.tar"
is "$(cmp "$T/b/untar/bin/busybox" /bin/busybox && echo same)" same "and the result is right"
ok_run "umount" berth umount "$T/b"
done_testing
