# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/integration/fs-lib.sh: shared by the fs/ tests (1NN-fs-*.sh), sourced after lib.sh.
#
#   mk_layers DIR              overlay-format layers DIR/l1 (busybox rootfs + odd files),
#                              DIR/l2 (whiteouts, an opaque dir, replaced files), DIR/l3
#   fs_mkimage NAME DIR...     an image from overlay-format dirs, bottom first (prints its ID)
#   berth_mount IMAGE DIR [ARGS]   berth mount, tracked for cleanup
#   ovl_mount DIR UPPER WORK LOWER...  kernel overlayfs over the same dirs (top first), tracked
#   tree_dump DIR              every entry's path, type, mode, owner, size, nlink, target, device
#                              numbers, content hash and xattrs (few processes: it runs on loaded
#                              machines); directory sizes and link counts are left out (they are
#                              the upper file system's, not the union's)
FS_MKIMAGE=${BERTH_BUILDDIR:-}/tests/unit/fs/fs-mkimage

fs_mkimage() {
	local name=$1
	shift
	[ -x "$FS_MKIMAGE" ] || skip_all "needs $FS_MKIMAGE (build the tests)"
	"$FS_MKIMAGE" "$BERTH_ROOT" "$name" "$@"
}

berth_mount() {
	local img=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	track_mount "$dir"
	on_exit "'$BERTH' --root '$BERTH_ROOT' umount '$dir'"
	berth mount "$@" "$img" "$dir"
}

ovl_mount() {
	local dir=$1 upper=$2 work=$3 lower
	shift 3
	lower=$(IFS=:; echo "$*")
	mkdir -p "$dir" "$upper" "$work"
	track_mount "$dir"
	mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$dir"
}

mk_layers() {
	local d=$1
	mk_busybox_rootfs "$d/l1"
	mkdir -p "$d/l1/data/sub/deep" "$d/l1/opq/old" "$d/l1/gone/x" "$d/l1/mv/in" "$d/l2" "$d/l3"
	echo base >"$d/l1/data/file"
	echo keep >"$d/l1/data/sub/deep/f"
	printf 'line1\nline2\n' >"$d/l1/data/text"
	head -c 300000 /dev/urandom >"$d/l1/data/big"
	echo hl >"$d/l1/data/h1" && ln "$d/l1/data/h1" "$d/l1/data/h2"
	ln -s file "$d/l1/data/sym"
	ln -s /nonexistent "$d/l1/data/dangling"
	mkfifo "$d/l1/data/fifo"
	mknod "$d/l1/data/null" c 1 3
	echo suid >"$d/l1/data/suid" && chmod 4755 "$d/l1/data/suid"
	echo owned >"$d/l1/data/owned" && chown 1000:1000 "$d/l1/data/owned"
	setfattr -n user.color -v blue "$d/l1/data/file"
	setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= "$d/l1/data/suid"
	touch -d '2001-02-03 04:05:06' "$d/l1/data/text"
	echo old >"$d/l1/opq/old/f"
	echo gone >"$d/l1/gone/x/f"
	echo in >"$d/l1/mv/in/f"
	# l2: whiteouts, an opaque directory, a replaced file, a new directory
	mkdir -p "$d/l2/data" "$d/l2/opq" "$d/l2/new"
	mknod "$d/l2/gone" c 0 0
	mknod "$d/l2/data/text" c 0 0
	setfattr -n trusted.overlay.opaque -v y "$d/l2/opq"
	echo fresh >"$d/l2/opq/fresh"
	echo l2 >"$d/l2/data/file"
	setfattr -n user.color -v red "$d/l2/data/file"
	echo new >"$d/l2/new/f"
	# l3: a file over a directory of l1, and back
	mkdir -p "$d/l3/data"
	echo over >"$d/l3/data/sub2"
	echo top >"$d/l3/top"
}

tree_dump() {
	(
		cd "$1" || exit 1
		find . -mindepth 1 \( -type d -printf '%p d %m %U:%G\n' \) \
			-o -printf '%p %y %m %U:%G %s nlink=%n %l\n' | LC_ALL=C sort
		find . \( -type c -o -type b \) -exec stat -c '%n %t:%T' {} + | LC_ALL=C sort
		find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2
		getfattr -R -h -d -m - . 2>/dev/null |
			awk '/^# file: /{f=substr($0, 9); next} NF && !/^trusted\.overlay\./{print f, $0}' |
			LC_ALL=C sort
	)
}

# is_same GOT WANT DESC: like `is`, but prints a diff of the two texts on failure.
is_same() {
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$1") | head -n 60 | sed 's/^/#   /'
	fi
}
