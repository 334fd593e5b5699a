#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Resource bounds and permissions of a berth mount: the server's file descriptors stay bounded
# over 100k open/close cycles; forget works (the kernel's dropped inodes free ours); the mount has
# suid and dev (containers need both) and enforces permissions for other users (allow_other,
# default_permissions).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fs-lib.sh"
need_root
need_cmd python3 setpriv mountpoint

mkdir -p "$T/l1/d" "$T/l1/private"
for i in $(seq 1 200); do echo "$i" >"$T/l1/d/f$i"; done
echo secret >"$T/l1/private/secret" && chmod 600 "$T/l1/private/secret"
echo public >"$T/l1/public"
mkdir -m 1777 "$T/l1/tmp"
chmod 755 "$T" # mktemp -d is 0700: let the other users reach the mount
ok_run "image" fs_mkimage bounds:latest "$T/l1"
berth_mount bounds:latest "$T/b"; ok $? "mount"
pid=$(awk '$1 == "pid" {print $2}' "$BERTH_ROOT"/mounts/*/state)

opts=$(awk -v m="$T/b" '$5 == m {print $6}' /proc/self/mountinfo)
ok $([[ ",$opts," != *,nosuid,* && ",$opts," != *,nodev,* ]]; echo $?) "mounted with suid and dev ($opts)"

nfd() { ls "/proc/$pid/fd" | wc -l; }
before=$(nfd)
ok_run "100k open/close cycles over lower and upper files" python3 -c '
import os, sys
root = sys.argv[1]
for i in range(1, 51):
    open(f"{root}/d/up{i}", "w").write("x")
for n in range(100000):
    i = n % 200 + 1
    p = f"{root}/d/f{i}" if n % 4 else f"{root}/d/up{n % 50 + 1}"
    fd = os.open(p, os.O_RDONLY)
    os.read(fd, 16)
    os.close(fd)
' "$T/b"
after=$(nfd)
ok $((after > before + 100)) "server fds bounded: $before before, $after after"

# The kernel may keep any number of upper inodes; the server holds an fd only for directories
# (fs/inode.h): more files than the fd limit work, and the server's fds stay few.
n=$(($(ulimit -Hn) + 2000))
ok_run "create and stat $n upper files (more than the fd limit)" python3 -c '
import os, sys
d = sys.argv[1] + "/many"
os.mkdir(d)
for i in range(int(sys.argv[2])):
    os.close(os.open(f"{d}/{i}", os.O_CREAT | os.O_WRONLY, 0o644))
for i in range(int(sys.argv[2])):
    os.stat(f"{d}/{i}")
' "$T/b" "$n"
many=$(nfd)
ok $((many > before + 100)) "server fds still bounded: $many"
ok_run "remove them" rm -rf "$T/b/many"

ok_run "another user reads a public file" setpriv --reuid 1000 --regid 1000 --clear-groups cat "$T/b/public"
fail_run "another user cannot read a 0600 file" setpriv --reuid 1000 --regid 1000 --clear-groups cat "$T/b/private/secret"
like "$LAST_OUTPUT" "Permission denied" "EACCES"
fail_run "another user cannot create in a root dir" setpriv --reuid 1000 --regid 1000 --clear-groups touch "$T/b/d/mine"
ok_run "another user creates in a 1777 dir" setpriv --reuid 1000 --regid 1000 --clear-groups touch "$T/b/tmp/mine"
is "$(stat -c %u:%g "$T/b/tmp/mine")" "1000:1000" "the file is theirs"
fail_run "sticky: another user cannot delete it" setpriv --reuid 1001 --regid 1001 --clear-groups rm -f "$T/b/tmp/mine"
ok_run "umount" berth umount "$T/b"
done_testing
