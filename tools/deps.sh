#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/deps.sh: installs every Debian package that berth's build, tests and benchmarks need.
#
# The one list of berth's Debian dependencies: add new ones here, nowhere else. Idempotent and
# quiet: when everything is installed already it touches neither the network nor apt's lists.
# Run as root on Debian 12 (bookworm). `tools/deps.sh --list` prints the list and exits.
set -euo pipefail

PACKAGES=(
	# build
	meson ninja-build pkg-config gcc libc6-dev clang libclang-rt-14-dev clang-format
	# libraries (DESIGN.md "Dependencies")
	libfuse3-dev lxc-dev libcurl4-openssl-dev libarchive-dev libzstd-dev libxxhash-dev
	libssl-dev libjansson-dev libmicrohttpd-dev libcmocka-dev zlib1g-dev
	# runtime: FUSE, lxc, networking
	fuse3 lxc uidmap nftables iproute2 ca-certificates
	# base image and test images
	busybox-static debootstrap
	# interop peers for tests and benchmarks (DESIGN.md "Real peers")
	umoci skopeo docker-registry fuse-overlayfs podman runc
	# test and benchmark tools
	hyperfine fio python3 jq netcat-openbsd attr acl libcap2-bin zstd xz-utils bsdextrautils file
)

if [ "${1:-}" = "--list" ]; then
	printf '%s\n' "${PACKAGES[@]}"
	exit 0
fi

# One dpkg-query for all (it names the unknown ones on stderr and exits 1; that is fine).
# "install ok installed" is the only state in which a package is usable.
installed=" $({ dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true; } |
	awk '$2 == "install" && $3 == "ok" && $4 == "installed" { printf "%s ", $1 }') "
missing=()
for p in "${PACKAGES[@]}"; do
	[[ "$installed" == *" $p "* ]] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PACKAGES[@]} packages are installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run this script as root (sudo $0) to install them" >&2
	exit 1
fi

echo "deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/berth-deps.XXXXXX)
trap 'rm -f "$log"' EXIT
# Quiet unless it fails: apt's progress would bury everything else in CI's log.
if ! apt-get update -q >"$log" 2>&1; then
	cat "$log" >&2
	echo "deps: 'apt-get update' failed" >&2
	exit 1
fi
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
	tail -n 60 "$log" >&2
	echo "deps: 'apt-get install' failed (packages: ${missing[*]})" >&2
	exit 1
fi
echo "deps: installed ${missing[*]}"
