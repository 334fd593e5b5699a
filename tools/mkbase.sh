#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/mkbase.sh [--force] [--root DIR] [--rootfs-only DIR] [NAME]: creates the `base` image.
#
# The seed's first example is `run -i -t base /bin/bash`, so `base` must have bash, and it must be
# made without any registry: a `debootstrap --variant=minbase` rootfs of this machine's own Debian
# release, from the mirror this machine's apt already uses, imported with `berth import`.
# Where no mirror answers (or debootstrap is missing), it falls back, loudly, to a busybox-static
# rootfs, which has /bin/sh but no /bin/bash.
#
#   NAME             image name (default: base)
#   --force          replace NAME even if it exists (otherwise an existing NAME is left alone)
#   --root DIR       berth's state root (default: $BERTH_ROOT, else berth's own default)
#   --rootfs-only D  build the rootfs into the empty or new directory D and stop (no import);
#                    prints "debootstrap" or "busybox" on stdout: what D holds (bench/store.sh)
#   --tmpdir DIR     where the rootfs is built (default: $TMPDIR or /var/tmp)
#   --no-mirror      skip the mirror and build the busybox fallback (tests)
# Environment: BERTH (the berth binary; default `berth` from PATH).
set -euo pipefail

name=base
force=0
rootfs_only=
no_mirror=0
tmpbase=${TMPDIR:-/var/tmp}
BERTH=${BERTH:-berth}

usage() {
	echo "Usage: $0 [--force] [--root DIR] [--rootfs-only DIR] [--tmpdir DIR] [--no-mirror] [NAME]"
}

while [ $# -gt 0 ]; do
	case $1 in
	--force) force=1 ;;
	--root) export BERTH_ROOT=${2:?--root needs a directory}; shift ;;
	--rootfs-only) rootfs_only=${2:?--rootfs-only needs a directory}; shift ;;
	--tmpdir) tmpbase=${2:?--tmpdir needs a directory}; shift ;;
	--no-mirror) no_mirror=1 ;;
	-h | --help) usage; exit 0 ;;
	-*) usage >&2; exit 2 ;;
	*) name=$1 ;;
	esac
	shift
done

say() { printf 'mkbase: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
loud() {
	printf '\n' >&2
	printf 'mkbase: !!! %s\n' "$@" >&2
	printf '\n' >&2
}

# The first Debian mirror URI in apt's sources that serves SUITE itself (not -security or
# -updates), from one-line *.list files and deb822 *.sources files alike.
apt_mirror() {
	local suite=$1 f
	local files=()
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || return 0
	awk -v suite="$suite" '
	function flush() {
		if (types ~ /(^|[ \t])deb([ \t]|$)/ && (" " suites " ") ~ (" " suite " ") && enabled != "no" && uris != "" && !found) {
			split(uris, u, /[ \t]+/); print u[1]; found = 1
		}
		types = ""; uris = ""; suites = ""; enabled = ""
	}
	FNR == 1 { flush(); deb822 = (FILENAME ~ /\.sources$/) }
	/^[ \t]*#/ { next }
	deb822 && /^[ \t]*$/ { flush(); next }
	deb822 {
		key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
		if (key == "types") types = val
		else if (key == "uris") uris = val
		else if (key == "suites") suites = val
		else if (key == "enabled") enabled = tolower(val)
		next
	}
	$1 == "deb" {
		i = 2
		if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
		if ($(i + 1) == suite && !found) { print $i; found = 1 }
	}
	END { flush() }' "${files[@]}" | head -n 1
}

# True when MIRROR serves dists/SUITE/Release within a few seconds.
mirror_reachable() {
	local url="${1%/}/dists/$2/Release"
	if command -v wget >/dev/null; then
		wget -q -T 5 -t 1 -O /dev/null "$url"
	elif command -v python3 >/dev/null; then
		python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5).read(1)' "$url" 2>/dev/null
	else
		return 1
	fi
}

# Unmounts whatever debootstrap left mounted under DIR (it mounts proc and sys in the target).
umount_under() {
	local m
	[ -d "$1" ] || return 0
	for m in $(awk -v d="$(realpath "$1")" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
}

# debootstrap --variant=minbase of SUITE from MIRROR into DIR. Quiet unless it fails.
build_debootstrap() {
	local dir=$1 suite=$2 mirror=$3 log t0
	log=$(mktemp "$tmpbase/mkbase-debootstrap.XXXXXX.log")
	say "debootstrap --variant=minbase $suite from $mirror (a minute or two)"
	t0=$SECONDS
	if ! debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		rm -f "$log"
		umount_under "$dir"
		return 1
	fi
	rm -f "$log"
	umount_under "$dir"
	say "debootstrap done in $((SECONDS - t0)) s"
	# What belongs to the host, not the image (containers get their own): as Debian's own
	# container images do, drop the host's resolv.conf and hostname and apt's downloaded lists.
	rm -f "$dir/etc/resolv.conf" "$dir/etc/hostname"
	rm -rf "$dir/var/lib/apt/lists/"* "$dir/var/cache/apt/"*.bin "$dir/var/cache/apt/archives/"*.deb
	# The runtime mounts its own /dev; device nodes made for debootstrap's chroot do not belong.
	find "$dir/dev" -mindepth 1 -delete
}

# A minimal busybox-static rootfs in DIR: /bin/busybox and its applets as symlinks.
build_busybox() {
	local dir=$1 bb=/bin/busybox a
	[ -x "$bb" ] || die "no Debian mirror and no $bb: install busybox-static (tools/deps.sh)"
	mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,root,var,home}
	cp "$bb" "$dir/bin/busybox"
	for a in $("$bb" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
	echo 'root:x:0:' >"$dir/etc/group"
}

# Builds the rootfs into DIR; prints what it built ("debootstrap" or "busybox") on stdout.
build_rootfs() {
	local dir=$1 suite mirror=
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	if [ "$no_mirror" = 1 ]; then
		say "--no-mirror: not trying debootstrap"
	elif [ -z "$suite" ]; then
		say "no VERSION_CODENAME in /etc/os-release: cannot tell which Debian release to bootstrap"
	elif ! command -v debootstrap >/dev/null; then
		say "debootstrap is not installed (tools/deps.sh installs it)"
	else
		mirror=$(apt_mirror "$suite")
		if [ -z "$mirror" ]; then
			say "no Debian mirror for '$suite' in /etc/apt/sources.list{,.d/}"
		elif ! mirror_reachable "$mirror" "$suite"; then
			say "the mirror '$mirror' does not answer (dists/$suite/Release, 5 s timeout)"
			mirror=
		fi
	fi
	if [ -n "$mirror" ] && build_debootstrap "$dir" "$suite" "$mirror"; then
		what=debootstrap
	else
		[ -z "$mirror" ] || say "debootstrap failed"
		rm -rf "$dir"
		mkdir -p "$dir"
		loud "FALLING BACK to a busybox-static rootfs: it has /bin/sh but NOT /bin/bash," \
			"so the seed's 'run -i -t base /bin/bash' will not work with it; use /bin/sh." \
			"Rerun 'tools/mkbase.sh --force' once a Debian mirror is reachable."
		build_busybox "$dir"
		what=busybox
	fi
	# What every container root needs, whichever way it was built.
	mkdir -p "$dir"/{dev,proc,sys,tmp}
	chmod 0755 "$dir/dev" "$dir/proc" "$dir/sys"
	chmod 1777 "$dir/tmp"
	echo "$what"
}

[ "$(id -u)" -eq 0 ] || die "run as root: debootstrap and a faithful rootfs (owners, devices) need it"
mkdir -p "$tmpbase"

if [ -n "$rootfs_only" ]; then
	[ ! -e "$rootfs_only" ] || [ -z "$(ls -A "$rootfs_only")" ] || die "'$rootfs_only' is not empty"
	mkdir -p "$rootfs_only"
	build_rootfs "$rootfs_only"
	exit 0
fi

command -v "$BERTH" >/dev/null || die "no '$BERTH' binary: build and install berth first (tools/quickstart.sh)"
# Before minutes of debootstrap: can this berth import at all?
"$BERTH" import --help >/dev/null 2>&1 || die "'$BERTH import --help' fails: this berth cannot import"
if "$BERTH" inspect "$name" >/dev/null 2>&1; then
	if [ "$force" = 0 ]; then
		say "image '$name' exists already: nothing to do (--force replaces it)"
		exit 0
	fi
	say "image '$name' exists: --force, replacing it"
fi

work=$(mktemp -d "$tmpbase/berth-mkbase.XXXXXX")
cleanup() { umount_under "$work"; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 143' TERM INT # so that cleanup runs (and unmounts) when a timeout stops us
what=$(build_rootfs "$work/rootfs")
if [ "$what" = debootstrap ]; then cmd='["/bin/bash"]'; else cmd='["/bin/sh"]'; fi

say "importing the $what rootfs ($(du -sh "$work/rootfs" | cut -f1)) as '$name'"
t0=$SECONDS
# --numeric-owner: the image keeps the rootfs's own ids, whatever this host's passwd says.
tar -C "$work/rootfs" --numeric-owner --xattrs --xattrs-include='*' -c . |
	"$BERTH" import --change "CMD $cmd" - "$name" ||
	die "'berth import - $name' failed"
say "done: image '$name' ($what, CMD $cmd), imported in $((SECONDS - t0)) s"
