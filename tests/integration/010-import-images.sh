#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 010-import-images: `berth import` of a busybox-static rootfs tar (file, stdin, gzip, zstd), then
# images, tag, history, inspect as Docker's CLI shows them, rmi's rules, and rmi + gc returning
# the store to empty: no objects, no image records, no indexes, no refs.
source "$(dirname "$0")/lib.sh"
need_cmd python3 tar gzip zstd sha256sum

mk_busybox_tar "$T/bb.tar"
tar_digest=sha256:$(sha256sum <"$T/bb.tar" | cut -d' ' -f1)
# The image's size as Docker prints it: regular-file bytes, decimal units, 3 significant digits.
want_size=$(python3 - "$T/bb.tar" <<'EOF'
import sys, tarfile
n = sum(m.size for m in tarfile.open(sys.argv[1]) if m.isreg())
units = ["B", "kB", "MB", "GB"]
v, u = float(n), 0
while v >= 1000 and u < 3:
    v /= 1000; u += 1
print(f"{n}B" if u == 0 else f"{v:.3g}{units[u]}")
EOF
)

inspect() { # IMAGE EXPR: a python expression over d (the image's inspect object)
	berth inspect "$1" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
print(eval(sys.argv[1]))' "$2"
}

# --- import, from a file and from stdin, plain, gzip, zstd ---
out=$(berth import "$T/bb.tar" bb:file 2>"$T/err")
ok $? "import FILE NAME:TAG"
like "$out" '^sha256:[0-9a-f]{64}$' "import prints the image ID"
id_file=$out
is "$(cat "$T/err")" "" "import is quiet off a terminal (no progress)"
out=$(berth import - bb:stdin <"$T/bb.tar")
ok $? "import - (stdin)"
id_stdin=$out
gzip -c "$T/bb.tar" >"$T/bb.tar.gz"
out=$(berth import "$T/bb.tar.gz" bb:gz)
ok $? "import of a gzip tar"
zstd -q -c "$T/bb.tar" >"$T/bb.tar.zst"
out=$(zstd -q -d -c "$T/bb.tar.zst" | zstd -q -c | berth import - bb:zst)
ok $? "import of a zstd tar from stdin"
for t in file stdin gz zst; do
	is "$(inspect bb:$t 'd["RootFS"]["Layers"]')" "['$tar_digest']" \
		"bb:$t: the layer's DiffID is the SHA-256 of the uncompressed tar"
done
is "$(inspect bb:file 'd["Id"]')" "$id_file" "inspect Id is the ID import printed"
[ "$id_file" != "$id_stdin" ] && ok 0 "two imports are two images (created differs)" ||
	ok 1 "two imports are two images (created differs)"

# --- images ---
out=$(berth images)
ok $? "images"
like "$(head -n1 <<<"$out")" '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$' "images: Docker's columns"
row=$(grep -E '^bb +file ' <<<"$out")
like "$row" "^bb +file +${id_file:7:12} +(Less than a second|[0-9]+ seconds?) ago +${want_size//./\\.}\$" \
	"images: bb:file row (repository, tag, short ID, age, size $want_size)"
is "$(grep -c '^bb ' <<<"$out")" "4" "images: one row per name"
is "$(berth images -q | sort -u | wc -l)" "4" "images -q: the IDs"
like "$(berth images -q | head -n1)" '^[0-9a-f]{12}$' "images -q: short IDs"
like "$(berth images --no-trunc | grep -E '^bb +file ')" "${id_file}" "images --no-trunc: full IDs"
is "$(berth images bb | tail -n +2 | wc -l)" "4" "images REPOSITORY: all its tags"
is "$(berth images bb:gz | tail -n +2 | awk '{print $2}')" "gz" "images REPOSITORY:TAG: that one"
is "$(berth images other | wc -l)" "1" "images of an unknown repository: the header only"

# --- tag ---
ok_run "tag NAME NEWNAME" berth tag bb:file bb:other
ok_run "tag ID NAME (registry, nested path)" berth tag "${id_file:7:12}" localhost:5000/x/y:1
out=$(berth images)
like "$(grep -E '^bb +other ' <<<"$out")" "${id_file:7:12}" "the new name shows the same ID"
like "$(grep -E '^localhost:5000/x/y +1 ' <<<"$out")" "${id_file:7:12}" \
	"a registry name is shown in full"
is "$(inspect bb:file 'sorted(d["RepoTags"])')" "['bb:file', 'bb:other', 'localhost:5000/x/y:1']" \
	"inspect RepoTags lists the familiar names"

# --- history ---
out=$(berth history bb:file)
ok $? "history"
like "$(head -n1 <<<"$out")" '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$' "history: Docker's columns"
like "$(sed -n 2p <<<"$out")" "^${id_file:7:12} +.* ago +${want_size//./\\.} +Imported from $T/bb.tar\$" \
	"history: the import's row (ID, age, size, comment)"
is "$(berth history -q bb:file)" "${id_file:7:12}" "history -q"
is "$(berth history --no-trunc -q bb:file)" "$id_file" "history -q --no-trunc"

# --- import --change and -m, and what inspect shows of them ---
out=$(berth import -m "my message" \
	-c 'CMD ["/bin/sh", "-c", "echo hi"]' -c 'ENTRYPOINT /bin/true' \
	-c 'ENV A=1 B="x y"' -c 'ENV C 3 4' -c 'EXPOSE 80 53/udp' -c 'LABEL a=b "c d"=e' \
	-c 'USER nobody' -c 'WORKDIR /tmp' -c 'WORKDIR sub' -c 'VOLUME ["/data", "/v"]' \
	-c 'STOPSIGNAL SIGINT' "$T/bb.tar" bb:changed)
ok $? "import with --change and -m"
is "$(inspect bb:changed 'd["Config"]["Cmd"]')" "['/bin/sh', '-c', 'echo hi']" "CMD exec form"
is "$(inspect bb:changed 'd["Config"]["Entrypoint"]')" "['/bin/sh', '-c', '/bin/true']" \
	"ENTRYPOINT shell form"
is "$(inspect bb:changed 'd["Config"]["Env"]')" "['A=1', 'B=x y', 'C=3 4']" "ENV, both forms"
is "$(inspect bb:changed 'sorted(d["Config"]["ExposedPorts"])')" "['53/udp', '80/tcp']" "EXPOSE"
is "$(inspect bb:changed 'd["Config"]["Labels"]')" "{'a': 'b', 'c d': 'e'}" "LABEL"
is "$(inspect bb:changed 'd["Config"]["User"]')" "nobody" "USER"
is "$(inspect bb:changed 'd["Config"]["WorkingDir"]')" "/tmp/sub" "WORKDIR, relative to the last"
is "$(inspect bb:changed 'sorted(d["Config"]["Volumes"])')" "['/data', '/v']" "VOLUME"
is "$(inspect bb:changed 'd["Config"]["StopSignal"]')" "SIGINT" "STOPSIGNAL"
is "$(inspect bb:changed 'd["Comment"]')" "my message" "-m sets the comment"
like "$(berth history bb:changed | sed -n 2p)" 'my message$' "history shows the message"
is "$(inspect bb:file 'd["Config"]["Cmd"]')" "None" "no --change: Cmd is null"
is "$(inspect bb:file '(d["Architecture"], d["Os"])')" "('amd64', 'linux')" \
	"architecture and os of this machine" # the suite runs on x86_64
like "$(inspect bb:file 'd["Created"]')" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]+)?Z$' \
	"Created is RFC 3339"
is "$(inspect bb:file 'd["Size"] > 1000000')" "True" "Size counts the content"
out=$(berth inspect bb:file nope 2>"$T/err")
rc=$?
is "$rc" "1" "inspect with a missing image exits 1"
is "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$out")" "1" \
	"inspect still prints the images it found"
is "$(cat "$T/err")" "Error: No such image: nope" "inspect names the missing image"

# --- rmi ---
out=$(berth rmi bb:other)
is "$out" "Untagged: bb:other" "rmi of one of several names only untags"
is "$(berth images -q --no-trunc | grep -c "$id_file")" "2" "the image keeps its other names"
out=$(berth rmi "${id_file:7:12}" 2>"$T/err")
is "$?" "1" "rmi by ID of an image named in two repositories needs -f"
like "$(cat "$T/err")" "conflict: unable to delete ${id_file:7:12} \\(must be forced\\)" \
	"rmi says why"
out=$(berth rmi -f "${id_file:7:12}")
ok $? "rmi -f by ID"
like "$out" "Untagged: bb:file" "rmi -f untags bb:file"
like "$out" "Untagged: localhost:5000/x/y:1" "rmi -f untags the registry name"
like "$out" "Deleted: $id_file" "rmi -f deletes the image"
out=$(berth rmi nope bb:stdin 2>"$T/err")
is "$?" "1" "rmi with a missing image exits 1"
is "$(cat "$T/err")" "Error: No such image: nope" "rmi names the missing image"
is "$out" "$(printf 'Untagged: bb:stdin\nDeleted: %s' "$id_stdin")" \
	"rmi still removes the others (last name: untag and delete)"
out=$(berth import "$T/bb.tar")
ok $? "import without a name"
like "$(berth images | grep '^<none>')" "^<none> +<none> +${out:7:12} " "an unnamed image is <none>"
ok_run "rmi of an unnamed image by ID" berth rmi "${out:7:12}"
ok_run "rmi the rest" berth rmi bb:gz bb:zst bb:changed
is "$(berth images | wc -l)" "1" "images: nothing left but the header"

# --- gc returns the store to empty ---
out=$(berth gc)
ok $? "gc"
like "$out" "Total reclaimed space: [0-9.]+[kM]B" "gc says what it freed"
S=$BERTH_ROOT/store
is "$(find "$S/objects" -type f | wc -l)" "0" "gc: no objects left"
is "$(find "$S/images" -type f | wc -l)" "0" "gc: no image records left"
is "$(find "$S/index" -type f | wc -l)" "0" "gc: no indexes left"
is "$(find "$S/tmp" -mindepth 1 | wc -l)" "0" "gc: nothing in tmp/"
is "$(cat "$S/refs" 2>/dev/null)" "" "no refs left"
out=$(berth fsck)
ok $? "fsck of the empty store is clean"
like "$out" "0 corrupt" "fsck reports nothing"

done_testing
