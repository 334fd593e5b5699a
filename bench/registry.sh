#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/registry.sh [--cache DIR] [--work DIR] [--runs N] [--keep]: pull and push speed against
# a loopback docker-registry, berth against podman and skopeo, in the same run.
#
# Run by hand (as root), never in the test suite. The image: three gzip layers built with umoci,
#   1  a debootstrap --variant=minbase rootfs of this machine's Debian release (the tar bench/
#      store.sh caches; with none, this host's /usr/lib/x86_64-linux-gnu/perl-base and /etc)
#   2  + this host's /usr/share/doc        (many small files, symlinks)
#   3  + this host's /usr/lib/python3 and /usr/share/perl   (source trees)
# about 300 MB uncompressed, cached as an OCI layout under --cache so reruns skip the build. It is
# copied into a docker-registry on 127.0.0.1 (filesystem storage under --work), then, N times
# each (default 3), interleaved so that all see the same machine state, median reported:
#   pull   berth pull into an empty store | podman pull into empty storage (overlay, else vfs) |
#          skopeo copy to an empty OCI layout directory
#   push   berth push | podman push, of that image, to an empty repository of a second registry
# Every tool gets plain HTTP on loopback; no caches are dropped (the registry's files stay in the
# page cache for all of them). Goal (issue 6): berth pull <= 0.7x podman pull.
# Environment: BERTH (the berth binary to measure; default: `berth` from PATH).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=/var/cache/berth-bench
work=
runs=3
keep=0
BERTH=${BERTH:-berth}

while [ $# -gt 0 ]; do
	case $1 in
	--cache) cache=${2:?}; shift ;;
	--work) work=${2:?}; shift ;;
	--runs) runs=${2:?}; shift ;;
	--keep) keep=1 ;;
	-h | --help) sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "Usage: $0 [--cache DIR] [--work DIR] [--runs N] [--keep]" >&2; exit 2 ;;
	esac
	shift
done
for c in docker-registry umoci skopeo podman python3; do
	command -v "$c" >/dev/null || { echo "bench: needs $c (tools/deps.sh)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
BERTH=$(command -v "$BERTH")
work=${work:-$(mktemp -d /var/tmp/berth-bench-registry.XXXXXX)}
mkdir -p "$work" "$cache"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
# Not REGISTRY_AUTH_FILE: docker-registry reads REGISTRY_* variables as configuration.
export DOCKER_CONFIG=$work/docker-config
mkdir -p "$DOCKER_CONFIG" && echo '{"auths":{}}' >"$DOCKER_CONFIG/config.json"

# ---- The image (cached) ----
layout=$cache/registry-image
build_image() {
	local b=$work/build R
	rm -rf "$layout" "$b"
	umoci init --layout "$layout" && umoci new --image "$layout:bench"
	umoci unpack --image "$layout:bench" "$b/1" >/dev/null
	R=$b/1/rootfs
	if [ -f "$cache/minbase-bookworm.tar" ]; then
		tar -C "$R" -xf "$cache/minbase-bookworm.tar"
		base=debootstrap
	else
		mkdir -p "$R/usr/lib/x86_64-linux-gnu" && cp -a /etc "$R/" &&
			cp -a /usr/lib/x86_64-linux-gnu/perl-base "$R/usr/lib/x86_64-linux-gnu/"
		base=host-files
	fi
	umoci repack --image "$layout:bench" "$b/1" >/dev/null
	rm -rf "$b/1"
	umoci unpack --image "$layout:bench" "$b/2" >/dev/null
	mkdir -p "$b/2/rootfs/usr/share" && cp -a /usr/share/doc "$b/2/rootfs/usr/share/"
	umoci repack --image "$layout:bench" "$b/2" >/dev/null
	rm -rf "$b/2"
	umoci unpack --image "$layout:bench" "$b/3" >/dev/null
	mkdir -p "$b/3/rootfs/usr/lib" && cp -a /usr/lib/python3 "$b/3/rootfs/usr/lib/" &&
		cp -a /usr/share/perl "$b/3/rootfs/usr/share/"
	umoci repack --image "$layout:bench" "$b/3" >/dev/null
	rm -rf "$b"
	echo "$base" >"$layout/berth-base"
}
[ -f "$layout/berth-base" ] || build_image
base=$(cat "$layout/berth-base")

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_registry() { # NAME: sets ADDR=host:port
	local port
	port=$(free_port)
	cat >"$work/$1.yml" <<-EOF
	version: 0.1
	log:
	  level: error
	  accesslog:
	    disabled: true
	storage:
	  filesystem:
	    rootdirectory: $work/$1-data
	  delete:
	    enabled: true
	http:
	  addr: 127.0.0.1:$port
	EOF
	docker-registry serve "$work/$1.yml" >"$work/$1.log" 2>&1 &
	pids+=($!)
	python3 -c 'import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1); break
    except OSError:
        time.sleep(0.1)' "http://127.0.0.1:$port/v2/"
	ADDR=127.0.0.1:$port
}
start_registry src
SRC=$ADDR
skopeo copy -q --dest-tls-verify=false "oci:$layout:bench" "docker://$SRC/bench:v1"
sizes=$(skopeo inspect --raw --tls-verify=false "docker://$SRC/bench:v1" |
	python3 -c 'import json,sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))')

driver=overlay
grep -qw overlay /proc/filesystems || driver=vfs
now() { date +%s%N; }
declare -A t
record() { t[$1]="${t[$1]:-} $2"; }
timed() { # NAME cmd...
	local s e
	s=$(now)
	"${@:2}" >/dev/null 2>"$work/last.err" || { echo "bench: $1 failed:" >&2; cat "$work/last.err" >&2; exit 1; }
	e=$(now)
	record "$1" $(((e - s) / 1000000))
}
podman_() { podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver "$driver" "$@"; }
reset_podman() { podman_ rmi -af >/dev/null 2>&1 || true; rm -rf "$work/podman" "$work/podman-run"; }

for i in $(seq 1 "$runs"); do
	rm -rf "$work/berth"
	timed berth_pull "$BERTH" --root "$work/berth" pull -q "$SRC/bench:v1"
	reset_podman
	timed podman_pull podman_ pull -q --tls-verify=false "$SRC/bench:v1"
	rm -rf "$work/skopeo"
	timed skopeo_copy skopeo copy -q --src-tls-verify=false "docker://$SRC/bench:v1" "oci:$work/skopeo:bench"
	start_registry "dst$i"
	DST=$ADDR
	rm -f "$work/berth/blob-sources" # a cache of the source registry's blobs: not for this one
	timed berth_push "$BERTH" --root "$work/berth" push -q "$SRC/bench:v1" "$DST/berth:v1"
	timed podman_push podman_ push -q --tls-verify=false "$SRC/bench:v1" "docker://$DST/podman:v1"
done
reset_podman

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mb=$(python3 -c "print(round($sizes / 1e6, 1))")
printf 'registry bench: 3 layers, %s MB of gzip blobs, base %s, podman storage %s, %d runs (median)\n' \
	"$mb" "$base" "$driver" "$runs"
for k in berth_pull podman_pull skopeo_copy berth_push podman_push; do
	m=$(echo "${t[$k]}" | median)
	printf '  %-12s %6d ms  %7.1f MB/s   (runs:%s)\n' "$k" "$m" \
		"$(python3 -c "print($sizes / 1e6 / ($m / 1000))")" "${t[$k]}"
done
bp=$(echo "${t[berth_pull]}" | median)
pp=$(echo "${t[podman_pull]}" | median)
printf '  berth pull / podman pull = %s (goal <= 0.7)\n' "$(python3 -c "print(round($bp / $pp, 2))")"
