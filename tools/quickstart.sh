#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/quickstart.sh: the README's first command. As root on a fresh Debian 12 machine:
# installs the dependencies, builds berth, installs it (/usr/local/bin/berth), creates the
# default `base` image, and uses it. Stops at the first step that fails, saying which.
set -uo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=$src/build
n=0

step() {
	n=$((n + 1))
	printf '\n==> [%d/6] %s\n' "$n" "$*"
}
die() {
	printf '\nquickstart: FAILED at step %d: %s\n' "$n" "$*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || { echo "quickstart: run as root (sudo $0)" >&2; exit 1; }
cd "$src" || die "cannot enter '$src'"

step "Installing dependencies (tools/deps.sh)"
"$src/tools/deps.sh" || die "tools/deps.sh"

step "Configuring the build (meson setup build)"
if [ -f "$builddir/build.ninja" ]; then
	meson setup --reconfigure "$builddir" >/dev/null || die "meson setup --reconfigure build"
else
	meson setup "$builddir" >/dev/null || die "meson setup build"
fi

step "Building (ninja -C build)"
ninja -C "$builddir" || die "ninja -C build"

step "Installing berth (ninja -C build install)"
ninja -C "$builddir" install >/dev/null || die "ninja -C build install"
berth=$(meson introspect --buildoptions "$builddir" |
	python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')/bin/berth
[ -x "$berth" ] || die "no berth binary at '$berth' after the install"
echo "installed $berth ($("$berth" version))"

step "Creating the base image (tools/mkbase.sh)"
BERTH=$berth "$src/tools/mkbase.sh" base || die "tools/mkbase.sh"

step "Using it"
# Until containers exist, the quick start ends by listing the image; then this line becomes:
# QUICKSTART-RUN: "$berth" run -i -t base /bin/bash || die "berth run -i -t base /bin/bash"
"$berth" images || die "berth images"

printf '\nquickstart: done. berth is %s; try: berth images, berth history base, berth inspect base\n' "$berth"
