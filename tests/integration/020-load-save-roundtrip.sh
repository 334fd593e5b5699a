#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 020-load-save-roundtrip: the acceptance test of the image store. A multi-layer OCI image is built
# with umoci from a busybox-static rootfs: files, dirs, symlinks, hard links, device nodes and a
# FIFO, xattrs (user.* and security.capability), a setuid file, owners, sub-second mtimes, long
# names, whiteouts (umoci repack writes deletions as .wh. entries) and an opaque directory (umoci
# never writes one, so that layer is a hand-made tar added with `umoci raw add-layer`). Then:
#   skopeo copy oci:DIR:v2 oci-archive:FILE -> berth load -> berth save -> untar -> umoci unpack
# must give the same tree as umoci unpack of the original (content, modes, owners, mtimes,
# xattrs, hard-link sharing, device numbers), with the image ID preserved, and skopeo (and podman,
# if present) must accept the saved archive. Also: a tar of the layout made by hand, compressed
# input, the legacy docker-save form, and a deterministic save.
source "$(dirname "$0")/lib.sh"
need_root
need_cmd umoci skopeo python3 setfattr setcap mknod gzip

cd "$T" || exit 1
OCI=$T/oci

# A listing of a tree, one line per path: mode, owner, mtime (ns), content hash, link target,
# device numbers, xattrs, and for hard links the first path of the inode.
cat >"$T/tree.py" <<'EOF'
import hashlib, os, stat, sys
root, first = sys.argv[1], {}
def show(rel, p):
    st = os.lstat(p)
    line = [rel, oct(st.st_mode), str(st.st_uid), str(st.st_gid), str(st.st_mtime_ns)]
    if stat.S_ISREG(st.st_mode):
        line.append(hashlib.sha256(open(p, "rb").read()).hexdigest())
        if st.st_nlink > 1:
            line.append("inode-of=" + first.setdefault((st.st_dev, st.st_ino), rel))
    elif stat.S_ISLNK(st.st_mode):
        line.append("-> " + os.readlink(p))
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        line.append("dev=%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
    for x in sorted(os.listxattr(p, follow_symlinks=False)):
        line.append("%s=%s" % (x, os.getxattr(p, x, follow_symlinks=False).hex()))
    print(" ".join(line))
show(".", root)
for dp, dns, fns in os.walk(root):
    dns.sort()
    for n in sorted(dns + fns):
        show(os.path.relpath(os.path.join(dp, n), root), os.path.join(dp, n))
EOF
tree() { python3 "$T/tree.py" "$1"; }

# The config digest of the image a layout's index.json names by ref.name $2.
config_of() { # LAYOUT_DIR TAG
	python3 - "$1" "$2" <<-'EOF'
	import json, sys
	d, tag = sys.argv[1], sys.argv[2]
	blob = lambda dg: json.load(open(d + "/blobs/" + dg.replace(":", "/")))
	for m in json.load(open(d + "/index.json"))["manifests"]:
	    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
	        print(blob(m["digest"])["config"]["digest"])
	EOF
}

# --- Layer 1: a busybox rootfs with every kind of entry ---
umoci init --layout "$OCI" && umoci new --image "$OCI:v2" || skip_all "umoci cannot create an image"
umoci unpack --image "$OCI:v2" b1 >/dev/null || skip_all "umoci unpack fails here"
R=b1/rootfs
mk_busybox_rootfs "$R"
chmod 4755 "$R/bin/busybox"                        # setuid
rm -f "$R/bin/ping" && cp /bin/busybox "$R/bin/ping" && setcap cap_net_raw+ep "$R/bin/ping" # security.capability
echo hello >"$R/etc/a"
setfattr -n user.foo -v bar "$R/etc/a"             # user xattr
ln "$R/etc/a" "$R/etc/a-link"                      # hard link (removed again in layer 3)
echo keep >"$R/etc/b" && ln "$R/etc/b" "$R/etc/b-link" && ln "$R/etc/b" "$R/root/b-link2"
mknod "$R/dev/mydev" c 10 200 && mknod "$R/dev/blk" b 7 0 && mkfifo "$R/dev/fifo"
mkdir -p "$R/data/sub" "$R/gone/deep" "$R/opq/old" && chown 1000:1001 "$R/data/sub"
echo x >"$R/gone/deep/f" && echo old >"$R/opq/old/f" && echo s >"$R/data/sub/s"
ln -s ../etc/b "$R/data/rel-link" && ln -s /nonexistent "$R/data/dangling"
touch -h -d '2020-01-02 03:04:05.123456789' "$R/etc/b" "$R/data/rel-link"
umoci repack --image "$OCI:v2" b1 >/dev/null
ok $? "layer 1 (umoci repack)"

# --- Layer 2: deletions (whiteouts), replacements, new hard links ---
umoci unpack --image "$OCI:v2" b2 >/dev/null
R=b2/rootfs
rm -rf "$R/gone" "$R/opq" "$R/bin/sh"
mkdir "$R/opq" && echo new >"$R/opq/new"
ln -s /bin/busybox "$R/bin/sh"
echo changed >"$R/etc/a"
mkdir "$R/newdir" && echo n >"$R/newdir/n" && ln "$R/newdir/n" "$R/newdir/n2"
umoci repack --image "$OCI:v2" b2 >/dev/null
ok $? "layer 2 (umoci repack: whiteouts)"

# --- Layer 3, by hand: an opaque directory, a whiteout of a hard link, a long name, PAX times ---
python3 - "$T/l3.tar" <<'EOF'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
def add(name, typ=tarfile.REGTYPE, data=b"", mode=0o644, mtime=1600000000.25, **kw):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.mtime = mtime
    for k, v in kw.items(): setattr(ti, k, v)
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
add("data/", tarfile.DIRTYPE, mode=0o750, uid=7, gid=8)
add("data/.wh..wh..opq")
add("data/fresh", data=b"fresh\n", mode=0o600, uid=5, gid=6, mtime=1600000000.123456)
add("etc/", tarfile.DIRTYPE, mode=0o755)
add("etc/.wh.a-link")
add("etc/long-" + "x" * 200, data=b"long name\n")
add("etc/" + "d" * 120 + "/", tarfile.DIRTYPE, mode=0o700)
add("etc/" + "d" * 120 + "/" + "f" * 120, data=b"deep\n")
t.close()
EOF
umoci raw add-layer --image "$OCI:v2" "$T/l3.tar" >/dev/null
ok $? "layer 3 (hand-made: opaque dir, whiteout of a hard link, long names)"
umoci unpack --image "$OCI:v2" orig >/dev/null
ok $? "umoci unpack of the original"
tree orig/rootfs >orig.list
# The tree has what the test is about (guards against a silently poorer test image).
like "$(cat orig.list)" "bin/busybox 0o104755 " "original: setuid busybox"
like "$(cat orig.list)" "bin/ping .* security.capability=" "original: a file capability"
like "$(cat orig.list)" "etc/b-link .*inode-of=etc/b" "original: hard links"
like "$(cat orig.list)" "dev/mydev 0o20644 .* dev=10,200" "original: a device node"
like "$(cat orig.list)" "data/fresh 0o100600 5 6 1600000000123456000 " "original: opaque dir's new file"
[[ "$(cat orig.list)" != *data/sub* && "$(cat orig.list)" != *gone* && "$(cat orig.list)" != *opq/old* &&
	"$(cat orig.list)" != *a-link* ]]
ok $? "original: whiteouts and the opaque dir applied"
want_id=$(config_of "$OCI" v2)
like "$want_id" '^sha256:[0-9a-f]{64}$' "the original's config digest"

# --- skopeo -> oci-archive -> berth load ---
ok_run "skopeo copy to an oci-archive" skopeo copy -q "oci:$OCI:v2" "oci-archive:$T/orig.tar:v2"
out=$(berth load -i "$T/orig.tar" 2>&1)
ok $? "berth load of skopeo's archive"
is "$out" "Loaded image ID: $want_id" "a bare ref.name gives no name; the image ID is the original's"
out=$(berth load -i "$T/orig.tar" roundtrip 2>&1)
is "$out" "Loaded image: roundtrip:v2" "load REPOSITORY names a bare tag REPOSITORY:TAG"
is "$(berth images -q --no-trunc roundtrip:v2)" "$want_id" "roundtrip:v2 is the original image"
is "$(berth inspect roundtrip:v2 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["RootFS"]["Layers"]))')" \
	"3" "three layers"

# --- berth save -> umoci unpack: the same tree ---
ok_run "berth save" berth save roundtrip:v2 -o "$T/saved.tar"
mkdir saved && tar -C saved -xf "$T/saved.tar"
ok $? "the saved archive is a tar"
is "$(config_of saved v2)" "$want_id" "the saved image keeps its ID (its config is the original's)"
umoci unpack --image saved:v2 copy >/dev/null
ok $? "umoci unpack of berth's saved image"
tree copy/rootfs >copy.list
diff orig.list copy.list >tree.diff
ok $? "the saved image unpacks to the same tree (content, modes, owners, mtimes, xattrs, links, devices)"
[ -s tree.diff ] && sed 's/^/#   /' tree.diff | head -n 20
out=$(skopeo inspect "oci-archive:$T/saved.tar" 2>&1)
ok $? "skopeo inspect accepts the saved archive"
like "$out" "\"Digest\": \"sha256:" "skopeo reads its manifest"
out=$(skopeo inspect --config "oci-archive:$T/saved.tar" 2>&1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rootfs"]["diff_ids"]))')
is "$out" "3" "skopeo reads its config"
ok_run "skopeo copies it back to an OCI layout" skopeo copy -q "oci-archive:$T/saved.tar" "oci:$T/back:v2"
is "$(config_of "$T/back" v2)" "$want_id" "and the copy has the original ID"
manifest=$(tar -xOf "$T/saved.tar" manifest.json)
like "$manifest" '"RepoTags":\["roundtrip:v2"\]' "manifest.json for docker load names the image"

# --- determinism, other input forms ---
berth save roundtrip:v2 >"$T/saved2.tar"
cmp -s "$T/saved.tar" "$T/saved2.tar"
ok $? "saving twice (file, stdout) gives the same bytes"
export BERTH_ROOT=$T/root2
out=$(gzip -c "$T/saved.tar" | berth load 2>&1)
is "$out" "Loaded image: roundtrip:v2" "load of a gzip archive from stdin, into a fresh store"
berth save roundtrip:v2 -o "$T/saved3.tar"
cmp -s "$T/saved.tar" "$T/saved3.tar"
ok $? "the fresh store saves the same bytes"
ok_run "fsck after load" berth fsck
export BERTH_ROOT=$T/root3
(cd "$OCI" && tar -cf "$T/layout.tar" .)
out=$(berth load -i "$T/layout.tar" mine 2>&1)
is "$out" "Loaded image: mine:v2" "load of a layout tarred by hand ('./' names)"
is "$(berth images -q --no-trunc mine:v2)" "$want_id" "same image ID"
# The legacy docker-save form: manifest.json only.
mkdir legacy && tar -C legacy -xf "$T/saved.tar" && rm legacy/index.json legacy/oci-layout
(cd legacy && tar -cf "$T/legacy.tar" manifest.json blobs)
export BERTH_ROOT=$T/root4
out=$(berth load -i "$T/legacy.tar" 2>&1)
is "$out" "Loaded image: roundtrip:v2" "load of a docker-save archive (manifest.json, no index.json)"
is "$(berth images -q --no-trunc roundtrip:v2)" "$want_id" "same image ID"
# The older docker-save form: <id>/layer.tar files (uncompressed), <id>.json config, a layer
# shared through a symlink.
python3 - saved "$T/legacy-old.tar" <<'EOF'
import gzip, io, json, sys, tarfile
src, out = sys.argv[1:]
m = json.load(open(src + "/manifest.json"))[0]
t = tarfile.open(out, "w")
def add(name, data=None, link=None):
    ti = tarfile.TarInfo(name)
    if link:
        ti.type, ti.linkname = tarfile.SYMTYPE, link
        return t.addfile(ti)
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
config = m["Config"].split("/")[-1] + ".json"
add(config, open(src + "/" + m["Config"], "rb").read())
layers = []
for i, layer in enumerate(m["Layers"]):
    add("layer%d/VERSION" % i, b"1.0")
    add("layer%d/layer.tar" % i, gzip.decompress(open(src + "/" + layer, "rb").read()))
    layers.append("layer%d/layer.tar" % i)
add("shared/layer.tar", link="../" + layers[-1])
layers[-1] = "shared/layer.tar"
add("manifest.json", json.dumps([{"Config": config, "RepoTags": ["legacy:1"], "Layers": layers}]).encode())
add("repositories", b"{}")
t.close()
EOF
out=$(berth load -i "$T/legacy-old.tar" 2>&1)
is "$out" "Loaded image: legacy:1" "load of an old docker-save archive (<id>/layer.tar, symlinked layer)"
is "$(berth images -q --no-trunc legacy:1)" "$want_id" "same image ID"
ok_run "fsck after the legacy load" berth fsck
ls "$BERTH_ROOT/store/tmp" | grep -q . && ok 1 "load leaves no spool behind" || ok 0 "load leaves no spool behind"

# --- podman reads it too (docker load cannot be run here: the docker CLI has no daemon) ---
if command -v podman >/dev/null; then
	P=(podman --root "$T/podman" --runroot "$T/podman-run" --storage-driver vfs)
	out=$(with_timeout 120 "${P[@]}" load -i "$T/saved.tar" 2>&1)
	ok $? "podman load accepts the saved archive"
	like "$out" "Loaded image: docker.io/library/roundtrip:v2" "podman names it"
	is "sha256:$(with_timeout 60 "${P[@]}" images --no-trunc --format '{{.ID}}' 2>/dev/null | sed 's/^sha256://')" \
		"$want_id" "podman sees the original image ID"
	on_exit "with_timeout 60 ${P[*]} system reset -f"
fi

done_testing
