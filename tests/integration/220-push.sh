#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 220-push: berth push to a real docker-registry, read back by independent tools:
#   skopeo -> registry A -> berth pull -> berth push -> registry B -> skopeo copy + umoci unpack
#   (and podman pull) == the original tree, with the original image ID (config byte for byte)
# Re-pushes upload nothing (HEAD), another repository of the same registry mounts the blobs,
# --compression zstd gives zstd layers podman reads, chunked uploads (PATCH) work, and pushes
# with Bearer tokens ask for the scopes they need, mounts included.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry-lib.sh"
need_root
need_cmd docker-registry umoci skopeo openssl setfattr zstd

cd "$T" || exit 1
L=$T/oci
mk_images "$L" || skip_all "umoci cannot build the test images here"
start_registry a || skip_all "docker-registry does not start here"
A=$REG
start_registry b || skip_all "docker-registry does not start here"
B=$REG
push_image "$L" multi src:v1 --dest-tls-verify=false
REG=$A push_image "$L" multi src:v1
ok_run "berth pull from registry A" berth pull "$A/src:v1"
id=$(oci_digest "$L" multi config)
orig_tree "$L" multi orig.list

# skopeo copy from B into an OCI layout, umoci unpack, compare with the original.
back_tree() { # REPO:TAG OUT
	rm -rf "$T/back"
	skopeo copy -q --src-tls-verify=false "docker://$B/$1" "oci:$T/back:t" &&
		umoci unpack --image "$T/back:t" "$T/back/b" >/dev/null && tree_list "$T/back/b/rootfs" >"$2"
}

no_dir_mtimes() { awk '$2 ~ /^0o40/ { $5 = "-" } { print }'; }

# --- A push to another registry: everything is packed and uploaded ---
berth tag "$A/src:v1" "$B/app:v1"
out=$(berth push "$B/app:v1" 2>&1)
ok $? "berth push to registry B"
like "$out" "^The push refers to repository \[$B/app\]" "says where it pushes, as docker does"
is "$(echo "$out" | grep -c ': Pushed$')" 3 "three layers uploaded"
like "$out" "v1: digest: sha256:[0-9a-f]{64} size: [0-9]+\$" "ends with the manifest digest and size"
dig=$(echo "$out" | sed -n 's/^v1: digest: \(sha256:[0-9a-f]*\) size.*/\1/p')
is "$(skopeo inspect --raw --tls-verify=false "docker://$B/app:v1" | sha256sum | cut -d' ' -f1)" \
	"${dig#sha256:}" "the registry holds the manifest berth printed"
cfg=$(skopeo inspect --raw --tls-verify=false "docker://$B/app:v1" | "$PY" -c 'import json,sys; m=json.load(sys.stdin); print(m["config"]["digest"], m["mediaType"], *[l["mediaType"] for l in m["layers"]])')
is "$cfg" "$id application/vnd.oci.image.manifest.v1+json$(printf ' application/vnd.oci.image.layer.v1.tar+gzip%.0s' 1 2 3)" \
	"an OCI manifest with gzip layers and the original config (image ID kept)"
back_tree app:v1 back.list
ok $? "skopeo copies the pushed image back"
diff orig.list back.list >back.diff
ok $? "umoci unpacks the pushed image to the original tree"
[ -s back.diff ] && sed 's/^/#   /' back.diff | head -n 20

# --- Pushed again: nothing uploaded ---
out=$(berth push "$B/app:v1" 2>&1)
ok $? "a second push"
is "$(echo "$out" | grep -c ': Layer already exists$')" 3 "finds every layer there"
like "$out" "v1: digest: $dig " "the same manifest"

# --- Another repository of the same registry: cross-repository mounts ---
out=$(berth push "$B/app:v1" "$B/team/copy:v2" 2>&1)
ok $? "push IMAGE DESTINATION to another repository"
is "$(echo "$out" | grep -c ': Mounted from app$')" 3 "every layer is mounted from the first repository"
back_tree team/copy:v2 mounted.list && diff orig.list mounted.list >/dev/null
ok $? "the mounted image unpacks to the original tree"

# --- zstd ---
out=$(berth push --compression zstd "$B/app:v1" "$B/zapp:v1" 2>&1)
ok $? "push --compression zstd"
is "$(echo "$out" | grep -c ': Pushed$')" 3 "zstd layers are packed and uploaded (gzip blobs are not reused)"
is "$(skopeo inspect --raw --tls-verify=false "docker://$B/zapp:v1" | "$PY" -c 'import json,sys; print(" ".join(sorted(set(l["mediaType"] for l in json.load(sys.stdin)["layers"]))))')" \
	"application/vnd.oci.image.layer.v1.tar+zstd" "the manifest says tar+zstd"
out=$(BERTH_ROOT=$T/root-z berth pull -q "$B/zapp:v1" 2>&1)
ok $? "berth pulls the zstd image back into a fresh store"
is "$(BERTH_ROOT=$T/root-z berth images -q --no-trunc "$B/zapp:v1")" "$id" "with the original image ID"
if command -v podman >/dev/null; then
	mkdir -p "$DOCKER_CONFIG" && echo '{"auths":{}}' >"$DOCKER_CONFIG/config.json"
	P=(podman --root "$T/podman-root" --runroot "$T/podman-run" --storage-driver vfs)
	on_exit "podman --root $T/podman-root --runroot $T/podman-run --storage-driver vfs rmi -af"
	for img in app:v1 zapp:v1; do
		"${P[@]}" pull -q --tls-verify=false "$B/$img" >/dev/null 2>podman.err
		ok $? "podman pulls berth's push ($img)"
		mnt=$("${P[@]}" image mount "$B/$img" 2>>podman.err)
		# podman (vfs) applies whiteouts after it set their directories' mtimes: leave
		# directory mtimes out (the same happens with the original image).
		tree_list "$mnt" | no_dir_mtimes >podman.list
		no_dir_mtimes <orig.list | diff - podman.list >podman.diff
		ok $? "podman's copy of $img has the original tree (directory mtimes aside)"
		[ -s podman.diff ] && sed 's/^/#   /' podman.diff | head -n 10
		"${P[@]}" image unmount "$B/$img" >/dev/null 2>&1
	done
fi

# --- Chunked upload: blobs over the chunk size go up in PATCHes ---
out=$(BERTH_PUSH_CHUNK_SIZE=262144 berth --debug push --compression none "$B/app:v1" "$B/plain:v1" 2>&1)
ok $? "push with 256 KiB chunks, uncompressed layers"
n=$(echo "$out" | grep -c 'http: PATCH .* -> 202')
[ "$n" -ge 8 ]
ok $? "the big layer went up in PATCH chunks ($n)"
out=$(BERTH_ROOT=$T/root-plain berth pull -q "$B/plain:v1" 2>&1)
ok $? "pull of the chunk-uploaded image"
is "$(BERTH_ROOT=$T/root-plain berth images -q --no-trunc "$B/plain:v1")" "$id" \
	"the same image (uncompressed layers, same DiffIDs)"
BERTH_ROOT=$T/root-plain saved_tree "$B/plain:v1" plain.list && diff orig.list plain.list >/dev/null
ok $? "its tree is the original"

# --- Bearer tokens: push and mount scopes ---
start_token_server alice:wonder-land || skip_all "the token server does not start"
start_registry c "$TOKEN_YAML" || skip_all "docker-registry does not start with token auth"
C=$REG
fail_run "an anonymous push is refused" berth push "$B/app:v1" "$C/private/app:v1"
like "$LAST_OUTPUT" "HTTP 401: unauthorized: .*berth login $C" "says it is unauthorized, and how to log in"
ok_run "login" berth login -u alice -p wonder-land "$C"
out=$(berth push "$B/app:v1" "$C/private/app:v1" 2>&1)
ok $? "push with a token"
: >"$TOKEN_LOG"
out=$(berth push "$B/app:v1" "$C/private/other:v1" 2>&1)
ok $? "push to another repository with a token"
is "$(echo "$out" | grep -c ': Mounted from private/app$')" 3 "mounted across repositories"
grep -q 'scope=repository%3Aprivate%2Fapp%3Apull' "$TOKEN_LOG"
ok $? "the mount asked for pull on the source repository"
out=$(BERTH_ROOT=$T/root-c berth pull -q "$C/private/other:v1" 2>&1)
ok $? "the mounted image pulls back"
is "$(BERTH_ROOT=$T/root-c berth images -q --no-trunc "$C/private/other:v1")" "$id" "as the original"

# --- Failures ---
fail_run "pushing an unknown image fails" berth push "$B/nothing:v1"
like "$LAST_OUTPUT" "No such image" "and says so"
fail_run "pushing an ID without a destination is a usage error" berth push "${id#sha256:}"
fail_run "a destination with a digest is refused" berth push "$B/app:v1" "$B/x@$id"
fail_run "pushing to a registry that is not there fails" berth push "$B/app:v1" "127.0.0.1:$(free_port)/x:v1"
ls "$BERTH_ROOT/store/tmp" 2>/dev/null | grep -q push-
[ $? -ne 0 ]
ok $? "no push spool is left in the store's tmp/"
ok_run "fsck is clean" berth fsck

done_testing
