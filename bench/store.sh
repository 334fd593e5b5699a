#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/store.sh [--cache DIR] [--work DIR] [--keep]: the store's ingest speed and dedup.
#
# Run by hand (as root), never in the test suite. Builds a series of 5 related root filesystems,
# each derived from the one before, as a project's images evolve:
#   1 base    a debootstrap --variant=minbase rootfs of this machine's Debian release
#   2 +pkgs   + the files of a few packages (procps, less, curl, vim-tiny, ...), as `apt-get install`
#   3 +conf   + edited config files (passwd, group, hosts, bashrc, sources.list) and an app's config
#   4 +bin    + a rebuilt big binary (a few bytes changed in three places, 64 KiB appended)
#   5 -dir    - /usr/share/locale and /usr/share/doc removed
# and measures:
#   ingest   `berth import` of base's uncompressed tar into an empty store: MB/s of wall time and
#            MB per CPU-second (user+sys, all threads), median of 3 (MB = 10^6 bytes)
#   dedup    the size of ROOT/store/objects after importing all 5 (apparent bytes, `du -sb`, and
#            on-disk, `du -sk`), against the sum of the 5 images' `tar | gzip -6` sizes
# Goals (issue 2): ingest >= 150 MB/s per core; store <= 0.25x the gzip sum.
#
# The base rootfs (and the packages' .debs) are cached under --cache (default
# /var/cache/berth-bench) so reruns are fast. With no reachable mirror the series is built from a
# copy of this host's /usr instead (the figures are then not comparable; the report says so).
# Environment: BERTH (the berth binary to measure; default: `berth` from PATH).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=/var/cache/berth-bench
work=
keep=0
BERTH=${BERTH:-berth}
PKGS=(procps less curl libcurl4 vim-tiny vim-common libnghttp2-14 libssh2-1 librtmp1 libpsl5 libbrotli1)

while [ $# -gt 0 ]; do
	case $1 in
	--cache) cache=${2:?}; shift ;;
	--work) work=${2:?}; shift ;;
	--keep) keep=1 ;;
	-h | --help) sed -n '3,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "Usage: $0 [--cache DIR] [--work DIR] [--keep]" >&2; exit 2 ;;
	esac
	shift
done

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (the rootfs keeps its owners and device nodes)"
BERTH=$(command -v "$BERTH") || die "no berth binary: build it, then BERTH=build/cli/berth $0"
mkdir -p "$cache"
if [ -z "$work" ]; then
	work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
else
	mkdir -p "$work"
fi
cleanup() { [ "$keep" = 1 ] && say "kept $work" || rm -rf "$work"; }
trap cleanup EXIT

suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
origin=debootstrap

# --- the base rootfs, cached as a tar -------------------------------------------------------
base_tar=$cache/minbase-$suite.tar
if [ ! -s "$base_tar" ]; then
	say "building the base rootfs (cached in $base_tar for later runs)"
	rm -rf "$work/base"
	what=$("$src/tools/mkbase.sh" --rootfs-only "$work/base" --tmpdir "$work")
	if [ "$what" = debootstrap ]; then
		tar -C "$work/base" --numeric-owner --xattrs --xattrs-include='*' -cf "$base_tar.tmp" .
		mv "$base_tar.tmp" "$base_tar"
	else
		# No mirror: a Debian-like tree from this host's own /usr (not cached: it is the host's).
		say "no mirror: building the series from a copy of this host's /usr instead"
		origin="host /usr copy (no mirror reachable)"
		# mkbase left a busybox rootfs in $work/base: add ~100 MB of this host's files to it.
		mkdir -p "$work/base/usr/lib" "$work/base/usr/share/locale" "$work/base/usr/share/doc" "$work/base/etc/apt"
		cp -a /usr/sbin "$work/base/usr/"
		cp -a /usr/lib/python3.11 "$work/base/usr/lib/"
		cp -a /usr/share/zoneinfo "$work/base/usr/share/"
		cp -a /usr/share/locale/{de,fr,es} "$work/base/usr/share/locale/" 2>/dev/null || true
		cp -a /usr/share/doc/[a-c]* "$work/base/usr/share/doc/" 2>/dev/null || true
		cp -a /etc/hosts /etc/bash.bashrc "$work/base/etc/" 2>/dev/null || true
		echo "deb http://deb.debian.org/debian $suite main" >"$work/base/etc/apt/sources.list"
	fi
fi
if [ ! -d "$work/base" ]; then
	mkdir -p "$work/base"
	tar -C "$work/base" --numeric-owner --xattrs --xattrs-include='*' -xf "$base_tar"
fi

# --- the variants ----------------------------------------------------------------------------
debs=$cache/debs-$suite
fetch_debs() {
	[ -n "$(ls "$debs"/*.deb 2>/dev/null)" ] && return 0
	mkdir -p "$debs.tmp"
	# _apt cannot write into a root-owned dir: download as root (apt warns; quiet it).
	(cd "$debs.tmp" && apt-get download -q "${PKGS[@]}" >/dev/null 2>&1) || { rm -rf "$debs.tmp"; return 1; }
	rm -rf "$debs"
	mv "$debs.tmp" "$debs"
}

derive() { # FROM TO: a copy sharing nothing (cp -a, not hard links: the tar must hold data)
	rm -rf "$2"
	cp -a "$1" "$2"
}

mk_pkgs() {
	local d=$1 f
	if fetch_debs; then
		for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$d"; done
	else
		say "apt-get download failed: +pkgs copies this host's python3 stdlib subtree instead"
		mkdir -p "$d/usr/lib/python3"
		cp -a /usr/lib/python3.11/{email,json,http,urllib,xml,asyncio} "$d/usr/lib/python3/" 2>/dev/null ||
			cp -a /usr/share/zoneinfo "$d/usr/share/zoneinfo-extra"
	fi
}

mk_conf() {
	local d=$1
	echo 'app:x:1000:1000:app:/home/app:/bin/bash' >>"$d/etc/passwd"
	echo 'app:x:1000:' >>"$d/etc/group"
	printf '127.0.1.1\tapp.example\n' >>"$d/etc/hosts"
	printf 'export PS1="app$ "\nalias ll="ls -l"\n' >>"$d/etc/bash.bashrc"
	mkdir -p "$d/etc/apt" "$d/etc/app" "$d/home/app"
	echo "deb http://deb.debian.org/debian $suite main contrib" >"$d/etc/apt/sources.list"
	seq 1 200 | sed 's/^/option_/; s/$/ = on/' >"$d/etc/app/app.conf"
	chown -R 1000:1000 "$d/home/app"
}

mk_bin() {
	local d=$1 big size off
	# The largest regular file: a "rebuilt" binary, mostly the same bytes.
	big=$(find "$d/usr" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
	size=$(stat -c %s "$big")
	for off in $((size / 5)) $((size / 2)) $((size * 4 / 5)); do
		printf 'berth-bench-rebuild-%d' "$off" | dd of="$big" bs=1 seek="$off" conv=notrunc status=none
	done
	head -c 65536 /dev/urandom >>"$big"
	echo "${big#"$d"}"
}

mk_rmdir() {
	rm -rf "$1/usr/share/locale" "$1/usr/share/doc"
}

names=(base +pkgs +conf +bin -dir)
what=("debootstrap minbase $suite" "+ files of ${#PKGS[@]} packages" "+ edited configs, an app's config" "" "- usr/share/locale, usr/share/doc")
[ "$origin" = debootstrap ] || what[0]="host /usr copy"
say "deriving the 4 variants"
derive "$work/base" "$work/v2" && mk_pkgs "$work/v2"
derive "$work/v2" "$work/v3" && mk_conf "$work/v3"
derive "$work/v3" "$work/v4" && what[3]="+ rebuilt $(mk_bin "$work/v4")"
derive "$work/v4" "$work/v5" && mk_rmdir "$work/v5"
dirs=("$work/base" "$work/v2" "$work/v3" "$work/v4" "$work/v5")

tars=()
gz=()
for i in 0 1 2 3 4; do
	t=$work/img$((i + 1)).tar
	tar -C "${dirs[$i]}" --numeric-owner --xattrs --xattrs-include='*' -cf "$t" .
	tars+=("$t")
	gz+=("$(gzip -6 -c "$t" | wc -c)")
done
rm -rf "$work/base" "$work"/v[2-5]

# --- measuring -------------------------------------------------------------------------------
# "WALL CPU USER SYS" seconds of a command: wall clock, and user+sys (then each) of it and all its
# threads and children.
measure() {
	python3 - "$@" <<-'EOF'
	import os, resource, subprocess, sys, time
	t = time.monotonic()
	r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
	wall = time.monotonic() - t
	ru = resource.getrusage(resource.RUSAGE_CHILDREN)
	if r.returncode != 0:
	    sys.exit(f"bench: {' '.join(sys.argv[1:])} exited {r.returncode}")
	print(f"{wall:.3f} {ru.ru_utime + ru.ru_stime:.3f} {ru.ru_utime:.3f} {ru.ru_stime:.3f}")
	EOF
}

mb() { python3 -c "print(f'{$1 / 1e6:.1f}')"; }
calc() { python3 -c "print(f'{$1:.${2:-2}f}')"; }

size0=$(stat -c %s "${tars[0]}")
say "ingest: 3 imports of base ($(mb "$size0") MB) into an empty store"
walls=()
cpus=()
users=()
syss=()
for run in 1 2 3; do
	rm -rf "$work/root"
	cat "${tars[0]}" >/dev/null # in the page cache: measure berth, not the disk
	read -r w c u y < <(measure "$BERTH" --root "$work/root" import "${tars[0]}" "bench:run$run") || true
	[ -n "${c:-}" ] || die "'berth import' failed"
	walls+=("$w")
	cpus+=("$c")
	users+=("$u")
	syss+=("$y")
	say "  run $run: ${w} s wall, ${c} s CPU (${u} user, ${y} sys)"
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
wall=$(median "${walls[@]}")
cpu=$(median "${cpus[@]}")
user=$(median "${users[@]}")
sys=$(median "${syss[@]}")
mbps=$(calc "$size0 / 1e6 / $wall" 0)
mbpcpu=$(calc "$size0 / 1e6 / $cpu" 0)

say "dedup: importing the series into one store"
rm -rf "$work/root"
iwall=()
for i in 0 1 2 3 4; do
	cat "${tars[$i]}" >/dev/null
	read -r w c u y < <(measure "$BERTH" --root "$work/root" import "${tars[$i]}" "bench:img$((i + 1))") || true
	[ -n "${c:-}" ] || die "'berth import' of image $((i + 1)) failed"
	iwall+=("$w")
done
obj_b=$(du -sb "$work/root/store/objects" | cut -f1)
obj_k=$(du -sk "$work/root/store/objects" | cut -f1)
store_b=$(du -sb "$work/root/store" | cut -f1)
store_k=$(du -sk "$work/root/store" | cut -f1)
nobj=$(find "$work/root/store/objects" -type f | wc -l)
gzsum=0
tarsum=0
for i in 0 1 2 3 4; do
	gzsum=$((gzsum + gz[i]))
	tarsum=$((tarsum + $(stat -c %s "${tars[$i]}")))
done

# --- the report ------------------------------------------------------------------------------
cat <<EOF

### Store benchmark: $(date -u +%Y-%m-%d), $("$BERTH" version 2>/dev/null || echo berth), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))

Command: \`sudo BERTH=$BERTH bench/store.sh\` (series from: $origin)

| # | image | tar (MB) | tar \| gzip -6 (MB) | import into the series store (s) |
|---|-------|---------:|--------------------:|---------------------------------:|
EOF
for i in 0 1 2 3 4; do
	printf '| %d | %s: %s | %s | %s | %s |\n' $((i + 1)) "${names[$i]}" "${what[$i]}" \
		"$(mb "$(stat -c %s "${tars[$i]}")")" "$(mb "${gz[$i]}")" "${iwall[$i]}"
done
printf '| | **sum** | %s | %s | |\n' "$(mb "$tarsum")" "$(mb "$gzsum")"
cat <<EOF

| measure | value | goal | vs goal |
|---------|------:|------|--------:|
| ingest, base tar into an empty store, wall (median of 3) | $mbps MB/s | | |
| ingest per CPU-second (user+sys, median of 3) | $mbpcpu MB/s | >= 150 MB/s per core | $(calc "$size0 / 1e6 / $cpu / 150")x |
| CPU seconds of that import: user, sys (medians) | $user s, $sys s | | |
| store objects after 5 images, apparent (\`du -sb\`) | $(mb "$obj_b") MB ($nobj objects) | <= 0.25x gzip sum ($(mb "$((gzsum / 4))") MB) | $(calc "$obj_b / $gzsum" 3)x |
| store objects after 5 images, on disk (\`du -sk\`) | $(mb "$((obj_k * 1024))") MB | <= 0.25x gzip sum | $(calc "$obj_k * 1024 / $gzsum" 3)x |
| whole store/ (objects, images, indexes), on disk | $(mb "$((store_k * 1024))") MB | | $(calc "$store_k * 1024 / $gzsum" 3)x |
| whole store/, apparent | $(mb "$store_b") MB | | $(calc "$store_b / $gzsum" 3)x |
EOF
