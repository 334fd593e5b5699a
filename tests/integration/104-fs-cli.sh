#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `berth mount` and `berth umount` as a user meets them: usage errors, unknown images, a busy
# mount point, umount of something that is not a berth mount, mounting by image ID prefix.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fs-lib.sh"
need_root
need_cmd mountpoint

mkdir -p "$T/l1/etc"
echo hi >"$T/l1/etc/hi"
id=$(fs_mkimage cli:latest "$T/l1")
ok $? "image"
mkdir -p "$T/plain" "$T/m"

fail_run "mount without arguments" berth mount
like "$LAST_OUTPUT" "requires exactly 2 arguments" "it says what is missing"
fail_run "mount of an unknown image" berth mount nosuchimage "$T/m"
like "$LAST_OUTPUT" "nosuchimage" "the error names the image"
fail_run "mount on a missing directory" berth mount cli:latest "$T/missing/dir"
berth_mount "${id:7:12}" "$T/m"; ok $? "mount by image ID prefix"
is "$(cat "$T/m/etc/hi")" hi "it serves the image"
fail_run "a second mount on the same directory" berth mount cli:latest "$T/m"
like "$LAST_OUTPUT" "busy" "refused as busy"
fail_run "umount of a plain directory" berth umount "$T/plain"
like "$LAST_OUTPUT" "not a mount point" "refused: not a mount point"
ok_run "umount" berth umount "$T/m"
fail_run "umount again" berth umount "$T/m"
is "$(ls "$BERTH_ROOT/mounts")" "" "no state left"
done_testing
