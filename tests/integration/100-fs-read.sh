#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The read-only union: berth's mount of an image shows the same tree as kernel overlayfs over the
# same layers (1 and 3 layers, whiteouts, an opaque dir), binaries run from it, inode numbers are
# stable and d_ino == st_ino, hard links share st_ino with the right st_nlink, and umount leaves
# nothing behind.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fs-lib.sh"
need_root
need_cmd getfattr setfattr mountpoint
grep -qw overlay /proc/filesystems || skip_all "needs kernel overlayfs (the oracle)"

mk_layers "$T/layers"
L=$T/layers
ok_run "image of 1 layer" fs_mkimage one:latest "$L/l1"
ok_run "image of 3 layers" fs_mkimage three:latest "$L/l1" "$L/l2" "$L/l3"

berth_mount one:latest "$T/b1"; ok $? "berth mount, 1 layer"
ovl_mount "$T/o1" "$T/ou1" "$T/ow1" "$L/l1"; ok $? "overlay mount, 1 layer"
is_same "$(tree_dump "$T/b1")" "$(tree_dump "$T/o1")" "1 layer: same tree as overlayfs"

berth_mount three:latest "$T/b3"; ok $? "berth mount, 3 layers"
ovl_mount "$T/o3" "$T/ou3" "$T/ow3" "$L/l3" "$L/l2" "$L/l1"; ok $? "overlay mount, 3 layers"
is_same "$(tree_dump "$T/b3")" "$(tree_dump "$T/o3")" "3 layers: same tree as overlayfs"

# 20 layers: each adds, replaces, whites out and makes opaque something of the ones below
lowers=("$L/l1")
for i in $(seq 2 20); do
	m=$L/m$i
	mkdir -p "$m/layers/$i" "$m/data" "$m/churn"
	echo "layer $i" >"$m/layers/$i/f"
	echo "v$i" >"$m/data/file"
	echo "c$i" >"$m/churn/c$i"
	[ $((i % 3)) = 0 ] && mknod "$m/churn/c$((i - 1))" c 0 0
	[ $((i % 5)) = 0 ] && setfattr -n trusted.overlay.opaque -v y "$m/churn"
	[ "$i" = 7 ] && mknod "$m/layers/4" c 0 0
	lowers+=("$m")
done
ok_run "image of 20 layers" fs_mkimage twenty:latest "${lowers[@]}"
rev=()
for ((i = ${#lowers[@]} - 1; i >= 0; i--)); do rev+=("${lowers[i]}"); done
berth_mount twenty:latest "$T/b20"; ok $? "berth mount, 20 layers"
ovl_mount "$T/o20" "$T/ou20" "$T/ow20" "${rev[@]}"; ok $? "overlay mount, 20 layers"
is_same "$(tree_dump "$T/b20")" "$(tree_dump "$T/o20")" "20 layers: same tree as overlayfs"
ok_run "umount the 20-layer mount" berth umount "$T/b20"

is "$("$T/b3/bin/busybox" echo hi)" "hi" "a binary runs from the mount"
is "$(chroot "$T/b3" /bin/sh -c 'cat /data/file; ls /opq')" "$(printf 'l2\nfresh')" \
	"chroot into the mount: upper layer wins, opaque dir hides"
fail_run "a whited-out file is absent" stat "$T/b3/data/text"
fail_run "a whited-out dir is absent" stat "$T/b3/gone"
is "$(getfattr --absolute-names --only-values -n user.color "$T/b3/data/file")" red "xattr of the top layer"
is "$(getfattr --absolute-names --only-values -n security.capability "$T/b3/data/suid" | base64)" \
	"$(getfattr --absolute-names --only-values -n security.capability "$L/l1/data/suid" | base64)" "security.capability"
is "$(stat -c %i "$T/b3/data/h1")" "$(stat -c %i "$T/b3/data/h2")" "hard links share st_ino"
is "$(stat -c %h "$T/b3/data/h1")" 2 "hard link st_nlink from the first stat"
is "$(cmp "$T/b3/data/big" "$L/l1/data/big" && echo same)" same "300 kB file content"

# d_ino == st_ino for every entry (readdir vs stat)
bad=0
while read -r ino name; do
	[ "$(stat -c %i "$T/b3/data/$name")" = "$ino" ] || { bad=1; echo "# $name d_ino $ino"; }
done < <(ls -ai "$T/b3/data" | awk '$2 != "." && $2 != ".." {print $1, $2}')
ok $bad "d_ino == st_ino in a merged directory"

# A dynamic binary whose libraries come from different layers: ld.so maps them from the union.
mkdir -p "$T/dyn1/bin" "$T/dyn2" "$T/dyn3"
cp /bin/ls "$T/dyn1/bin/"
i=0
for lib in $(ldd /bin/ls | grep -o '/[^ ]*'); do
	d=$T/dyn$((i % 2 + 2))
	mkdir -p "$d$(dirname "$lib")"
	cp "$lib" "$d$lib"
	i=$((i + 1))
done
ok_run "image: a binary and its libraries over 3 layers" fs_mkimage dyn:latest "$T/dyn1" "$T/dyn2" "$T/dyn3"
berth_mount dyn:latest "$T/bd"; ok $? "mount it"
is "$(chroot "$T/bd" /bin/ls / 2>&1 | tr '\n' ' ')" "$(ls "$T/bd" | tr '\n' ' ')" "the dynamic binary runs in a chroot of the union"
ok_run "umount it" berth umount "$T/bd"

ino_before=$(stat -c %i "$T/b3/data/sub/deep/f")
ok_run "berth umount" berth umount "$T/b3"
fail_run "mount point no longer a mount" mountpoint -q "$T/b3"
berth_mount three:latest "$T/b3"; ok $? "remount"
is "$(stat -c %i "$T/b3/data/sub/deep/f")" "$ino_before" "st_ino stable across remount"
ok_run "umount again" berth umount "$T/b3"
ok_run "umount of the 1-layer mount" berth umount "$T/b1"
is "$(ls "$BERTH_ROOT/mounts" 2>/dev/null)" "" "no mount state left"
is "$(ls "$BERTH_ROOT/store/pins" 2>/dev/null)" "" "no pins left"
done_testing
