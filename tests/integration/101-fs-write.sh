#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Differential test of writes: the same operation sequence on berth's union and on kernel
# overlayfs over the same layers (the oracle); every result and the final trees must agree. Where
# berth deliberately differs (rename(2) of a lower directory succeeds; overlayfs without
# redirect_dir says EXDEV) the test says so and checks berth's behaviour alone.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fs-lib.sh"
need_root
need_cmd getfattr setfattr mountpoint python3 fallocate
grep -qw overlay /proc/filesystems || skip_all "needs kernel overlayfs (the oracle)"

mk_layers "$T/layers"
L=$T/layers
ok_run "image of 3 layers" fs_mkimage three:latest "$L/l1" "$L/l2" "$L/l3"
berth_mount three:latest "$T/b"; ok $? "berth mount"
ovl_mount "$T/o" "$T/ou" "$T/ow" "$L/l3" "$L/l2" "$L/l1"; ok $? "overlay mount"

# Each step prints its name, exit status and output; run in the root of each union.
ops() {
	op() { local d=$1 o rc; shift; o=$("$@" 2>&1); rc=$?; printf '%s: %s %s\n' "$d" "$rc" "$o"; }
	op "read lower" cat data/file
	op "append to lower" sh -c 'echo more >>data/file'
	op "read appended" cat data/file
	op "truncate lower" truncate -s 2 data/sub/deep/f
	op "chmod lower" chmod 600 data/big
	op "chown lower" chown 123:456 data/owned
	op "utimens lower" touch -d '2010-01-01 00:00:00' data/sub/deep/f
	op "utimens omit atime" touch -m -d '2011-01-01 00:00:00' data/dangling -h
	op "setxattr lower" setfattr -n user.new -v 1 data/null
	op "removexattr" setfattr -x user.color data/file
	op "removexattr absent" setfattr -x user.none data/h1
	op "getxattr after" getfattr --absolute-names -d data/file
	op "unlink lower" rm data/sym
	op "stat unlinked" stat -c %n data/sym
	op "rm -r lower dir" rm -r mv
	op "mkdir over whiteout" mkdir mv
	op "opaque after recreate" ls -A mv
	op "create" sh -c 'echo hi >newf'
	op "O_EXCL existing" sh -c 'set -C; echo x >newf'
	op "O_TRUNC lower" sh -c 'echo short >data/text2 && echo t >data/sub/deep/f && cat data/sub/deep/f'
	op "mkdir -p" mkdir -p a/b/c
	op "mkfifo" mkfifo a/fifo
	op "mknod chr" mknod a/chr c 1 5
	op "mknod blk" mknod a/blk b 7 0
	op "socket" python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.bind("a/sock")'
	op "symlink" ln -s ../newf a/link
	op "read via symlink" cat a/link
	op "hard link upper" ln newf a/newf-link
	op "hard link lower" ln data/owned a/owned-link
	op "nlink after link" stat -c '%h' data/owned a/owned-link newf
	op "rename lower file" mv data/file data/file2
	op "rename over lower" mv newf data/big
	op "mv lower dir" mv data/sub data/sub-moved
	op "read moved" cat data/sub-moved/deep/f
	op "rmdir non-empty" rmdir data
	op "rmdir empty lower" sh -c 'mkdir e && rmdir e'
	op "rm -rf opaque dir" rm -rf opq
	op "recreate it" sh -c 'mkdir opq && echo again >opq/f && ls opq'
	op "file replaces dir" sh -c 'rm -r new && echo f >new && cat new'
	op "dir replaces file" sh -c 'rm top && mkdir top && ls -A top'
	op "dd notrunc" dd if=/dev/zero of=data/file2 bs=1 count=2 seek=1 conv=notrunc status=none
	op "fallocate" fallocate -l 8192 a/falloc
	op "punch hole" sh -c 'yes abcdefgh | head -c 65536 >a/holes && fallocate -p -o 4096 -l 40960 a/holes'
	op "seek data/hole" python3 -c 'import os; f=os.open("a/holes", os.O_RDONLY); print(os.lseek(f,0,os.SEEK_HOLE), os.lseek(f,4096,os.SEEK_DATA))'
	op "copy_file_range" python3 -c 'import os; a=os.open("data/file2",os.O_RDONLY); b=os.open("a/cfr",os.O_WRONLY|os.O_CREAT,0o644); print(os.copy_file_range(a,b,100))'
	op "suid kept by chmod" sh -c 'chmod 4711 data/suid && stat -c %a data/suid'
	op "chown clears suid" sh -c 'chown 5 data/suid && stat -c %a data/suid'
	op "append O_APPEND" sh -c 'echo a >a/app; echo b >>a/app; cat a/app'
	op "mmap shared write" python3 -c 'import mmap,os; f=os.open("data/big",os.O_RDWR); m=mmap.mmap(f,4096); m[0:4]=b"MMAP"; m.flush(); print(open("data/big","rb").read(4))'
	op "exchange" python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, b"data/file2", -100, b"data/owned", 2)
print(r, os.strerror(ctypes.get_errno()) if r else "")'
	op "noreplace" python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, b"data/file2", -100, b"data/owned", 1)
print(r, os.strerror(ctypes.get_errno()) if r else "")'
	op "ls merged" ls -A data
	op "find" sh -c 'find . -path ./bin -prune -o -print | sort | head -80'
}

bo=$(cd "$T/b" && ops)
oo=$(cd "$T/o" && ops)
is_same "$bo" "$oo" "every operation gives the same result on berth and on overlayfs"
is_same "$(tree_dump "$T/b")" "$(tree_dump "$T/o")" "final trees agree"

# Deliberate difference: rename(2) of a lower directory. overlayfs without redirect_dir: EXDEV.
ren() { python3 -c 'import os,sys
try:
    os.rename(sys.argv[1], sys.argv[2]); print("ok")
except OSError as e: print(e.strerror)' "$@"; }
is "$(ren "$T/o/data" "$T/o/data-renamed")" "Invalid cross-device link" "overlayfs: EXDEV for a lower dir"
is "$(ren "$T/b/data" "$T/b/data-renamed")" ok "berth: rename(2) of a lower dir succeeds"
is "$(cat "$T/b/data-renamed/sub-moved/deep/f" 2>&1)" t "its contents follow it"
fail_run "the old name is gone" stat "$T/b/data"
ok_run "umount" berth umount "$T/b"
berth_mount three:latest "$T/b" --upper "$T/keep"; ok $? "mount with --upper"
ok_run "write into it" sh -c "echo kept >'$T/b/kept' && mv '$T/b/etc' '$T/b/etc2' && echo more >>'$T/b/data/h1'"
# Deliberate difference: overlayfs (without index=on) breaks a lower hard link at copy-up; berth
# copies all its names up as one inode.
is "$(cat "$T/b/data/h2")" "$(printf 'hl\nmore')" "berth: the other name of a hard link sees the write"
ok_run "umount" berth umount "$T/b"
berth_mount three:latest "$T/b" --upper "$T/keep"; ok $? "remount the same upper"
is "$(cat "$T/b/kept" 2>&1)" kept "changes persist in --upper"
is "$(cat "$T/b/etc2/passwd" 2>&1 | head -1)" "root:x:0:0:root:/root:/bin/sh" "a renamed lower dir persists"
fail_run "its old name stays gone" stat "$T/b/etc"
is "$(cat "$T/b/data/h2")" "$(printf 'hl\nmore')" "the hard link is still one file after remount"
is "$(stat -c '%i %h' "$T/b/data/h1")" "$(stat -c '%i %h' "$T/b/data/h2")" "same st_ino and st_nlink"
ok_run "umount" berth umount "$T/b"
done_testing
