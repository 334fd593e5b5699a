#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 200-pull: berth pull from a real docker-registry (anonymous, plain HTTP on 127.0.0.1). Images
# are built with umoci from a busybox-static rootfs (registry-lib.sh mk_images: one layer; three
# layers with whiteouts, an opaque dir, hard links, symlinks, xattrs; zstd layers; an index of two
# platforms) and pushed with skopeo. Then:
#   skopeo -> registry -> berth pull -> berth save -> umoci unpack == umoci unpack of the original
# with the original image ID and manifest digest; layers the store has are not downloaded again;
# platforms are chosen from the index; pulls by digest; bad names and missing tags fail cleanly.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry-lib.sh"
need_root
need_cmd docker-registry umoci skopeo setfattr zstd

cd "$T" || exit 1
L=$T/oci
mk_images "$L" || skip_all "umoci cannot build the test images here"
start_registry reg || skip_all "docker-registry does not start here"
for n in single multi arm zstd; do push_image "$L" $n $n:v1 || echo "# skopeo push of $n failed"; done
push_image "$L" index index:v1 --all
ok $? "skopeo pushes the test images to $REG"

# --- One layer ---
out=$(berth pull "$REG/single:v1" 2>&1)
ok $? "berth pull of a one-layer image"
sid=$(oci_digest "$L" single config)
sdig=$(oci_digest "$L" single)
short=$(oci_digest "$L" single layer0 | cut -c8-19)
like "$out" "^v1: Pulling from single" "prints what it pulls, as docker does"
like "$out" "Digest: $sdig" "prints the manifest digest"
like "$out" "Status: Downloaded newer image for $REG/single:v1" "prints the status"
like "$out" "$REG/single:v1\$" "ends with the full reference"
is "$(berth images -q --no-trunc "$REG/single:v1")" "$sid" "the image ID is the original config digest"
orig_tree "$L" single orig-single.list
saved_tree "$REG/single:v1" pulled-single.list
diff orig-single.list pulled-single.list >single.diff
ok $? "pull -> save -> umoci unpack gives the original tree (one layer)"
[ -s single.diff ] && sed 's/^/#   /' single.diff | head -n 20

out=$(berth pull "$REG/single:v1" 2>&1)
like "$out" "Status: Image is up to date for $REG/single:v1" "a second pull is up to date"
[[ "$out" != *"Pull complete"* && "$out" != *Downloading* ]]
ok $? "a second pull downloads nothing"

# --- Three layers: whiteouts, opaque dir, hard links, xattrs; the first layer is already in ---
out=$(berth pull "$REG/multi:v1" 2>&1)
ok $? "berth pull of a three-layer image"
like "$out" "$short: Already exists" "the shared bottom layer is reused, not downloaded"
is "$(echo "$out" | grep -c 'Pull complete')" 2 "the two other layers are downloaded"
is "$(berth images -q --no-trunc "$REG/multi:v1")" "$(oci_digest "$L" multi config)" \
	"the three-layer image keeps its ID"
orig_tree "$L" multi orig-multi.list
like "$(cat orig-multi.list)" "data/a-link .*inode-of=data/a" "original: hard links"
like "$(cat orig-multi.list)" "data/a .*user.berth=" "original: an xattr"
like "$(cat orig-multi.list)" "opq/new 0o100600 5 6 " "original: the opaque dir's new file"
! grep -qE '^(opq/old|bin/ls|data/dangling|var|etc/group) ' orig-multi.list
ok $? "original: whiteouts and the opaque dir applied"
saved_tree "$REG/multi:v1" pulled-multi.list
diff orig-multi.list pulled-multi.list >multi.diff
ok $? "pull -> save -> umoci unpack gives the original tree (whiteouts, opaque, links, xattrs)"
[ -s multi.diff ] && sed 's/^/#   /' multi.diff | head -n 20

# --- zstd layers, into a fresh store (the same config is already in this one) ---
out=$(BERTH_ROOT=$T/root-zstd berth pull "$REG/zstd:v1" 2>&1)
ok $? "berth pull of an image with zstd layers"
is "$(echo "$out" | grep -c 'Pull complete')" 3 "three zstd layers downloaded"
is "$(BERTH_ROOT=$T/root-zstd berth images -q --no-trunc "$REG/zstd:v1")" \
	"$(oci_digest "$L" multi config)" "zstd layers give the same image ID (same DiffIDs)"
BERTH_ROOT=$T/root-zstd saved_tree "$REG/zstd:v1" pulled-zstd.list
diff orig-multi.list pulled-zstd.list >/dev/null
ok $? "the zstd image unpacks to the original tree"
ok_run "fsck of the zstd store is clean" env BERTH_ROOT="$T/root-zstd" "$BERTH" fsck

# --- An index of two platforms ---
out=$(berth pull "$REG/index:v1" 2>&1)
ok $? "berth pull of an index"
is "$(berth images -q --no-trunc "$REG/index:v1")" "$sid" "the index gives this machine's platform"
like "$out" "Digest: $(oci_digest "$L" index)" "the digest printed is the index's"
out=$(berth pull --platform "linux/$OTHER_ARCH" "$REG/index:v1" 2>&1)
ok $? "berth pull --platform linux/$OTHER_ARCH"
aid=$(oci_digest "$L" arm config)
is "$(berth images -q --no-trunc "$REG/index:v1")" "$aid" "--platform picks the other image"
is "$(berth inspect "$REG/index:v1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["Architecture"])')" \
	"$OTHER_ARCH" "its config says $OTHER_ARCH"
fail_run "--platform linux/s390x fails" berth pull --platform linux/s390x "$REG/index:v1"
like "$LAST_OUTPUT" "no image for linux/s390x in the index \(it has: linux/$HOST_ARCH, linux/$OTHER_ARCH\)" \
	"and says which platforms there are"
fail_run "--platform nonsense is refused" berth pull --platform nonsense "$REG/index:v1"
out=$(berth pull "$REG/arm:v1" 2>&1)
ok $? "pulling a single-platform image of another architecture works"
like "$out" "does not match the detected host platform" "with Docker's warning"

# --- By digest ---
out=$(berth pull "$REG/multi@$(oci_digest "$L" multi)" 2>&1)
ok $? "pull by digest"
like "$out" "$REG/multi@$(oci_digest "$L" multi)\$" "ends with NAME@DIGEST"
fail_run "a digest the registry does not have fails" \
	berth pull "$REG/multi@sha256:0000000000000000000000000000000000000000000000000000000000000000"

# --- Failures: nothing left behind ---
n_images=$(berth images -q | wc -l)
fail_run "a missing tag fails" berth pull "$REG/multi:nope"
like "$LAST_OUTPUT" "MANIFEST_UNKNOWN" "with the registry's reason"
fail_run "a missing repository fails" berth pull "$REG/nothere:v1"
fail_run "a bad reference is a usage error" berth pull "$REG/UPPER:v1"
fail_run "a registry that is not there fails" berth pull "127.0.0.1:$(free_port)/x:v1"
like "$LAST_OUTPUT" "Failed to pull" "with a message"
is "$(berth images -q | wc -l)" "$n_images" "failed pulls add no image"
ok_run "fsck is clean after all that" berth fsck
ok_run "gc keeps what the images need" berth gc
saved_tree "$REG/multi:v1" after-gc.list && diff orig-multi.list after-gc.list >/dev/null
ok $? "the pulled image is intact after gc"

out=$(berth pull -q "$REG/single:v1")
is "$out" "$REG/single:v1" "pull -q prints only the reference"

# On a terminal: one line per layer, redrawn in place with a bar (script(1) gives it a pty).
if command -v script >/dev/null; then
	out=$(env -u BERTH_NO_TTY script -qec "$BERTH --root $T/root-tty pull $REG/multi:v1" /dev/null)
	like "$out" $'\e\[[0-9]+A\r\e\[2K[0-9a-f]{12}: Downloading \[[ =>]{50}\] ' \
		"on a terminal, layer lines are redrawn with a progress bar"
	like "$out" $'[0-9a-f]{12}: Pull complete\e\[[0-9]+B' "and end as Pull complete, in place"
fi

done_testing
